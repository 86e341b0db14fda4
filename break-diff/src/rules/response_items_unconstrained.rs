//! `response_items_unconstrained`: an array's `items` schema appeared or disappeared. When both
//! sides have one, the walker compares them instead.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_items_unconstrained",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response array lost its items schema.",
        why: "Items may now have any shape; clients that decode them by the old schema may fail.",
        fix: "Keep the array's items as they were described.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-items",
        mirror: Mirror::Rule("request_items_constrained"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    if s.base.get("items").is_some() && s.rev.get("items").is_none() {
        cx.report(
            Some(&key_ptr(&s.base, "items")),
            Some(&key_ptr(&s.rev, "items")),
            format!("{}: array items lost their schema; items may now have any shape", s.at),
        );
    }
}
