//! `response_unevaluated_properties_allowed`: the same judgement as for `additionalProperties`, for the
//! JSON Schema 2020-12 keyword `unevaluatedProperties` (OpenAPI 3.1).

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_unevaluated_properties_allowed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response schema now allows unevaluated properties it forbade or constrained.",
        why: "Strict clients that reject unknown properties, as the base allowed them to, fail on responses with new properties.",
        fix: "Keep the response schema closed; add properties only in a new version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-unevaluatedproperties",
        mirror: Mirror::Rule("request_unevaluated_properties_restricted"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    const KEY: &str = "unevaluatedProperties";
    let (old, new) = (
        schema::additional_for(s.base.value, KEY),
        schema::additional_for(s.rev.value, KEY),
    );
    if new <= old {
        return;
    }
    cx.report(
        Some(&key_ptr(&s.base, KEY)),
        Some(&key_ptr(&s.rev, KEY)),
        format!("{}: unevaluatedProperties became looser; responses may carry properties clients do not know", s.at),
    );
}
