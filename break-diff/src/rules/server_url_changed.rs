//! `server_url_changed`: the document lists one server in both revisions,
//! and its URL changed (a move, not an addition next to a removal).
//!
//! Decided level: info. Clients of generated SDKs (this workspace's
//! included) pass the base URL when they build the client; they never read
//! `servers`, so editing it changes nothing they send. What would break
//! them is the old URL ceasing to answer, which is a deployment decision
//! the spec does not show. `server_removed` (warning) still covers a
//! server dropped from a list of several, where clients picking a server
//! from the document lose one.

use super::prelude::*;
use super::server_removed::urls;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "server_url_changed",
        level: Level::Info,
        family: Family::Servers,
        description: "The only server URL of the document changed.",
        why: "Generated SDKs take the base URL from their caller, so existing clients keep calling the URL they configured; they break only if the old URL stops being served, which the spec cannot show.",
        fix: "Keep serving (or redirecting) the old URL until clients have moved, and announce the new one.",
        reference: "https://spec.openapis.org/oas/v3.1.0#server-object",
        mirror: Mirror::NotDirectional,
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Document(check),
};

/// `(old, new)` when each side lists exactly one server and the URLs
/// differ; the server rules that see additions and removals leave this
/// case to this rule.
pub(crate) fn moved(base: &Node<'_>, rev: &Node<'_>) -> Option<(String, String)> {
    let (old, new) = (urls(base), urls(rev));
    match (old.as_slice(), new.as_slice()) {
        ([(o, _)], [(n, _)]) if o != n => Some((o.clone(), n.clone())),
        _ => None,
    }
}

fn check(cx: &mut Cx<'_>, pair: &Pair<Node<'_>>) {
    let (Some(base), Some(rev)) = (&pair.base, &pair.rev) else {
        return;
    };
    let Some((old, new)) = moved(base, rev) else {
        return;
    };
    let (bp, rp) = (
        base.get("servers").and_then(|s| s.index(0)).map(|n| n.ptr),
        rev.get("servers").and_then(|s| s.index(0)).map(|n| n.ptr),
    );
    cx.report(
        bp.as_deref(),
        rp.as_deref(),
        format!(
            "the server URL changed from `{old}` to `{new}`; SDK clients keep the base URL they configured, so keep `{old}` served until they move"
        ),
    );
}
