//! `request_dependent_required_added`: a request object now requires
//! another property whenever some property is present (JSON Schema
//! `dependentRequired`, OpenAPI 3.1).

use std::collections::BTreeSet;

use serde_json::Value;

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_dependent_required_added",
        level: Level::Error,
        family: Family::Schemas,
        description: "A request schema gained a dependentRequired condition.",
        why: "Requests that send the trigger property without the newly dependent one are now rejected.",
        fix: "Keep the dependent property optional and default it on the server.",
        reference: "https://json-schema.org/draft/2020-12/json-schema-validation#name-dependentrequired",
        mirror: Mirror::Rule("response_dependent_required_removed"),
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

/// The dependencies of `property` in a schema's `dependentRequired`.
pub(crate) fn dependents<'v>(schema: &'v Value, property: &str) -> BTreeSet<&'v str> {
    schema
        .get("dependentRequired")
        .and_then(|d| d.get(property))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The trigger properties of a schema's `dependentRequired`.
pub(crate) fn triggers(schema: &Value) -> Vec<&str> {
    schema
        .get("dependentRequired")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    for trigger in triggers(s.rev.value) {
        let old = dependents(s.base.value, trigger);
        for dep in dependents(s.rev.value, trigger) {
            if !old.contains(dep) {
                cx.report(
                    Some(&key_ptr(&s.base, "dependentRequired")),
                    Some(&key_ptr(&s.rev, "dependentRequired")),
                    format!(
                        "{}: `{dep}` is now required whenever `{trigger}` is sent; requests without it are rejected",
                        s.at
                    ),
                );
            }
        }
    }
}
