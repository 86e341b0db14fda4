//! The lifecycle of deprecated operations, declared once in the spec and
//! turned into the edge's [`Lifecycle`] values:
//!
//! - `deprecated: true` with `x-deprecated-since: YYYY-MM-DD` (or an
//!   RFC 3339 date-time): the `Deprecation` header, `@` + Unix seconds
//!   (RFC 9745);
//! - `x-sunset`: the `Sunset` header, an IMF-fixdate (RFC 8594), and from
//!   then on a 410; never earlier than the deprecation;
//! - `x-successor: <operationId>`: the `Link` with `rel="successor-version"`
//!   to the same resource under that operation, whose path parameters must
//!   be the same names;
//! - the root `x-deprecation-policy`: the `Link` with `rel="deprecation"`.
//!
//! The lint holds the spec to what the edge then does: every response of a
//! deprecated operation declares the headers it will carry, one with a
//! sunset documents its 410, and no other operation declares them.
//! break-diff reads the same extensions for its removal rules.
//!
//! [`Lifecycle`]: https://docs.rs/orderflow-edge (edge/src/pipeline.rs)

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use openapiv3::StatusCode;

use crate::spec::{LintError, Op, Spec, location, resolve_response};

/// One deprecated operation's lifecycle, with its header values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub deprecation: String,
    pub sunset: Option<String>,
    pub sunset_at: Option<i64>,
    /// The successor's method and path template.
    pub successor: Option<(String, String)>,
    pub policy: Option<String>,
}

