//! `request_all_of_member_removed`: a request schema no longer requires
//! values to satisfy one of its `allOf` members. Requests valid before
//! stay valid, so it breaks no request on the wire; it is reported
//! because generated SDKs drop the type or fields the member contributed.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_all_of_member_removed",
        level: Level::Info,
        family: Family::Schemas,
        description: "A member was removed from a request schema's allOf.",
        why: "The server accepts at least what it did, but a generated SDK loses the fields or base type the member contributed, so code that set them no longer compiles.",
        fix: "Keep the member while SDK users may still set its fields, or move its properties into the schema itself before removing it.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-allof",
        mirror: Mirror::Waived(
            "adding an allOf member to a response only adds guarantees (and the response side of allOf removal is response_all_of_member_removed)",
        ),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request || s.base.get("allOf").is_none() {
        return;
    }
    let m = schema::members(cx.base_doc, cx.rev_doc, &s.base, &s.rev, "allOf");
    for gone in m.removed {
        cx.report(
            Some(&gone.ptr),
            Some(&key_ptr(&s.rev, "allOf")),
            format!(
                "{}: allOf member `{}` was removed; requests stay valid, but SDKs lose what it contributed",
                s.at,
                schema::member_name(&gone)
            ),
        );
    }
}
