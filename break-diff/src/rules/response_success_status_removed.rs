//! `response_success_status_removed`: an operation no longer documents a
//! 2xx status that clients handle.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_success_status_removed",
        level: Level::Error,
        family: Family::Responses,
        description: "A success (2xx) response status was removed from an operation.",
        why: "Clients branch on the documented success status; a different status is treated as an unexpected outcome or error, and SDKs lose the typed success result.",
        fix: "Keep returning the documented status; add new statuses only alongside.",
        reference: "https://spec.openapis.org/oas/v3.1.0#responses-object",
        mirror: Mirror::Waived("statuses exist only on responses; requests have no counterpart"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Response(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if !s.name.starts_with('2') {
        return;
    }
    // `200` replaced by the range `2XX` still documents a 200 response
    // (the walker compares the two bodies).
    let range = format!("{}XX", &s.name[..1]);
    let covered = s.rev_names.iter().any(|k| k.eq_ignore_ascii_case(&range));
    // `2XX` narrowed to concrete statuses: clients that handled any 2xx
    // still handle them.
    let narrowed =
        s.name.eq_ignore_ascii_case(&range) && s.rev_names.iter().any(|k| k.starts_with('2'));
    if covered || narrowed {
        return;
    }
    if let (Some(base), None) = (&s.pair.base, &s.pair.rev) {
        cx.report(
            Some(&base.ptr),
            None,
            format!(
                "success status {} was removed; clients expecting it will treat responses as unexpected",
                s.name
            ),
        );
    }
}
