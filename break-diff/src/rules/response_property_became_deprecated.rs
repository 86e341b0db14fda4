//! `response_property_became_deprecated`: a response property was marked
//! `deprecated: true`. Informational: it announces a later removal.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_property_became_deprecated",
        level: Level::Info,
        family: Family::Lifecycle,
        description: "A response property was marked deprecated.",
        why: "Clients keep working, but should stop reading the property before it is removed.",
        fix: "Nothing to fix; say in the description what replaces it and when it goes.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-deprecated",
        mirror: Mirror::Rule("request_property_became_deprecated"),
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Property(check),
};

fn check(cx: &mut Cx<'_>, p: &PropertySite<'_>) {
    if p.dir != Direction::Response {
        return;
    }
    if let (Some(base), Some(rev)) = (&p.pair.base, &p.pair.rev)
        && !base.flag("deprecated")
        && rev.flag("deprecated")
    {
        cx.report(
            Some(&base.ptr),
            Some(&key_ptr(rev, "deprecated")),
            format!("{}: property `{}` was deprecated", p.at, p.name),
        );
    }
}
