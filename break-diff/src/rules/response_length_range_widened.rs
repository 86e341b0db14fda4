//! `response_length_range_widened`: responses may now hold longer or
//! shorter strings, or more or fewer items, than documented.

use super::prelude::*;
use super::request_length_range_narrowed::{LIMITS, limit, show};

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_length_range_widened",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response string length, array size or object size limit became looser.",
        why: "Clients that size buffers, columns or UI by the documented limits may truncate, overflow or reject the new values.",
        fix: "Keep returning values within the old limits, or add a new property for the longer form.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-validation-keywords-for-str",
        mirror: Mirror::Rule("request_length_range_narrowed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    for (min, max, what) in LIMITS {
        let (b, r) = (limit(s.base.value, min), limit(s.rev.value, min));
        if r.unwrap_or(0) < b.unwrap_or(0) {
            cx.report(
                Some(&key_ptr(&s.base, min)),
                Some(&key_ptr(&s.rev, min)),
                format!(
                    "{}: {min} lowered from {} to {}; responses may have a smaller {what} than clients expect",
                    s.at,
                    show(b),
                    show(r)
                ),
            );
        }
        let (b, r) = (limit(s.base.value, max), limit(s.rev.value, max));
        if r.unwrap_or(u64::MAX) > b.unwrap_or(u64::MAX) {
            cx.report(
                Some(&key_ptr(&s.base, max)),
                Some(&key_ptr(&s.rev, max)),
                format!(
                    "{}: {max} raised from {} to {}; responses may have a larger {what} than clients expect",
                    s.at,
                    show(b),
                    show(r)
                ),
            );
        }
    }
}
