//! `request_items_constrained`: an array's `items` schema appeared or disappeared. When both
//! sides have one, the walker compares them instead.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_items_constrained",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A request array whose items were unconstrained now has an items schema.",
        why: "Arrays with items of any shape were accepted; items that do not match the new schema are now rejected.",
        fix: "Keep the array's items as they were described.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-items",
        mirror: Mirror::Rule("response_items_unconstrained"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    if s.base.get("items").is_none() && s.rev.get("items").is_some() {
        cx.report(
            Some(&key_ptr(&s.base, "items")),
            Some(&key_ptr(&s.rev, "items")),
            format!("{}: array items now have a schema where any item was accepted; requests with other items are rejected", s.at),
        );
    }
}
