//! `request_not_added`: a request schema gained a `not` constraint, or
//! its `not` changed, so some values that were valid are now excluded.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_not_added",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A request schema gained a not constraint or its not changed.",
        why: "Requests whose values match the excluded schema are now rejected.",
        fix: "Keep the old constraint; exclude values only in a new property or version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-not",
        mirror: Mirror::Rule("response_not_removed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let Some(new) = s.rev.get("not") else { return };
    let (base_doc, rev_doc) = (cx.base_doc, cx.rev_doc);
    let new_value = rev_doc.resolve(new.clone()).value;
    let same = s
        .base
        .get("not")
        .is_some_and(|old| base_doc.resolve(old).value == new_value);
    if !same {
        cx.report(
            Some(&key_ptr(&s.base, "not")),
            Some(&new.ptr),
            format!("{}: a `not` constraint was added or changed; requests matching it are rejected", s.at),
        );
    }
}
