//! Drift check: the OpenAPI document the generated dropshot trait serves
//! (`stub_api_description()`) against `spec/orderflow.yaml`.
//!
//! Both documents are reduced to the same canonical form: one entry per
//! operation with its id, tags, parameters, request body, success status,
//! media types, response headers and fully resolved schemas. The
//! normalisation removes only what dropshot cannot express or always
//! rewrites, each for a stated reason:
//!
//! - error statuses are not compared per operation: dropshot documents
//!   `4XX` and `5XX` on every operation with the one error schema. What is
//!   compared is that set of error schemas over the whole document, which
//!   must be exactly `{Problem}` on both sides;
//! - error media types are not compared (dropshot always documents
//!   `application/json`; the edge actually sends `application/problem+json`,
//!   which the running-server tests check);
//! - descriptions, titles, examples and summaries are prose;
//! - value constraints (`minLength`, `pattern`, `minimum`, ...) are enforced
//!   by the generated validator rather than by types, so schemars does not
//!   see them; the freshness test guarantees those rules match the spec;
//! - a nullable property counts as optional on both sides (schemars marks
//!   every `Option` field optional; the server always sends `null`), and an
//!   optional property is not nullable (schemars says `nullable` of every
//!   `Option`; the server omits absent optional fields, never sends null).
//!
//! Everything else (paths, methods, parameters and their location and
//! requiredness, property names and types, enums, formats, headers) must
//! match exactly.

use std::collections::BTreeSet;

use orderflow_server_api::edge::schema::{Keyword, KeywordKind};
use serde_json::{Map, Value, json};

/// Whether the drift check skips keyword `k`: prose, and the constraints
/// the generated validator enforces (compared separately, by
/// `constraints_are_the_edge_rules`). The kinds come from the edge's one
/// keyword list; a keyword outside it is compared like structure, so an
/// unknown one shows up as drift.
fn skipped(k: &str) -> bool {
    Keyword::parse(k).is_some_and(|k| k.kind() != KeywordKind::Structure)
}
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let ptr = reference.strip_prefix('#')?;
    root.pointer(ptr)
}

/// A schema with references resolved, prose and constraints dropped.
fn schema(root: &Value, v: &Value, stack: &mut Vec<String>) -> Value {
    let Some(map) = v.as_object() else {
        return v.clone();
    };
    if let Some(Value::String(r)) = map.get("$ref") {
        if stack.contains(r) {
            return json!({ "recursive": r.rsplit('/').next() });
        }
        stack.push(r.clone());
        let out = match resolve(root, r) {
            Some(target) => schema(root, target, stack),
            None => json!({ "unresolved": r }),
        };
        stack.pop();
        return out;
    }
    // schemars wraps a described reference as `allOf: [{$ref}]`.
    if let Some(Value::Array(all)) = map.get("allOf")
        && all.len() == 1
    {
        let mut inner = schema(root, &all[0], stack);
        if map.get("nullable") == Some(&Value::Bool(true)) {
            inner["nullable"] = Value::Bool(true);
        }
        return inner;
    }
    let mut out = Map::new();
    for (k, val) in map {
        if skipped(k) {
            continue;
        }
        let converted = match k.as_str() {
            "properties" => {
                let props = val.as_object().cloned().unwrap_or_default();
                let raw_required: BTreeSet<&str> = map
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                Value::Object(
                    props
                        .iter()
                        .map(|(pk, pv)| {
                            let mut n = schema(root, pv, stack);
                            // An optional property is omitted, never null,
                            // whatever schemars says of `Option` fields.
                            let nullable = pv.get("nullable") == Some(&Value::Bool(true))
                                || n.get("nullable") == Some(&Value::Bool(true));
                            if (!raw_required.contains(pk.as_str()) || nullable)
                                && let Some(o) = n.as_object_mut()
                            {
                                o.remove("nullable");
                            }
                            (pk.clone(), n)
                        })
                        .collect(),
                )
            }
            "required" => continue,
            "enum" => {
                let mut vals: Vec<String> = val
                    .as_array()
                    .map(|a| a.iter().map(|x| x.to_string()).collect())
                    .unwrap_or_default();
                vals.sort();
                json!(vals)
            }
            "nullable" if val == &Value::Bool(false) => continue,
            _ => schema(root, val, stack),
        };
        out.insert(k.clone(), converted);
    }
    // Required, minus nullable properties (see the module comment).
    let props = map.get("properties").and_then(Value::as_object);
    let required: BTreeSet<String> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|name| {
                    let nullable = props
                        .and_then(|p| p.get(*name))
                        .map(|p| p.get("nullable") == Some(&Value::Bool(true)))
                        .unwrap_or(false);
                    !nullable
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if !required.is_empty() {
        out.insert("required".into(), json!(required));
    }
    Value::Object(out)
}

fn deref<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(root, r).unwrap_or(v),
        None => v,
    }
}

