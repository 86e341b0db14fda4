//! `operation_removed_after_sunset`: an operation was removed as its
//! deprecation announced. Informational: this is the lifecycle working.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_removed_after_sunset",
        level: Level::Info,
        family: Family::Lifecycle,
        description: "A deprecated operation was removed after its sunset date.",
        why: "Clients were told the date in advance; any that still call it get an error, which is the announced outcome.",
        fix: "Nothing to fix; keep the changelog entry that records the removal.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::NotDirectional,
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), None) = (pair.base, pair.rev) else {
        return;
    };
    if let Retirement::Passed(date) = retirement(base.deprecation(), cx.options)
    {
        cx.report(
            Some(&base.node.ptr),
            None,
            format!(
                "deprecated operation `{}` was removed; its sunset date {date} has passed",
                base.label()
            ),
        );
    }
}
