//! `request_property_sunset_policy_violated`: a request schema property
//! deprecated in the revision breaks the sunset policy: no `x-sunset`
//! date, a date deleted or unparsable, or a date closer than the minimum
//! deprecation period (`--min-deprecation-days`). Judged only where the
//! revision changed the property's lifecycle fields.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_property_sunset_policy_violated",
        level: Level::Warning,
        family: Family::Lifecycle,
        description: "A deprecated request property has no valid x-sunset date, lost it, or sunsets sooner than the minimum deprecation period.",
        why: "The property may only be removed after an announced date with enough notice; without a valid date clients of requests cannot plan, and its removal will be refused later.",
        fix: "Give the deprecated property an x-sunset: YYYY-MM-DD date at least the minimum deprecation period away, and keep it.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::Rule("response_property_sunset_policy_violated"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Request {
        return;
    }
    let Some(rev) = &p.pair.rev else { return };
    let Some(problem) = sunset_problem(p.pair.base.as_ref(), rev, cx.options) else {
        return;
    };
    let at = if rev.get("x-sunset").is_some() {
        key_ptr(rev, "x-sunset")
    } else {
        key_ptr(rev, "deprecated")
    };
    cx.report(
        p.pair.base.as_ref().map(|b| b.ptr.clone()).as_deref(),
        Some(&at),
        format!("{}: property `{}` {problem}", p.at, p.name),
    );
}
