//! `response_enum_value_removed`: responses no longer carry an enum
//! value. Safe for clients; their handling of it becomes dead code.

use super::prelude::*;
use super::request_enum_value_removed::{show, values};

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_enum_value_removed",
        level: Level::Info,
        family: Family::Schemas,
        description: "A response enum lost a value.",
        why: "Clients that handle the value still work; the branch is simply never taken. Generated SDK enums lose the variant, which may need a code change after regeneration.",
        fix: "Nothing to fix; say in the changelog what replaces the value.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-enum",
        mirror: Mirror::Rule("request_enum_value_added"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let (Some(base), Some(rev)) = (values(s.base.value), values(s.rev.value)) else {
        return;
    };
    let gone: Vec<_> = base.iter().copied().filter(|v| !rev.contains(v)).collect();
    if !gone.is_empty() {
        cx.report(
            Some(&key_ptr(&s.base, "enum")),
            Some(&key_ptr(&s.rev, "enum")),
            format!("{}: enum value(s) {} are no longer returned", s.at, show(&gone)),
        );
    }
}
