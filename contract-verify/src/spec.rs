//! The spec as the verifier reads it: operations with what they declare
//! (parameters, bodies, documented response headers, links, the
//! `x-rate-limit-policy`, `deprecated` with `x-sunset`/`x-deprecated-since`),
//! the root `x-rate-limit-policies`, the problem schema's required members,
//! and the detection rules for cursor pagination and conditional requests.
//!
//! It reads through `openapi-doc` (local `$ref`s only) and does no I/O;
//! it never knows a particular API's paths: everything a check needs is
//! derived from what the document declares.

use std::collections::BTreeMap;

use openapi_doc::{Document, Node};
use serde_json::Value;

/// The HTTP methods an OpenAPI path item may hold, in document order.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Query parameter names read as a cursor (detection rule, README).
pub const CURSOR_NAMES: [&str; 6] = [
    "cursor",
    "after",
    "page_token",
    "pageToken",
    "starting_after",
    "next",
];
/// Query parameter names read as a page size.
pub const LIMIT_NAMES: [&str; 4] = ["limit", "page_size", "pageSize", "per_page"];

/// Nodes one [`Spec::inline`] may produce; far above any real schema.
const INLINE_BUDGET: usize = 50_000;

/// A spec the verifier cannot work from. Exit status 2.
#[derive(Debug)]
pub struct SpecError(pub String);

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// One parameter (path, query or header), its schema resolved.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub schema: Value,
    pub example: Option<Value>,
}

