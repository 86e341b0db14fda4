//! `request_contains_added`: what a request array must contain (`contains`,
//! `minContains`, `maxContains`) changed, compared as a whole.

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_contains_added",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A request array gained or changed a contains, minContains or maxContains constraint.",
        why: "Arrays that clients send without the now-required items are rejected.",
        fix: "Keep the constraint as it was.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-contains",
        mirror: Mirror::Rule("response_contains_removed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

/// The three keywords together, with `contains` resolved.
fn constraint(cx: &Cx<'_>, base_side: bool, node: &Node<'_>) -> Option<Value> {
    let doc = if base_side { cx.base_doc } else { cx.rev_doc };
    let contains = node.get("contains").map(|c| doc.resolve(c).value.clone());
    let min = node.value.get("minContains").cloned();
    let max = node.value.get("maxContains").cloned();
    if contains.is_none() && min.is_none() && max.is_none() {
        return None;
    }
    Some(serde_json::json!([contains, min, max]))
}

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (old, new) = (constraint(cx, true, &s.base), constraint(cx, false, &s.rev));
    if new.is_none() || old == new {
        return;
    }
    cx.report(
        Some(&key_ptr(&s.base, "contains")),
        Some(&key_ptr(&s.rev, "contains")),
        format!("{}: the contains constraint was added or changed; requests with arrays valid before may be rejected", s.at),
    );
}
