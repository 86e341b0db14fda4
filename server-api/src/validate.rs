//! Checks the spec's value constraints on decoded input, reporting every
//! violation with a JSON pointer.
//!
//! Types come from typify with the constraint keywords removed, so that
//! serde accepts any well-typed value and the edge can then report *all*
//! bad fields at once (a 422 listing each) instead of the first one serde
//! trips on. The constraints themselves are generated data
//! ([`crate::api::COMPONENT_RULES`] and one rule string per operation),
//! taken from the spec by `cargo xtask gen`; this module only interprets the
//! keywords `minLength`, `maxLength`, `pattern`, `minimum`, `maximum`,
//! `minItems`, `maxItems`, following `properties`, `items` and `$ref`.
//! Types (string vs integer) are not checked here: serde already did.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::api::types::FieldError;

/// Where the value came from, which decides how pointers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A request body: pointers are URI-fragment JSON pointers (`#/items/0/quantity`).
    Body,
    /// Path, query or header parameters: pointers are the parameter names.
    Parameters,
}

fn parsed(json: &'static str) -> Value {
    static CACHE: OnceLock<Mutex<HashMap<usize, Value>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = json.as_ptr() as usize;
    let mut guard = match cache.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard
        .entry(key)
        .or_insert_with(|| serde_json::from_str(json).unwrap_or(Value::Null))
        .clone()
}

fn regex(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = match cache.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard
        .entry(pattern.to_string())
        .or_insert_with(|| Regex::new(pattern).ok())
        .clone()
}

/// Every constraint violation in `value` against `rules`.
pub fn check<T: Serialize>(value: &T, rules: &'static str, mode: Mode) -> Vec<FieldError> {
    let Ok(value) = serde_json::to_value(value) else {
        return vec![FieldError {
            pointer: "#".into(),
            detail: "the value could not be re-encoded for validation".into(),
        }];
    };
    let rules = parsed(rules);
    let components = parsed(crate::api::COMPONENT_RULES);
    let mut out = Vec::new();
    let root = match mode {
        Mode::Body => "#".to_string(),
        Mode::Parameters => String::new(),
    };
    walk(&value, &rules, &components, &root, mode, &mut out, 0);
    out
}

fn child(at: &str, key: &str, mode: Mode) -> String {
    let key = key.replace('~', "~0").replace('/', "~1");
    if at.is_empty() && mode == Mode::Parameters {
        key
    } else {
        format!("{at}/{key}")
    }
}