/// One documented response.
#[derive(Debug, Clone)]
pub struct Response {
    /// `201`, `4XX` or `default`.
    pub status: String,
    /// Documented header names as written, with their resolved objects.
    pub headers: Vec<(String, Value)>,
    /// The media types of `content`.
    pub media_types: Vec<String>,
    /// The JSON schema of the first JSON-like media type, resolved.
    pub schema: Option<Value>,
    /// `links`: link name -> (parameter name -> runtime expression).
    pub links: Vec<(String, Vec<(String, String)>)>,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`, else `METHOD path`.
    pub id: String,
    /// Upper case.
    pub method: String,
    pub path: String,
    pub params: Vec<Param>,
    pub body_schema: Option<Value>,
    pub body_example: Option<Value>,
    pub body_required: bool,
    pub deprecated: bool,
    pub sunset: Option<String>,
    pub deprecated_since: Option<String>,
    pub rate_limit_policy: Option<String>,
    pub responses: Vec<Response>,
}

/// A declared rate-limit policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub quota: u64,
    pub window: u64,
}

/// How a list operation is paginated (see [`Spec::pagination`]).
#[derive(Debug, Clone)]
pub struct Pagination {
    pub cursor_param: String,
    pub limit_param: String,
    pub limit_min: Option<u64>,
    pub limit_max: Option<u64>,
    /// The envelope member that holds the items.
    pub items_field: String,
    /// The envelope member that holds the next cursor.
    pub next_field: String,
}

/// The spec, parsed and indexed.
pub struct Spec {
    doc: Document,
    pub operations: Vec<Operation>,
    pub policies: BTreeMap<String, Policy>,
    /// Members every problem body must hold (the problem schema's
    /// `required`, else RFC 9457's `type`, `title`, `status`).
    pub problem_required: Vec<String>,
    /// The problem type a 429 must carry: the documented 429 example's
    /// `type`, else RFC 9457's registered `quota-exceeded`.
    pub quota_exceeded_type: String,
}

impl Operation {
    /// The `Idempotency-Key` header parameter, if declared.
    pub fn idempotency_param(&self) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.location == "header" && p.name.eq_ignore_ascii_case("idempotency-key"))
    }

    /// The first documented 2xx response.
    pub fn success(&self) -> Option<&Response> {
        self.responses.iter().find(|r| r.status.starts_with('2'))
    }

    /// A header of the first success response whose name speaks of
    /// replays (`Idempotent-Replayed`), with the value its example gives
    /// (else `true`).
    pub fn replay_marker(&self) -> Option<(String, String)> {
        let success = self.success()?;
        success.headers.iter().find_map(|(name, h)| {
            name.to_ascii_lowercase().contains("replay").then(|| {
                let value = h
                    .get("example")
                    .or_else(|| h.get("schema").and_then(|s| s.get("example")))
                    .and_then(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "true".to_owned());
                (name.clone(), value)
            })
        })
    }

    pub fn param(&self, location: &str, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.location == location && p.name.eq_ignore_ascii_case(name))
    }

    /// Whether any response documents `name` as a header.
    pub fn documents_header(&self, name: &str) -> bool {
        self.responses
            .iter()
            .any(|r| r.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
    }
}

impl Spec {
    /// Parses and checks a spec; every failure is a [`SpecError`] naming
    /// the file, line or operation.
    pub fn parse(name: &str, text: &str) -> Result<Spec, SpecError> {
        let doc = Document::parse(name, text).map_err(|e| SpecError(e.to_string()))?;
        doc.validate().map_err(|e| SpecError(e.to_string()))?;
        let mut spec = Spec {
            doc,
            operations: Vec::new(),
            policies: BTreeMap::new(),
            problem_required: Vec::new(),
            quota_exceeded_type: String::new(),
        };
        spec.policies = spec.read_policies()?;
        spec.operations = spec.read_operations()?;
        spec.problem_required = spec.read_problem_required();
        spec.quota_exceeded_type = spec.read_quota_type();
        Ok(spec)
    }

    /// Follows local `$ref`s from `value`.
    pub fn deref<'a>(&'a self, value: &'a Value) -> &'a Value {
        self.doc
            .resolve(Node {
                value,
                ptr: String::new(),
            })
            .value
    }

    /// `value` with every local `$ref` replaced by its target. A reference
    /// to a schema already being expanded (recursion) becomes `{}`, and the
    /// whole expansion is capped in nodes, so no spec makes it run long.
    pub fn inline(&self, value: &Value) -> Value {
        let mut budget = INLINE_BUDGET;
        self.inline_at(value, &mut Vec::new(), &mut budget)
    }

    fn inline_at(&self, value: &Value, stack: &mut Vec<String>, budget: &mut usize) -> Value {
        if *budget == 0 {
            return Value::Object(Default::default());
        }
        *budget -= 1;
        if let Some(reference) = openapi_doc::ref_of(value) {
            if stack.iter().any(|r| r == reference) || stack.len() > 32 {
                return Value::Object(Default::default());
            }
            stack.push(reference.to_owned());
            let target = self.deref(value);
            let out = if openapi_doc::ref_of(target).is_some() {
                // Dangling or remote: nothing to expand.
                Value::Object(Default::default())
            } else {
                self.inline_at(target, stack, budget)
            };
            stack.pop();
            return out;
        }
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        // Literal data is not schema: leave it as written.
                        if matches!(k.as_str(), "example" | "examples" | "default" | "enum")
                            || k.starts_with("x-")
                        {
                            (k.clone(), v.clone())
                        } else {
                            (k.clone(), self.inline_at(v, stack, budget))
                        }
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.inline_at(v, stack, budget))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn read_policies(&self) -> Result<BTreeMap<String, Policy>, SpecError> {
        let mut out = BTreeMap::new();
        let Some(root) = self.doc.at("/x-rate-limit-policies") else {
            return Ok(out);
        };
        for (name, node) in root.entries() {
            let num = |key: &str| {
                node.value.get(key).and_then(Value::as_u64).ok_or_else(|| {
                    SpecError(format!(
                        "{}:{}: x-rate-limit-policies.{name}.{key} must be a positive integer",
                        self.doc.name(),
                        self.doc.line(&node.ptr)
                    ))
                })
            };
            let quota = num("quota")?;
            let window = num("window")?;
            if quota == 0 || window == 0 {
                return Err(SpecError(format!(
                    "{}:{}: x-rate-limit-policies.{name}: quota and window must be at least 1",
                    self.doc.name(),
                    self.doc.line(&node.ptr)
                )));
            }
            out.insert(name.to_owned(), Policy { quota, window });
        }
        Ok(out)
    }

    fn read_params(&self, list: Option<&Value>, into: &mut Vec<Param>) {
        let Some(Value::Array(items)) = list.map(|l| self.deref(l)) else {
            return;
        };
        for item in items {
            let p = self.deref(item);
            let (Some(name), Some(location)) = (
                p.get("name").and_then(Value::as_str),
                p.get("in").and_then(Value::as_str),
            ) else {
                continue;
            };
            // An operation-level parameter overrides a path-level one.
            into.retain(|q: &Param| !(q.name == name && q.location == location));
            into.push(Param {
                name: name.to_owned(),
                location: location.to_owned(),
                required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                schema: p
                    .get("schema")
                    .map(|s| self.inline(s))
                    .unwrap_or(Value::Null),
                example: p.get("example").cloned(),
            });
        }
    }

    fn read_operations(&self) -> Result<Vec<Operation>, SpecError> {
        let mut ops = Vec::new();
        let Some(paths) = self.doc.at("/paths") else {
            return Ok(ops);
        };
        for (path, item) in paths.entries() {
            let item = self.doc.resolve(item);
            for method in METHODS {
                let Some(op) = item.value.get(method) else {
                    continue;
                };
                let mut params = Vec::new();
                self.read_params(item.value.get("parameters"), &mut params);
                self.read_params(op.get("parameters"), &mut params);
                let id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{} {path}", method.to_ascii_uppercase()));
                let (body_schema, body_example, body_required) = match op.get("requestBody") {
                    Some(body) => {
                        let body = self.deref(body);
                        let media = json_media(body.get("content"));
                        (
                            media.and_then(|m| m.get("schema")).map(|s| self.inline(s)),
                            media.and_then(|m| m.get("example")).cloned().or_else(|| {
                                media
                                    .and_then(|m| m.get("examples"))
                                    .and_then(Value::as_object)
                                    .and_then(|e| e.values().next())
                                    .map(|e| self.deref(e))
                                    .and_then(|e| e.get("value"))
                                    .cloned()
                            }),
                            body.get("required")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                        )
                    }
                    None => (None, None, false),
                };
                let policy = op
                    .get("x-rate-limit-policy")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if let Some(p) = &policy
                    && !self.policies.contains_key(p)
                {
                    return Err(SpecError(format!(
                        "{}: operation {id} names x-rate-limit-policy `{p}`, which x-rate-limit-policies does not declare",
                        self.doc.name()
                    )));
                }
                let mut responses = Vec::new();
                if let Some(Value::Object(map)) = op.get("responses") {
                    for (status, r) in map {
                        responses.push(self.read_response(status, self.deref(r)));
                    }
                }
                ops.push(Operation {
                    id,
                    method: method.to_ascii_uppercase(),
                    path: path.to_owned(),
                    params,
                    body_schema,
                    body_example,
                    body_required,
                    deprecated: op
                        .get("deprecated")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    // An operation's own extension, else its path item's,
                    // else the document's (a whole version deprecated at once).
                    sunset: self.inherited("x-sunset", op, item.value),
                    deprecated_since: self.inherited("x-deprecated-since", op, item.value),
                    rate_limit_policy: policy,
                    responses,
                });
            }
        }
        Ok(ops)
    }

    fn inherited(&self, key: &str, op: &Value, item: &Value) -> Option<String> {
        [op, item, self.doc.root().value]
            .iter()
            .find_map(|v| v.get(key).and_then(Value::as_str).map(str::to_owned))
    }

    fn read_response(&self, status: &str, r: &Value) -> Response {
        let headers = r
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), self.deref(v).clone()))
                    .collect()
            })
            .unwrap_or_default();
        let media_types = r
            .get("content")
            .and_then(Value::as_object)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        let schema = json_media(r.get("content"))
            .and_then(|m| m.get("schema"))
            .map(|s| self.inline(s));
        let links = r
            .get("links")
            .and_then(Value::as_object)
            .map(|links| {
                links
                    .iter()
                    .map(|(name, link)| {
                        let link = self.deref(link);
                        let params = link
                            .get("parameters")
                            .and_then(Value::as_object)
                            .map(|p| {
                                p.iter()
                                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (name.clone(), params)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Response {
            status: status.to_owned(),
            headers,
            media_types,
            schema,
            links,
        }
    }

    /// The schema behind `application/problem+json` responses.
    fn problem_schema(&self) -> Option<Value> {
        self.operations.iter().find_map(|op| {
            op.responses.iter().find_map(|r| {
                r.media_types
                    .iter()
                    .any(|m| m == "application/problem+json")
                    .then(|| r.schema.clone())
                    .flatten()
            })
        })
    }

    fn read_problem_required(&self) -> Vec<String> {
        // Problem responses are problem+json, which json_media picks up.
        match self
            .problem_schema()
            .as_ref()
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
        {
            Some(req) => req
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            None => vec!["type".into(), "title".into(), "status".into()],
        }
    }

    fn read_quota_type(&self) -> String {
        // The example sits beside the schema in the media type object, so
        // read it from the document directly.
        if let Some(paths) = self.doc.at("/paths") {
            for (_, item) in paths.entries() {
                for method in METHODS {
                    let Some(r) = item
                        .value
                        .get(method)
                        .and_then(|op| op.get("responses"))
                        .and_then(|r| r.get("429"))
                    else {
                        continue;
                    };
                    let r = self.deref(r);
                    if let Some(t) = json_media(r.get("content"))
                        .and_then(|m| m.get("example"))
                        .and_then(|e| e.get("type"))
                        .and_then(Value::as_str)
                    {
                        return t.to_owned();
                    }
                }
            }
        }
        "https://iana.org/assignments/http-problem-types#quota-exceeded".to_owned()
    }

    /// The pagination of a list operation, by this rule: a `GET` with a
    /// query parameter named like a cursor ([`CURSOR_NAMES`]) and one named
    /// like a page size ([`LIMIT_NAMES`]), whose 200 response is a JSON
    /// object with an array member (the items) and a string member whose
    /// name holds `cursor`, `next` or `token` (the next cursor).
    pub fn pagination(&self, op: &Operation) -> Option<Pagination> {
        if op.method != "GET" {
            return None;
        }
        let cursor = op
            .params
            .iter()
            .find(|p| p.location == "query" && CURSOR_NAMES.contains(&p.name.as_str()))?;
        let limit = op
            .params
            .iter()
            .find(|p| p.location == "query" && LIMIT_NAMES.contains(&p.name.as_str()))?;
        let schema = op.success()?.schema.as_ref()?;
        let props = schema.get("properties")?.as_object()?;
        let items_field = props
            .iter()
            .find(|(_, s)| s.get("type").and_then(Value::as_str) == Some("array"))?
            .0
            .clone();
        let next_field = props
            .iter()
            .find(|(name, s)| {
                let n = name.to_ascii_lowercase();
                s.get("type").and_then(Value::as_str) == Some("string")
                    && (n.contains("cursor") || n.contains("next") || n.contains("token"))
            })?
            .0
            .clone();
        Some(Pagination {
            cursor_param: cursor.name.clone(),
            limit_param: limit.name.clone(),
            limit_min: limit.schema.get("minimum").and_then(Value::as_u64),
            limit_max: limit.schema.get("maximum").and_then(Value::as_u64),
            items_field,
            next_field,
        })
    }

    /// The operation that creates members of a list: a `POST` on the same
    /// path with a 2xx response.
    pub fn create_for<'a>(&'a self, list: &Operation) -> Option<&'a Operation> {
        self.operations
            .iter()
            .find(|o| o.method == "POST" && o.path == list.path && o.success().is_some())
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }
}

/// The first JSON-like media type object of a `content` map.
fn json_media(content: Option<&Value>) -> Option<&Value> {
    let map = content?.as_object()?;
    map.iter()
        .find(|(k, _)| k.as_str() == "application/json")
        .or_else(|| map.iter().find(|(k, _)| k.ends_with("json")))
        .map(|(_, v)| v)
}
