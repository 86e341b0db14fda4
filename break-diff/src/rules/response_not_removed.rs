//! `response_not_removed`: a response schema lost or changed its `not`
//! constraint, so values that were excluded may now appear.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_not_removed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response schema's not constraint was removed or changed.",
        why: "Clients that relied on never seeing the excluded values may now receive them.",
        fix: "Keep the constraint, or keep returning only values it allows.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-not",
        mirror: Mirror::Rule("request_not_added"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let Some(old) = s.base.get("not") else { return };
    let (base_doc, rev_doc) = (cx.base_doc, cx.rev_doc);
    let old_value = base_doc.resolve(old.clone()).value;
    let same = s
        .rev
        .get("not")
        .is_some_and(|new| rev_doc.resolve(new).value == old_value);
    if !same {
        cx.report(
            Some(&old.ptr),
            Some(&key_ptr(&s.rev, "not")),
            format!("{}: the `not` constraint was removed or changed; excluded values may now appear", s.at),
        );
    }
}
