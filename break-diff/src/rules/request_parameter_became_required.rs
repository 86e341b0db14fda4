//! `request_parameter_became_required`: an optional parameter must now
//! be sent.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_became_required",
        level: Level::Error,
        family: Family::Parameters,
        description: "An optional parameter became required.",
        why: "Clients that omit the parameter, as the base allowed, are now rejected.",
        fix: "Keep the parameter optional and apply a server-side default when it is missing.",
        reference: "https://spec.openapis.org/oas/v3.1.0#parameter-object",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    if let (Some(base), Some(rev)) = (s.param.base, s.param.rev)
        && !base.required()
        && rev.required()
    {
        cx.report(
            Some(&base.node.ptr),
            Some(&key_ptr(&rev.node, "required")),
            format!("{} became required; requests that omit it are rejected", rev.describe()),
        );
    }
}
