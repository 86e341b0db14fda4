//! `response_link_removed`: a response no longer documents a link (an
//! OpenAPI Link Object) that clients follow to the next operation.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_link_removed",
        level: Level::Warning,
        family: Family::Responses,
        description: "A link was removed from a response.",
        why: "Clients and tools that follow the link to the next operation (with parameters taken from this response) lose that path.",
        fix: "Keep the link while the target operation exists.",
        reference: "https://spec.openapis.org/oas/v3.1.0#link-object",
        mirror: Mirror::Waived("links are only defined on responses"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Response(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    let (Some(base), Some(rev)) = (&s.pair.base, &s.pair.rev) else {
        return;
    };
    let now = rev.get("links");
    for (name, link) in base.get("links").map(|l| l.entries()).unwrap_or_default() {
        if now.as_ref().and_then(|l| l.get(name)).is_none() {
            cx.report(
                Some(&link.ptr),
                Some(&rev.ptr),
                format!("{}: link `{name}` was removed; clients following it lose the way to the next call", s.at),
            );
        }
    }
}
