//! `request_parameter_sunset_too_soon`: a parameter was deprecated (or
//! its sunset changed) with less notice than the minimum deprecation
//! period before its own `x-sunset`.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_sunset_too_soon",
        level: Level::Warning,
        family: Family::Lifecycle,
        description: "A parameter's newly set sunset date is closer than the minimum deprecation period.",
        why: "Clients get less time to stop sending the parameter than the project promises.",
        fix: "Move the parameter's `x-sunset` to at least the minimum deprecation period after today.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    let (Some(base), Some(rev)) = (s.param.base, s.param.rev) else {
        return;
    };
    let Some(raw) = rev.node.str("x-sunset") else { return };
    if !rev.node.flag("deprecated") {
        return;
    }
    // Judged only when set or changed; an unchanged date was judged then.
    if base.node.flag("deprecated") && base.node.str("x-sunset") == Some(raw) {
        return;
    }
    let Ok(date) = chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") else {
        return;
    };
    let days = (date - cx.options.today).num_days();
    let min = i64::from(cx.options.min_deprecation_days);
    if days < min {
        cx.report(
            Some(&base.node.ptr),
            Some(&key_ptr(&rev.node, "x-sunset")),
            format!(
                "{} sunsets on {date}, {days} day(s) after {}; the minimum deprecation period is {min} days",
                rev.describe(),
                cx.options.today
            ),
        );
    }
}
