//! `response_property_became_optional`: a property that responses always
//! carried may now be missing. Clients that read it unconditionally fail.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_property_became_optional",
        level: Level::Error,
        family: Family::Schemas,
        description: "A required property of a response schema became optional.",
        why: "Clients written against the base read the property without checking for it; typed SDKs model it as non-optional and fail to deserialize responses that lack it.",
        fix: "Keep sending the property in every response; if it has no value, keep it required and make it nullable only in a new version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-required",
        mirror: Mirror::Rule("request_property_became_required"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Response || p.required != (true, false) {
        return;
    }
    let (Some(_), Some(rev)) = (&p.pair.base, &p.pair.rev) else {
        return;
    };
    // A write-only property never appears in responses anyway.
    if rev.flag("writeOnly") {
        return;
    }
    cx.report(
        Some(&key_ptr(&p.parent.0, "required")),
        Some(&key_ptr(&p.parent.1, "required")),
        format!(
            "{}: property `{}` is no longer required; clients that rely on it being present will fail",
            p.at, p.name
        ),
    );
}
