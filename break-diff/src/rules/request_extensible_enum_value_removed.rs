//! `request_extensible_enum_value_removed`: a value was removed from the
//! `x-extensible-enum` list of a request schema (the Zalando convention
//! for an open set of values: clients must tolerate new ones in
//! responses, and may send any listed one).

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_extensible_enum_value_removed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A value was removed from a request schema's x-extensible-enum list.",
        why: "Clients may send every value the list named; the server may now reject the removed ones or treat them as unknown.",
        fix: "Keep accepting the value (leave it in the list, perhaps described as deprecated) until no client sends it.",
        reference: "https://opensource.zalando.com/restful-api-guidelines/#112",
        mirror: Mirror::Waived(
            "x-extensible-enum tells clients to tolerate values they do not know in responses, so response values may come and go",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn values(schema: &Value) -> Option<&Vec<Value>> {
    schema.get("x-extensible-enum").and_then(Value::as_array)
}

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (Some(old), Some(new)) = (values(s.base.value), values(s.rev.value)) else {
        return;
    };
    let gone: Vec<String> = old
        .iter()
        .filter(|v| !new.contains(v))
        .map(Value::to_string)
        .collect();
    if gone.is_empty() {
        return;
    }
    cx.report(
        Some(&key_ptr(&s.base, "x-extensible-enum")),
        Some(&key_ptr(&s.rev, "x-extensible-enum")),
        format!(
            "{}: x-extensible-enum value(s) {} removed; requests sending them may be rejected",
            s.at,
            gone.join(", ")
        ),
    );
}
