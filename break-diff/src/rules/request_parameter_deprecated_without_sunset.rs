//! `request_parameter_deprecated_without_sunset`: a parameter became
//! deprecated, but neither it nor its operation has a valid `x-sunset`,
//! so clients cannot plan and its removal can never be judged safe.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_deprecated_without_sunset",
        level: Level::Warning,
        family: Family::Lifecycle,
        description: "A parameter was deprecated without a valid x-sunset date.",
        why: "Clients are not told when the parameter stops working, and without a date its removal is always reported as breaking.",
        fix: "Add `x-sunset: YYYY-MM-DD` to the parameter (or its operation), at least the minimum deprecation period ahead.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn valid(date: Option<&str>) -> bool {
    date.is_some_and(|d| chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").is_ok())
}

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    let (Some(base), Some(rev)) = (s.param.base, s.param.rev) else {
        return;
    };
    // Only newly deprecated parameters are judged, so an old deprecation
    // is not reported on every later comparison.
    if base.node.flag("deprecated") || !rev.node.flag("deprecated") {
        return;
    }
    let sunset = rev.node.str("x-sunset").or_else(|| s.op.1.sunset());
    if valid(sunset) {
        return;
    }
    cx.report(
        Some(&base.node.ptr),
        Some(&key_ptr(&rev.node, "deprecated")),
        format!("{} was deprecated without a valid `x-sunset` date", rev.describe()),
    );
}
