//! `operation_sunset_too_soon`: an operation was deprecated (or its
//! sunset moved earlier) with less notice than the minimum deprecation
//! period (`--min-deprecation-days`) before the sunset date.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_sunset_too_soon",
        level: Level::Warning,
        family: Family::Lifecycle,
        description: "A newly set sunset date is closer than the minimum deprecation period.",
        why: "Clients get less time to migrate than the project promises; the operation can then be removed before they are ready.",
        fix: "Move `x-sunset` to at least the minimum deprecation period after today.",
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
    let (Retirement::Before(date) | Retirement::Passed(date)) =
        retirement(
        Deprecation {
            since: None,
            ..rev.deprecation()
        },
        cx.options,
    )
    else {
        return;
    };
    // Only a newly set or changed date is judged; an unchanged one was
    // judged when it was set.
    if base.deprecated() && base.sunset() == rev.sunset() {
        return;
    }
    let days = (date - cx.options.today).num_days();
    let min = i64::from(cx.options.min_deprecation_days);
    if days >= min {
        return;
    }
    cx.report(
        Some(&base.node.ptr),
        Some(&key_ptr(&rev.node, "x-sunset")),
        format!(
            "operation `{}` sunsets on {date}, {days} day(s) after {}; the minimum deprecation period is {min} days",
            rev.label(),
            cx.options.today
        ),
    );
}
