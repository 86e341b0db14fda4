//! `request_parameter_added_required`: a new parameter that every
//! request must carry.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_added_required",
        level: Level::Error,
        family: Family::Parameters,
        description: "A required parameter was added to an operation.",
        why: "No existing client sends the new parameter, so the server rejects all of their requests.",
        fix: "Add the parameter as optional with a server-side default.",
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
    if let (None, Some(rev)) = (s.param.base, s.param.rev)
        && rev.required()
    {
        cx.report(
            Some(&s.op.0.node.ptr),
            Some(&rev.node.ptr),
            format!(
                "required {} was added; existing clients do not send it and are rejected",
                rev.describe()
            ),
        );
    }
}
