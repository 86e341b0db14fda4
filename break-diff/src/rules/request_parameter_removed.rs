//! `request_parameter_removed`: a parameter disappeared before it was
//! allowed to. A deprecated parameter whose sunset (its own `x-sunset`,
//! else its operation's) has passed is `request_parameter_removed_after_sunset`.

use super::prelude::*;
use crate::model::{Operation, Parameter};

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_removed",
        level: Level::Error,
        family: Family::Parameters,
        description: "A parameter was removed without deprecation, or before its sunset date.",
        why: "Clients keep sending the parameter: the server ignores what they asked for (a filter, a flag) or rejects the request as having an unknown parameter.",
        fix: "Mark the parameter `deprecated: true` with an `x-sunset` date, and remove it after that date.",
        reference: "https://spec.openapis.org/oas/v3.1.0#parameter-object",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

/// The lifecycle state of a parameter: its own dates win over its
/// operation's.
pub(crate) fn state(op: &Operation<'_>, p: &Parameter<'_>, options: &crate::Options) -> Retirement {
    let own = Deprecation {
        deprecated: p.node.flag("deprecated"),
        sunset: p.node.str("x-sunset"),
        since: p.node.str("x-deprecated-since"),
    };
    let inherited = op.deprecation();
    retirement(
        Deprecation {
            deprecated: own.deprecated,
            sunset: own.sunset.or(inherited.sunset),
            since: own.since.or(inherited.since),
        },
        options,
    )
}

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    let (Some(base), None) = (s.param.base, s.param.rev) else {
        return;
    };
    let Some(why) = removal_refused(&state(s.op.0, base, cx.options), cx.options) else {
        return;
    };
    cx.report(
        Some(&base.node.ptr),
        Some(&s.op.1.node.ptr),
        format!(
            "{} was removed, and {why}; clients sending it lose its effect or are rejected",
            base.describe()
        ),
    );
}
