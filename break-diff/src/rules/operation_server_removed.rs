//! `operation_server_removed`: an operation-level server URL (an override
//! of the document's servers) is no longer where the operation is served.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_server_removed",
        level: Level::Warning,
        family: Family::Servers,
        description: "A server URL that an operation overrode was removed from it.",
        why: "Clients and SDKs that send this operation to its dedicated server (an upload host, a regional endpoint) may stop reaching it.",
        fix: "Keep serving the operation at the old URL until clients have moved.",
        reference: "https://spec.openapis.org/oas/v3.1.0#operation-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn urls<'a>(servers: Option<Node<'a>>) -> Vec<(String, Node<'a>)> {
    servers
        .map(|s| s.items())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| {
            let url = n.str("url")?.trim_end_matches('/').to_owned();
            Some((url, n))
        })
        .collect()
}

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    let old = urls(base.node.get("servers"));
    if old.is_empty() {
        return;
    }
    // Where the revision serves the operation: its own servers, else the
    // document's.
    let mut now = urls(rev.node.get("servers"));
    if now.is_empty() {
        now = urls(cx.rev_doc.root().get("servers"));
    }
    for (url, node) in old {
        if !now.iter().any(|(u, _)| *u == url) {
            cx.report(
                Some(&node.ptr),
                Some(&rev.node.ptr),
                format!("server `{url}` no longer serves this operation; clients sending it there may fail"),
            );
        }
    }
}
