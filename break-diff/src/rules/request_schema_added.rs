//! `request_schema_added`: a request media type that accepted any content
//! (no `schema`) now has one, so some bodies become invalid.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_schema_added",
        level: Level::Warning,
        family: Family::RequestBodies,
        description: "A request media type without a schema gained one.",
        why: "Any body was valid before; bodies that do not match the new schema are now rejected.",
        fix: "Make sure the schema accepts every body clients send today, or introduce it in a new version.",
        reference: "https://spec.openapis.org/oas/v3.1.0#media-type-object",
        mirror: Mirror::Rule("response_schema_removed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Content(check),
};

fn check(cx: &mut Cx<'_>, s: &ContentSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    if let (Some(base), Some(rev)) = (&s.pair.base, &s.pair.rev)
        && base.get("schema").is_none()
        && let Some(schema) = rev.get("schema")
    {
        cx.report(
            Some(&base.ptr),
            Some(&schema.ptr),
            format!(
                "{} {}: a schema was added where any content was accepted; bodies not matching it are rejected",
                s.at, s.media_type
            ),
        );
    }
}
