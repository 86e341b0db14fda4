//! `operation_tags_changed`: the first tag of an operation changed. SDK
//! generators commonly group operations into API classes or modules by
//! their first tag, so the method moves.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_tags_changed",
        level: Level::Info,
        family: Family::Operations,
        description: "The first tag of an operation changed.",
        why: "Generated SDKs that group methods by tag move the method to another class or module; code that calls it must change after regeneration.",
        fix: "Keep the first tag; add new tags after it.",
        reference: "https://spec.openapis.org/oas/v3.1.0#fixed-fields-7",
        mirror: Mirror::NotDirectional,
        layers: SDK,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn first_tag<'a>(node: &Node<'a>) -> Option<&'a str> {
    node.value.get("tags")?.get(0)?.as_str()
}

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    let (old, new) = (first_tag(&base.node), first_tag(&rev.node));
    if let Some(old) = old
        && old != new.unwrap_or("")
    {
        cx.report(
            Some(&key_ptr(&base.node, "tags")),
            Some(&key_ptr(&rev.node, "tags")),
            format!(
                "first tag changed from `{old}` to {}; SDKs grouped by tag move the method",
                new.map_or("none".to_owned(), |t| format!("`{t}`"))
            ),
        );
    }
}
