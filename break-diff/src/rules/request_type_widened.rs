//! `request_type_widened`: a request schema accepts a type it did not
//! (`integer` to `number`, a type added to a list). Safe for clients;
//! reported so reviewers see the server must handle the new type.

use std::collections::BTreeSet;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_type_widened",
        level: Level::Info,
        family: Family::Schemas,
        description: "A request schema now accepts a type it did not before.",
        why: "Existing clients keep sending the old type; the server must now also handle the new one.",
        fix: "Nothing to fix.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-type",
        mirror: Mirror::Rule("response_type_narrowed"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn join(t: &BTreeSet<String>) -> String {
    t.iter().map(String::as_str).collect::<Vec<_>>().join("|")
}

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (Some(base), Some(rev)) = (schema::types(s.base.value), schema::types(s.rev.value)) else {
        return;
    };
    if rev.iter().any(|t| !schema::type_accepted(t, &base)) {
        cx.report(
            Some(&key_ptr(&s.base, "type")),
            Some(&key_ptr(&s.rev, "type")),
            format!("{}: type widened from {} to {}", s.at, join(&base), join(&rev)),
        );
    }
}
