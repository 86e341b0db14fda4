//! `request_parameter_sunset_moved_earlier`: a deprecated parameter's
//! own sunset date was brought forward.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_sunset_moved_earlier",
        level: Level::Warning,
        family: Family::Lifecycle,
        description: "The sunset date of a deprecated parameter was moved earlier.",
        why: "Clients scheduled their change for the announced date; the parameter may now stop working before they are done.",
        fix: "Keep the announced date; sunset dates may move later, not earlier.",
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
    let parse = |n: &Node<'_>| {
        n.str("x-sunset")
            .and_then(|d| chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
    };
    if let (Some(old), Some(new)) = (parse(&base.node), parse(&rev.node))
        && new < old
    {
        cx.report(
            Some(&key_ptr(&base.node, "x-sunset")),
            Some(&key_ptr(&rev.node, "x-sunset")),
            format!("{}: sunset moved from {old} to {new}; clients planned for {old}", rev.describe()),
        );
    }
}
