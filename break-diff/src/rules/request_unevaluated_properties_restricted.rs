//! `request_unevaluated_properties_restricted`: the same judgement as for `additionalProperties`, for the
//! JSON Schema 2020-12 keyword `unevaluatedProperties` (OpenAPI 3.1).

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_unevaluated_properties_restricted",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request schema now forbids or constrains unevaluated properties.",
        why: "Requests with properties that no subschema evaluates, which were accepted, are now rejected.",
        fix: "Keep unevaluatedProperties as it was; ignore unknown properties on the server.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-unevaluatedproperties",
        mirror: Mirror::Rule("response_unevaluated_properties_allowed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    const KEY: &str = "unevaluatedProperties";
    let (old, new) = (
        schema::additional_for(s.base.value, KEY),
        schema::additional_for(s.rev.value, KEY),
    );
    if new >= old {
        return;
    }
    cx.report(
        Some(&key_ptr(&s.base, KEY)),
        Some(&key_ptr(&s.rev, KEY)),
        format!("{}: unevaluatedProperties became stricter; requests with properties no subschema describes may be rejected", s.at),
    );
}
