//! `request_parameter_allow_empty_value_removed`: a query parameter
//! that could be sent empty (`?flag=`) must now have a value.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_allow_empty_value_removed",
        level: Level::Error,
        family: Family::Parameters,
        description: "A parameter no longer allows an empty value.",
        why: "Clients that send the parameter without a value (`?flag=` or `?flag`) are now rejected.",
        fix: "Keep accepting the empty value and treat it as before.",
        reference: "https://spec.openapis.org/oas/v3.1.0#fixed-fields-9",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    if let (Some(base), Some(rev)) = (s.param.base, s.param.rev)
        && base.node.flag("allowEmptyValue")
        && !rev.node.flag("allowEmptyValue")
    {
        cx.report(
            Some(&key_ptr(&base.node, "allowEmptyValue")),
            Some(&rev.node.ptr),
            format!("{} no longer allows an empty value; requests sending it empty are rejected", rev.describe()),
        );
    }
}
