//! `response_multiple_of_changed`: response numbers may now be finer
//! grained than the documented step.

use super::prelude::*;
use super::request_multiple_of_changed::{step, step_within};

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_multiple_of_changed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response number's multipleOf became looser or was removed.",
        why: "Clients that store the value at the documented precision (whole units, cents) may round or reject the finer values.",
        fix: "Keep returning values at the old step; add a new property for finer values.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-multipleof",
        mirror: Mirror::Rule("request_multiple_of_changed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    let (b, r) = (step(&s.base), step(&s.rev));
    if step_within(r, b) {
        return;
    }
    let show = |v: Option<f64>| v.map_or("none".to_owned(), schema::trim_float);
    cx.report(
        Some(&key_ptr(&s.base, "multipleOf")),
        Some(&key_ptr(&s.rev, "multipleOf")),
        format!(
            "{}: multipleOf changed from {} to {}; responses may hold values clients do not expect",
            s.at,
            show(b),
            show(r)
        ),
    );
}
