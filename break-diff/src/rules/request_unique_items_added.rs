//! `request_unique_items_added`: request arrays may no longer repeat an
//! item.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_unique_items_added",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request array now requires unique items.",
        why: "Clients that send an array with repeated items are now rejected.",
        fix: "Keep accepting duplicates and de-duplicate on the server.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-uniqueitems",
        mirror: Mirror::Rule("response_unique_items_removed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir == Direction::Request && !s.base.flag("uniqueItems") && s.rev.flag("uniqueItems") {
        cx.report(
            Some(&s.base.ptr),
            Some(&key_ptr(&s.rev, "uniqueItems")),
            format!("{}: items must now be unique; requests with repeated items are rejected", s.at),
        );
    }
}
