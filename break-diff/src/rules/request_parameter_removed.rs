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
    },
    check: Check::Parameter(check),
};

/// The lifecycle state of a parameter: its own sunset date wins over its
/// operation's.
pub(crate) fn state(op: &Operation<'_>, p: &Parameter<'_>, today: chrono::NaiveDate) -> Retirement {
    let sunset = p.node.str("x-sunset").or_else(|| op.sunset());
    retirement(p.node.flag("deprecated"), sunset, today)
}

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    let (Some(base), None) = (s.param.base, s.param.rev) else {
        return;
    };
    let why = match state(s.op.0, base, cx.options.today) {
        Retirement::Passed(_) => return,
        Retirement::NotDeprecated => "it was not deprecated in the base".to_owned(),
        Retirement::NoSunset => "it was deprecated but had no `x-sunset` date".to_owned(),
        Retirement::BadSunset(raw) => format!("its `x-sunset` value `{raw}` is not a YYYY-MM-DD date"),
        Retirement::Before(date) => format!(
            "it was deprecated, but its sunset date {date} is after today ({})",
            cx.options.today
        ),
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
