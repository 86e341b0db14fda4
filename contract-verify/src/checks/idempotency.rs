//! The retry contract of operations that declare an `Idempotency-Key`
//! header parameter (draft-ietf-httpapi-idempotency-key-header): replay,
//! reuse with another body, concurrent duplicates, no replay of a 429, and
//! scoping by credential.

use futures::future::join_all;
use serde_json::Value;

use super::{Ctx, rules};
use crate::client::{Cred, Exchange, Req, retry_after};
use crate::factory::variant;
use crate::report::CheckResult;
use crate::spec::Operation;

/// Headers that describe the moment or the request, not the stored
/// response, so a replay may differ in them.
const VOLATILE: [&str; 6] = [
    "x-request-id",
    "date",
    "ratelimit",
    "ratelimit-policy",
    "retry-after",
    "content-length",
];

/// Concurrent duplicates sent at once.
const CONCURRENT: usize = 5;

pub async fn run(ctx: &Ctx<'_>, op: &Operation) -> Vec<CheckResult> {
    let key_name = op
        .idempotency_param()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "Idempotency-Key".into());
    let mut out = Vec::new();
    // Each sub-check gets its own body: unique members (an email, a SKU)
    // must not collide between them.
    let mut bases = Vec::new();
    for _ in 0..4 {
        match ctx.factory.request(op).await {
            Ok(r) => bases.push(r),
            Err(e) => {
                for id in ["replay", "reuse", "concurrent", "rate-limited", "scope"] {
                    let mut r = CheckResult::new(&format!("idempotency.{id}"), &op.id);
                    r.not_run(format!("cannot build a request: {e}"));
                    out.push(r);
                }
                return out;
            }
        }
    }
    let with_key = |base: &Req, key: &str, body: Option<Value>| {
        let mut r = base.clone().body(body);
        r.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(&key_name));
        r.header(&key_name, key)
    };
    let (replay, reuse) = replay_and_reuse(ctx, op, &bases[0], &with_key).await;
    out.push(replay);
    out.push(reuse);
    out.push(concurrent(ctx, op, &bases[1], &with_key).await);
    out.push(rate_limited(ctx, op, &bases[2], &with_key).await);
    out.push(scope(ctx, op, &bases[3], &with_key).await);
    out
}

async fn replay_and_reuse(
    ctx: &Ctx<'_>,
    op: &Operation,
    base: &Req,
    with_key: &impl Fn(&Req, &str, Option<Value>) -> Req,
) -> (CheckResult, CheckResult) {
    let mut r = CheckResult::new("idempotency.replay", &op.id);
    let mut reuse = CheckResult::new("idempotency.reuse", &op.id);
    let key = ctx.factory.key();
    let first = match ctx
        .client
        .send_patient(&with_key(base, &key, base.body.clone()))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            r.not_run(e.to_string());
            reuse.not_run(e.to_string());
            return (r, reuse);
        }
    };
    if !first.is_success() {
        let reason = format!(
            "the first request was answered {}, not 2xx, so there is nothing to replay (give a --fixture body for {}); {}",
            first.status,
            op.id,
            first.describe_request().replace('\n', " ")
        );
        r.not_run(reason.clone());
        reuse.not_run(reason);
        return (r, reuse);
    }
    let marker = op.replay_marker();
    if let Some((name, _)) = &marker
        && first.header(name).is_some()
    {
        r.violation(
            rules::REPLAY_MARK,
            format!("the first response already carries `{name}`"),
            Some(&first),
        );
    }
    let second = match ctx
        .client
        .send_patient(&with_key(base, &key, base.body.clone()))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            r.not_run(e.to_string());
            reuse.not_run(e.to_string());
            return (r, reuse);
        }
    };
    compare_replay(op, &first, &second, &mut r);
    match &marker {
        Some((name, value)) => {
            if second.header(name).map(str::trim) != Some(value.as_str()) {
                r.violation(
                    rules::REPLAY_MARK,
                    format!(
                        "the replay does not carry `{name}: {value}` (the spec documents it on {})",
                        op.id
                    ),
                    Some(&second),
                );
            }
        }
        None => r.note("the spec documents no replay marker header; marking not checked"),
    }
    r.note(format!(
        "first {} then replay {} under one key",
        first.status, second.status
    ));

    // Same key, another body: 422.
    let Some(other) = base
        .body
        .as_ref()
        .and_then(|b| variant(op.body_schema.as_ref()?, b, &ctx.factory.unique()))
    else {
        reuse.not_run("the body has no member that can change and stay valid");
        return (r, reuse);
    };
    match ctx
        .client
        .send_patient(&with_key(base, &key, Some(other)))
        .await
    {
        Ok(third) if third.status != 422 => reuse.violation(
            rules::REUSE,
            format!(
                "the same key with a different body was answered {}, expected 422",
                third.status
            ),
            Some(&third),
        ),
        Ok(_) => reuse.note("the same key with another body drew 422"),
        Err(e) => reuse.not_run(e.to_string()),
    }
    (r, reuse)
}

