//! `response_media_type_added`: a response may now come in another
//! content type. Clients that send a specific `Accept` are unaffected;
//! clients that send none or `*/*` may get the new type, depending on the
//! server's negotiation.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_media_type_added",
        level: Level::Info,
        family: Family::Responses,
        description: "A media type was added to a response.",
        why: "Clients that send no Accept header (or `*/*`) could receive the new type if the server prefers it, and fail to parse it.",
        fix: "Keep the old type as the default when the client does not ask for another.",
        reference: "https://spec.openapis.org/oas/v3.1.0#media-type-object",
        mirror: Mirror::Rule("request_media_type_added"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Content(check),
};

fn check(cx: &mut Cx<'_>, s: &ContentSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    if let (None, Some(rev)) = (&s.pair.base, &s.pair.rev) {
        cx.report(
            None,
            Some(&rev.ptr),
            format!(
                "{}: media type `{}` may now be returned; keep the old one as the default",
                s.at, s.media_type
            ),
        );
    }
}
