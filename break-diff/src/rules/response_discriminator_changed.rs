//! `response_discriminator_changed`: the property that tells clients
//! which alternative a response is, or its value mapping, changed.

use super::prelude::*;
use super::request_discriminator_changed::change;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_discriminator_changed",
        level: Level::Error,
        family: Family::Schemas,
        description: "The discriminator of a response schema changed its property name or mapping.",
        why: "Clients pick the type to decode by the old discriminator property and values; responses tagged the new way decode wrongly or not at all.",
        fix: "Keep the discriminator property and every mapped value; add new mappings only.",
        reference: "https://spec.openapis.org/oas/v3.0.3#discriminator-object",
        mirror: Mirror::Rule("request_discriminator_changed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    if let Some(what) = change(&s.base, &s.rev) {
        cx.report(
            Some(&key_ptr(&s.base, "discriminator")),
            Some(&key_ptr(&s.rev, "discriminator")),
            format!("{}: {what}; clients cannot tell which alternative a response is", s.at),
        );
    }
}
