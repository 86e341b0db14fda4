//! `request_parameter_became_optional`: a required parameter may now be
//! omitted. Safe for clients; reported so reviewers see the server must
//! now cope without it.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_became_optional",
        level: Level::Info,
        family: Family::Parameters,
        description: "A required parameter became optional.",
        why: "Existing clients keep sending it, so nothing breaks; the server must now have a default for when it is missing.",
        fix: "Nothing to fix; document the default.",
        reference: "https://spec.openapis.org/oas/v3.1.0#parameter-object",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    if let (Some(base), Some(rev)) = (s.param.base, s.param.rev)
        && base.required()
        && !rev.required()
    {
        cx.report(
            Some(&key_ptr(&base.node, "required")),
            Some(&rev.node.ptr),
            format!("{} became optional", rev.describe()),
        );
    }
}
