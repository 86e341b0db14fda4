//! `request_body_became_required`: requests must now carry a body that
//! was optional or did not exist.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_body_became_required",
        level: Level::Error,
        family: Family::RequestBodies,
        description: "A request body became required, or a required request body was added.",
        why: "Clients that send no body, as the base allowed, are now rejected.",
        fix: "Keep the body optional and apply defaults when it is missing.",
        reference: "https://spec.openapis.org/oas/v3.1.0#request-body-object",
        mirror: Mirror::Waived(
            "response bodies have no `required` flag; their removal is response_media_type_removed",
        ),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::RequestBody(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    let Some(rev) = &s.pair.rev else { return };
    if !rev.flag("required") {
        return;
    }
    match &s.pair.base {
        Some(base) if base.flag("required") => {}
        Some(base) => cx.report(
            Some(&base.ptr),
            Some(&key_ptr(rev, "required")),
            "the request body became required; requests without a body are rejected".to_owned(),
        ),
        None => cx.report(
            None,
            Some(&rev.ptr),
            "a required request body was added; existing clients send none and are rejected"
                .to_owned(),
        ),
    }
}
