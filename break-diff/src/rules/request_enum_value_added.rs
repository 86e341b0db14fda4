//! `request_enum_value_added`: requests may carry a new enum value. Safe
//! for clients; reported so the changelog lists the new option.

use super::prelude::*;
use super::request_enum_value_removed::{show, values};

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_enum_value_added",
        level: Level::Info,
        family: Family::Schemas,
        description: "A request enum gained a value.",
        why: "Existing clients keep sending the values they know; the new value is an extra option.",
        fix: "Nothing to fix.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-enum",
        mirror: Mirror::Rule("response_enum_value_removed"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (Some(base), Some(rev)) = (values(s.base.value), values(s.rev.value)) else {
        return;
    };
    let new: Vec<_> = rev.iter().copied().filter(|v| !base.contains(v)).collect();
    if !new.is_empty() {
        cx.report(
            Some(&key_ptr(&s.base, "enum")),
            Some(&key_ptr(&s.rev, "enum")),
            format!("{}: enum value(s) {} are now accepted", s.at, show(&new)),
        );
    }
}
