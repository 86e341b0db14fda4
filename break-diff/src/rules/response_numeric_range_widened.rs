//! `response_numeric_range_widened`: responses may now hold numbers
//! outside the range clients were promised.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_numeric_range_widened",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response number's documented range became larger.",
        why: "Clients that size storage or validate by the documented bounds (an unsigned byte, a percentage) may overflow or reject the new values.",
        fix: "Keep values in the old range, or return the wider value in a new property.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-validation-keywords-for-num",
        mirror: Mirror::Rule("request_numeric_range_narrowed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let (bl, rl) = (schema::lower_bound(s.base.value), schema::lower_bound(s.rev.value));
    if !schema::lower_within(rl, bl) {
        cx.report(
            Some(&key_ptr(&s.base, "minimum")),
            Some(&key_ptr(&s.rev, "minimum")),
            format!(
                "{}: lower bound changed from {} to {}; responses may hold smaller values than clients expect",
                s.at,
                bl.map_or("none".to_owned(), |b| b.describe(true)),
                rl.map_or("none".to_owned(), |b| b.describe(true)),
            ),
        );
    }
    let (bu, ru) = (schema::upper_bound(s.base.value), schema::upper_bound(s.rev.value));
    if !schema::upper_within(ru, bu) {
        cx.report(
            Some(&key_ptr(&s.base, "maximum")),
            Some(&key_ptr(&s.rev, "maximum")),
            format!(
                "{}: upper bound changed from {} to {}; responses may hold larger values than clients expect",
                s.at,
                bu.map_or("none".to_owned(), |b| b.describe(false)),
                ru.map_or("none".to_owned(), |b| b.describe(false)),
            ),
        );
    }
}
