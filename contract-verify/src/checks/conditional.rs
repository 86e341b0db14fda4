//! Conditional requests where the spec declares them: a `GET` whose
//! success response documents `ETag` must answer `If-None-Match` with 304
//! and the same validators; an operation with an `If-Match` header
//! parameter must answer a stale one with 412, and a missing one with 428
//! when the parameter is required.

use super::{Ctx, rules};
use crate::client::Req;
use crate::report::CheckResult;
use crate::spec::Operation;

pub async fn not_modified(ctx: &Ctx<'_>, op: &Operation) -> CheckResult {
    let mut r = CheckResult::new("conditional.not-modified", &op.id);
    let req = match ctx.factory.request(op).await {
        Ok(req) => req,
        Err(e) => {
            r.not_run(format!("cannot build a request: {e}"));
            return r;
        }
    };
    let first = match ctx.client.send_patient(&req).await {
        Ok(e) => e,
        Err(e) => {
            r.not_run(e.to_string());
            return r;
        }
    };
    let Some(etag) = first.header("etag").map(str::to_owned) else {
        r.violation(
            rules::NOT_MODIFIED,
            format!(
                "the spec documents ETag but the {} carries none",
                first.status
            ),
            Some(&first),
        );
        return r;
    };
    let again = match ctx
        .client
        .send_patient(&req.clone().header("If-None-Match", etag.clone()))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            r.not_run(e.to_string());
            return r;
        }
    };
    if again.status != 304 {
        r.violation(
            rules::NOT_MODIFIED,
            format!(
                "If-None-Match with the current ETag was answered {}",
                again.status
            ),
            Some(&again),
        );
        return r;
    }
    for h in ["etag", "cache-control"] {
        if first.header(h) != again.header(h) {
            r.violation(
                rules::NOT_MODIFIED,
                format!(
                    "the 304's {h} is {:?}, the 200's {:?}",
                    again.header(h),
                    first.header(h)
                ),
                Some(&again),
            );
        }
    }
    if !again.body.is_empty() {
        r.violation(rules::NOT_MODIFIED, "a 304 carries a body", Some(&again));
    }
    r
}

pub async fn preconditions(ctx: &Ctx<'_>, op: &Operation) -> Vec<CheckResult> {
    let mut stale = CheckResult::new("conditional.stale", &op.id);
    let mut required = CheckResult::new("conditional.required", &op.id);
    let param = op.param("header", "If-Match");
    let is_required = param.is_some_and(|p| p.required);
    let req = match ctx.factory.request(op).await {
        Ok(req) => req,
        Err(e) => {
            stale.not_run(format!("cannot build a request: {e}"));
            required.not_run(format!("cannot build a request: {e}"));
            return vec![stale, required];
        }
    };
    let without = |req: &Req| {
        let mut r = req.clone();
        r.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("if-match"));
        r
    };
    let stale_req = without(&req).header("If-Match", "\"contract-verify-stale\"");
    match ctx.client.send_patient(&stale_req).await {
        Ok(e) if e.status != 412 => stale.violation(
            rules::STALE,
            format!("a stale If-Match was answered {}, expected 412", e.status),
            Some(&e),
        ),
        Ok(_) => stale.note("a stale If-Match drew 412"),
        Err(e) => stale.not_run(e.to_string()),
    }
    if is_required {
        match ctx.client.send_patient(&without(&req)).await {
            Ok(e) if e.status != 428 => required.violation(
                rules::REQUIRED,
                format!(
                    "a request without If-Match was answered {}, expected 428",
                    e.status
                ),
                Some(&e),
            ),
            Ok(_) => required.note("a request without If-Match drew 428"),
            Err(e) => required.not_run(e.to_string()),
        }
    } else {
        required.not_run("the spec does not require If-Match on this operation");
    }
    vec![stale, required]
}
