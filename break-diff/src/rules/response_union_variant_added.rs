//! `response_union_variant_added`: responses may now be of a `oneOf` or
//! `anyOf` alternative that clients do not know.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_union_variant_added",
        level: Level::Error,
        family: Family::Schemas,
        description: "A oneOf or anyOf alternative was added to a response schema.",
        why: "Clients decode the union into the alternatives they know; a value of the new alternative fails to decode or falls into the wrong branch.",
        fix: "Return the new alternative only to clients that opt in, or in a new property or version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-oneof",
        mirror: Mirror::Rule("request_union_variant_removed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    for keyword in ["oneOf", "anyOf"] {
        if s.base.get(keyword).is_none() || s.rev.get(keyword).is_none() {
            continue;
        }
        let m = schema::members(cx.base_doc, cx.rev_doc, &s.base, &s.rev, keyword);
        for new in m.added {
            cx.report(
                Some(&key_ptr(&s.base, keyword)),
                Some(&new.ptr),
                format!(
                    "{}: {keyword} alternative `{}` was added; clients may not be able to decode it",
                    s.at,
                    schema::member_name(&new)
                ),
            );
        }
    }
}
