//! `request_parameter_content_type_changed`: a parameter described with
//! `content` (a serialized value, such as JSON in a query string) now
//! uses another media type.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_parameter_content_type_changed",
        level: Level::Error,
        family: Family::Parameters,
        description: "The media type of a content-described parameter changed.",
        why: "Clients serialize the value in the old media type (JSON, say); the server now parses it as another and rejects or misreads it.",
        fix: "Keep the media type; add a new parameter for the new serialization.",
        reference: "https://spec.openapis.org/oas/v3.1.0#fixed-fields-for-use-with-content",
        mirror: Mirror::Waived(
            "parameters only travel from client to server; response headers have their own rules (response_header_*)",
        ),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Parameter(check),
};

fn media(node: &Node<'_>) -> Option<String> {
    let content = node.get("content")?;
    content.entries().into_iter().next().map(|(k, _)| crate::walk::media_essence(k))
}

fn check(cx: &mut Cx<'_>, s: &ParameterSite<'_>) {
    let (Some(base), Some(rev)) = (s.param.base, s.param.rev) else {
        return;
    };
    let (Some(old), Some(new)) = (media(&base.node), media(&rev.node)) else {
        return;
    };
    if old != new {
        cx.report(
            Some(&key_ptr(&base.node, "content")),
            Some(&key_ptr(&rev.node, "content")),
            format!("{}: media type changed from `{old}` to `{new}`; clients serialize it the old way", rev.describe()),
        );
    }
}
