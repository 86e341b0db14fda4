//! `request_length_range_narrowed`: string lengths, array sizes or object
//! sizes that requests may use became more limited (`minLength`,
//! `maxLength`, `minItems`, `maxItems`, `minProperties`, `maxProperties`).

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_length_range_narrowed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request string length, array size or object size limit became stricter.",
        why: "Clients that send values of a length that was allowed are now rejected.",
        fix: "Keep the old limits; enforce stricter ones only in a new property or version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-validation-keywords-for-str",
        mirror: Mirror::Rule("response_length_range_widened"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

/// The (minimum, maximum) keyword pairs that bound a size.
pub(crate) const LIMITS: [(&str, &str, &str); 3] = [
    ("minLength", "maxLength", "length"),
    ("minItems", "maxItems", "number of items"),
    ("minProperties", "maxProperties", "number of properties"),
];

pub(crate) fn limit(schema: &Value, key: &str) -> Option<u64> {
    schema.get(key).and_then(Value::as_u64)
}

pub(crate) fn show(v: Option<u64>) -> String {
    v.map_or("none".to_owned(), |n| n.to_string())
}

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    for (min, max, what) in LIMITS {
        let (b, r) = (limit(s.base.value, min), limit(s.rev.value, min));
        if r.unwrap_or(0) > b.unwrap_or(0) {
            cx.report(
                Some(&key_ptr(&s.base, min)),
                Some(&key_ptr(&s.rev, min)),
                format!(
                    "{}: {min} raised from {} to {}; requests with a smaller {what} are rejected",
                    s.at,
                    show(b),
                    show(r)
                ),
            );
        }
        let (b, r) = (limit(s.base.value, max), limit(s.rev.value, max));
        if r.unwrap_or(u64::MAX) < b.unwrap_or(u64::MAX) {
            cx.report(
                Some(&key_ptr(&s.base, max)),
                Some(&key_ptr(&s.rev, max)),
                format!(
                    "{}: {max} lowered from {} to {}; requests with a larger {what} are rejected",
                    s.at,
                    show(b),
                    show(r)
                ),
            );
        }
    }
}
