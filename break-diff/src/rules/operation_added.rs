//! `operation_added`: a new operation. Never breaking; reported so that a
//! review sees the whole surface change.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_added",
        level: Level::Info,
        family: Family::Operations,
        description: "An operation was added.",
        why: "Existing clients do not call it, so nothing breaks; it is listed so reviewers see new surface that must then be kept stable.",
        fix: "Nothing to fix.",
        reference: "https://spec.openapis.org/oas/v3.1.0#paths-object",
        mirror: Mirror::NotDirectional,
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    if let (None, Some(rev)) = (pair.base, pair.rev) {
        cx.report(
            None,
            Some(&rev.node.ptr),
            format!("operation `{}` was added", rev.label()),
        );
    }
}
