//! `response_pattern_changed`: the pattern that response strings were
//! promised to match was removed or changed.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_pattern_changed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response string pattern was removed or changed.",
        why: "Clients that parse or validate strings by the documented pattern (ids, codes) may fail on strings of the new shape.",
        fix: "Keep returning strings that match the old pattern.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-pattern",
        mirror: Mirror::Rule("request_pattern_changed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let (b, r) = (s.base.str("pattern"), s.rev.str("pattern"));
    let Some(old) = b else { return };
    if r == Some(old) {
        return;
    }
    let what = match r {
        Some(new) => format!("pattern changed from `{old}` to `{new}`"),
        None => format!("pattern `{old}` removed"),
    };
    cx.report(
        Some(&key_ptr(&s.base, "pattern")),
        Some(&key_ptr(&s.rev, "pattern")),
        format!("{}: {what}; clients relying on the old shape may fail", s.at),
    );
}