/// The canonical form of a whole document.
pub fn canonical(doc: &Value) -> Value {
    let mut ops = Map::new();
    let mut error_schemas = BTreeSet::new();
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (path, item) in &paths {
        let item_params: Vec<Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let mut params = Map::new();
            for p in item_params.iter().chain(
                op.get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            ) {
                let p = deref(doc, p);
                let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
                let loc = p.get("in").and_then(Value::as_str).unwrap_or("?");
                // Header names are case-insensitive (RFC 9110 §5.1).
                let key = if loc == "header" {
                    format!("{loc} {}", name.to_ascii_lowercase())
                } else {
                    format!("{loc} {name}")
                };
                params.insert(key, required_and_schema(doc, p));
            }
            let body = op.get("requestBody").map(|b| {
                let b = deref(doc, b);
                let content = b.get("content").and_then(Value::as_object).cloned().unwrap_or_default();
                json!({
                    "required": b.get("required").cloned().unwrap_or(Value::Bool(false)),
                    "content": content.iter().map(|(mt, m)| (mt.clone(), schema(doc, m.get("schema").unwrap_or(&Value::Null), &mut Vec::new()))).collect::<Map<_, _>>(),
                })
            });
            let mut responses = Map::new();
            for (code, r) in op
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let r = deref(doc, r);
                // A 304 is the edge's answer to a conditional GET: like the
                // errors, it is not one of the responses dropshot documents
                // (one success per endpoint); the coverage gate checks it on
                // the wire.
                if code == "304" {
                    continue;
                }
                let is_error = code.starts_with('4') || code.starts_with('5');
                if is_error {
                    for m in r
                        .get("content")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                        .map(|(_, m)| m)
                    {
                        error_schemas.insert(
                            schema(
                                doc,
                                m.get("schema").unwrap_or(&Value::Null),
                                &mut Vec::new(),
                            )
                            .to_string(),
                        );
                    }
                    continue;
                }
                let headers: Map<String, Value> = r
                    .get("headers")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(name, h)| {
                        let h = deref(doc, h);
                        (name.to_ascii_lowercase(), required_and_schema(doc, h))
                    })
                    .collect();
                let content: Map<String, Value> = r
                    .get("content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(mt, m)| {
                        (
                            mt.clone(),
                            schema(
                                doc,
                                m.get("schema").unwrap_or(&Value::Null),
                                &mut Vec::new(),
                            ),
                        )
                    })
                    .collect();
                responses.insert(
                    code.clone(),
                    json!({"headers": headers, "content": content}),
                );
            }
            let mut tags: Vec<String> = op
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            tags.sort();
            ops.insert(
                format!("{} {path}", method.to_uppercase()),
                json!({
                    "operationId": op.get("operationId"),
                    "tags": tags,
                    "deprecated": op.get("deprecated").cloned().unwrap_or(Value::Bool(false)),
                    "parameters": params,
                    "requestBody": body,
                    "responses": responses,
                }),
            );
        }
    }
    let mut out = Map::new();
    out.insert("operations".into(), Value::Object(ops));
    out.insert("error_schemas".into(), json!(error_schemas));
    Value::Object(out)
}

/// A parameter's or header's requiredness and schema; an optional one is
/// never null (schemars says `nullable` of every `Option`).
fn required_and_schema(doc: &Value, p: &Value) -> Value {
    let required = p.get("required").cloned().unwrap_or(Value::Bool(false));
    let mut s = schema(
        doc,
        p.get("schema").unwrap_or(&Value::Null),
        &mut Vec::new(),
    );
    if required != Value::Bool(true)
        && let Some(o) = s.as_object_mut()
    {
        o.remove("nullable");
    }
    json!({"required": required, "schema": s})
}

