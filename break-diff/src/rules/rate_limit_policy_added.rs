//! `rate_limit_policy_added`: an operation that had no rate-limit policy
//! (`x-rate-limit-policy`) now has one. Replacing an existing policy or
//! tightening its quota is `rate_limit_policy_changed`.

use super::prelude::*;
use super::rate_limit_policy_changed::KEY;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "rate_limit_policy_added",
        level: Level::Warning,
        family: Family::Operations,
        description: "An operation without an x-rate-limit-policy now has one.",
        why: "A declared limit can answer 429 to a client that was never throttled before. A warning, not an error: a newly declared policy usually documents a limit the server already applied, and clients that honour 429 and Retry-After keep working.",
        fix: "Set the quota above the traffic that clients send today, announce it, and document 429 with Retry-After on the operation.",
        reference: "https://spec.openapis.org/oas/v3.1.0#specification-extensions",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    if base.node.get(KEY).is_some() {
        return;
    }
    let Some(new) = rev.node.get(KEY) else { return };
    cx.report(
        Some(&base.node.ptr),
        Some(&new.ptr),
        format!(
            "rate-limit policy {} now applies where no policy did; clients over its quota get 429",
            new.value
        ),
    );
}
