//! `request_property_names_restricted`: the keys of a map-like object (`propertyNames`) are judged
//! by direction; constraints are compared by resolved content.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_property_names_restricted",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A request map's propertyNames constraint was added or changed.",
        why: "Clients that send keys outside the new constraint are rejected.",
        fix: "Keep the old key constraint; accept new key shapes in addition.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-propertynames",
        mirror: Mirror::Rule("response_property_names_relaxed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    const KEY: &str = "propertyNames";
    let Some(new) = s.rev.get(KEY) else { return };
    let same = s
        .base
        .get(KEY)
        .is_some_and(|old| cx.base_doc.resolve(old).value == cx.rev_doc.resolve(new.clone()).value);
    if !same {
        cx.report(
            Some(&key_ptr(&s.base, KEY)),
            Some(&key_ptr(&s.rev, KEY)),
            format!("{}: the constraint on property names was added or changed; requests with other keys may be rejected", s.at),
        );
    }
}
