//! Rate limits of operations that name an `x-rate-limit-policy`: a
//! bounded burst over the declared quota must draw a 429 problem of the
//! quota-exceeded type with `Retry-After`, `RateLimit` and
//! `RateLimit-Policy` must parse as Structured Fields and tell the truth
//! about the declared policy, and after `Retry-After` the request must get
//! through.

use std::time::Duration;

use futures::future::join_all;

use super::{Ctx, rules};
use crate::client::{Exchange, Req, retry_after};
use crate::report::CheckResult;
use crate::spec::{Operation, Policy};

/// Requests in flight during a burst.
const PARALLEL: usize = 16;

pub async fn run(ctx: &Ctx<'_>, op: &Operation, name: &str, policy: &Policy) -> Vec<CheckResult> {
    let mut burst = CheckResult::new("rate-limit.burst", &op.id);
    let mut headers = CheckResult::new("rate-limit.headers", &op.id);
    let mut recovery = CheckResult::new("rate-limit.recovery", &op.id);
    // The burst stops at the first batch with a 429, so a generous bound
    // costs nothing on a fast server and keeps a slow one testable.
    let bound = 2 * policy.quota as usize + 10;
    if bound + 2 > ctx.client.remaining() {
        let reason = format!(
            "the quota of `{name}` is {} per {} s: a burst over it takes up to {bound} requests, more than the --max-requests left ({})",
            policy.quota,
            policy.window,
            ctx.client.remaining()
        );
        for r in [&mut burst, &mut headers, &mut recovery] {
            r.not_run(reason.clone());
        }
        return vec![burst, headers, recovery];
    }
    let base = match ctx.factory.request(op).await {
        Ok(r) => r,
        Err(e) => {
            for r in [&mut burst, &mut headers, &mut recovery] {
                r.not_run(format!("cannot build a request: {e}"));
            }
            return vec![burst, headers, recovery];
        }
    };
    let fresh = |base: &Req| {
        let mut r = base.clone();
        for (n, v) in r.headers.iter_mut() {
            if n.eq_ignore_ascii_case("idempotency-key") {
                *v = ctx.factory.key();
            }
        }
        r
    };
    let mut seen: Vec<Exchange> = Vec::new();
    let mut limited: Option<Exchange> = None;
    let started = std::time::Instant::now();
    while seen.len() < bound {
        let n = PARALLEL.min(bound - seen.len());
        // Fresh bodies, so unique members do not turn the burst into
        // conflicts (which would still count, but say less).
        let mut batch: Vec<Req> = Vec::new();
        for _ in 0..n {
            batch.push(
                ctx.factory
                    .request(op)
                    .await
                    .unwrap_or_else(|_| fresh(&base)),
            );
        }
        let answers = join_all(batch.iter().map(|q| ctx.client.send(q))).await;
        for a in answers {
            match a {
                Ok(e) => seen.push(e),
                Err(e) => {
                    burst.not_run(e.to_string());
                    return vec![burst, headers, recovery];
                }
            }
        }
        if let Some(e) = seen.iter().find(|e| e.status == 429) {
            limited = Some(e.clone());
            break;
        }
    }
    let allowed = seen.iter().filter(|e| e.status != 429).count();
    burst.note(format!(
        "{} requests sent, {allowed} let through, {} refused with 429",
        seen.len(),
        seen.len() - allowed
    ));
    let documented = op.documents_header("RateLimit") || op.documents_header("RateLimit-Policy");
    if documented {
        for e in seen.iter().filter(|e| e.is_success()) {
            check_allowed_headers(&mut headers, e, name, policy);
        }
    } else {
        headers.not_run(
            "the spec documents no RateLimit or RateLimit-Policy header on this operation",
        );
    }
    let Some(limited) = limited else {
        // In `elapsed` a limiter of `quota` per `window` lets at most
        // `quota` (the burst) plus what it refills through. A burst that
        // stayed within that was never over the quota: the server (or the
        // machine) was too slow to test, which is not a violation.
        let elapsed = started.elapsed().as_secs_f64();
        let allowance = policy.quota as f64 * (1.0 + elapsed / policy.window.max(1) as f64);
        if (seen.len() as f64) <= allowance {
            let reason = format!(
                "{} requests took {elapsed:.1} s, within what a quota of {} per {} s lets through in that time ({allowance:.0}); the server answered too slowly for a burst to go over it",
                seen.len(),
                policy.quota,
                policy.window
            );
            burst.not_run(reason.clone());
            recovery.not_run(reason);
            return vec![burst, headers, recovery];
        }
        burst.violation(
            rules::QUOTA,
            format!(
                "{} requests in a burst (quota {} per {} s) drew no 429",
                seen.len(),
                policy.quota,
                policy.window
            ),
            seen.last(),
        );
        recovery.not_run("no 429 was drawn");
        return vec![burst, headers, recovery];
    };
    check_limited(
        ctx,
        &mut burst,
        &mut headers,
        &limited,
        name,
        policy,
        documented,
    );
    let Some(wait) = retry_after(&limited).filter(|w| *w >= 1) else {
        recovery.not_run("the 429 gave no usable Retry-After");
        return vec![burst, headers, recovery];
    };
    if Duration::from_secs(wait) > ctx.client.max_wait {
        recovery.not_run(format!(
            "Retry-After is {wait} s, longer than the verifier waits ({} s)",
            ctx.client.max_wait.as_secs()
        ));
        return vec![burst, headers, recovery];
    }
    tokio::time::sleep(Duration::from_secs(wait)).await;
    match ctx.client.send(&fresh(&base)).await {
        Ok(e) if e.status == 429 || e.status >= 500 => recovery.violation(
            rules::RECOVERY,
            format!(
                "after waiting Retry-After ({wait} s) the request was answered {}",
                e.status
            ),
            Some(&e),
        ),
        Ok(e) => {
            recovery.note(format!(
                "after {wait} s the request was answered {}",
                e.status
            ));
            if documented && e.is_success() {
                check_allowed_headers(&mut headers, &e, name, policy);
            }
        }
        Err(e) => recovery.not_run(e.to_string()),
    }
    vec![burst, headers, recovery]
}

