//! `rate_limit_policy_changed`: an operation that already had a rate-limit
//! policy (`x-rate-limit-policy`) now has a different one, or the quota of
//! its policy (declared once under the root's `x-rate-limit-policies`)
//! became stricter. OrderFlow declares client-visible policies in the
//! spec, so such a change is a contract change.
//!
//! A policy set where there was none is `rate_limit_policy_added`; a policy
//! dropped, or a quota raised, lifts a limit and is not reported.

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "rate_limit_policy_changed",
        level: Level::Warning,
        family: Family::Operations,
        description: "An operation's existing x-rate-limit-policy was replaced, or its policy's quota in x-rate-limit-policies became stricter.",
        why: "Clients tuned to the old policy's quota may now be throttled with 429 responses. A warning, not an error: well-behaved clients already honour 429 and Retry-After, so only clients running close to the old quota notice.",
        fix: "Announce the new policy and its quota before applying it, or keep the operation on its old policy; raising a quota is always safe.",
        reference: "https://spec.openapis.org/oas/v3.1.0#specification-extensions",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

/// The operation-level extension naming the policy.
pub const KEY: &str = "x-rate-limit-policy";
/// The root-level extension declaring each policy's quota.
pub const POLICIES: &str = "x-rate-limit-policies";

/// `quota` requests per `window` seconds, when both are numbers.
fn limits(policy: &Value) -> Option<(f64, f64)> {
    let quota = policy.get("quota")?.as_f64()?;
    let window = policy.get("window")?.as_f64()?;
    (window > 0.0).then_some((quota, window))
}

/// Whether `new` can throttle a client that `old` let through: a smaller
/// burst or a lower sustained rate. Declarations without numeric
/// `quota`/`window` count as stricter whenever they differ, since nothing
/// better can be said about them.
fn stricter(old: &Value, new: &Value) -> bool {
    match (limits(old), limits(new)) {
        (Some((oq, ow)), Some((nq, nw))) => nq < oq || nq * ow < oq * nw,
        _ => old != new,
    }
}

/// The root-level declaration of policy `name`, if any.
fn declared<'a>(root: Node<'a>, name: &str) -> Option<Node<'a>> {
    root.get(POLICIES)?.get(name)
}

fn show(policy: &Value) -> String {
    match limits(policy) {
        Some((q, w)) => format!("{q} per {w} s"),
        None => policy.to_string(),
    }
}

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    // Only a policy that existed before can change; a first policy is
    // `rate_limit_policy_added`, and a dropped one lifts a limit.
    let (Some(old), Some(new)) = (base.node.get(KEY), rev.node.get(KEY)) else {
        return;
    };
    if old.value != new.value {
        cx.report(
            Some(&old.ptr),
            Some(&new.ptr),
            format!(
                "rate-limit policy changed from {} to {}; clients may be throttled",
                old.value, new.value
            ),
        );
        return;
    }
    let Some(name) = new.value.as_str() else {
        return;
    };
    let (Some(old_def), Some(new_def)) = (
        declared(cx.base_doc.root(), name),
        declared(cx.rev_doc.root(), name),
    ) else {
        return;
    };
    if stricter(old_def.value, new_def.value) {
        let message = format!(
            "rate-limit policy \"{name}\" tightened from {} to {}; clients may be throttled",
            show(old_def.value),
            show(new_def.value)
        );
        let (b, r) = (old_def.ptr, new_def.ptr);
        cx.report(Some(&b), Some(&r), message);
    }
}
