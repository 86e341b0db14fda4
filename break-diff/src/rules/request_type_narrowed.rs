//! `request_type_narrowed`: a request value type that was accepted is not
//! any more (for example `number` to `integer`, or `[string, integer]` to
//! `string`). Widening is fine in requests and not reported.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_type_narrowed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request schema no longer accepts a type it accepted before.",
        why: "Clients send values of the old type; the server now rejects them as invalid.",
        fix: "Keep accepting the old type (a type list or `oneOf`), and convert on the server.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-type",
        mirror: Mirror::Rule("response_type_widened"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    // A side without `type` is not compared: it is usually a composition
    // (`allOf`, `oneOf`) whose members are compared on their own.
    let (Some(base), Some(rev)) = (schema::types(s.base.value), schema::types(s.rev.value)) else {
        return;
    };
    let lost: Vec<&str> = base
        .iter()
        .filter(|t| !schema::type_accepted(t, &rev))
        .map(String::as_str)
        .collect();
    if lost.is_empty() {
        return;
    }
    cx.report(
        Some(&key_ptr(&s.base, "type")),
        Some(&key_ptr(&s.rev, "type")),
        format!(
            "{}: type changed from {} to {}; requests sending {} are now rejected",
            s.at,
            list(&base),
            list(&rev),
            lost.join(" or ")
        ),
    );
}

fn list(types: &std::collections::BTreeSet<String>) -> String {
    let v: Vec<&str> = types.iter().map(String::as_str).collect();
    if v.is_empty() { "(none)".to_owned() } else { v.join("|") }
}