/// The OpenAPI document the generated trait serves.
pub fn served() -> Value {
    let api = orderflow_server_api::order_flow_api_mod::stub_api_description()
        .expect("the generated trait yields a valid API description");
    api.openapi("OrderFlow API", "1.0.0".parse().expect("a valid version"))
        .json()
        .expect("dropshot renders its OpenAPI document")
}

/// The spec as a JSON value, read by the shared `openapi-doc` reader.
pub fn spec_value(text: &str) -> Value {
    openapi_doc::Document::parse("spec/orderflow.yaml", text)
        .expect("the spec is valid YAML")
        .root()
        .value
        .clone()
}

/// `None` when the two agree; otherwise a unified diff of their canonical forms.
pub fn compare(spec: &Value, served: &Value) -> Option<String> {
    let a = canonical(spec);
    let b = canonical(served);
    if a == b {
        return None;
    }
    let a = serde_json::to_string_pretty(&a).unwrap_or_default();
    let b = serde_json::to_string_pretty(&b).unwrap_or_default();
    Some(
        similar::TextDiff::from_lines(&a, &b)
            .unified_diff()
            .context_radius(4)
            .header(
                "spec/orderflow.yaml (canonical)",
                "generated trait (canonical)",
            )
            .to_string(),
    )
}

#[test]
fn generated_trait_serves_the_spec() {
    let spec = spec_value(orderflow_server_api::SPEC_YAML);
    if let Some(diff) = compare(&spec, &served()) {
        panic!(
            "the generated dropshot trait drifted from spec/orderflow.yaml; run `cargo xtask gen`, and if that does not fix it, the generator has a bug:\n{diff}"
        );
    }
}

#[test]
fn canonical_form_covers_every_operation() {
    let spec = spec_value(orderflow_server_api::SPEC_YAML);
    let ops = &canonical(&spec)["operations"];
    let n = ops.as_object().map(|o| o.len()).unwrap_or(0);
    assert_eq!(
        n,
        orderflow_server_api::ops::ALL.len(),
        "one canonical entry per operation"
    );
    assert!(ops.get("POST /v1/orders").is_some());
}

/// Each mutation is a (description, from, to) edit of the spec text that a
/// correct drift check must notice.
const MUTATIONS: &[(&str, &str, &str)] = &[
    (
        "an operation renamed",
        "\n      operationId: getOrder\n",
        "\n      operationId: fetchOrder\n",
    ),
    (
        "a path changed",
        "  /v1/orders/{order_id}/items:\n",
        "  /v1/orders/{order_id}/lines:\n",
    ),
    (
        "a method changed",
        "  /v1/api-keys/{key_id}:\n    parameters:\n      - name: key_id\n        in: path\n        required: true\n        description: The API key's id (`key_` prefix).\n        schema:\n          type: string\n        example: key_01J9Z3M4Q6Y8W2E5R7T9\n    delete:",
        "  /v1/api-keys/{key_id}:\n    parameters:\n      - name: key_id\n        in: path\n        required: true\n        description: The API key's id (`key_` prefix).\n        schema:\n          type: string\n        example: key_01J9Z3M4Q6Y8W2E5R7T9\n    post:",
    ),
    (
        "a query parameter made required",
        "        - name: active\n          in: query\n          required: false",
        "        - name: active\n          in: query\n          required: true",
    ),
    (
        "a parameter's type changed",
        "          description: Only products whose `active` flag equals this value.\n          schema:\n            type: boolean",
        "          description: Only products whose `active` flag equals this value.\n          schema:\n            type: string",
    ),
    (
        "a property renamed",
        "        sku:\n          type: string\n          description: The product's SKU when the order was placed.",
        "        stock_keeping_unit:\n          type: string\n          description: The product's SKU when the order was placed.",
    ),
    (
        "a property's format changed",
        "        amount_minor:\n          type: integer\n          format: int64",
        "        amount_minor:\n          type: integer\n          format: int32",
    ),
    (
        "an enum value added",
        "      enum: [pending, processing, shipped, delivered, cancelled]",
        "      enum: [pending, processing, shipped, delivered, cancelled, returned]",
    ),
    (
        "a success status changed",
        "        '201':\n          description: The product was created.",
        "        '200':\n          description: The product was created.",
    ),
    (
        "a response header removed",
        "                order_id: '$response.body#/id'\n          headers:\n            X-Request-Id:\n              $ref: '#/components/headers/XRequestId'\n            Location:\n              $ref: '#/components/headers/Location'\n            RateLimit:\n              $ref: '#/components/headers/RateLimit'\n            RateLimit-Policy:\n              $ref: '#/components/headers/RateLimitPolicy'\n            Idempotent-Replayed:\n              $ref: '#/components/headers/IdempotentReplayed'\n            Deprecation:\n              $ref: '#/components/headers/Deprecation'\n            Sunset:\n              $ref: '#/components/headers/Sunset'\n            Link:\n              $ref: '#/components/headers/LinkV1'\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/Order'",
        "                order_id: '$response.body#/id'\n          headers:\n            X-Request-Id:\n              $ref: '#/components/headers/XRequestId'\n            RateLimit:\n              $ref: '#/components/headers/RateLimit'\n            RateLimit-Policy:\n              $ref: '#/components/headers/RateLimitPolicy'\n            Idempotent-Replayed:\n              $ref: '#/components/headers/IdempotentReplayed'\n            Deprecation:\n              $ref: '#/components/headers/Deprecation'\n            Sunset:\n              $ref: '#/components/headers/Sunset'\n            Link:\n              $ref: '#/components/headers/LinkV1'\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/Order'",
    ),
    (
        "a required property made optional",
        "      required: [id, customer_id, status, items, total, created_at, updated_at]",
        "      required: [id, customer_id, status, items, created_at, updated_at]",
    ),
    (
        "a request header dropped",
        "      parameters:\n        - $ref: '#/components/parameters/IdempotencyKey'\n",
        "",
    ),
];

