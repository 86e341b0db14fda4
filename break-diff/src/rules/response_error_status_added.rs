//! `response_error_status_added`: a new error status (4xx, 5xx) is
//! documented. Usually it was possible before and is now described, so
//! this is informational.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_error_status_added",
        level: Level::Info,
        family: Family::Responses,
        description: "An error (4xx or 5xx) response status was added to an operation.",
        why: "Clients already have to handle unexpected errors; the new status tells them what to expect, and their generic error handling still applies.",
        fix: "Nothing to fix; make sure the status uses the documented error body.",
        reference: "https://spec.openapis.org/oas/v3.1.0#responses-object",
        mirror: Mirror::Waived("statuses exist only on responses; requests have no counterpart"),
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Response(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if !(s.name.starts_with('4') || s.name.starts_with('5')) {
        return;
    }
    if let (None, Some(rev)) = (&s.pair.base, &s.pair.rev) {
        cx.report(None, Some(&rev.ptr), format!("error status {} was added", s.name));
    }
}
