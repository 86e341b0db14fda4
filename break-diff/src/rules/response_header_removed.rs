//! `response_header_removed`: a documented response header is gone.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_header_removed",
        level: Level::Error,
        family: Family::Responses,
        description: "A header was removed from a response.",
        why: "Clients that read the header (a request id, a Location, pagination links) no longer find it.",
        fix: "Mark the header `deprecated: true` with an `x-sunset: YYYY-MM-DD` date, and remove it once that date has passed.",
        reference: "https://spec.openapis.org/oas/v3.1.0#header-object",
        mirror: Mirror::Waived(
            "request headers are parameters; their removal is request_parameter_removed",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Header(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if let (Some(base), None) = (&s.pair.base, &s.pair.rev)
        && !matches!(node_retirement(base, cx.options), Retirement::Passed(_))
    {
        cx.report(
            Some(&base.ptr),
            None,
            format!("{} was removed; clients reading it will not find it", s.at),
        );
    }
}
