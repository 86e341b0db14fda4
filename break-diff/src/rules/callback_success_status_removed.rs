//! `callback_success_status_removed`: a success status that receivers of a
//! webhook or callback could answer with is no longer documented, so the
//! server may treat that answer as a failure (and retry, or give up).

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "callback_success_status_removed",
        level: Level::Warning,
        family: Family::Responses,
        description: "A success status of a webhook or callback's responses was removed.",
        why: "Receivers answer with the statuses the contract allowed; an answer the server no longer expects may count as a failed delivery, with retries or a disabled subscription.",
        fix: "Keep accepting every status that was documented; document new ones beside them.",
        reference: "https://spec.openapis.org/oas/v3.1.0#callback-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Callback(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    let statuses = |op: &crate::model::Operation<'_>| -> Vec<String> {
        op.node
            .get("responses")
            .map(|r| r.entries())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k.to_ascii_uppercase())
            .collect()
    };
    let (old, new) = (statuses(base), statuses(rev));
    for status in old.iter().filter(|s| s.starts_with('2')) {
        // The range (`2XX`) still covers a concrete status, and concrete
        // statuses still answer a narrowed range.
        let range = format!("{}XX", &status[..1]);
        let covered = new.contains(status) || new.contains(&range);
        let narrowed = *status == range && new.iter().any(|s| s.starts_with('2'));
        if covered || narrowed {
            continue;
        }
        let ptr = base
            .node
            .get("responses")
            .and_then(|r| {
                r.entries()
                    .into_iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(status))
            })
            .map_or_else(|| base.node.ptr.clone(), |(_, n)| n.ptr);
        cx.report(
            Some(&ptr),
            Some(&rev.node.ptr),
            format!(
                "receivers' success status {status} was removed; the server may count such answers as failed deliveries"
            ),
        );
    }
}
