//! Requests from the spec: minimal valid bodies and parameters, and the
//! dependent resources they refer to.
//!
//! A body starts from, in order: the `--fixture` entry for the operation,
//! the media type's `example`, or a value generated from the schema
//! (required members only, `minItems` elements, the schema's `example`,
//! `default`, first `enum` value, or the smallest value the constraints
//! allow). Then every string member whose name ends in `_id` (and every
//! path parameter) is replaced by the id of a resource created for it,
//! and every other free string is made unique (prefixed with a run tag)
//! when the prefixed value still satisfies the schema, so unique fields
//! (emails, SKUs) do not collide between creations.
//!
//! A resource for a name `X` is made by the operation that declares a
//! response link with a parameter `X` (`$response.body#/id`), else by the
//! `POST` on a collection whose last segment is the plural of `X` minus
//! `_id`. Nothing here knows a particular API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex as StdMutex, OnceLock};

use regex::Regex;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::client::{Client, Req};
use crate::spec::{Operation, Spec};

/// Builds requests and produces the resources they depend on.
pub struct Factory<'a> {
    pub spec: &'a Spec,
    pub client: &'a Client,
    fixtures: HashMap<String, Value>,
    ids: Mutex<HashMap<String, String>>,
    counter: AtomicU64,
    tag: String,
}

