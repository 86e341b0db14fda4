//! `operation_removed`: an operation of the base is gone from the revision
//! before it was allowed to go. Removal after a passed sunset is the
//! separate, informational `operation_removed_after_sunset`.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_removed",
        level: Level::Error,
        family: Family::Operations,
        description: "An operation was removed without being deprecated first, or before its sunset date.",
        why: "Clients that call the operation get 404 or 405 instead of the documented response; generated SDKs lose a method and stop compiling.",
        fix: "Mark the operation `deprecated: true` with an `x-sunset: YYYY-MM-DD` date far enough ahead, announce it, and remove it only once that date has passed.",
        reference: "https://spec.openapis.org/oas/v3.1.0#operation-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), None) = (pair.base, pair.rev) else {
        return;
    };
    let state = retirement(base.deprecation(), cx.options);
    let Some(why) = removal_refused(&state, cx.options) else {
        return;
    };
    cx.report(
        Some(&base.node.ptr),
        None,
        format!(
            "operation `{}` was removed, and {why}; clients calling it will fail",
            base.label()
        ),
    );
}