fn compare_replay(op: &Operation, first: &Exchange, second: &Exchange, r: &mut CheckResult) {
    if second.status != first.status {
        r.violation(
            rules::REPLAY,
            format!(
                "the replay's status is {}, the first response's {}",
                second.status, first.status
            ),
            Some(second),
        );
        return;
    }
    let same_body = match (first.json(), second.json()) {
        (Some(a), Some(b)) => a == b,
        _ => first.body == second.body,
    };
    if !same_body {
        r.violation(
            rules::REPLAY,
            format!(
                "the replay's body differs from the first response's ({} vs {})",
                String::from_utf8_lossy(&second.body),
                String::from_utf8_lossy(&first.body)
            ),
            Some(second),
        );
    }
    let marker = op
        .replay_marker()
        .map(|(n, _)| n.to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(success) = op.success() {
        for (name, _) in &success.headers {
            let lower = name.to_ascii_lowercase();
            if VOLATILE.contains(&lower.as_str()) || lower == marker {
                continue;
            }
            if first.header(name) != second.header(name) {
                r.violation(
                    rules::REPLAY,
                    format!(
                        "documented header `{name}` differs on the replay: {:?} then {:?}",
                        first.header(name),
                        second.header(name)
                    ),
                    Some(second),
                );
            }
        }
    }
}

/// The id of the resource a 2xx response describes: `id` in the body, else
/// `Location`, else the body itself.
fn resource_of(e: &Exchange) -> String {
    e.json()
        .and_then(|b| b.get("id").map(Value::to_string))
        .or_else(|| e.header("location").map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&e.body).into_owned())
}

async fn concurrent(
    ctx: &Ctx<'_>,
    op: &Operation,
    base: &Req,
    with_key: &impl Fn(&Req, &str, Option<Value>) -> Req,
) -> CheckResult {
    let mut r = CheckResult::new("idempotency.concurrent", &op.id);
    if ctx.client.remaining() < CONCURRENT + 4 {
        r.not_run("the request budget (--max-requests) is spent");
        return r;
    }
    let key = ctx.factory.key();
    let req = with_key(base, &key, base.body.clone());
    let answers = join_all((0..CONCURRENT).map(|_| ctx.client.send(&req))).await;
    let answers: Vec<Exchange> = answers.into_iter().filter_map(Result::ok).collect();
    let marker = op.replay_marker();
    let is_replay = |e: &Exchange| match &marker {
        Some((name, value)) => e.header(name).map(str::trim) == Some(value.as_str()),
        None => false,
    };
    let originals: Vec<&Exchange> = answers
        .iter()
        .filter(|e| e.is_success() && !is_replay(e))
        .collect();
    let mut resources: Vec<String> = answers
        .iter()
        .filter(|e| e.is_success())
        .map(resource_of)
        .collect();
    resources.sort();
    resources.dedup();
    let replays = answers
        .iter()
        .filter(|e| e.is_success() && is_replay(e))
        .count();
    let conflicts = answers.iter().filter(|e| e.status == 409).count();
    r.note(format!(
        "{CONCURRENT} concurrent duplicates: {} original, {replays} replays, {conflicts} in-flight 409s, {} other; {} resource created",
        originals.len(),
        answers.len() - originals.len() - replays - conflicts,
        resources.len()
    ));
    if answers.iter().all(|e| e.status == 429) {
        r.not_run("every concurrent duplicate was rate limited (429)");
        return r;
    }
    if originals.len() > 1 || resources.len() > 1 {
        r.violation(
            rules::CONCURRENT,
            format!(
                "{} responses were not replays and {} distinct resources were created under one key",
                originals.len(),
                resources.len()
            ),
            originals.get(1).copied(),
        );
    }
    for e in &answers {
        let ok = e.is_success() || e.status == 429 || e.status == 409;
        if !ok {
            r.violation(
                rules::CONCURRENT,
                format!(
                    "a concurrent duplicate was answered {}; expected the result, a replay, or 409",
                    e.status
                ),
                Some(e),
            );
        }
        if e.status == 409 && retry_after(e).is_none_or(|s| s < 1) {
            r.violation(
                rules::IN_FLIGHT,
                "a 409 for a key in flight carries no Retry-After (integer >= 1)",
                Some(e),
            );
        }
    }
    if originals.is_empty() && !answers.iter().any(|e| e.status == 429) {
        r.violation(
            rules::CONCURRENT,
            "no concurrent duplicate produced the original result",
            answers.first(),
        );
    }
    r
}