impl<'a> Factory<'a> {
    pub fn new(
        spec: &'a Spec,
        client: &'a Client,
        fixtures: HashMap<String, Value>,
    ) -> Factory<'a> {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        Factory {
            spec,
            client,
            fixtures,
            ids: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            tag,
        }
    }

    /// A fresh unique token (for Idempotency-Keys and unique strings).
    pub fn unique(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("cv{}{n}", self.tag)
    }

    /// A fresh `Idempotency-Key` value.
    pub fn key(&self) -> String {
        format!("cv-{}", uuid::Uuid::new_v4())
    }

    /// A request for `op` with a fresh body, its path and required
    /// parameters filled, and a fresh Idempotency-Key when declared.
    pub async fn request(&self, op: &Operation) -> Result<Req, String> {
        self.request_at(op, 0).await
    }

    fn request_at<'s>(
        &'s self,
        op: &'s Operation,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Req, String>> + Send + 's>> {
        Box::pin(async move {
            let mut path = op.path.clone();
            let mut query = Vec::new();
            let mut headers = Vec::new();
            for p in &op.params {
                match p.location.as_str() {
                    "path" => {
                        let value = self.dependency(&p.name, depth).await.or_else(|| {
                            p.example
                                .as_ref()
                                .and_then(|e| e.as_str().map(str::to_owned))
                        });
                        let Some(value) = value else {
                            return Err(format!(
                                "no way to produce path parameter `{}` (no operation links it, no create operation matches its name, no example)",
                                p.name
                            ));
                        };
                        path = path.replace(&format!("{{{}}}", p.name), &encode(&value));
                    }
                    "query" if p.required => {
                        let v = generate(&p.schema, 0);
                        query.push(format!("{}={}", p.name, encode(&scalar(&v))));
                    }
                    "header" if p.name.eq_ignore_ascii_case("idempotency-key") => {
                        headers.push((p.name.clone(), self.key()));
                    }
                    "header" if p.required => {
                        headers.push((p.name.clone(), scalar(&generate(&p.schema, 0))));
                    }
                    _ => {}
                }
            }
            if !query.is_empty() {
                path.push('?');
                path.push_str(&query.join("&"));
            }
            let body = if op.body_schema.is_some() || self.fixtures.contains_key(&op.id) {
                Some(self.body(op, depth).await?)
            } else {
                None
            };
            let mut req = Req::new(&op.id, &op.method, path).body(body);
            req.headers = headers;
            Ok(req)
        })
    }

    /// A body for `op`.
    async fn body(&self, op: &Operation, depth: usize) -> Result<Value, String> {
        if let Some(fixture) = self.fixtures.get(&op.id) {
            return self.placeholders(fixture.clone(), depth).await;
        }
        let schema = op.body_schema.clone().unwrap_or(Value::Null);
        let base = op
            .body_example
            .clone()
            .filter(|e| valid(&schema, e))
            .unwrap_or_else(|| generate(&schema, 0));
        Ok(self.refresh(&schema, base, None, depth).await)
    }

    /// Fixture placeholders: `{{unique}}` and `{{id:NAME}}`.
    fn placeholders<'s>(
        &'s self,
        value: Value,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, String>> + Send + 's>>
    {
        Box::pin(async move {
            Ok(match value {
                Value::String(s) => {
                    let mut s = s.replace("{{unique}}", &self.unique());
                    // Bounded: an id that itself held a placeholder must not
                    // make this loop forever.
                    let mut rounds = 0;
                    while let Some(start) = s.find("{{id:") {
                        rounds += 1;
                        if rounds > 100 {
                            break;
                        }
                        let Some(len) = s[start..].find("}}") else {
                            break;
                        };
                        let name = s[start + 5..start + len].to_owned();
                        let id = self.dependency(&name, depth).await.ok_or_else(|| {
                            format!(
                                "fixture placeholder {{{{id:{name}}}}}: no way to produce `{name}`"
                            )
                        })?;
                        s.replace_range(start..start + len + 2, &id);
                    }
                    Value::String(s)
                }
                Value::Array(items) => {
                    let mut out = Vec::new();
                    for i in items {
                        out.push(self.placeholders(i, depth).await?);
                    }
                    Value::Array(out)
                }
                Value::Object(map) => {
                    let mut out = Map::new();
                    for (k, v) in map {
                        out.insert(k, self.placeholders(v, depth).await?);
                    }
                    Value::Object(out)
                }
                other => other,
            })
        })
    }

    /// Walks `value` with its schema: `_id` strings become real ids, free
    /// strings become unique where the schema allows.
    fn refresh<'s>(
        &'s self,
        schema: &'s Value,
        value: Value,
        name: Option<&'s str>,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Value> + Send + 's>> {
        Box::pin(async move {
            let schema = merged(schema);
            match value {
                Value::Object(map) => {
                    let props = schema.get("properties").cloned().unwrap_or(json!({}));
                    let mut out = Map::new();
                    for (k, v) in map {
                        let s = props.get(&k).cloned().unwrap_or(Value::Null);
                        let v = self.refresh_owned(s, v, k.clone(), depth).await;
                        out.insert(k, v);
                    }
                    Value::Object(out)
                }
                Value::Array(items) => {
                    let item_schema = schema.get("items").cloned().unwrap_or(Value::Null);
                    let mut out = Vec::new();
                    for v in items {
                        out.push(self.refresh(&item_schema, v, name, depth).await);
                    }
                    Value::Array(out)
                }
                Value::String(s) => {
                    if let Some(n) = name
                        && n.ends_with("_id")
                        && let Some(id) = self.dependency(n, depth).await
                    {
                        return Value::String(id);
                    }
                    if schema.get("enum").is_some() || schema.get("format").is_some() {
                        return Value::String(s);
                    }
                    let candidate = Value::String(format!("{}-{s}", self.unique()));
                    if valid(&schema, &candidate) {
                        candidate
                    } else {
                        Value::String(s)
                    }
                }
                other => other,
            }
        })
    }

    async fn refresh_owned(
        &self,
        schema: Value,
        value: Value,
        name: String,
        depth: usize,
    ) -> Value {
        self.refresh(&schema, value, Some(&name), depth).await
    }

    /// The id of a resource for a parameter or member named `name`
    /// (created once per run and reused).
    pub async fn dependency(&self, name: &str, depth: usize) -> Option<String> {
        if depth > 4 {
            return None;
        }
        if let Some(id) = self.ids.lock().await.get(name) {
            return Some(id.clone());
        }
        let (op, pointer) = self.producer(name)?;
        let req = self.request_at(op, depth + 1).await.ok()?;
        let res = self.client.send_patient(&req).await.ok()?;
        if !res.is_success() {
            return None;
        }
        let id = res.json()?.pointer(&pointer)?.as_str()?.to_owned();
        self.ids.lock().await.insert(name.to_owned(), id.clone());
        Some(id)
    }

    /// The operation that produces `name`, and where in its response body
    /// the value is.
    pub fn producer(&self, name: &str) -> Option<(&'a Operation, String)> {
        let spec = self.spec;
        // 1. A response link that names the parameter.
        for op in &spec.operations {
            for r in op.responses.iter().filter(|r| r.status.starts_with('2')) {
                for (_, params) in &r.links {
                    for (p, expr) in params {
                        if p == name
                            && let Some(ptr) = expr.strip_prefix("$response.body#")
                        {
                            return Some((op, ptr.to_owned()));
                        }
                    }
                }
            }
        }
        // 2. A create operation on the resource's collection.
        let resource = name.strip_suffix("_id")?;
        let plurals = [
            resource.to_owned(),
            format!("{resource}s"),
            format!("{resource}es"),
            format!("{}ies", resource.strip_suffix('y').unwrap_or(resource)),
        ];
        spec.operations.iter().find_map(|op| {
            let last = op.path.rsplit('/').next()?;
            (op.method == "POST" && op.success().is_some() && plurals.iter().any(|p| p == last))
                .then(|| (op, "/id".to_owned()))
        })
    }
}

