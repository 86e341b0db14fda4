//! The checks, one module per family, and the order they run in.
//!
//! Which operations a family applies to is decided from the spec alone
//! ([`applicability`]); a family with no applicable operation reports that
//! plainly and runs nothing. Rate limits run last because their bursts
//! spend the quotas the other checks need; problem details are judged last
//! over everything the run saw.

pub mod conditional;
pub mod idempotency;
pub mod lifecycle;
pub mod pagination;
pub mod problems;
pub mod ratelimit;
pub mod rules;

use crate::client::Client;
use crate::factory::Factory;
use crate::report::{Applicability, CheckResult};
use crate::spec::Spec;

/// The check families, as `--checks` names them.
pub const FAMILIES: [&str; 6] = [
    "idempotency",
    "rate-limit",
    "lifecycle",
    "pagination",
    "problem",
    "conditional",
];

/// What every check needs.
pub struct Ctx<'a> {
    pub spec: &'a Spec,
    pub client: &'a Client,
    pub factory: &'a Factory<'a>,
}

/// Which operations each family applies to, from the spec.
pub fn applicability(spec: &Spec) -> Vec<Applicability> {
    let ids = |f: &dyn Fn(&crate::spec::Operation) -> bool| -> Vec<String> {
        spec.operations
            .iter()
            .filter(|o| f(o))
            .map(|o| o.id.clone())
            .collect()
    };
    vec![
        Applicability {
            family: "idempotency".into(),
            noun: "idempotent operations".into(),
            declared_by: "an Idempotency-Key header parameter".into(),
            operations: ids(&|o| o.idempotency_param().is_some()),
        },
        Applicability {
            family: "rate-limit".into(),
            noun: "rate-limited operations".into(),
            declared_by: "x-rate-limit-policy naming a policy of x-rate-limit-policies".into(),
            operations: ids(&|o| o.rate_limit_policy.is_some()),
        },
        Applicability {
            family: "lifecycle".into(),
            noun: "deprecated operations".into(),
            declared_by: "deprecated: true".into(),
            operations: ids(&|o| o.deprecated),
        },
        Applicability {
            family: "pagination".into(),
            noun: "cursor-paginated lists".into(),
            declared_by: "a GET with cursor and limit query parameters and a page envelope".into(),
            operations: ids(&|o| spec.pagination(o).is_some()),
        },
        Applicability {
            family: "conditional".into(),
            noun: "operations with conditional requests".into(),
            declared_by: "an ETag response header or an If-Match header parameter".into(),
            operations: ids(&|o| {
                (o.method == "GET" && o.success().is_some_and(documents_etag))
                    || o.param("header", "If-Match").is_some()
            }),
        },
    ]
}

fn documents_etag(r: &crate::spec::Response) -> bool {
    r.headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("etag"))
}

/// Runs the selected families, in order.
pub async fn run_all(ctx: &Ctx<'_>, families: &[String]) -> Vec<CheckResult> {
    let on = |f: &str| families.iter().any(|x| x == f);
    let spec = ctx.spec;
    let mut out = Vec::new();
    if on("lifecycle") {
        for op in spec.operations.iter().filter(|o| o.deprecated) {
            out.extend(lifecycle::run(ctx, op).await);
        }
    }
    if on("conditional") {
        for op in &spec.operations {
            if op.method == "GET" && op.success().is_some_and(documents_etag) {
                out.push(conditional::not_modified(ctx, op).await);
            }
            if op.param("header", "If-Match").is_some() {
                out.extend(conditional::preconditions(ctx, op).await);
            }
        }
    }
    if on("pagination") {
        let mut walked = Vec::new();
        for op in &spec.operations {
            if let Some(p) = spec.pagination(op) {
                let (r, w) = pagination::walk(ctx, op, &p).await;
                out.push(r);
                if let Some(w) = w {
                    walked.push(w);
                }
            }
        }
        for (i, w) in walked.iter().enumerate() {
            let foreign = walked
                .iter()
                .cycle()
                .skip(i + 1)
                .take(walked.len().saturating_sub(1))
                .find(|f| f.cursor.is_some());
            out.push(pagination::cursors(ctx, w, foreign).await);
            out.push(pagination::limits(ctx, w).await);
        }
    }
    if on("idempotency") {
        for op in spec
            .operations
            .iter()
            .filter(|o| o.idempotency_param().is_some())
        {
            out.extend(idempotency::run(ctx, op).await);
        }
    }
    if on("rate-limit") {
        for op in &spec.operations {
            if let Some(name) = &op.rate_limit_policy
                && let Some(policy) = spec.policies.get(name)
            {
                out.extend(ratelimit::run(ctx, op, name, policy).await);
            }
        }
    }
    if on("problem") {
        out.extend(problems::run(&spec.problem_required, &ctx.client.log()));
    }
    // A request the server never answered is a failure whatever check
    // sent it (the probe of `/` at start-up is exit 2 instead).
    let mut answered: Vec<CheckResult> = Vec::new();
    for (op, request, error) in ctx.client.failures() {
        let i = match answered.iter().position(|r| r.operation == op) {
            Some(i) => i,
            None => {
                answered.push(CheckResult::new("http.answered", &op));
                answered.len() - 1
            }
        };
        let r = &mut answered[i];
        if r.violations.len() < 5 {
            r.violation(rules::ANSWERED, format!("no response: {error}"), None);
            if let Some(v) = r.violations.last_mut() {
                v.request = request;
            }
        }
    }
    out.extend(answered);
    out
}
