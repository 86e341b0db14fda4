//! `response_subschema_constraint_removed`: a response schema lost a
//! constraint written as a subschema keyword (`patternProperties`,
//! `prefixItems`, `dependentSchemas`, `if`/`then`/`else`,
//! `unevaluatedItems`, `contentSchema`), or its `if` condition changed:
//! the mirror of `request_subschema_constraint_added`.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_subschema_constraint_removed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response schema lost a patternProperties, prefixItems, dependentSchemas, if/then/else, unevaluatedItems or contentSchema constraint, or its if condition changed.",
        why: "Clients may rely on the guarantee the constraint gave (a shape for matching keys, a type per tuple position, a field present when another is); responses may now break it.",
        fix: "Keep the constraint in responses; loosen it only in a new version, or announce the change and give clients time to tolerate it.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-keywords-for-applying-subsch",
        mirror: Mirror::Rule("request_subschema_constraint_added"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    // What the base has and the revision lacks is what the base gained
    // when the roles swap.
    for g in schema::subschema_constraints_gained(cx.rev_doc, cx.base_doc, &s.rev, &s.base) {
        let verb = if g.changed { "changed" } else { "was removed" };
        cx.report(
            Some(&g.ptr),
            Some(&s.rev.ptr),
            format!(
                "{}: {} {verb}; clients relying on it may get values it excluded",
                s.at, g.what
            ),
        );
    }
}