/// `allOf` members merged into one object schema (shallowly).
fn merged(schema: &Value) -> Value {
    let Some(all) = schema.get("allOf").and_then(Value::as_array) else {
        if let Some(first) = schema
            .get("oneOf")
            .or_else(|| schema.get("anyOf"))
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return merged(first);
        }
        return schema.clone();
    };
    let mut out = schema.as_object().cloned().unwrap_or_default();
    out.remove("allOf");
    let mut props = Map::new();
    let mut required = Vec::new();
    for part in all {
        let part = merged(part);
        if let Some(p) = part.get("properties").and_then(Value::as_object) {
            props.extend(p.clone());
        }
        if let Some(r) = part.get("required").and_then(Value::as_array) {
            required.extend(r.clone());
        }
        for (k, v) in part.as_object().into_iter().flatten() {
            if k != "properties" && k != "required" {
                out.entry(k.clone()).or_insert(v.clone());
            }
        }
    }
    out.insert("properties".into(), Value::Object(props));
    out.insert("required".into(), Value::Array(required));
    Value::Object(out)
}

/// A minimal value that satisfies `schema` (best effort).
pub fn generate(schema: &Value, depth: usize) -> Value {
    let schema = merged(schema);
    if depth > 12 {
        return Value::Null;
    }
    if let Some(e) = schema.get("example") {
        return e.clone();
    }
    if let Some(d) = schema.get("default") {
        return d.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or(
        if schema.get("properties").is_some() {
            "object"
        } else {
            "string"
        },
    );
    match ty {
        "object" => {
            let mut out = Map::new();
            let props = schema.get("properties").cloned().unwrap_or(json!({}));
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let s = props.get(r).cloned().unwrap_or(Value::Null);
                out.insert(r.to_owned(), generate(&s, depth + 1));
            }
            Value::Object(out)
        }
        "array" => {
            let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let item = schema.get("items").cloned().unwrap_or(Value::Null);
            Value::Array((0..n.min(10)).map(|_| generate(&item, depth + 1)).collect())
        }
        "integer" | "number" => {
            let min = schema.get("minimum").and_then(Value::as_i64);
            let max = schema.get("maximum").and_then(Value::as_i64);
            let v = match (min, max) {
                (Some(min), _) => min.max(1).min(max.unwrap_or(i64::MAX)),
                (None, Some(max)) => 1.min(max),
                (None, None) => 1,
            };
            json!(v)
        }
        "boolean" => json!(true),
        _ => {
            let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
            let s = match format {
                "email" => "verify@example.com".to_owned(),
                "date-time" => "2026-01-01T00:00:00Z".to_owned(),
                "date" => "2026-01-01".to_owned(),
                "uuid" => uuid::Uuid::new_v4().to_string(),
                "uri" => "https://example.com/".to_owned(),
                _ => {
                    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(1);
                    let mut s = "verify".to_owned();
                    while (s.len() as u64) < min {
                        s.push('x');
                    }
                    s
                }
            };
            Value::String(s)
        }
    }
}

