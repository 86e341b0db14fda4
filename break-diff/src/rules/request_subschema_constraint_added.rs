//! `request_subschema_constraint_added`: a request schema gained a
//! constraint written as a subschema keyword that break-diff used to skip:
//! `patternProperties`, `prefixItems`, `dependentSchemas`,
//! `if`/`then`/`else`, `unevaluatedItems` or `contentSchema`, or its `if`
//! condition changed. Changes inside such subschemas present on both sides
//! are compared by the other rules (the walker recurses into them).

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_subschema_constraint_added",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request schema gained a patternProperties, prefixItems, dependentSchemas, if/then/else, unevaluatedItems or contentSchema constraint, or its if condition changed.",
        why: "Each of these keywords adds conditions that values must meet; requests that were valid before may now fail them and be rejected.",
        fix: "Add such constraints only to new properties or a new version; to document a shape without enforcing it, use description or examples.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-keywords-for-applying-subsch",
        mirror: Mirror::Rule("response_subschema_constraint_removed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    for g in schema::subschema_constraints_gained(cx.base_doc, cx.rev_doc, &s.base, &s.rev) {
        let verb = if g.changed { "changed" } else { "was added" };
        cx.report(
            Some(&s.base.ptr),
            Some(&g.ptr),
            format!(
                "{}: {} {verb}; requests valid before may now be rejected",
                s.at, g.what
            ),
        );
    }
}
