//! `request_parameter_sunset_removed`: a parameter deprecated on both
//! sides lost its `x-sunset` date, or the date became unparsable. Newly
//! deprecated parameters without a date are
//! `request_parameter_deprecated_without_sunset`'s.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_sunset_removed",
        level: Level::Warning,
        family: Family::Lifecycle,
        description: "A deprecated parameter's x-sunset date was deleted or made unparsable.",
        why: "Clients planned their migration by the announced date; without it they cannot tell when the parameter goes, and the removal rules can no longer tell when removing it is allowed.",
        fix: "Keep the x-sunset date, or move it later with a new YYYY-MM-DD date.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own lifecycle rules",
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
    if !base.node.flag("deprecated") || base.node.str("x-sunset").is_none() {
        return;
    }
    let Some(problem) = sunset_problem(Some(&base.node), &rev.node, cx.options) else {
        return;
    };
    // Too-soon dates are `request_parameter_sunset_too_soon`'s.
    if problem.starts_with("sunsets on") {
        return;
    }
    cx.report(
        Some(&key_ptr(&base.node, "x-sunset")),
        Some(&key_ptr(&rev.node, "x-sunset")),
        format!("{} {problem}", rev.describe()),
    );
}
