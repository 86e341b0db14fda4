//! `response_schema_removed`: a response media type no longer describes
//! its content, so clients lose the contract they decode against.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_schema_removed",
        level: Level::Warning,
        family: Family::Responses,
        description: "A response media type lost its schema.",
        why: "Any content may now be returned; typed SDKs lose their model and clients cannot rely on the shape they decode.",
        fix: "Keep the schema; describe new shapes with oneOf alongside the old one.",
        reference: "https://spec.openapis.org/oas/v3.1.0#media-type-object",
        mirror: Mirror::Rule("request_schema_added"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Content(check),
};

fn check(cx: &mut Cx<'_>, s: &ContentSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    if let (Some(base), Some(rev)) = (&s.pair.base, &s.pair.rev)
        && let Some(schema) = base.get("schema")
        && rev.get("schema").is_none()
    {
        cx.report(
            Some(&schema.ptr),
            Some(&rev.ptr),
            format!(
                "{} {}: the schema was removed; responses may now hold anything",
                s.at, s.media_type
            ),
        );
    }
}
