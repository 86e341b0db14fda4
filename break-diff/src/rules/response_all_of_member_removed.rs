//! `response_all_of_member_removed`: responses no longer promise to
//! satisfy an `allOf` member, so whatever it guaranteed may be missing.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_all_of_member_removed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A member was removed from a response schema's allOf.",
        why: "The properties and constraints that the member guaranteed are no longer promised; clients that rely on them may fail.",
        fix: "Keep the member, or move what it guaranteed into the schema before removing it.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-allof",
        mirror: Mirror::Rule("request_all_of_member_added"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response || s.rev.get("allOf").is_none() {
        return;
    }
    let m = schema::members(cx.base_doc, cx.rev_doc, &s.base, &s.rev, "allOf");
    for gone in m.removed {
        cx.report(
            Some(&gone.ptr),
            Some(&key_ptr(&s.rev, "allOf")),
            format!(
                "{}: allOf member `{}` was removed; what it guaranteed is no longer promised",
                s.at,
                schema::member_name(&gone)
            ),
        );
    }
}
