//! `request_pattern_changed`: a request string gained a `pattern` or its
//! pattern changed. Whether one regular expression accepts a superset of
//! another is undecidable in general, so any change is reported; a
//! removed pattern is safe in requests.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_pattern_changed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request string pattern was added or changed.",
        why: "Strings that matched the old pattern (or any string, when there was none) may not match the new one and are rejected.",
        fix: "Keep the old pattern; if the new one is meant to be wider, check that it accepts every old value and say so in a waiver.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-pattern",
        mirror: Mirror::Rule("response_pattern_changed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (b, r) = (s.base.str("pattern"), s.rev.str("pattern"));
    let Some(new) = r else { return };
    if b == Some(new) {
        return;
    }
    let what = match b {
        Some(old) => format!("pattern changed from `{old}` to `{new}`"),
        None => format!("pattern `{new}` added"),
    };
    cx.report(
        Some(&key_ptr(&s.base, "pattern")),
        Some(&key_ptr(&s.rev, "pattern")),
        format!("{}: {what}; strings valid before may now be rejected", s.at),
    );
}
