//! `request_all_of_member_added`: a request schema must now also satisfy
//! another `allOf` member. Every member adds constraints, so the set of
//! accepted requests can only shrink.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_all_of_member_added",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A member was added to a request schema's allOf.",
        why: "Requests must now also be valid against the new member; if it requires properties or restricts values, existing clients are rejected.",
        fix: "Make sure the new member only adds optional properties; otherwise introduce it in a new version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-allof",
        mirror: Mirror::Rule("response_all_of_member_removed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request || s.base.get("allOf").is_none() {
        return;
    }
    let m = schema::members(cx.base_doc, cx.rev_doc, &s.base, &s.rev, "allOf");
    for new in m.added {
        cx.report(
            Some(&key_ptr(&s.base, "allOf")),
            Some(&new.ptr),
            format!(
                "{}: allOf member `{}` was added; requests must now also satisfy it",
                s.at,
                schema::member_name(&new)
            ),
        );
    }
}
