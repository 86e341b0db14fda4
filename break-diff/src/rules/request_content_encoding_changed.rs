//! `request_content_encoding_changed`: how a string's content is encoded (`contentEncoding`, such
//! as `base64`) or what it holds (`contentMediaType`) changed. Any
//! change alters the wire format, so both directions are errors.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_content_encoding_changed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request string's contentEncoding or contentMediaType changed.",
        why: "Clients encode the string the old way (raw, base64, a given media type); the server now decodes it differently or rejects it.",
        fix: "Keep the encoding; carry the new form in a new property.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-a-vocabulary-for-the-conten",
        mirror: Mirror::Rule("response_content_encoding_changed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    for key in ["contentEncoding", "contentMediaType"] {
        let (old, new) = (s.base.str(key), s.rev.str(key));
        if old == new {
            continue;
        }
        let show = |v: Option<&str>| v.map_or("none".to_owned(), |v| format!("`{v}`"));
        cx.report(
            Some(&key_ptr(&s.base, key)),
            Some(&key_ptr(&s.rev, key)),
            format!("{}: {key} changed from {} to {}; requests encoded the old way are misread", s.at, show(old), show(new)),
        );
    }
}
