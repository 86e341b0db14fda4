//! `response_unique_items_removed`: response arrays may now repeat items
//! that were promised to be unique.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_unique_items_removed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response array no longer promises unique items.",
        why: "Clients that load the array into a set or a map keyed by item may lose or reject duplicates.",
        fix: "Keep returning unique items.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-uniqueitems",
        mirror: Mirror::Rule("request_unique_items_added"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir == Direction::Response && s.base.flag("uniqueItems") && !s.rev.flag("uniqueItems") {
        cx.report(
            Some(&key_ptr(&s.base, "uniqueItems")),
            Some(&s.rev.ptr),
            format!("{}: items are no longer promised to be unique", s.at),
        );
    }
}
