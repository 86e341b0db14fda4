//! `operation_deprecated_without_sunset`: an operation is deprecated in
//! the revision but has no valid `x-sunset` date, so clients cannot plan
//! and break-diff cannot later allow its removal.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_deprecated_without_sunset",
        level: Level::Warning,
        family: Family::Lifecycle,
        description: "A deprecated operation has no valid x-sunset date.",
        why: "Clients are not told when the operation goes away, and without a date its removal can never be judged safe.",
        fix: "Add `x-sunset: YYYY-MM-DD` at least the minimum deprecation period ahead.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn valid(sunset: Option<&str>) -> bool {
    sunset.is_some_and(|s| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").is_ok())
}

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    if !rev.deprecated() || valid(rev.sunset()) {
        return;
    }
    // Only a change is reported: an operation that was already deprecated
    // without a date in the base is not news.
    if base.deprecated() && !valid(base.sunset()) {
        return;
    }
    let what = match rev.sunset() {
        Some(raw) => format!("its `x-sunset` value `{raw}` is not a YYYY-MM-DD date"),
        None => "it has no `x-sunset` date".to_owned(),
    };
    cx.report(
        Some(&base.node.ptr),
        Some(&key_ptr(&rev.node, "deprecated")),
        format!("operation `{}` is deprecated, but {what}", rev.label()),
    );
}
