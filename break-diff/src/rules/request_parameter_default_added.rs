//! `request_parameter_default_added`: an optional request parameter that
//! had no default got one. A client that omits it used to get the
//! server's unstated behaviour; the spec now says the value is assumed.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_default_added",
        level: Level::Warning,
        family: Family::Parameters,
        description: "An optional request parameter gained a default value.",
        why: "Requests that omit the parameter now mean the default; if the server did something else before (no filter, all fields), their results change. Generated SDKs may also start sending the default explicitly.",
        fix: "Document the default the server already applied; if behaviour must change, add a new parameter instead.",
        reference: "https://spec.openapis.org/oas/v3.1.0#parameter-object",
        mirror: Mirror::Waived(
            "parameters exist only in requests; a default in a response schema has no effect on the wire",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

/// The default of a parameter's schema, if any.
fn default_of<'a>(node: &Node<'a>) -> Option<Node<'a>> {
    node.get("schema")?.get("default")
}

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    let (Some(base), Some(rev)) = (s.param.base, s.param.rev) else {
        return;
    };
    if rev.required() || default_of(&base.node).is_some() {
        return;
    }
    let Some(new) = default_of(&rev.node) else {
        return;
    };
    cx.report(
        Some(&base.node.ptr),
        Some(&new.ptr),
        format!(
            "optional {} gained the default {}; requests that omit it now mean that value",
            rev.describe(),
            new.value
        ),
    );
}
