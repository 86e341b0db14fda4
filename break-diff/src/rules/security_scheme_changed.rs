//! `security_scheme_changed`: a security scheme kept its name but changed
//! how credentials are presented (type, header or query name, HTTP
//! scheme, OpenID Connect URL, OAuth flow or endpoint).

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "security_scheme_changed",
        level: Level::Error,
        family: Family::Security,
        description: "A security scheme changed how or where clients present credentials.",
        why: "Clients send credentials the old way (a header name, a scheme, a token endpoint) and are refused with 401.",
        fix: "Add a new scheme under a new name, accept both during a migration period, then deprecate the old one.",
        reference: "https://spec.openapis.org/oas/v3.1.0#security-scheme-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Document(check),
};

/// Fields whose change alters what clients must send. Header names and
/// HTTP scheme names are case-insensitive.
const FIELDS: [(&str, bool); 5] = [
    ("type", false),
    ("in", false),
    ("name", true),
    ("scheme", true),
    ("openIdConnectUrl", false),
];

const FLOW_URLS: [&str; 3] = ["tokenUrl", "authorizationUrl", "refreshUrl"];

/// The `components/securitySchemes` map of a document root.
pub(crate) fn schemes<'a>(root: &Node<'a>) -> Option<Node<'a>> {
    root.get("components")?.get("securitySchemes")
}

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
        // The "in" and "name" fields only apply to the schemes that use them;
        // comparing absent with absent is equal, so no special case is needed.
        for (field, caseless) in FIELDS {
            let (old, new) = (b.str(field), r.str(field));
            let same = match (old, new) {
                (Some(o), Some(n)) if caseless => o.eq_ignore_ascii_case(n),
                _ => old == new,
            };
            if !same {
                cx.report(
                    Some(&key_ptr(&b, field)),
                    Some(&key_ptr(&r, field)),
                    format!(
                        "security scheme `{name}`: `{field}` changed from {} to {}; clients presenting credentials the old way are refused",
                        old.map_or("none".to_owned(), |v| format!("`{v}`")),
                        new.map_or("none".to_owned(), |v| format!("`{v}`")),
                    ),
                );
            }
        }
        let Some(bflows) = b.get("flows") else { continue };
        for (flow, bf) in bflows.entries() {
            let Some(rf) = r.get("flows").and_then(|f| f.get(flow)) else {
                cx.report(
                    Some(&bf.ptr),
                    Some(&key_ptr(&r, "flows")),
                    format!("security scheme `{name}`: OAuth flow `{flow}` was removed; clients using it cannot get tokens"),
                );
                continue;
            };
            for url in FLOW_URLS {
                if bf.str(url) != rf.str(url) {
                    cx.report(
                        Some(&key_ptr(&bf, url)),
                        Some(&key_ptr(&rf, url)),
                        format!(
                            "security scheme `{name}`: `{flow}` {url} changed from `{}` to `{}`; clients configured with the old endpoint cannot get tokens",
                            bf.str(url).unwrap_or(""),
                            rf.str(url).unwrap_or("")
                        ),
                    );
                }
            }
        }
    }
}
