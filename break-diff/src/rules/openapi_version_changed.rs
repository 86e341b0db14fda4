//! `openapi_version_changed`: the document moved between OpenAPI 3.0 and
//! 3.1. The rules read both, but client tooling may not.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "openapi_version_changed",
        level: Level::Info,
        family: Family::Operations,
        description: "The document's OpenAPI major.minor version changed.",
        why: "Nothing changes on the wire, but SDK generators and validators that support only one version may fail on the new document.",
        fix: "Check that every consumer's tooling reads the new version.",
        reference: "https://spec.openapis.org/oas/v3.1.0#openapi-object",
        mirror: Mirror::NotDirectional,
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Document(check),
};

fn check(cx: &mut Cx<'_>, pair: &Pair<Node<'_>>) {
    let (Some(base), Some(rev)) = (&pair.base, &pair.rev) else {
        return;
    };
    let (old, new) = (cx.base_doc.version(), cx.rev_doc.version());
    if old != new {
        let show = |v: crate::document::SpecVersion| match v {
            crate::document::SpecVersion::V30 => "3.0",
            crate::document::SpecVersion::V31 => "3.1",
        };
        cx.report(
            Some(&key_ptr(base, "openapi")),
            Some(&key_ptr(rev, "openapi")),
            format!("OpenAPI version changed from {} to {}; check that client tooling reads it", show(old), show(new)),
        );
    }
}
