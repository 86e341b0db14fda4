//! `request_media_type_removed`: the server no longer accepts a request
//! content type that clients use.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_media_type_removed",
        level: Level::Error,
        family: Family::RequestBodies,
        description: "A media type was removed from a request body.",
        why: "Clients that send that Content-Type get 415 Unsupported Media Type.",
        fix: "Keep accepting the media type alongside the new one.",
        reference: "https://spec.openapis.org/oas/v3.1.0#media-type-object",
        mirror: Mirror::Rule("response_media_type_removed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Content(check),
};

fn check(cx: &mut Cx<'_>, s: &ContentSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    // A wildcard in the revision (`application/*`, `*/*`) still accepts
    // what clients send (the walker compares the schema under it).
    let (kind, _) = s.media_type.split_once('/').unwrap_or((s.media_type, ""));
    let covered = s
        .rev_types
        .iter()
        .any(|t| *t == "*/*" || *t == format!("{kind}/*"));
    if covered {
        return;
    }
    if let (Some(base), None) = (&s.pair.base, &s.pair.rev) {
        cx.report(
            Some(&base.ptr),
            None,
            format!(
                "{}: media type `{}` is no longer accepted; clients sending it get 415",
                s.at, s.media_type
            ),
        );
    }
}
