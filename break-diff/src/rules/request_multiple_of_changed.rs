//! `request_multiple_of_changed`: request numbers must now be multiples
//! of a step that old values are not all multiples of.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_multiple_of_changed",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request number's multipleOf became stricter.",
        why: "Values that were multiples of the old step but not of the new one (0.5 with a step changed from 0.5 to 1) are now rejected.",
        fix: "Keep the old step, or change it only to a divisor of the old one.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-multipleof",
        mirror: Mirror::Rule("response_multiple_of_changed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

/// Whether every multiple of `narrow` is a multiple of `wide`; `None` is
/// "any number". Floating steps are compared with a small tolerance.
pub(crate) fn step_within(narrow: Option<f64>, wide: Option<f64>) -> bool {
    match (narrow, wide) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(n), Some(w)) => {
            if w <= 0.0 || n <= 0.0 {
                return n == w;
            }
            let ratio = n / w;
            (ratio - ratio.round()).abs() < 1e-9 && ratio.round() >= 1.0
        }
    }
}

pub(crate) fn step(node: &Node<'_>) -> Option<f64> {
    node.value.get("multipleOf").and_then(serde_json::Value::as_f64)
}

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    let (b, r) = (step(&s.base), step(&s.rev));
    if step_within(b, r) {
        return;
    }
    let show = |v: Option<f64>| v.map_or("none".to_owned(), schema::trim_float);
    cx.report(
        Some(&key_ptr(&s.base, "multipleOf")),
        Some(&key_ptr(&s.rev, "multipleOf")),
        format!(
            "{}: multipleOf changed from {} to {}; values valid before may now be rejected",
            s.at,
            show(b),
            show(r)
        ),
    );
}