#[test]
fn drift_check_catches_every_mutation() {
    let served = served();
    let original = orderflow_server_api::SPEC_YAML;
    let mut missed = Vec::new();
    for (what, from, to) in MUTATIONS {
        // v2 repeats v1's text, and v1 comes first: the first match is
        // v1's, and drift in either version must be caught.
        assert!(
            original.contains(from),
            "mutation {what:?}: its anchor is not in the spec"
        );
        let mutated = original.replacen(from, to, 1);
        if compare(&spec_value(&mutated), &served).is_none() {
            missed.push(*what);
        }
    }
    assert!(missed.is_empty(), "the drift check missed: {missed:?}");
}

/// The rules the edge enforces are the spec's: for every component schema,
/// every structure and constraint keyword the spec writes (following
/// `properties` and `items`) is in the generated rule tree with the same
/// value, and the rule tree holds nothing the spec does not say.
#[test]
fn constraints_are_the_edge_rules() {
    fn rules(v: &Value) -> Value {
        let Some(map) = v.as_object() else {
            return v.clone();
        };
        let mut out = Map::new();
        for (k, val) in map {
            let kept = match k.as_str() {
                "properties" => Value::Object(
                    val.as_object()
                        .map(|m| {
                            // A member the spec constrains in no way (`{}`,
                            // any value) has no rule to hold.
                            m.iter()
                                .map(|(n, p)| (n.clone(), rules(p)))
                                .filter(|(_, r)| r.as_object().is_none_or(|o| !o.is_empty()))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                "items" => rules(val),
                _ if Keyword::parse(k).is_some_and(|k| k.kind() != KeywordKind::Annotation) => {
                    val.clone()
                }
                _ => continue,
            };
            out.insert(k.clone(), kept);
        }
        Value::Object(out)
    }
    let spec = spec_value(orderflow_server_api::SPEC_YAML);
    let schemas = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .expect("component schemas");
    let generated = orderflow_server_api::COMPONENT_RULES.tree();
    let mut compared = 0;
    for (name, schema) in schemas {
        assert_eq!(
            generated.get(name),
            Some(&rules(schema)),
            "the edge's rules for {name} differ from the spec"
        );
        compared += 1;
    }
    assert_eq!(
        generated.as_object().map(|o| o.len()),
        Some(compared),
        "the edge has rules for schemas the spec lacks"
    );
    // And the check can fail: a constraint the edge would not enforce.
    let mut edited = schemas["OrderItemCreate"].clone();
    edited["properties"]["quantity"]["multipleOf"] = json!(2);
    assert_ne!(generated.get("OrderItemCreate"), Some(&rules(&edited)));
}
