//! `response_property_removed`: a property that responses documented is
//! gone. Clients that read it get nothing.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_property_removed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A property was removed from a response schema.",
        why: "Clients that read the property find it missing; typed SDKs fail to deserialize or silently lose data.",
        fix: "Mark the property `deprecated: true` with an `x-sunset: YYYY-MM-DD` date, and remove it once that date has passed.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-properties",
        mirror: Mirror::Rule("request_property_removed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Response {
        return;
    }
    let (Some(base), None) = (&p.pair.base, &p.pair.rev) else {
        return;
    };
    // A deprecated property whose sunset has passed may go: that is the
    // `*_property_removed_after_sunset` rule's (informational) finding.
    if matches!(node_retirement(base, cx.options), Retirement::Passed(_)) {
        return;
    }
    if base.flag("writeOnly") {
        return;
    }
    let was = if p.required.0 { "required" } else { "optional" };
    cx.report(
        Some(&base.ptr),
        Some(&p.parent.1.ptr),
        format!(
            "{}: {was} property `{}` was removed; clients reading it will not find it",
            p.at, p.name
        ),
    );
}
