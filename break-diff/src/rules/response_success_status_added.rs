//! `response_success_status_added`: an operation may now succeed with a
//! 2xx status it never documented (a `202 Accepted` beside `200 OK`).

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_success_status_added",
        level: Level::Warning,
        family: Family::Responses,
        description: "A success (2xx) response status was added to an operation.",
        why: "Clients and SDKs that expect the documented success status treat the new one as unexpected, or mis-decode its body.",
        fix: "Return the new status only to clients that opt in (a header or parameter), or in a new operation.",
        reference: "https://spec.openapis.org/oas/v3.1.0#responses-object",
        mirror: Mirror::Waived("statuses exist only on responses; requests have no counterpart"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Response(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if !s.name.starts_with('2') || s.name.eq_ignore_ascii_case("2XX") {
        return;
    }
    // A status that the base covered with the range `2XX` is not new.
    if s.base_names.iter().any(|k| k.eq_ignore_ascii_case("2XX")) {
        return;
    }
    if let (None, Some(rev)) = (&s.pair.base, &s.pair.rev) {
        cx.report(
            None,
            Some(&rev.ptr),
            format!(
                "success status {} was added; clients expecting only the documented success statuses may not handle it",
                s.name
            ),
        );
    }
}