/// A date as the extensions write it: `YYYY-MM-DD` (midnight UTC) or an
/// RFC 3339 date-time.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The IMF-fixdate of RFC 9110 §5.6.7: `Wed, 30 Jun 2027 00:00:00 GMT`.
pub fn imf_fixdate(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn ext<'a>(op: &'a Op<'_>, name: &str) -> Option<&'a serde_json::Value> {
    op.op.extensions.get(name)
}

fn policy(spec: &Spec) -> Option<String> {
    spec.api
        .extensions
        .get("x-deprecation-policy")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn path_params(spec: &Spec, op: &Op<'_>) -> BTreeSet<String> {
    op.parameters(&spec.api)
        .into_iter()
        .filter(|p| location(p) == "path")
        .map(|p| p.parameter_data_ref().name.clone())
        .collect()
}

/// The operation's lifecycle, or `None` when it is not deprecated. Assumes
/// the spec passed [`lint`] (a malformed value reads as absent).
pub fn of(spec: &Spec, op: &Op<'_>) -> Option<Lifecycle> {
    if !op.op.deprecated {
        return None;
    }
    let since = ext(op, "x-deprecated-since")
        .and_then(|v| v.as_str())
        .and_then(parse_date)?;
    let sunset = ext(op, "x-sunset")
        .and_then(|v| v.as_str())
        .and_then(parse_date);
    let successor = ext(op, "x-successor")
        .and_then(|v| v.as_str())
        .and_then(|id| {
            spec.operations()
                .into_iter()
                .find(|o| o.operation_id() == id)
                .map(|o| (o.method.to_string(), o.path.to_string()))
        });
    Some(Lifecycle {
        deprecation: format!("@{}", since.timestamp()),
        sunset: sunset.map(imf_fixdate),
        sunset_at: sunset.map(|t| t.timestamp()),
        successor,
        policy: policy(spec),
    })
}

/// Every way the spec's lifecycle declarations disagree with themselves or
/// with the responses they imply.
pub fn lint(spec: &Spec) -> Vec<LintError> {
    let mut errors = Vec::new();
    if let Some(v) = spec.api.extensions.get("x-deprecation-policy")
        && !v
            .as_str()
            .is_some_and(|s| s.starts_with('/') || s.starts_with("https://"))
    {
        errors.push(spec.err(
            "/x-deprecation-policy".into(),
            format!("x-deprecation-policy {v} is not a path or an https URL"),
            "write `x-deprecation-policy: /deprecation` (a page the server serves) or an https URL",
        ));
    }
    let ops = spec.operations();
    for op in &ops {
        let ptr = &op.pointer;
        let declared: Vec<&str> = ["x-deprecated-since", "x-sunset", "x-successor"]
            .into_iter()
            .filter(|k| ext(op, k).is_some())
            .collect();
        if !op.op.deprecated {
            for k in declared {
                errors.push(spec.err(
                    format!("{ptr}/{k}"),
                    format!("{k} on an operation that is not deprecated"),
                    "mark the operation `deprecated: true`, or drop the extension",
                ));
            }
            for (code, h) in headers_of(spec, op) {
                if h == "Deprecation" || h == "Sunset" {
                    errors.push(spec.err(
                        format!("{ptr}/responses/{code}"),
                        format!("{h} is declared but the operation is not deprecated"),
                        "only deprecated operations carry Deprecation and Sunset; drop the header",
                    ));
                }
            }
            continue;
        }
        let date = |k: &str| -> Result<Option<DateTime<Utc>>, LintError> {
            match ext(op, k) {
                None => Ok(None),
                Some(v) => v.as_str().and_then(parse_date).map(Some).ok_or_else(|| {
                    spec.err(
                        format!("{ptr}/{k}"),
                        format!("{k} {v} is not a date"),
                        "write a quoted date, `'2027-06-30'`, or an RFC 3339 date-time",
                    )
                }),
            }
        };
        let since = match date("x-deprecated-since") {
            Ok(Some(d)) => Some(d),
            Ok(None) => {
                errors.push(spec.err(
                    format!("{ptr}/deprecated"),
                    "a deprecated operation has no x-deprecated-since",
                    "add `x-deprecated-since: 'YYYY-MM-DD'`: the Deprecation header (RFC 9745) carries that date",
                ));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let sunset = date("x-sunset").unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if let (Some(since), Some(sunset)) = (since, sunset)
            && sunset < since
        {
            errors.push(spec.err(
                format!("{ptr}/x-sunset"),
                "x-sunset is earlier than x-deprecated-since",
                "a Sunset must not be earlier than its Deprecation (RFC 9745 section 2.1); move one of the dates",
            ));
        }
        let mut links = policy(spec).is_some();
        if let Some(v) = ext(op, "x-successor") {
            links = true;
            match v
                .as_str()
                .and_then(|id| ops.iter().find(|o| o.operation_id() == id))
            {
                None => errors.push(spec.err(
                    format!("{ptr}/x-successor"),
                    format!("x-successor {v} names no operation of this spec"),
                    "write the operationId of the operation that replaces this one",
                )),
                Some(next) => {
                    if next.op.deprecated {
                        errors.push(spec.err(
                            format!("{ptr}/x-successor"),
                            format!("x-successor {v} is deprecated itself"),
                            "point at the operation clients should move to",
                        ));
                    }
                    let (mine, theirs) = (path_params(spec, op), path_params(spec, next));
                    if mine != theirs {
                        errors.push(spec.err(
                            format!("{ptr}/x-successor"),
                            format!(
                                "x-successor {v} takes path parameters {theirs:?}, this operation {mine:?}"
                            ),
                            "the successor link is built from this request's path parameters; give both the same names",
                        ));
                    }
                }
            }
        }
        // Every response declares what the edge will send.
        let mut required = vec!["Deprecation"];
        if sunset.is_some() {
            required.push("Sunset");
        }
        if links {
            required.push("Link");
        }
        for (code, resp) in op.op.responses.responses.iter() {
            let Some(r) = resolve_response(&spec.api, resp) else {
                continue;
            };
            let code = match code {
                StatusCode::Code(c) => c.to_string(),
                StatusCode::Range(r) => format!("{r}XX"),
            };
            for h in &required {
                if !r.headers.contains_key(*h) {
                    errors.push(spec.err(
                        format!("{ptr}/responses/{code}"),
                        format!(
                            "response {code} of a deprecated operation does not declare the {h} header"
                        ),
                        "every response of a deprecated operation, errors included, carries Deprecation, Sunset and Link; declare them",
                    ));
                }
            }
        }
        if sunset.is_some()
            && !op
                .op
                .responses
                .responses
                .contains_key(&StatusCode::Code(410))
        {
            errors.push(spec.err(
                format!("{ptr}/responses"),
                "an operation with an x-sunset does not document 410",
                "after its sunset the operation answers 410 version_retired; document it",
            ));
        }
    }
    errors
}

/// (status, header name) of every response of `op`.
fn headers_of(spec: &Spec, op: &Op<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (code, resp) in op.op.responses.responses.iter() {
        let Some(r) = resolve_response(&spec.api, resp) else {
            continue;
        };
        for h in r.headers.keys() {
            out.push((code.to_string(), h.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_header_values() {
        let t = parse_date("2026-12-01").expect("a date");
        assert_eq!(t.timestamp(), 1_796_083_200);
        assert_eq!(
            imf_fixdate(parse_date("2027-06-30").expect("a date")),
            "Wed, 30 Jun 2027 00:00:00 GMT"
        );
        assert_eq!(
            parse_date("2027-06-30T12:00:00+02:00").map(|t| t.timestamp()),
            parse_date("2027-06-30T10:00:00Z").map(|t| t.timestamp())
        );
        assert!(parse_date("30/06/2027").is_none());
    }
}
