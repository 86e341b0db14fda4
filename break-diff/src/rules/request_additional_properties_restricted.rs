//! `request_additional_properties_restricted`: a request object that
//! tolerated unknown properties now forbids them.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_additional_properties_restricted",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request object now forbids additional properties, or constrains them with a schema.",
        why: "Clients that send extra fields (newer clients, or clients that echo back what they read) are now rejected.",
        fix: "Keep tolerating unknown properties and ignore them on the server.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-additionalproperties",
        mirror: Mirror::Rule("response_additional_properties_allowed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (old, new) = (schema::additional(s.base.value), schema::additional(s.rev.value));
    if new >= old {
        return;
    }
    let what = match new {
        schema::Additional::Closed => "additionalProperties is now false; requests with properties not listed are rejected",
        _ => "additionalProperties now has a schema; requests with unlisted properties that do not match it are rejected",
    };
    cx.report(
        Some(&key_ptr(&s.base, "additionalProperties")),
        Some(&key_ptr(&s.rev, "additionalProperties")),
        format!("{}: {what}", s.at),
    );
}
