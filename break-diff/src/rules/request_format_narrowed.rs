//! `request_format_narrowed`: the request `format` now rejects values it
//! accepted (a format added, `int64` to `int32`, `date-time` to `uuid`).
//! Known widenings (`int32` to `int64`, `float` to `double`, a format
//! dropped) are safe in requests.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_format_narrowed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request schema's format became stricter or changed to an unrelated one.",
        why: "Values that clients send in the old format fail the new format's validation, or overflow a smaller integer.",
        fix: "Keep the old format, or widen it; validate the new constraint only in a new property or version.",
        reference: "https://spec.openapis.org/oas/v3.0.3#data-types",
        mirror: Mirror::Rule("response_format_widened"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (b, r) = (s.base.str("format"), s.rev.str("format"));
    if schema::format_within(b, r) {
        return;
    }
    cx.report(
        Some(&key_ptr(&s.base, "format")),
        Some(&key_ptr(&s.rev, "format")),
        format!(
            "{}: format changed from {} to {}; values valid before may now be rejected",
            s.at,
            b.map_or("none".to_owned(), |f| format!("`{f}`")),
            r.map_or("none".to_owned(), |f| format!("`{f}`")),
        ),
    );
}
