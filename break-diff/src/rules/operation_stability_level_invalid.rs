//! `operation_stability_level_invalid`: an operation's
//! `x-stability-level` in the revision is not `draft`, `alpha`, `beta`
//! or `stable`, so neither tools nor readers know what it promises.

use super::operation_stability_decreased::{LEVELS, rank};
use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_stability_level_invalid",
        level: Level::Warning,
        family: Family::Lifecycle,
        description: "An operation's x-stability-level is not draft, alpha, beta or stable.",
        why: "An unknown level promises nothing anyone can check: the stability rules cannot compare it, and the draft/alpha exemption cannot apply.",
        fix: "Use one of draft, alpha, beta or stable (lowercase).",
        reference: "https://spec.openapis.org/oas/v3.1.0#specification-extensions",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let Some(rev) = pair.rev else { return };
    let Some(level) = rev.node.get("x-stability-level") else {
        return;
    };
    if rank(&rev.node).is_some() {
        return;
    }
    // Said once: only when the revision introduces the value.
    if pair
        .base
        .and_then(|b| b.node.value.get("x-stability-level"))
        == Some(level.value)
    {
        return;
    }
    cx.report(
        pair.base.map(|b| b.node.ptr.clone()).as_deref(),
        Some(&level.ptr),
        format!(
            "operation `{}` has x-stability-level {}, which is not one of {}",
            rev.label(),
            level.value,
            LEVELS.join(", ")
        ),
    );
}
