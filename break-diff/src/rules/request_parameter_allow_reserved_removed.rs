//! `request_parameter_allow_reserved_removed`: a query parameter whose
//! value could carry reserved characters (`/?#[]@!$&'()*+,;=`) verbatim
//! must now have them percent-encoded.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_allow_reserved_removed",
        level: Level::Error,
        family: Family::Parameters,
        description: "A query parameter no longer allows reserved characters unencoded.",
        why: "Clients send values such as `a/b` or `x,y` verbatim; the server now splits or rejects them as malformed.",
        fix: "Keep `allowReserved: true`, or accept both encodings on the server.",
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
        && base.node.flag("allowReserved")
        && !rev.node.flag("allowReserved")
    {
        cx.report(
            Some(&key_ptr(&base.node, "allowReserved")),
            Some(&rev.node.ptr),
            format!(
                "{} no longer allows reserved characters unencoded; values clients send verbatim are misread",
                rev.describe()
            ),
        );
    }
}
