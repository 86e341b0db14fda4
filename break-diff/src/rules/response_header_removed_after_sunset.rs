//! `response_header_removed_after_sunset`: a deprecated response header
//! was removed once its `x-sunset` date had come. Informational.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_header_removed_after_sunset",
        level: Level::Info,
        family: Family::Lifecycle,
        description: "A deprecated response header was removed after its sunset date.",
        why: "Clients were told the date in advance; readers that still expect the header find it missing, which is the announced outcome.",
        fix: "Nothing to fix; record the removal in the changelog.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::Waived(
            "request headers are parameters; their lifecycle is request_parameter_removed_after_sunset",
        ),
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Header(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if let (Some(base), None) = (&s.pair.base, &s.pair.rev)
        && let Retirement::Passed(date) = node_retirement(base, cx.options)
    {
        cx.report(
            Some(&base.ptr),
            None,
            format!("deprecated {} was removed; its sunset date {date} has passed", s.at),
        );
    }
}
