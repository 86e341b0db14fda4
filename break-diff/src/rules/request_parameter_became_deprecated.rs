//! `request_parameter_became_deprecated`: a parameter was marked
//! deprecated. Not breaking; it starts the lifecycle that ends in removal.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_became_deprecated",
        level: Level::Info,
        family: Family::Lifecycle,
        description: "A parameter was marked deprecated.",
        why: "Clients keep working, but should stop sending the parameter before its sunset date.",
        fix: "Nothing to fix; give the parameter (or its operation) an `x-sunset` date and announce it.",
        reference: "https://spec.openapis.org/oas/v3.1.0#fixed-fields-9",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    if let (Some(base), Some(rev)) = (s.param.base, s.param.rev)
        && !base.node.flag("deprecated")
        && rev.node.flag("deprecated")
    {
        let sunset = rev.node.str("x-sunset").or_else(|| s.op.1.sunset());
        let when = sunset.map_or_else(String::new, |d| format!(" with sunset {d}"));
        cx.report(
            Some(&base.node.ptr),
            Some(&key_ptr(&rev.node, "deprecated")),
            format!("{} was deprecated{when}", rev.describe()),
        );
    }
}