/// Whether `value` satisfies the constraints of `schema` that matter for
/// generated values (types, required members, string length and pattern,
/// numeric bounds, enums, array sizes). Unknown keywords pass.
pub fn valid(schema: &Value, value: &Value) -> bool {
    let schema = merged(schema);
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        return false;
    }
    match value {
        Value::Object(map) => {
            let required_ok = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .all(|r| map.contains_key(r));
            let props = schema.get("properties");
            required_ok
                && map.iter().all(|(k, v)| match props.and_then(|p| p.get(k)) {
                    Some(s) => valid(s, v),
                    None => true,
                })
        }
        Value::Array(items) => {
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let max = schema
                .get("maxItems")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            let item = schema.get("items").cloned().unwrap_or(Value::Null);
            (min..=max).contains(&(items.len() as u64)) && items.iter().all(|i| valid(&item, i))
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
            let max = schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            let pattern_ok = match schema.get("pattern").and_then(Value::as_str) {
                Some(p) => pattern_matches(p, s),
                None => true,
            };
            (min..=max).contains(&len) && pattern_ok
        }
        Value::Number(n) => {
            let v = n.as_f64().unwrap_or(0.0);
            let min_ok = schema
                .get("minimum")
                .and_then(Value::as_f64)
                .is_none_or(|m| v >= m);
            let max_ok = schema
                .get("maximum")
                .and_then(Value::as_f64)
                .is_none_or(|m| v <= m);
            min_ok && max_ok
        }
        _ => true,
    }
}

/// Whether `s` matches `pattern`; a pattern the regex crate cannot read
/// is not judged. Compiled patterns are kept: bursts check the same few
/// patterns hundreds of times.
fn pattern_matches(pattern: &str, s: &str) -> bool {
    static CACHE: OnceLock<StdMutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| StdMutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() > 1000 {
        cache.clear();
    }
    cache
        .entry(pattern.to_owned())
        .or_insert_with(|| Regex::new(pattern).ok())
        .as_ref()
        .is_none_or(|r| r.is_match(s))
}

/// Another valid body: the first integer moved by one within its bounds,
/// else the first free string made unique. `None` when nothing can change.
pub fn variant(schema: &Value, body: &Value, tag: &str) -> Option<Value> {
    let mut out = body.clone();
    if bump(schema, &mut out, tag, true) || bump(schema, &mut out, tag, false) {
        Some(out)
    } else {
        None
    }
}

fn bump(schema: &Value, value: &mut Value, tag: &str, numbers: bool) -> bool {
    let schema = merged(schema);
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").cloned().unwrap_or(json!({}));
            for (k, v) in map.iter_mut() {
                if k.ends_with("_id") {
                    continue;
                }
                let s = props.get(k).cloned().unwrap_or(Value::Null);
                if bump(&s, v, tag, numbers) {
                    return true;
                }
            }
            false
        }
        Value::Array(items) => {
            let s = schema.get("items").cloned().unwrap_or(Value::Null);
            items.iter_mut().any(|i| bump(&s, i, tag, numbers))
        }
        Value::Number(n) if numbers => {
            let Some(i) = n.as_i64() else { return false };
            for candidate in [i + 1, i - 1] {
                if schema.get("enum").is_none() && valid(&schema, &json!(candidate)) {
                    *value = json!(candidate);
                    return true;
                }
            }
            false
        }
        Value::String(s) if !numbers => {
            if schema.get("enum").is_some() || schema.get("format").is_some() {
                return false;
            }
            let candidate = Value::String(format!("{tag}-{s}"));
            if valid(&schema, &candidate) {
                *value = candidate;
                true
            } else {
                false
            }
        }
        _ => false,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved
/// characters stay).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
