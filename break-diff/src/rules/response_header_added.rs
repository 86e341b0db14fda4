//! `response_header_added`: responses document a new header. Safe;
//! reported as new surface that must then be kept.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_header_added",
        level: Level::Info,
        family: Family::Responses,
        description: "A header was added to a response.",
        why: "Clients that do not read it are unaffected; once documented, removing it later is breaking.",
        fix: "Nothing to fix.",
        reference: "https://spec.openapis.org/oas/v3.1.0#header-object",
        mirror: Mirror::Waived(
            "request headers are parameters; adding one is request_parameter_added_optional or _required",
        ),
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Header(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if let (None, Some(rev)) = (&s.pair.base, &s.pair.rev) {
        cx.report(None, Some(&rev.ptr), format!("{} was added", s.at));
    }
}
