//! `request_body_became_optional`: a required request body may now be
//! left out. Safe for clients; the server must now cope without it.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_body_became_optional",
        level: Level::Info,
        family: Family::RequestBodies,
        description: "A required request body became optional.",
        why: "Existing clients keep sending a body, so nothing breaks; the server must now define what an empty request means.",
        fix: "Nothing to fix; document the behaviour without a body.",
        reference: "https://spec.openapis.org/oas/v3.1.0#request-body-object",
        mirror: Mirror::Waived("response bodies have no `required` flag"),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::RequestBody(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if let (Some(base), Some(rev)) = (&s.pair.base, &s.pair.rev)
        && base.flag("required")
        && !rev.flag("required")
    {
        cx.report(
            Some(&key_ptr(base, "required")),
            Some(&rev.ptr),
            "the request body became optional".to_owned(),
        );
    }
}
