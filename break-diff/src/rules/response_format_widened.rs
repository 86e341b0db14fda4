//! `response_format_widened`: responses may now hold values outside the
//! old `format` (`int32` to `int64`, a format dropped or replaced).

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_format_widened",
        level: Level::Error,
        family: Family::Schemas,
        description: "A response schema's format became looser or changed to an unrelated one.",
        why: "Clients parse the value by its old format (a 32-bit integer, a date); values in the new range or shape fail to parse or overflow.",
        fix: "Keep the old format and return wider values in a new property.",
        reference: "https://spec.openapis.org/oas/v3.0.3#data-types",
        mirror: Mirror::Rule("request_format_narrowed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let (b, r) = (s.base.str("format"), s.rev.str("format"));
    if schema::format_within(r, b) {
        return;
    }
    cx.report(
        Some(&key_ptr(&s.base, "format")),
        Some(&key_ptr(&s.rev, "format")),
        format!(
            "{}: format changed from {} to {}; clients parsing the old format may fail",
            s.at,
            b.map_or("none".to_owned(), |f| format!("`{f}`")),
            r.map_or("none".to_owned(), |f| format!("`{f}`")),
        ),
    );
}