async fn rate_limited(
    ctx: &Ctx<'_>,
    op: &Operation,
    base: &Req,
    with_key: &impl Fn(&Req, &str, Option<Value>) -> Req,
) -> CheckResult {
    let mut r = CheckResult::new("idempotency.rate-limited", &op.id);
    let Some(policy) = op
        .rate_limit_policy
        .as_ref()
        .and_then(|p| ctx.spec.policies.get(p))
    else {
        r.not_run("the operation declares no x-rate-limit-policy, so no 429 can be provoked");
        return r;
    };
    let bound = (policy.quota as usize) * 2 + 10;
    if ctx.client.remaining() < bound + 2 {
        r.not_run(format!(
            "provoking a 429 may take {bound} requests (quota {}), more than the --max-requests left ({})",
            policy.quota,
            ctx.client.remaining()
        ));
        return r;
    }
    // Spend the quota with fresh keys, then send the key under test. When
    // the quota refilled in between and the key got through, it is spent:
    // try again with another key and body (three attempts).
    let key = ctx.factory.key();
    let mut under_test = with_key(base, &key, base.body.clone());
    let mut limited = None;
    let mut sent = 0;
    let mut attempts = 0;
    while sent < bound && limited.is_none() {
        let mut batch = Vec::new();
        for _ in 0..8 {
            match ctx.factory.request(op).await {
                Ok(q) => batch.push(q),
                Err(e) => {
                    r.not_run(format!("cannot build a request: {e}"));
                    return r;
                }
            }
        }
        sent += batch.len();
        let answers = join_all(batch.iter().map(|q| ctx.client.send(q))).await;
        if !answers.iter().flatten().any(|e| e.status == 429) {
            continue;
        }
        match ctx.client.send(&under_test).await {
            Ok(e) if e.status == 429 => limited = Some(e),
            Ok(e) => {
                attempts += 1;
                if attempts == 3 {
                    r.not_run(format!(
                        "three keys under test were answered {} right after a 429, never refused",
                        e.status
                    ));
                    return r;
                }
                match ctx.factory.request(op).await {
                    Ok(q) => under_test = q,
                    Err(e) => {
                        r.not_run(format!("cannot build a request: {e}"));
                        return r;
                    }
                }
            }
            Err(e) => {
                r.not_run(e.to_string());
                return r;
            }
        }
    }
    let Some(limited) = limited else {
        r.not_run(format!(
            "no 429 within {bound} requests, so a 429 under a key could not be provoked"
        ));
        return r;
    };
    let wait = retry_after(&limited).unwrap_or(1).max(1);
    if std::time::Duration::from_secs(wait) > ctx.client.max_wait {
        r.not_run(format!(
            "Retry-After {wait} s is longer than the verifier waits"
        ));
        return r;
    }
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    let again = match ctx.client.send_patient(&under_test).await {
        Ok(e) => e,
        Err(e) => {
            r.not_run(e.to_string());
            return r;
        }
    };
    let marked = op
        .replay_marker()
        .is_some_and(|(n, v)| again.header(&n).map(str::trim) == Some(v.as_str()));
    if again.status == 429 || marked {
        r.violation(
            rules::NO_429_REPLAY,
            format!(
                "after Retry-After, the key that drew a 429 was answered {}{}: the 429 was stored as the key's result",
                again.status,
                if marked { " marked as a replay" } else { "" }
            ),
            Some(&again),
        );
    } else {
        r.note(format!(
            "a key first answered 429 was answered {} after Retry-After, not replayed",
            again.status
        ));
    }
    r
}

async fn scope(
    ctx: &Ctx<'_>,
    op: &Operation,
    base: &Req,
    with_key: &impl Fn(&Req, &str, Option<Value>) -> Req,
) -> CheckResult {
    let mut r = CheckResult::new("idempotency.scope", &op.id);
    if !ctx.client.has_second() {
        r.not_run("no --second-header was given, so keys cannot be compared across credentials");
        return r;
    }
    let key = ctx.factory.key();
    let first = match ctx
        .client
        .send_patient(&with_key(base, &key, base.body.clone()))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            r.not_run(e.to_string());
            return r;
        }
    };
    if !first.is_success() {
        r.not_run(format!("the first request was answered {}", first.status));
        return r;
    }
    let other = match ctx
        .client
        .send_patient(&with_key(base, &key, base.body.clone()).cred(Cred::Second))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            r.not_run(e.to_string());
            return r;
        }
    };
    let marked = op
        .replay_marker()
        .is_some_and(|(n, v)| other.header(&n).map(str::trim) == Some(v.as_str()));
    let same = other.is_success() && other.body == first.body;
    if marked || same {
        r.violation(
            rules::SCOPE,
            "the second credential, sending the first credential's key and body, got the first credential's response",
            Some(&other),
        );
    } else {
        r.note(format!(
            "the same key under the second credential was answered {} (not a replay)",
            other.status
        ));
    }
    r
}
