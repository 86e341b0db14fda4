//! `response_header_became_optional`: a header that every response
//! carried may now be missing.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_header_became_optional",
        level: Level::Warning,
        family: Family::Responses,
        description: "A required response header became optional.",
        why: "Clients that read the header unconditionally fail when it is absent.",
        fix: "Keep sending the header in every response.",
        reference: "https://spec.openapis.org/oas/v3.1.0#header-object",
        mirror: Mirror::Waived(
            "request headers are parameters; becoming required is request_parameter_became_required",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Header(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if let (Some(base), Some(rev)) = (&s.pair.base, &s.pair.rev)
        && base.flag("required")
        && !rev.flag("required")
    {
        cx.report(
            Some(&key_ptr(base, "required")),
            Some(&rev.ptr),
            format!("{} is no longer required; clients relying on it may fail", s.at),
        );
    }
}
