//! `security_requirement_tightened`: a client that could authenticate
//! against the base can no longer satisfy any of the operation's security
//! alternatives (a scheme or scope added, an alternative removed, or
//! security added where there was none).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "security_requirement_tightened",
        level: Level::Error,
        family: Family::Security,
        description: "An operation's security requirements became stricter.",
        why: "Clients holding credentials that satisfied the base (a scheme, a set of scopes, or none at all) now get 401 or 403.",
        fix: "Keep the old alternative in the `security` list until clients have new credentials, then remove it with a deprecation notice.",
        reference: "https://spec.openapis.org/oas/v3.1.0#security-requirement-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

pub(crate) type Alternative = BTreeMap<String, BTreeSet<String>>;

/// The alternatives of a security list; no list means one empty
/// alternative (anonymous access), and so does an empty list.
pub(crate) fn alternatives(node: Option<&Node<'_>>) -> Vec<Alternative> {
    let list = node.and_then(|n| n.value.as_array());
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return vec![Alternative::new()];
    };
    list.iter()
        .filter_map(Value::as_object)
        .map(|req| {
            req.iter()
                .map(|(scheme, scopes)| {
                    let scopes = scopes
                        .as_array()
                        .map(|s| s.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                        .unwrap_or_default();
                    (scheme.clone(), scopes)
                })
                .collect()
        })
        .collect()
}

/// Whether credentials satisfying `have` also satisfy `need`.
pub(crate) fn satisfies(have: &Alternative, need: &Alternative) -> bool {
    need.iter()
        .all(|(scheme, scopes)| have.get(scheme).is_some_and(|h| scopes.is_subset(h)))
}

pub(crate) fn describe(alt: &Alternative) -> String {
    if alt.is_empty() {
        return "no authentication".to_owned();
    }
    alt.iter()
        .map(|(s, scopes)| {
            if scopes.is_empty() {
                s.clone()
            } else {
                format!("{s} [{}]", scopes.iter().cloned().collect::<Vec<_>>().join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    let b = alternatives(base.security.as_ref());
    let r = alternatives(rev.security.as_ref());
    for alt in &b {
        if r.iter().any(|need| satisfies(alt, need)) {
            continue;
        }
        let ptr = |op: &crate::model::Operation<'_>| {
            op.security.as_ref().map_or_else(|| op.node.ptr.clone(), |n| n.ptr.clone())
        };
        cx.report(
            Some(&ptr(base)),
            Some(&ptr(rev)),
            format!(
                "clients authenticating with {} no longer satisfy any security alternative ({})",
                describe(alt),
                r.iter().map(describe).collect::<Vec<_>>().join(" or ")
            ),
        );
    }
}
