//! `request_const_changed`: a request value is now pinned by `const` to a
//! value it was not pinned to before.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_const_changed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request schema gained a const or its const value changed.",
        why: "Clients that send any other value (including the old constant) are now rejected.",
        fix: "Keep accepting the old value; use an enum that lists both.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-const",
        mirror: Mirror::Rule("response_const_changed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    // `enum: [x]` and `const: x` say the same; enums on both sides are the
    // enum rules' to judge.
    if s.base.value.get("const").is_none() && s.rev.value.get("const").is_none() {
        return;
    }
    let (b, r) = (schema::constant(s.base.value), schema::constant(s.rev.value));
    let Some(new) = r else { return };
    if b == Some(new) {
        return;
    }
    let what = match b {
        Some(old) => format!("const changed from {old} to {new}"),
        None => format!("const {new} added"),
    };
    cx.report(
        Some(&key_ptr(&s.base, "const")),
        Some(&key_ptr(&s.rev, "const")),
        format!("{}: {what}; requests with other values are rejected", s.at),
    );
}
