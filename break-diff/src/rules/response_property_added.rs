//! `response_property_added`: responses carry a new property. Clients
//! that ignore unknown properties are fine; strict decoders are covered
//! by `response_additional_properties_allowed` when the object was closed.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_property_added",
        level: Level::Info,
        family: Family::Schemas,
        description: "A property was added to a response schema.",
        why: "Clients that ignore unknown properties keep working; those that deny unknown fields fail, which is why tolerant reading is part of the contract.",
        fix: "Nothing to fix if clients are told to ignore unknown properties.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-properties",
        mirror: Mirror::Rule("request_optional_property_added"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Response {
        return;
    }
    if let (None, Some(rev)) = (&p.pair.base, &p.pair.rev)
        && !rev.flag("writeOnly")
    {
        cx.report(
            Some(&p.parent.0.ptr),
            Some(&rev.ptr),
            format!("{}: property `{}` was added", p.at, p.name),
        );
    }
}
