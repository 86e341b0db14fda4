//! `server_removed`: a server URL listed at the top of the base is gone.

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "server_removed",
        level: Level::Warning,
        family: Family::Servers,
        description: "A server URL was removed from the document's servers.",
        why: "Clients and generated SDKs configured with that base URL may stop reaching the API.",
        fix: "Keep the old URL served (or redirected) and listed until clients have moved.",
        reference: "https://spec.openapis.org/oas/v3.1.0#server-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Document(check),
};

/// The top-level server URLs of a document, without trailing slashes.
pub(crate) fn urls<'a>(root: &Node<'a>) -> Vec<(String, Node<'a>)> {
    root.get("servers")
        .map(|s| s.items())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| {
            let url = n.value.get("url").and_then(Value::as_str)?;
            // A trailing slash does not change where requests go.
            Some((url.trim_end_matches('/').to_owned(), n))
        })
        .collect()
}

fn check(cx: &mut Cx<'_>, pair: &Pair<Node<'_>>) {
    let (Some(base), Some(rev)) = (&pair.base, &pair.rev) else {
        return;
    };
    // A lone server replaced by another is `server_url_changed`'s.
    if super::server_url_changed::moved(base, rev).is_some() {
        return;
    }
    let now = urls(rev);
    for (url, node) in urls(base) {
        if !now.iter().any(|(u, _)| *u == url) {
            cx.report(
                Some(&node.ptr),
                rev.get("servers").map(|n| n.ptr).as_deref(),
                format!("server `{url}` was removed; clients configured with it may stop working"),
            );
        }
    }
}
