//! `request_property_became_required`: an optional request property is
//! now required. Clients that leave it out are rejected.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_property_became_required",
        level: Level::Error,
        family: Family::Schemas,
        description: "An optional property of a request schema became required.",
        why: "Clients written against the base omit the property when they have nothing to say; the server now rejects those requests.",
        fix: "Keep the property optional and give it a server-side default, or add a new operation or version that requires it.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-required",
        mirror: Mirror::Rule("response_property_became_optional"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Request || p.required != (false, true) {
        return;
    }
    let (Some(base), Some(rev)) = (&p.pair.base, &p.pair.rev) else {
        return;
    };
    // A read-only property is not sent by clients, so requiring it does
    // not concern requests.
    if rev.flag("readOnly") {
        return;
    }
    let _ = base;
    cx.report(
        Some(&key_ptr(&p.parent.0, "required")),
        Some(&key_ptr(&p.parent.1, "required")),
        format!(
            "{}: property `{}` became required; requests that omit it are now rejected",
            p.at, p.name
        ),
    );
}
