//! `response_xml_changed`: the XML mapping of a response schema (`xml`: name, namespace,
//! prefix, attribute, wrapped) changed, which renames or moves it in XML
//! bodies. JSON bodies are unaffected, but the keyword only matters for
//! XML, so any change is reported.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_xml_changed",
        level: Level::Error,
        family: Family::Schemas,
        description: "The XML mapping of a response schema changed.",
        why: "Clients parse XML responses by the old element names, namespaces or wrapping and miss the data.",
        fix: "Keep the XML mapping; rename only in a new version.",
        reference: "https://spec.openapis.org/oas/v3.1.0#xml-object",
        mirror: Mirror::Rule("request_xml_changed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let (old, new) = (s.base.value.get("xml"), s.rev.value.get("xml"));
    if old == new {
        return;
    }
    cx.report(
        Some(&key_ptr(&s.base, "xml")),
        Some(&key_ptr(&s.rev, "xml")),
        format!("{}: the XML mapping changed; XML bodies written the old way no longer match", s.at),
    );
}
