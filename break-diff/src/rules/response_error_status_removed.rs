//! `response_error_status_removed`: a documented error status (4xx, 5xx
//! or `default`) is gone. The server may still send it, but clients
//! lose its description and typed SDKs lose its error type.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_error_status_removed",
        level: Level::Info,
        family: Family::Responses,
        description: "An error (4xx, 5xx or default) response was removed from an operation.",
        why: "Generated SDKs drop the typed error, so client code that matches on it stops compiling; at runtime, responses with that status become undocumented.",
        fix: "Keep documenting the status while the server can still return it.",
        reference: "https://spec.openapis.org/oas/v3.1.0#responses-object",
        mirror: Mirror::Waived("statuses exist only on responses; requests have no counterpart"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Response(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    let error = s.name.starts_with('4') || s.name.starts_with('5') || s.name == "default";
    if !error {
        return;
    }
    // `404` replaced by the range `4XX` is still documented.
    let range = format!("{}XX", s.name.chars().next().unwrap_or('x'));
    if s.name != "default" && s.rev_names.iter().any(|k| k.eq_ignore_ascii_case(&range)) {
        return;
    }
    if let (Some(base), None) = (&s.pair.base, &s.pair.rev) {
        cx.report(
            Some(&base.ptr),
            None,
            format!("error response {} is no longer documented", s.name),
        );
    }
}
