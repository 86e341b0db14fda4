//! `request_property_became_read_only`: clients used to send this
//! property; now the server owns it.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_property_became_read_only",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request property became readOnly.",
        why: "Clients that set the property now have their value rejected or ignored; what they meant to write is lost.",
        fix: "Keep the property writable and deprecate writing it; make it read-only in a new version.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-readonly-and-writeonly",
        mirror: Mirror::Rule("response_property_became_write_only"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Request {
        return;
    }
    let (Some(base), Some(rev)) = (&p.pair.base, &p.pair.rev) else {
        return;
    };
    if base.flag("readOnly") || !rev.flag("readOnly") {
        return;
    }
    cx.report(
        Some(&base.ptr),
        Some(&key_ptr(rev, "readOnly")),
        format!(
            "{}: property `{}` became readOnly; values clients send are now rejected or ignored",
            p.at, p.name
        ),
    );
}
