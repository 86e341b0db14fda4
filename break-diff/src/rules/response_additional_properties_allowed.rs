//! `response_additional_properties_allowed`: a response object that
//! promised to hold only its listed properties may now hold others.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_additional_properties_allowed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response object now allows additional properties it forbade, or no longer constrains them.",
        why: "Clients that deserialize strictly (denying unknown fields, as the base allowed them to) fail on responses with new properties.",
        fix: "Keep the object closed; add fields only in a new version, or announce tolerance of unknown fields first.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-additionalproperties",
        mirror: Mirror::Rule("request_additional_properties_restricted"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let (old, new) = (schema::additional(s.base.value), schema::additional(s.rev.value));
    if new <= old {
        return;
    }
    let what = match old {
        schema::Additional::Closed => "additionalProperties is no longer false; strict clients may reject responses with unknown properties",
        _ => "additionalProperties lost its schema; unlisted properties may now hold anything",
    };
    cx.report(
        Some(&key_ptr(&s.base, "additionalProperties")),
        Some(&key_ptr(&s.rev, "additionalProperties")),
        format!("{}: {what}", s.at),
    );
}
