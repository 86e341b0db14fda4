//! `response_content_encoding_changed`: how a string's content is encoded (`contentEncoding`, such
//! as `base64`) or what it holds (`contentMediaType`) changed. Any
//! change alters the wire format, so both directions are errors.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_content_encoding_changed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A response string's contentEncoding or contentMediaType changed.",
        why: "Clients decode the string the old way; values in the new encoding are misread.",
        fix: "Keep the encoding; carry the new form in a new property.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-a-vocabulary-for-the-conten",
        mirror: Mirror::Rule("request_content_encoding_changed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
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
            format!("{}: {key} changed from {} to {}; clients decoding the old way misread responses", s.at, show(old), show(new)),
        );
    }
}
