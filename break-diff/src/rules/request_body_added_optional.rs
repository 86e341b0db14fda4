//! `request_body_added_optional`: an operation accepts an optional body
//! it did not describe before. Safe; reported as new surface.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_body_added_optional",
        level: Level::Info,
        family: Family::RequestBodies,
        description: "An optional request body was added to an operation.",
        why: "Existing clients send no body and keep the old behaviour; the body is a new option.",
        fix: "Nothing to fix; make sure a request without a body behaves as before.",
        reference: "https://spec.openapis.org/oas/v3.1.0#request-body-object",
        mirror: Mirror::Waived("response bodies have no `required` flag; new ones are media types added"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::RequestBody(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if let (None, Some(rev)) = (&s.pair.base, &s.pair.rev)
        && !rev.flag("required")
    {
        cx.report(None, Some(&rev.ptr), "an optional request body was added".to_owned());
    }
}
