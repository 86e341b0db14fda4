//! `response_enum_value_added`: responses may carry an enum value that
//! clients have never seen. Risky rather than certainly breaking: clients
//! with a default branch cope, exhaustive matches do not.

use super::prelude::*;
use super::request_enum_value_removed::{show, values};

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_enum_value_added",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response enum gained a value, or lost its enum restriction.",
        why: "Clients that switch exhaustively over the documented values, or generated SDK enums, fail on the new value.",
        fix: "Document that clients must tolerate unknown values before adding any; otherwise return the new value only to clients that opt in.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-enum",
        mirror: Mirror::Rule("request_enum_value_removed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let message = match (values(s.base.value), values(s.rev.value)) {
        (Some(base), Some(rev)) => {
            let new: Vec<_> = rev.iter().copied().filter(|v| !base.contains(v)).collect();
            if new.is_empty() {
                return;
            }
            format!(
                "{}: enum value(s) {} added; clients that only know [{}] may fail on them",
                s.at,
                show(&new),
                show(&base)
            )
        }
        (Some(base), None) => format!(
            "{}: the enum [{}] was removed; responses may now carry any value",
            s.at,
            show(&base)
        ),
        _ => return,
    };
    cx.report(
        Some(&key_ptr(&s.base, "enum")),
        Some(&key_ptr(&s.rev, "enum")),
        message,
    );
}
