//! `path_server_removed`: a server URL that a path item overrode (for
//! all its operations) no longer serves them.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "path_server_removed",
        level: Level::Warning,
        family: Family::Servers,
        description: "A server URL that a path item overrode was removed from it.",
        why: "Clients and SDKs that send the path's operations to its dedicated server may stop reaching them.",
        fix: "Keep serving the path at the old URL until clients have moved.",
        reference: "https://spec.openapis.org/oas/v3.1.0#path-item-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

/// The path item holding an operation: its pointer's parent.
fn path_item<'a>(doc: &'a crate::Document, op: &crate::model::Operation<'a>) -> Option<Node<'a>> {
    let (parent, _) = op.node.ptr.rsplit_once('/')?;
    doc.at(parent)
}

fn urls(servers: Option<Node<'_>>) -> Vec<(String, String)> {
    servers
        .map(|s| s.items())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| Some((n.str("url")?.trim_end_matches('/').to_owned(), n.ptr)))
        .collect()
}

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    let Some(bitem) = path_item(cx.base_doc, base) else { return };
    let old = urls(bitem.get("servers"));
    if old.is_empty() {
        return;
    }
    // Where the revision serves the operation: its own servers, else its
    // path item's, else the document's.
    let ritem = path_item(cx.rev_doc, rev);
    let mut now = urls(rev.node.get("servers"));
    if now.is_empty() {
        now = urls(ritem.as_ref().and_then(|i| i.get("servers")));
    }
    if now.is_empty() {
        now = urls(cx.rev_doc.root().get("servers"));
    }
    for (url, ptr) in old {
        if !now.iter().any(|(u, _)| *u == url) {
            cx.report(
                Some(&ptr),
                Some(&rev.node.ptr),
                format!("server `{url}` no longer serves this path's operations; clients sending them there may fail"),
            );
        }
    }
}
