//! `request_required_property_added`: a new property that requests must
//! carry. Every existing client lacks it.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_required_property_added",
        level: Level::Error,
        family: Family::Schemas,
        description: "A new required property was added to a request schema.",
        why: "No existing client sends the new property, so the server rejects every request they make.",
        fix: "Add the property as optional with a server-side default; make it required only in a new operation or API version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-required",
        mirror: Mirror::Waived(
            "a required property added to a response is extra data that clients ignore, which is not breaking",
        ),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Request || !p.required.1 {
        return;
    }
    let (None, Some(rev)) = (&p.pair.base, &p.pair.rev) else {
        return;
    };
    if rev.flag("readOnly") {
        return;
    }
    cx.report(
        Some(&p.parent.0.ptr),
        Some(&rev.ptr),
        format!(
            "{}: new required property `{}`; existing clients do not send it and are rejected",
            p.at, p.name
        ),
    );
}