fn check_limited(
    ctx: &Ctx<'_>,
    burst: &mut CheckResult,
    headers: &mut CheckResult,
    e: &Exchange,
    name: &str,
    policy: &Policy,
    documented: bool,
) {
    let body = e.json();
    let ty = body
        .as_ref()
        .and_then(|b| b.get("type"))
        .and_then(|t| t.as_str());
    if ty != Some(ctx.spec.quota_exceeded_type.as_str()) {
        burst.violation(
            rules::QUOTA_TYPE,
            format!(
                "the 429's problem type is {ty:?}, expected `{}`",
                ctx.spec.quota_exceeded_type
            ),
            Some(e),
        );
    }
    let retry = match e.header("retry-after").map(str::trim) {
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                burst.violation(
                    rules::RETRY_AFTER,
                    format!("Retry-After is `{v}`, expected an integer of at least 1"),
                    Some(e),
                );
                None
            }
        },
        None => {
            burst.violation(
                rules::RETRY_AFTER,
                "the 429 carries no Retry-After",
                Some(e),
            );
            None
        }
    };
    if !documented {
        return;
    }
    check_policy_header(headers, e, name, policy);
    match rate_limit(e, name) {
        Err(m) => headers.violation(rules::RATELIMIT, m, Some(e)),
        Ok((r, t)) => {
            if r != 0 {
                headers.violation(
                    rules::RATELIMIT,
                    format!("a 429 says `r={r}`: requests are available, yet this one was refused"),
                    Some(e),
                );
            }
            if let Some(retry) = retry
                && (t < retry as i64 || t > policy.window as i64)
            {
                headers.violation(
                    rules::RATELIMIT,
                    format!(
                        "on a 429, `t={t}` must be at least Retry-After ({retry}) and at most the window ({} s)",
                        policy.window
                    ),
                    Some(e),
                );
            }
        }
    }
}

fn check_allowed_headers(headers: &mut CheckResult, e: &Exchange, name: &str, policy: &Policy) {
    check_policy_header(headers, e, name, policy);
    match rate_limit(e, name) {
        Err(m) => {
            if once(headers, &m) {
                headers.violation(rules::RATELIMIT, m, Some(e));
            }
        }
        Ok((r, t)) => {
            if r < 0 || r as u64 > policy.quota || t < 0 || t as u64 > policy.window {
                headers.violation(
                    rules::RATELIMIT,
                    format!(
                        "`r={r};t={t}` is outside 0..={} and 0..={} s (the declared quota and window)",
                        policy.quota, policy.window
                    ),
                    Some(e),
                );
            }
        }
    }
}

/// One violation per distinct message is enough: a burst repeats itself.
fn once(headers: &CheckResult, message: &str) -> bool {
    !headers.violations.iter().any(|v| v.message == message)
}

fn check_policy_header(headers: &mut CheckResult, e: &Exchange, name: &str, policy: &Policy) {
    let result = (|| {
        let value = e
            .header_joined("ratelimit-policy")
            .ok_or("no RateLimit-Policy header")?;
        let list: sfv::List = sfv::Parser::new(value.as_str()).parse().map_err(|err| {
            format!("RateLimit-Policy `{value}` is not a Structured Field list: {err}")
        })?;
        let item = member(&list, name).ok_or_else(|| {
            format!("RateLimit-Policy `{value}` has no member for the declared policy \"{name}\"")
        })?;
        let q = int_param(item, "q");
        let w = int_param(item, "w");
        if q != Some(policy.quota as i64) || w.unwrap_or(1) != policy.window as i64 {
            return Err(format!(
                "RateLimit-Policy `{value}` says q={q:?};w={w:?}, the spec declares quota {} and window {}",
                policy.quota, policy.window
            ));
        }
        Ok(())
    })();
    if let Err(m) = result
        && once(headers, &m)
    {
        headers.violation(rules::RATELIMIT_POLICY, m, Some(e));
    }
}

/// `r` and `t` of the `RateLimit` member for `name`.
fn rate_limit(e: &Exchange, name: &str) -> Result<(i64, i64), String> {
    let value = e.header_joined("ratelimit").ok_or("no RateLimit header")?;
    let list: sfv::List = sfv::Parser::new(value.as_str())
        .parse()
        .map_err(|err| format!("RateLimit `{value}` is not a Structured Field list: {err}"))?;
    let item = member(&list, name)
        .ok_or_else(|| format!("RateLimit `{value}` has no member for the policy \"{name}\""))?;
    let r =
        int_param(item, "r").ok_or_else(|| format!("RateLimit `{value}` has no integer `r`"))?;
    let t = int_param(item, "t").unwrap_or(0);
    Ok((r, t))
}

fn member<'l>(list: &'l sfv::List, name: &str) -> Option<&'l sfv::Item> {
    list.iter().find_map(|entry| match entry {
        sfv::ListEntry::Item(item) => {
            let matches = match &item.bare_item {
                sfv::BareItem::String(s) => s.as_str() == name,
                sfv::BareItem::Token(t) => t.as_str() == name,
                _ => false,
            };
            matches.then_some(item)
        }
        sfv::ListEntry::InnerList(_) => None,
    })
}

fn int_param(item: &sfv::Item, key: &str) -> Option<i64> {
    item.params
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .and_then(|(_, v)| v.as_integer())
        .map(i64::from)
}
