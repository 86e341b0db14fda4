//! `request_enum_value_removed`: a value that requests could carry is no
//! longer allowed, or an enum now restricts a value that was free.
//! Adding enum values to requests is safe and not reported.

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_enum_value_removed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request enum lost a value, or a request value became restricted to an enum.",
        why: "Clients that send the removed value are now rejected.",
        fix: "Keep accepting the value (mark it deprecated in the description) and map it to its replacement on the server.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-enum",
        mirror: Mirror::Rule("response_enum_value_added"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

/// Enum values without `null`, which the nullability rules own.
pub(crate) fn values(schema: &Value) -> Option<Vec<&Value>> {
    schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter(|x| !x.is_null()).collect())
}

pub(crate) fn show(values: &[&Value]) -> String {
    values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
}

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let message = match (values(s.base.value), values(s.rev.value)) {
        (Some(base), Some(rev)) => {
            let gone: Vec<&Value> = base.iter().copied().filter(|v| !rev.contains(v)).collect();
            if gone.is_empty() {
                return;
            }
            format!(
                "{}: enum value(s) {} removed; requests sending them are now rejected",
                s.at,
                show(&gone)
            )
        }
        (None, Some(rev)) => format!(
            "{}: the value is now restricted to [{}]; requests sending anything else are rejected",
            s.at,
            show(&rev)
        ),
        _ => return,
    };
    cx.report(
        Some(&key_ptr(&s.base, "enum")),
        Some(&key_ptr(&s.rev, "enum")),
        message,
    );
}
