//! `request_union_variant_removed`: a `oneOf`/`anyOf` alternative that
//! requests could use is gone. Members are paired by `$ref`, then by
//! content, then by position, so editing a member is compared inside it
//! rather than reported here.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_union_variant_removed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A oneOf or anyOf alternative was removed from a request schema.",
        why: "Clients that send values of the removed alternative are now rejected.",
        fix: "Keep accepting the alternative; deprecate it in its description.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-oneof",
        mirror: Mirror::Rule("response_union_variant_added"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    for keyword in ["oneOf", "anyOf"] {
        // A union on one side only is a shape change that the type rules
        // and the member comparison see; here only removed members count.
        if s.base.get(keyword).is_none() || s.rev.get(keyword).is_none() {
            continue;
        }
        let m = schema::members(cx.base_doc, cx.rev_doc, &s.base, &s.rev, keyword);
        for gone in m.removed {
            cx.report(
                Some(&gone.ptr),
                Some(&key_ptr(&s.rev, keyword)),
                format!(
                    "{}: {keyword} alternative `{}` was removed; requests using it are rejected",
                    s.at,
                    schema::member_name(&gone)
                ),
            );
        }
    }
}
