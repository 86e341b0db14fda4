//! `external_ref_changed`: a schema refers to another document (a file or
//! URL) and the reference changed. The engine does no I/O, so it cannot
//! compare what is behind the reference; it says so instead of staying
//! silent.

use super::prelude::*;
use crate::document::ref_of;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "external_ref_changed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A schema's reference to another document changed, so its content could not be compared.",
        why: "The referenced schema may have changed in any way; break-diff reads one document per side and cannot tell whether clients break.",
        fix: "Bundle the spec into one document before comparing (or keep the reference unchanged) so every change can be judged.",
        reference: "https://spec.openapis.org/oas/v3.1.0#reference-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    let (old, new) = (ref_of(s.base.value), ref_of(s.rev.value));
    let external = |r: Option<&str>| r.is_some_and(|r| !r.starts_with('#'));
    if (external(old) || external(new)) && old != new {
        cx.report(
            Some(&s.base.ptr),
            Some(&s.rev.ptr),
            format!(
                "{}: reference changed from {} to {}; the referenced content was not compared",
                s.at,
                old.map_or("an inline schema".to_owned(), |r| format!("`{r}`")),
                new.map_or("an inline schema".to_owned(), |r| format!("`{r}`")),
            ),
        );
    }
}
