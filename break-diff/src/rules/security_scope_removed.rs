//! `security_scope_removed`: an OAuth scope that clients request is no
//! longer offered by the flow.

use super::prelude::*;
use super::security_scheme_changed::schemes;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "security_scope_removed",
        level: Level::Error,
        family: Family::Security,
        description: "An OAuth scope was removed from a security scheme's flow.",
        why: "Clients that request the scope are refused by the authorization server, or get tokens without the access they need.",
        fix: "Keep the scope and map it to its replacement; remove it after a deprecation period.",
        reference: "https://spec.openapis.org/oas/v3.1.0#oauth-flow-object",
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
    let (Some(bs), Some(rs)) = (schemes(base), schemes(rev)) else {
        return;
    };
    let (base_doc, rev_doc) = (cx.base_doc, cx.rev_doc);
    for (name, b) in bs.entries() {
        let Some(r) = rs.get(name) else { continue };
        let (b, r) = (base_doc.resolve(b), rev_doc.resolve(r));
        let Some(bflows) = b.get("flows") else { continue };
        for (flow, bf) in bflows.entries() {
            // A flow removed as a whole is security_scheme_changed.
            let Some(rf) = r.get("flows").and_then(|f| f.get(flow)) else {
                continue;
            };
            let rscopes = rf.get("scopes");
            for (scope, node) in bf.get("scopes").map(|s| s.entries()).unwrap_or_default() {
                if rscopes.as_ref().and_then(|s| s.get(scope)).is_none() {
                    cx.report(
                        Some(&node.ptr),
                        Some(&key_ptr(&rf, "scopes")),
                        format!("security scheme `{name}`: scope `{scope}` was removed from the `{flow}` flow; clients requesting it are refused"),
                    );
                }
            }
        }
    }
}
