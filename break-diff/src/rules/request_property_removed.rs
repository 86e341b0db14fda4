//! `request_property_removed`: a property that clients may send is no
//! longer documented. Harmless when the server ignores unknown
//! properties, a rejection when it does not.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_property_removed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A property was removed from a request schema.",
        why: "Clients keep sending the property; a server that rejects unknown properties now refuses their requests, and one that ignores them silently drops what the client meant.",
        fix: "Keep accepting the property, mark it `deprecated: true` with an `x-sunset: YYYY-MM-DD` date, and remove it once that date has passed.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-properties",
        mirror: Mirror::Rule("response_property_removed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Request {
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
    if base.flag("readOnly") {
        return;
    }
    let consequence = if schema::closed(p.parent.1.value) {
        "the revision forbids unknown properties, so requests that still send it are rejected"
    } else {
        "requests that still send it may be rejected or have it silently ignored"
    };
    cx.report(
        Some(&base.ptr),
        Some(&p.parent.1.ptr),
        format!("{}: property `{}` was removed; {consequence}", p.at, p.name),
    );
}
