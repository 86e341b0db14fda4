//! `request_parameter_style_changed`: how a parameter is serialized
//! (`style` or `explode`, with the location's defaults applied) changed,
//! so the same value is written differently on the wire.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_style_changed",
        level: Level::Error,
        family: Family::Parameters,
        description: "The serialization (style or explode) of a parameter changed.",
        why: "Clients serialize arrays and objects the old way (`ids=1,2` versus `ids=1&ids=2`); the server now parses them wrongly or rejects them.",
        fix: "Keep the serialization; accept the new one only in a new parameter.",
        reference: "https://spec.openapis.org/oas/v3.1.0#style-values",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    let (Some(base), Some(rev)) = (s.param.base, s.param.rev) else {
        return;
    };
    let (bs, rs) = (base.style(), rev.style());
    let (be, re) = (base.explode(), rev.explode());
    if bs == rs && be == re {
        return;
    }
    let what = if bs != rs {
        format!("style changed from `{bs}` to `{rs}`")
    } else {
        format!("explode changed from {be} to {re}")
    };
    let key = if bs != rs { "style" } else { "explode" };
    cx.report(
        Some(&key_ptr(&base.node, key)),
        Some(&key_ptr(&rev.node, key)),
        format!("{}: {what}; clients serialize it the old way", rev.describe()),
    );
}
