//! Every 4xx and 5xx the run saw, judged as an RFC 9457 problem: the
//! media type, the members the spec's problem schema requires, and
//! `status` equal to the response's. Sends nothing; reads the log.

use std::collections::BTreeMap;

use serde_json::Value;

use super::rules;
use crate::client::Exchange;
use crate::report::CheckResult;

/// Violations kept per operation (the rest are counted).
const KEEP: usize = 5;

pub fn run(required: &[String], log: &[Exchange]) -> Vec<CheckResult> {
    let mut by_op: BTreeMap<&str, Vec<&Exchange>> = BTreeMap::new();
    // Only operations of the spec are judged: the reachability probe of
    // `/` is not one.
    for e in log
        .iter()
        .filter(|e| e.status >= 400 && !e.operation.starts_with('('))
    {
        by_op.entry(e.operation.as_str()).or_default().push(e);
    }
    let mut out = Vec::new();
    for (op, errors) in by_op {
        let mut r = CheckResult::new("problem.shape", op);
        let mut dropped = 0;
        let mut statuses: Vec<u16> = errors.iter().map(|e| e.status).collect();
        statuses.sort_unstable();
        statuses.dedup();
        for e in &errors {
            let Some(message) = judge(required, e) else {
                continue;
            };
            if r.violations.len() >= KEEP || r.violations.iter().any(|v| v.message == message) {
                dropped += 1;
                continue;
            }
            r.violation(
                if message.contains("media type") {
                    rules::PROBLEM_TYPE
                } else {
                    rules::PROBLEM_MEMBERS
                },
                message,
                Some(e),
            );
        }
        r.note(format!(
            "{} error responses seen (statuses {})",
            errors.len(),
            statuses
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if dropped > 0 {
            r.note(format!(
                "{dropped} more violations of the same kind not listed"
            ));
        }
        out.push(r);
    }
    out
}

fn judge(required: &[String], e: &Exchange) -> Option<String> {
    let ct = e.header("content-type").unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/problem+json") {
        return Some(format!(
            "a {} was served as media type `{}`, not application/problem+json",
            e.status,
            if ct.is_empty() { "(none)" } else { ct }
        ));
    }
    let Some(Value::Object(body)) = e.json() else {
        return Some(format!("a {} problem body is not a JSON object", e.status));
    };
    let missing: Vec<&str> = required
        .iter()
        .filter(|m| !body.contains_key(m.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "a {} problem lacks the required member{} {}",
            e.status,
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        ));
    }
    if let Some(status) = body.get("status")
        && status.as_u64() != Some(u64::from(e.status))
    {
        return Some(format!("a {} problem says `status: {status}`", e.status));
    }
    None
}
