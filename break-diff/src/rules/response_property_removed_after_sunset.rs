//! `response_property_removed_after_sunset`: a deprecated response
//! property (with its own `x-sunset`, and `x-deprecated-since` old
//! enough when given) was removed once its date had come. Informational.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_property_removed_after_sunset",
        level: Level::Info,
        family: Family::Lifecycle,
        description: "A deprecated response property was removed after its sunset date.",
        why: "Clients were told the date in advance; readers that still expect the property find it missing, which is the announced outcome.",
        fix: "Nothing to fix; record the removal in the changelog.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::Rule("request_property_removed_after_sunset"),
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Response {
        return;
    }
    let (Some(base), None) = (&p.pair.base, &p.pair.rev) else {
        return;
    };
    if base.flag("writeOnly") {
        return;
    }
    if let Retirement::Passed(date) = node_retirement(base, cx.options) {
        cx.report(
            Some(&base.ptr),
            Some(&p.parent.1.ptr),
            format!(
                "{}: deprecated property `{}` was removed; its sunset date {date} has passed",
                p.at, p.name
            ),
        );
    }
}