fn walk(
    value: &Value,
    rules: &Value,
    components: &Value,
    at: &str,
    mode: Mode,
    out: &mut Vec<FieldError>,
    depth: usize,
) {
    // Recursive schemas meet finite data, but guard anyway.
    if depth > 64 {
        return;
    }
    let Some(rules) = rules.as_object() else {
        return;
    };
    if let Some(Value::String(r)) = rules.get("$ref") {
        let name = r.rsplit('/').next().unwrap_or("");
        if let Some(target) = components.get(name) {
            walk(value, target, components, at, mode, out, depth + 1);
        }
        return;
    }
    let mut fail = |detail: String| {
        out.push(FieldError {
            pointer: at.to_string(),
            detail,
        })
    };
    match value {
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(min) = rules.get("minLength").and_then(Value::as_u64)
                && len < min
            {
                fail(format!("must be at least {min} characters long (is {len})"));
            }
            if let Some(max) = rules.get("maxLength").and_then(Value::as_u64)
                && len > max
            {
                fail(format!("must be at most {max} characters long (is {len})"));
            }
            if let Some(p) = rules.get("pattern").and_then(Value::as_str)
                && let Some(re) = regex(p)
                && !re.is_match(s)
            {
                fail(format!("must match the pattern {p}"));
            }
        }
        Value::Number(n) => {
            if let Some(v) = n.as_f64() {
                if let Some(min) = rules.get("minimum").and_then(Value::as_f64)
                    && v < min
                {
                    fail(format!("must be at least {}", rules["minimum"]));
                }
                if let Some(max) = rules.get("maximum").and_then(Value::as_f64)
                    && v > max
                {
                    fail(format!("must be at most {}", rules["maximum"]));
                }
            }
        }
        Value::Array(items) => {
            let len = items.len() as u64;
            if let Some(min) = rules.get("minItems").and_then(Value::as_u64)
                && len < min
            {
                fail(format!("must have at least {min} item(s) (has {len})"));
            }
            if let Some(max) = rules.get("maxItems").and_then(Value::as_u64)
                && len > max
            {
                fail(format!("must have at most {max} items (has {len})"));
            }
            if let Some(item_rules) = rules.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(
                        item,
                        item_rules,
                        components,
                        &child(at, &i.to_string(), mode),
                        mode,
                        out,
                        depth + 1,
                    );
                }
            }
        }
        Value::Object(map) => {
            if let Some(Value::Object(props)) = rules.get("properties") {
                for (name, prop_rules) in props {
                    if let Some(v) = map.get(name) {
                        walk(
                            v,
                            prop_rules,
                            components,
                            &child(at, name, mode),
                            mode,
                            out,
                            depth + 1,
                        );
                    }
                }
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pointers(
        value: serde_json::Value,
        rules: &'static str,
        mode: Mode,
    ) -> Vec<(String, String)> {
        check(&value, rules, mode)
            .into_iter()
            .map(|e| (e.pointer, e.detail))
            .collect()
    }

    #[test]
    fn every_violation_is_reported_with_its_pointer() {
        // The spec's own rules for an order and a product.
        let order = r##"{"$ref": "#/components/schemas/OrderCreate"}"##;
        let got = pointers(
            json!({"items": [{"product_id": "p", "quantity": 0}, {"product_id": "q", "quantity": 10001}]}),
            order,
            Mode::Body,
        );
        assert_eq!(
            got,
            vec![
                (
                    "#/items/0/quantity".to_string(),
                    "must be at least 1".to_string()
                ),
                (
                    "#/items/1/quantity".to_string(),
                    "must be at most 10000".to_string()
                ),
            ]
        );
        assert_eq!(
            pointers(json!({"items": []}), order, Mode::Body),
            vec![(
                "#/items".to_string(),
                "must have at least 1 item(s) (has 0)".to_string()
            )]
        );
        let product = r##"{"$ref": "#/components/schemas/ProductCreate"}"##;
        let got: Vec<String> = pointers(
            json!({"sku": "bad sku", "name": "", "price": {"amount_minor": -1, "currency": "eur"}}),
            product,
            Mode::Body,
        )
        .into_iter()
        .map(|(p, _)| p)
        .collect();
        assert_eq!(
            got,
            vec![
                "#/name",
                "#/price/amount_minor",
                "#/price/currency",
                "#/sku"
            ]
        );
        assert!(pointers(
            json!({"sku": "OK-1", "name": "n", "price": {"amount_minor": 0, "currency": "EUR"}}),
            product,
            Mode::Body
        )
        .is_empty());
    }

    #[test]
    fn parameters_are_named_not_pointed() {
        let rules = r#"{"properties": {"limit": {"minimum": 1, "maximum": 100}}}"#;
        assert_eq!(
            pointers(json!({"limit": 101}), rules, Mode::Parameters),
            vec![("limit".to_string(), "must be at most 100".to_string())]
        );
        assert!(pointers(json!({"limit": 100}), rules, Mode::Parameters).is_empty());
        assert!(
            pointers(json!({}), rules, Mode::Parameters).is_empty(),
            "absent is fine"
        );
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let rules = r#"{"properties": {"name": {"maxLength": 3}}}"#;
        assert!(pointers(json!({"name": "äöü"}), rules, Mode::Body).is_empty());
        assert_eq!(
            pointers(json!({"name": "äöüß"}), rules, Mode::Body).len(),
            1
        );
    }
}
