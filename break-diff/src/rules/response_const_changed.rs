//! `response_const_changed`: a response value that was always one
//! constant is no longer promised to be.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_const_changed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A response schema's const was removed or changed.",
        why: "Clients that dispatch on the constant (a type tag, a version marker) misread responses with another value.",
        fix: "Keep the constant; return a different value only in a new schema or version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-const",
        mirror: Mirror::Rule("request_const_changed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    // `enum: [x]` and `const: x` say the same; enums on both sides are the
    // enum rules' to judge.
    if s.base.value.get("const").is_none() && s.rev.value.get("const").is_none() {
        return;
    }
    let (b, r) = (schema::constant(s.base.value), schema::constant(s.rev.value));
    let Some(old) = b else { return };
    if r == Some(old) {
        return;
    }
    let what = match r {
        Some(new) => format!("const changed from {old} to {new}"),
        None => format!("const {old} removed"),
    };
    cx.report(
        Some(&key_ptr(&s.base, "const")),
        Some(&key_ptr(&s.rev, "const")),
        format!("{}: {what}; clients relying on the constant misread responses", s.at),
    );
}
