//! `server_variable_changed`: a server URL template kept its text but a
//! variable lost allowed values or changed its default.

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "server_variable_changed",
        level: Level::Warning,
        family: Family::Servers,
        description: "A server variable lost an enum value, changed its default, or was removed.",
        why: "Clients configured with the removed value reach no server, and clients relying on the default now reach a different one.",
        fix: "Keep old values and the default; add new values alongside.",
        reference: "https://spec.openapis.org/oas/v3.1.0#server-variable-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Document(check),
};

fn check(cx: &mut Cx<'_>, pair: &Pair<Node<'_>>) {
    let (Some(base), Some(rev)) = (&pair.base, &pair.rev) else {
        return;
    };
    let rservers = rev.get("servers").map(|s| s.items()).unwrap_or_default();
    for bserver in base.get("servers").map(|s| s.items()).unwrap_or_default() {
        let Some(url) = bserver.str("url") else { continue };
        // Servers whose URL changed are server_removed; here only those
        // that kept their template are compared.
        let Some(rserver) = rservers.iter().find(|s| s.str("url") == Some(url)) else {
            continue;
        };
        for (var, bv) in bserver.get("variables").map(|v| v.entries()).unwrap_or_default() {
            let Some(rv) = rserver.get("variables").and_then(|v| v.get(var)) else {
                cx.report(
                    Some(&bv.ptr),
                    Some(&rserver.ptr),
                    format!("server `{url}`: variable `{var}` was removed"),
                );
                continue;
            };
            let values = |n: &Node<'_>| -> Vec<String> {
                n.value
                    .get("enum")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default()
            };
            let (bvals, rvals) = (values(&bv), values(&rv));
            if !rvals.is_empty() {
                for gone in bvals.iter().filter(|v| !rvals.contains(v)) {
                    cx.report(
                        Some(&key_ptr(&bv, "enum")),
                        Some(&key_ptr(&rv, "enum")),
                        format!("server `{url}`: variable `{var}` no longer allows `{gone}`; clients configured with it reach no server"),
                    );
                }
            }
            if bv.str("default") != rv.str("default") {
                cx.report(
                    Some(&key_ptr(&bv, "default")),
                    Some(&key_ptr(&rv, "default")),
                    format!(
                        "server `{url}`: default of variable `{var}` changed from `{}` to `{}`; clients using the default now reach another server",
                        bv.str("default").unwrap_or(""),
                        rv.str("default").unwrap_or("")
                    ),
                );
            }
        }
    }
}
