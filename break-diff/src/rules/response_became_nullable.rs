//! `response_became_nullable`: responses may now carry `null` where a
//! value always was.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_became_nullable",
        level: Level::Error,
        family: Family::Schemas,
        description: "A response schema may now be null.",
        why: "Clients dereference the value without a null check; typed SDKs with non-optional fields fail to deserialize.",
        fix: "Keep returning a value; introduce a new nullable property if absence must be expressed.",
        reference: "https://spec.openapis.org/oas/v3.0.3#fixed-fields-19",
        mirror: Mirror::Rule("request_became_non_nullable"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    if !s.nullable.0 && s.nullable.1 {
        cx.report(
            Some(&s.null_at.0),
            Some(&s.null_at.1),
            format!("{}: the value may now be null; clients not expecting null will fail", s.at),
        );
    }
}
