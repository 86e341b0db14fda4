//! `response_property_names_relaxed`: the keys of a map-like object (`propertyNames`) are judged
//! by direction; constraints are compared by resolved content.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_property_names_relaxed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response map's propertyNames constraint was removed or changed.",
        why: "Clients that parse map keys by the documented shape (ids, codes) may fail on keys of a new shape.",
        fix: "Keep returning keys that match the old constraint.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-propertynames",
        mirror: Mirror::Rule("request_property_names_restricted"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    const KEY: &str = "propertyNames";
    let Some(old) = s.base.get(KEY) else { return };
    let same = s
        .rev
        .get(KEY)
        .is_some_and(|new| cx.rev_doc.resolve(new).value == cx.base_doc.resolve(old.clone()).value);
    if !same {
        cx.report(
            Some(&key_ptr(&s.base, KEY)),
            Some(&key_ptr(&s.rev, KEY)),
            format!("{}: the constraint on property names was removed or changed; responses may have keys clients cannot parse", s.at),
        );
    }
}
