//! `request_became_non_nullable`: `null` was an accepted request value
//! and is not any more. Reads `nullable` (3.0) and `type: [.., "null"]`
//! (3.1) alike, so switching spelling between versions is not a change.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_became_non_nullable",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request schema no longer accepts null.",
        why: "Clients that send null (often to clear a value) are now rejected.",
        fix: "Keep accepting null and treat it as before.",
        reference: "https://spec.openapis.org/oas/v3.0.3#fixed-fields-19",
        mirror: Mirror::Rule("response_became_nullable"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    if s.nullable.0 && !s.nullable.1 {
        cx.report(
            Some(&s.null_at.0),
            Some(&s.null_at.1),
            format!("{}: null is no longer accepted; requests sending null are rejected", s.at),
        );
    }
}
