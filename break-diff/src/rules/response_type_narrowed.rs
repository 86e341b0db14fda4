//! `response_type_narrowed`: a response schema holds fewer types than
//! before (`number` to `integer`). Safe for clients; reported so the
//! changelog can say so.

use std::collections::BTreeSet;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_type_narrowed",
        level: Level::Info,
        family: Family::Schemas,
        description: "A response schema no longer holds a type it could before.",
        why: "Clients that handle the old types still work; the branch for the dropped one is never taken.",
        fix: "Nothing to fix.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-type",
        mirror: Mirror::Rule("request_type_widened"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn join(t: &BTreeSet<String>) -> String {
    t.iter().map(String::as_str).collect::<Vec<_>>().join("|")
}

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let (Some(base), Some(rev)) = (schema::types(s.base.value), schema::types(s.rev.value)) else {
        return;
    };
    if base.iter().any(|t| !schema::type_accepted(t, &rev)) {
        cx.report(
            Some(&key_ptr(&s.base, "type")),
            Some(&key_ptr(&s.rev, "type")),
            format!("{}: type narrowed from {} to {}", s.at, join(&base), join(&rev)),
        );
    }
}
