//! `request_media_type_added`: the server accepts a new request content
//! type. Safe; reported as new surface.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_media_type_added",
        level: Level::Info,
        family: Family::RequestBodies,
        description: "A media type was added to a request body.",
        why: "Existing clients keep sending what they sent; the new type is an extra option.",
        fix: "Nothing to fix.",
        reference: "https://spec.openapis.org/oas/v3.1.0#media-type-object",
        mirror: Mirror::Rule("response_media_type_added"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Content(check),
};

fn check(cx: &mut Cx<'_>, s: &ContentSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    if let (None, Some(rev)) = (&s.pair.base, &s.pair.rev) {
        cx.report(
            None,
            Some(&rev.ptr),
            format!("{}: media type `{}` is now accepted", s.at, s.media_type),
        );
    }
}
