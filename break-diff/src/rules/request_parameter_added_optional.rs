//! `request_parameter_added_optional`: a new optional parameter. Safe;
//! reported so that reviewers see the new surface.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_added_optional",
        level: Level::Info,
        family: Family::Parameters,
        description: "An optional parameter was added to an operation.",
        why: "Existing clients do not send it and get the default behaviour, so nothing breaks.",
        fix: "Nothing to fix; make sure omitting it keeps the old behaviour.",
        reference: "https://spec.openapis.org/oas/v3.1.0#parameter-object",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    if let (None, Some(rev)) = (s.param.base, s.param.rev)
        && !rev.required()
    {
        cx.report(
            Some(&s.op.0.node.ptr),
            Some(&rev.node.ptr),
            format!("optional {} was added", rev.describe()),
        );
    }
}
