//! `rate_limit_policy_changed`: an operation now falls under a different
//! rate-limit policy (`x-rate-limit-policy`), or under one where it had
//! none. OrderFlow declares client-visible policies in the spec, so a
//! change is a contract change.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "rate_limit_policy_changed",
        level: Level::Warning,
        family: Family::Operations,
        description: "An operation's x-rate-limit-policy was added or changed.",
        why: "Clients tuned to the old policy's quota may now be throttled with 429 responses.",
        fix: "Announce the new policy and its quota before applying it, or keep the operation on its old policy.",
        reference: "https://spec.openapis.org/oas/v3.1.0#specification-extensions",
        mirror: Mirror::NotDirectional,
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    const KEY: &str = "x-rate-limit-policy";
    let (old, new) = (base.node.value.get(KEY), rev.node.value.get(KEY));
    // Dropping a policy lifts a limit; only new or different limits can
    // throttle a client that worked before.
    let Some(new) = new else { return };
    if old == Some(new) {
        return;
    }
    let what = match old {
        Some(old) => format!("changed from {old} to {new}"),
        None => format!("{new} now applies where no policy did"),
    };
    cx.report(
        Some(&key_ptr(&base.node, KEY)),
        Some(&key_ptr(&rev.node, KEY)),
        format!("rate-limit policy {what}; clients may be throttled"),
    );
}
