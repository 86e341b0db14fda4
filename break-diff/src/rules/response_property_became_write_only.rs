//! `response_property_became_write_only`: the property is no longer
//! returned, though clients may read it.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_property_became_write_only",
        level: Level::Error,
        family: Family::Schemas,
        description: "A response property became writeOnly.",
        why: "A write-only property is never returned, so clients that read it from responses lose it.",
        fix: "Keep returning the property; stop only in a new version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-readonly-and-writeonly",
        mirror: Mirror::Rule("request_property_became_read_only"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Response {
        return;
    }
    let (Some(base), Some(rev)) = (&p.pair.base, &p.pair.rev) else {
        return;
    };
    if base.flag("writeOnly") || !rev.flag("writeOnly") {
        return;
    }
    cx.report(
        Some(&base.ptr),
        Some(&key_ptr(rev, "writeOnly")),
        format!(
            "{}: property `{}` became writeOnly; responses no longer carry it",
            p.at, p.name
        ),
    );
}
