//! `request_numeric_range_narrowed`: `minimum` raised, `maximum` lowered,
//! a bound added or made exclusive in a request. Reads both the 3.0
//! boolean and the 3.1 numeric `exclusiveMinimum`/`exclusiveMaximum`.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_numeric_range_narrowed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request number's allowed range became smaller.",
        why: "Clients that send values in the removed part of the range are now rejected.",
        fix: "Keep the old bounds and clamp or handle out-of-range values on the server.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-validation-keywords-for-num",
        mirror: Mirror::Rule("response_numeric_range_widened"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (bl, rl) = (schema::lower_bound(s.base.value), schema::lower_bound(s.rev.value));
    if !schema::lower_within(bl, rl) {
        cx.report(
            Some(&key_ptr(&s.base, "minimum")),
            Some(&key_ptr(&s.rev, if s.rev.value.get("minimum").is_some() { "minimum" } else { "exclusiveMinimum" })),
            format!(
                "{}: lower bound changed from {} to {}; requests with smaller values are rejected",
                s.at,
                bl.map_or("none".to_owned(), |b| b.describe(true)),
                rl.map_or("none".to_owned(), |b| b.describe(true)),
            ),
        );
    }
    let (bu, ru) = (schema::upper_bound(s.base.value), schema::upper_bound(s.rev.value));
    if !schema::upper_within(bu, ru) {
        cx.report(
            Some(&key_ptr(&s.base, "maximum")),
            Some(&key_ptr(&s.rev, if s.rev.value.get("maximum").is_some() { "maximum" } else { "exclusiveMaximum" })),
            format!(
                "{}: upper bound changed from {} to {}; requests with larger values are rejected",
                s.at,
                bu.map_or("none".to_owned(), |b| b.describe(false)),
                ru.map_or("none".to_owned(), |b| b.describe(false)),
            ),
        );
    }
}
