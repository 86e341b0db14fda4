//! `request_additional_properties_restricted`: a request object that
//! tolerated unknown properties now forbids them.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_additional_properties_restricted",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request object now forbids additional properties.",
        why: "Clients that send extra fields (newer clients, or clients that echo back what they read) are now rejected.",
        fix: "Keep tolerating unknown properties and ignore them on the server.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-additionalproperties",
        mirror: Mirror::Rule("response_additional_properties_allowed"),
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    if !schema::closed(s.base.value) && schema::closed(s.rev.value) {
        cx.report(
            Some(&s.base.ptr),
            Some(&key_ptr(&s.rev, "additionalProperties")),
            format!(
                "{}: additionalProperties is now false; requests with properties not listed are rejected",
                s.at
            ),
        );
    }
}
