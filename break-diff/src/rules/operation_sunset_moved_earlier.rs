//! `operation_sunset_moved_earlier`: a deprecated operation's sunset date
//! was brought forward. Clients planned their migration for the old
//! date.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_sunset_moved_earlier",
        level: Level::Warning,
        family: Family::Lifecycle,
        description: "The sunset date of a deprecated operation was moved earlier.",
        why: "Clients scheduled their migration for the announced date; the operation may now disappear before they are done.",
        fix: "Keep the announced date; sunset dates may move later, not earlier.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
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
    let parse = |s: Option<&str>| {
        s.and_then(|s| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
    };
    let (Some(old), Some(new)) = (parse(base.sunset()), parse(rev.sunset())) else {
        return;
    };
    if base.deprecated() && rev.deprecated() && new < old {
        cx.report(
            Some(&key_ptr(&base.node, "x-sunset")),
            Some(&key_ptr(&rev.node, "x-sunset")),
            format!(
                "operation `{}`: sunset moved from {old} to {new}; clients planned for {old}",
                rev.label()
            ),
        );
    }
}
