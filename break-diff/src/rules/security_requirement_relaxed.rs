//! `security_requirement_relaxed`: an operation can now be called with
//! fewer credentials (an alternative without a scheme or scope, or no
//! security at all). Not breaking; reported for security review.

use super::prelude::*;
use super::security_requirement_tightened::{alternatives, describe, satisfies};

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "security_requirement_relaxed",
        level: Level::Info,
        family: Family::Security,
        description: "An operation's security requirements became looser.",
        why: "Existing clients keep working, but the operation is now reachable with less authority, which a security review should confirm.",
        fix: "Nothing to fix if intended; otherwise restore the requirement.",
        reference: "https://spec.openapis.org/oas/v3.1.0#security-requirement-object",
        mirror: Mirror::NotDirectional,
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    let b = alternatives(base.security.as_ref());
    let r = alternatives(rev.security.as_ref());
    for alt in &r {
        // Relaxed: credentials meeting this new alternative would not have
        // met any alternative of the base.
        if b.iter().any(|need| satisfies(alt, need)) {
            continue;
        }
        let ptr = |op: &crate::model::Operation<'_>| {
            op.security
                .as_ref()
                .map_or_else(|| op.node.ptr.clone(), |n| n.ptr.clone())
        };
        cx.report(
            Some(&ptr(base)),
            Some(&ptr(rev)),
            format!(
                "the operation now accepts {}, which the base did not ({})",
                describe(alt),
                b.iter().map(describe).collect::<Vec<_>>().join(" or ")
            ),
        );
    }
}
