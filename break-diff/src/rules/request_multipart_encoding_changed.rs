//! `request_multipart_encoding_changed`: how a part of a multipart or
//! form request body is serialized (`encoding`: content type, style,
//! explode) changed.

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_multipart_encoding_changed",
        level: Level::Error,
        family: Family::RequestBodies,
        description: "The encoding of a part of a multipart or form request body changed.",
        why: "Clients serialize the part the old way (a content type, a list style); the server now parses it differently or rejects it.",
        fix: "Keep the part's encoding; accept a new encoding only in a new part or media type.",
        reference: "https://spec.openapis.org/oas/v3.1.0#encoding-object",
        mirror: Mirror::Waived(
            "response bodies are rarely multipart, and the Encoding Object applies to requests only",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Content(check),
};

const FIELDS: [&str; 4] = ["contentType", "style", "explode", "allowReserved"];

fn check(cx: &mut Cx<'_>, s: &ContentSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (Some(base), Some(rev)) = (&s.pair.base, &s.pair.rev) else {
        return;
    };
    let Some(benc) = base.get("encoding") else { return };
    let renc = rev.get("encoding");
    for (part, b) in benc.entries() {
        let r = renc.as_ref().and_then(|e| e.get(part));
        for field in FIELDS {
            let old = b.value.get(field);
            let new = r.as_ref().and_then(|r| r.value.get(field));
            if old == new || old.is_none() {
                continue;
            }
            let show = |v: Option<&Value>| v.map_or("the default".to_owned(), Value::to_string);
            cx.report(
                Some(&key_ptr(&b, field)),
                Some(&r.as_ref().map_or_else(|| rev.ptr.clone(), |r| key_ptr(r, field))),
                format!(
                    "{} {}: part `{part}` {field} changed from {} to {}; clients serialize it the old way",
                    s.at,
                    s.media_type,
                    show(old),
                    show(new)
                ),
            );
        }
    }
}
