//! `response_type_widened`: responses may now carry a type they never
//! carried (for example `integer` to `number`, or `string` to
//! `[string, integer]`). Narrowing is fine in responses.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_type_widened",
        level: Level::Error,
        family: Family::Schemas,
        description: "A response schema may now hold a type it did not before.",
        why: "Clients parse the value as the old type; a value of the new type fails to deserialize or is misread.",
        fix: "Return the new type in a new property, and keep the old one until clients have moved.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-type",
        mirror: Mirror::Rule("request_type_narrowed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let (Some(base), Some(rev)) = (schema::types(s.base.value), schema::types(s.rev.value)) else {
        return;
    };
    let new: Vec<&str> = rev
        .iter()
        .filter(|t| !schema::type_accepted(t, &base))
        .map(String::as_str)
        .collect();
    if new.is_empty() {
        return;
    }
    let join = |t: &std::collections::BTreeSet<String>| {
        t.iter().map(String::as_str).collect::<Vec<_>>().join("|")
    };
    cx.report(
        Some(&key_ptr(&s.base, "type")),
        Some(&key_ptr(&s.rev, "type")),
        format!(
            "{}: type changed from {} to {}; clients expecting {} may receive {}",
            s.at,
            join(&base),
            join(&rev),
            join(&base),
            new.join(" or ")
        ),
    );
}
