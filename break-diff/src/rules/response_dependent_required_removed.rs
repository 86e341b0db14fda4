//! `response_dependent_required_removed`: a response no longer promises
//! that one property comes with another (`dependentRequired`).

use super::prelude::*;
use super::request_dependent_required_added::{dependents, triggers};

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_dependent_required_removed",
        level: Level::Warning,
        family: Family::Schemas,
        description: "A response schema lost a dependentRequired condition.",
        why: "Clients that read the dependent property whenever the trigger is present may find it missing.",
        fix: "Keep returning the dependent property with its trigger.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-dependentrequired",
        mirror: Mirror::Rule("request_dependent_required_added"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Response {
        return;
    }
    for trigger in triggers(s.base.value) {
        let now = dependents(s.rev.value, trigger);
        for dep in dependents(s.base.value, trigger) {
            if !now.contains(dep) {
                cx.report(
                    Some(&key_ptr(&s.base, "dependentRequired")),
                    Some(&key_ptr(&s.rev, "dependentRequired")),
                    format!(
                        "{}: `{dep}` is no longer promised whenever `{trigger}` is present",
                        s.at
                    ),
                );
            }
        }
    }
}
