//! `request_default_changed`: the value the server assumes when a client
//! omits a request value changed.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_default_changed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "The default of a request parameter or property was changed or removed.",
        why: "Clients that omit the value relied on the old default; the same request now means something else.",
        fix: "Keep the default; if behaviour must change, add a new parameter whose default is the new behaviour.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-default",
        mirror: Mirror::Waived(
            "a default in a response schema has no effect on the wire: the server always sends the value",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (Some(old), new) = (s.base.value.get("default"), s.rev.value.get("default")) else {
        return;
    };
    if new == Some(old) {
        return;
    }
    let what = match new {
        Some(new) => format!("default changed from {old} to {new}"),
        None => format!("default {old} removed"),
    };
    cx.report(
        Some(&key_ptr(&s.base, "default")),
        Some(&key_ptr(&s.rev, "default")),
        format!("{}: {what}; requests that omit the value now behave differently", s.at),
    );
}
