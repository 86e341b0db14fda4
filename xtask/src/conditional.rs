//! The lint of conditional requests (RFC 9110 §13): what an operation that
//! declares `If-None-Match` or `If-Match` must also declare, so that the
//! contract says what the edge does.
//!
//! - `If-None-Match` (a GET): the success response declares `ETag` and
//!   `Cache-Control`, and a `304` is documented.
//! - `If-Match` (a change): the success response declares `ETag`, a `412`
//!   is documented, and a `428` when the header is required.
//! - `ETag` on a success response: only on a 200 (the handler returns its
//!   value with the tag, see `orderflow_edge::Tagged`).

use openapiv3::{Parameter, StatusCode};

use crate::spec::{LintError, Spec, resolve_response};

pub fn lint(spec: &Spec) -> Vec<LintError> {
    let mut errors = Vec::new();
    for op in spec.operations() {
        let ptr = &op.pointer;
        let header = |name: &str| {
            op.parameters(&spec.api).into_iter().find(|p| {
                matches!(p, Parameter::Header { .. })
                    && p.parameter_data_ref().name.eq_ignore_ascii_case(name)
            })
        };
        let documented = |code: u16| {
            op.op
                .responses
                .responses
                .contains_key(&StatusCode::Code(code))
        };
        let mut success_headers = Vec::new();
        for (code, r) in op.op.responses.responses.iter() {
            let StatusCode::Code(c) = code else { continue };
            if !(200..300).contains(c) {
                continue;
            }
            if let Some(r) = resolve_response(&spec.api, r) {
                for h in r.headers.keys() {
                    success_headers.push(h.clone());
                    if h == "ETag" && *c != 200 {
                        errors.push(spec.err(
                            format!("{ptr}/responses/{c}/headers/ETag"),
                            format!("ETag on a {c} response"),
                            "declare ETag on 200 responses only",
                        ));
                    }
                }
            }
        }
        let has = |h: &str| success_headers.iter().any(|x| x == h);
        if header("If-None-Match").is_some() {
            for h in ["ETag", "Cache-Control"] {
                if !has(h) {
                    errors.push(spec.err(
                        format!("{ptr}/responses"),
                        format!("If-None-Match is declared but the success response has no {h} header"),
                        "a conditional GET compares against the response's ETag; declare ETag and Cache-Control",
                    ));
                }
            }
            if !documented(304) {
                errors.push(spec.err(
                    format!("{ptr}/responses"),
                    "If-None-Match is declared but 304 is not documented",
                    "add `'304': $ref: '#/components/responses/NotModified'`",
                ));
            }
        }
        if let Some(p) = header("If-Match") {
            if !has("ETag") {
                errors.push(spec.err(
                    format!("{ptr}/responses"),
                    "If-Match is declared but the success response has no ETag header",
                    "the client needs the new version's ETag for its next change; declare ETag",
                ));
            }
            if !documented(412) {
                errors.push(spec.err(
                    format!("{ptr}/responses"),
                    "If-Match is declared but 412 is not documented",
                    "a stale If-Match is a 412; document it",
                ));
            }
            if p.parameter_data_ref().required && !documented(428) {
                errors.push(spec.err(
                    format!("{ptr}/responses"),
                    "If-Match is required but 428 is not documented",
                    "a change without If-Match is a 428; document it",
                ));
            }
        }
    }
    errors
}
