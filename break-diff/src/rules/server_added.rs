//! `server_added`: a new server URL is listed. Not breaking; reported so
//! reviewers confirm the URL is real and served.

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "server_added",
        level: Level::Info,
        family: Family::Servers,
        description: "A server URL was added to the document's servers.",
        why: "Existing clients keep their configured URL; SDKs that default to the first server may switch to the new one if it is listed first.",
        fix: "Add new servers after the existing default unless the switch is intended.",
        reference: "https://spec.openapis.org/oas/v3.1.0#server-object",
        mirror: Mirror::NotDirectional,
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Document(check),
};

fn urls<'a>(root: &Node<'a>) -> Vec<(String, Node<'a>)> {
    root.get("servers")
        .map(|s| s.items())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| {
            let url = n.value.get("url").and_then(Value::as_str)?;
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
    let old = urls(base);
    for (i, (url, node)) in urls(rev).into_iter().enumerate() {
        if old.iter().any(|(u, _)| *u == url) {
            continue;
        }
        let first = if i == 0 {
            "; it is listed first, so SDKs that default to the first server switch to it"
        } else {
            ""
        };
        cx.report(
            base.get("servers").map(|n| n.ptr).as_deref(),
            Some(&node.ptr),
            format!("server `{url}` was added{first}"),
        );
    }
}
