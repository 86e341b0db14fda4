//! `request_parameter_removed_after_sunset`: a deprecated parameter was
//! removed once its sunset date passed. Informational.

use super::prelude::*;
use super::request_parameter_removed::state;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_removed_after_sunset",
        level: Level::Info,
        family: Family::Lifecycle,
        description: "A deprecated parameter was removed after its sunset date.",
        why: "Clients were told the date in advance, so the removal is the announced outcome.",
        fix: "Nothing to fix; record the removal in the changelog.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    let (Some(base), None) = (s.param.base, s.param.rev) else {
        return;
    };
    if let Retirement::Passed(date) = state(s.op.0, base, cx.options) {
        cx.report(
            Some(&base.node.ptr),
            Some(&s.op.1.node.ptr),
            format!("deprecated {} was removed; its sunset date {date} has passed", base.describe()),
        );
    }
}
