//! `response_media_type_removed`: a response no longer comes in a content
//! type that clients ask for or parse.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_media_type_removed",
        level: Level::Error,
        family: Family::Responses,
        description: "A media type was removed from a response.",
        why: "Clients that ask for that type get 406 Not Acceptable or a body they cannot parse; clients that read the body find it gone.",
        fix: "Keep producing the media type until clients have moved to the new one.",
        reference: "https://spec.openapis.org/oas/v3.1.0#media-type-object",
        mirror: Mirror::Rule("request_media_type_removed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Content(check),
};

fn check(cx: &mut Cx<'_>, s: &ContentSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    if let (Some(base), None) = (&s.pair.base, &s.pair.rev) {
        cx.report(
            Some(&base.ptr),
            None,
            format!(
                "{}: media type `{}` is no longer returned; clients parsing it will fail",
                s.at, s.media_type
            ),
        );
    }
}
