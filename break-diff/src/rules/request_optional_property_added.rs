//! `request_optional_property_added`: requests may carry a new optional
//! property. Safe for clients; reported as new surface.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_optional_property_added",
        level: Level::Info,
        family: Family::Schemas,
        description: "An optional property was added to a request schema.",
        why: "Existing clients do not send it and get the default behaviour; it is listed so reviewers see the new surface.",
        fix: "Nothing to fix; make sure omitting it keeps the old behaviour.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-core#name-properties",
        mirror: Mirror::Rule("response_property_added"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Request || p.required.1 {
        return;
    }
    if let (None, Some(rev)) = (&p.pair.base, &p.pair.rev)
        && !rev.flag("readOnly")
    {
        cx.report(
            Some(&p.parent.0.ptr),
            Some(&rev.ptr),
            format!("{}: optional property `{}` was added", p.at, p.name),
        );
    }
}
