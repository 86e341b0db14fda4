//! `operation_stability_decreased`: an operation's `x-stability-level`
//! went down (`stable` to `beta`, `beta` to `alpha`, ...).
//!
//! The levels, lowest first, are `draft`, `alpha`, `beta`, `stable`.
//! An operation at `draft` or `alpha` in the base is exempt from every
//! other rule: its owners announced that it may change without notice
//! (the walker drops those findings; see [`crate::walk`]).

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_stability_decreased",
        level: Level::Error,
        family: Family::Lifecycle,
        description: "An operation's x-stability-level was lowered.",
        why: "Clients chose the operation for the stability it promised; a lower level lets it change or go without notice, which is the break itself.",
        fix: "Keep the level, and make the unstable behaviour a new operation at the lower level.",
        reference: "https://spec.openapis.org/oas/v3.1.0#specification-extensions",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

/// The stability levels, lowest first.
pub const LEVELS: [&str; 4] = ["draft", "alpha", "beta", "stable"];

/// The rank of an operation's `x-stability-level` in [`LEVELS`]; `None`
/// when absent or not one of them.
pub fn rank(node: &Node<'_>) -> Option<usize> {
    let level = node.str("x-stability-level")?;
    LEVELS.iter().position(|l| *l == level)
}

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    let (Some(old), Some(new)) = (rank(&base.node), rank(&rev.node)) else {
        return;
    };
    if new < old {
        cx.report(
            Some(&key_ptr(&base.node, "x-stability-level")),
            Some(&key_ptr(&rev.node, "x-stability-level")),
            format!(
                "operation `{}` went from x-stability-level `{}` to `{}`; clients relied on the stability it promised",
                rev.label(),
                LEVELS[old],
                LEVELS[new]
            ),
        );
    }
}
