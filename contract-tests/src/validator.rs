//! Checks a response against the operation the spec documents for it.
//!
//! [`SpecValidator::from_yaml`] reads an OpenAPI 3.0 document once: it
//! resolves `$ref`s to responses and headers (with a cycle guard), converts
//! every schema to JSON Schema (draft 4, which OpenAPI 3.0's schema object
//! extends; `nullable: true` becomes a type union) and compiles one
//! validator per distinct schema. Schema `$ref`s are left in place and
//! resolved by the `jsonschema` crate inside one bundled document that
//! carries `components/schemas`, so recursive schemas cost nothing.
//!
//! [`SpecValidator::check`] then finds the operation for a method and a
//! concrete path (path-template matching, literal segments preferred) and
//! reports every [`Violation`]: an undocumented status, an undeclared media
//! type, a body that does not match its schema (with the JSON pointer and the
//! offending value), a missing or malformed required header.
//!
//! It does not validate requests, follow external references, or check
//! links and examples.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Map, Value};

/// A spec this module cannot use.
#[derive(Debug)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// One way a response breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The operationId, or `-` when no operation matches.
    pub operation: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Where: a JSON pointer into the body (`/data/0/id`, empty for the
    /// root), or `header:<Name>`, or `status`.
    pub pointer: String,
    /// The offending value (JSON text for body values), or `<absent>`.
    pub value: String,
    /// What was expected.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(root)"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{} ({} {}) -> {}: at {}: {} (value: {})",
            self.operation, self.method, self.path, self.status, pointer, self.message, self.value
        )
    }
}

/// A response as seen on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// What [`SpecValidator::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The matched operationId, if any.
    pub operation: Option<String>,
    /// The response key the status matched (`"201"`, `"4XX"`, `"default"`).
    pub response_key: Option<String>,
    pub violations: Vec<Violation>,
}

struct HeaderSpec {
    name: String,
    required: bool,
    /// The header schema's `type`, to read the text value as JSON.
    kind: Option<String>,
    schema: Arc<jsonschema::Validator>,
}

struct ResponseSpec {
    /// Media type -> compiled body schema (`None`: any body).
    content: BTreeMap<String, Option<Arc<jsonschema::Validator>>>,
    headers: Vec<HeaderSpec>,
}

enum Segment {
    Literal(String),
    Param,
}

struct Operation {
    id: String,
    method: String,
    template: String,
    segments: Vec<Segment>,
    responses: BTreeMap<String, ResponseSpec>,
}

/// Validates responses against an OpenAPI 3.0 document.
pub struct SpecValidator {
    operations: Vec<Operation>,
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Follows a chain of local `$ref`s (`#/components/...`) to the object
/// they name, refusing cycles and external references.
fn deref<'a>(root: &'a Value, mut node: &'a Value, at: &str) -> Result<&'a Value, SpecError> {
    let mut seen = BTreeSet::new();
    while let Some(r) = node.get("$ref").and_then(Value::as_str) {
        if !seen.insert(r.to_string()) {
            return Err(SpecError(format!("{at}: $ref cycle through {r}")));
        }
        let target = openapi_doc::local_ref_target(r);
        let pointer = target.as_deref().ok_or_else(|| {
            SpecError(format!(
                "{at}: only local references are supported, got {r}"
            ))
        })?;
        node = root
            .pointer(pointer)
            .ok_or_else(|| SpecError(format!("{at}: $ref {r} does not resolve")))?;
    }
    Ok(node)
}

/// The one OpenAPI 3.0 -> JSON Schema conversion, shared with the
/// generator (see `openapi_doc::to_json_schema`).
pub use openapi_doc::to_json_schema;

/// Compiles schemas into validators, once per distinct schema, inside a
/// bundle that carries the spec's converted `components/schemas`.
struct Compiler {
    components: Value,
    cache: HashMap<String, Arc<jsonschema::Validator>>,
}

impl Compiler {
    /// A compiler for `root`'s schemas: its `components/schemas`, converted
    /// one by one (the names of schemas are not keywords).
    fn of(root: &Value) -> Compiler {
        let schemas: Map<String, Value> = root
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(name, s)| (name.clone(), to_json_schema(s)))
                    .collect()
            })
            .unwrap_or_default();
        Compiler {
            components: Value::Object(schemas),
            cache: HashMap::new(),
        }
    }

    fn compile(
        &mut self,
        schema: &Value,
        at: &str,
    ) -> Result<Arc<jsonschema::Validator>, SpecError> {
        let converted = to_json_schema(schema);
        let key = converted.to_string();
        if let Some(v) = self.cache.get(&key) {
            return Ok(v.clone());
        }
        // Draft 4 ignores the siblings of a `$ref`, so the schema goes under
        // `allOf` and the components ride along for the references.
        let bundle = serde_json::json!({
            "allOf": [converted],
            "components": {"schemas": self.components},
        });
        let validator = jsonschema::draft4::options()
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&bundle)
            .map_err(|e| SpecError(format!("{at}: the schema does not compile: {e}")))?;
        let validator = Arc::new(validator);
        self.cache.insert(key, validator.clone());
        Ok(validator)
    }
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

/// `type/subtype` of a Content-Type value, lower-cased, without parameters.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn covers(declared: &str, actual: &str) -> bool {
    let declared = declared.to_ascii_lowercase();
    if declared == actual || declared == "*/*" {
        return true;
    }
    match declared.strip_suffix("/*") {
        Some(major) => actual.split('/').next() == Some(major),
        None => false,
    }
}

/// A JSON value as one short line for messages.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// The errors of `value` against `schema` (an OpenAPI 3.0 schema of the
/// document `root`, `$ref`s into its components allowed): for what is not
/// an operation's response, such as the request body of a callback.
pub fn schema_errors(
    root: &Value,
    schema: &Value,
    value: &Value,
) -> Result<Vec<String>, SpecError> {
    let mut compiler = Compiler::of(root);
    let validator = compiler.compile(schema, "the schema")?;
    Ok(validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect())
}

impl SpecValidator {
    /// Reads an OpenAPI 3.0 document (YAML or JSON) with the shared reader
    /// (`openapi-doc`, as break-diff and the generator's lint do).
    pub fn from_yaml(text: &str) -> Result<SpecValidator, SpecError> {
        let doc = openapi_doc::Document::parse("the spec", text)
            .map_err(|e| SpecError(format!("the spec is not valid YAML or JSON: {e}")))?;
        Self::from_value(doc.root().value)
    }

    pub fn from_value(root: &Value) -> Result<SpecValidator, SpecError> {
        let mut compiler = Compiler::of(root);
        let mut operations = Vec::new();
        let paths = root
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| SpecError("the spec has no paths".into()))?;
        for (template, item) in paths {
            let item = deref(root, item, template)?;
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                let at = format!("{} {template}", method.to_uppercase());
                let id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| SpecError(format!("{at}: no operationId")))?
                    .to_string();
                let mut responses = BTreeMap::new();
                let declared = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .ok_or_else(|| SpecError(format!("{id}: no responses")))?;
                for (status, rsp) in declared {
                    let at = format!("{id} {status}");
                    let rsp = deref(root, rsp, &at)?;
                    let mut content = BTreeMap::new();
                    if let Some(media) = rsp.get("content").and_then(Value::as_object) {
                        for (media_type, m) in media {
                            let validator = match m.get("schema") {
                                Some(s) => {
                                    Some(compiler.compile(s, &format!("{at} {media_type}"))?)
                                }
                                None => None,
                            };
                            content.insert(media_type.to_ascii_lowercase(), validator);
                        }
                    }
                    let mut headers = Vec::new();
                    if let Some(hs) = rsp.get("headers").and_then(Value::as_object) {
                        for (name, h) in hs {
                            // OpenAPI: a Content-Type header definition is ignored.
                            if name.eq_ignore_ascii_case("content-type") {
                                continue;
                            }
                            let at = format!("{at} header {name}");
                            let h = deref(root, h, &at)?;
                            let schema = h.get("schema").cloned().unwrap_or(Value::Bool(true));
                            let resolved = deref(root, &schema, &at)?;
                            headers.push(HeaderSpec {
                                name: name.clone(),
                                required: h.get("required") == Some(&Value::Bool(true)),
                                kind: resolved
                                    .get("type")
                                    .and_then(Value::as_str)
                                    .map(str::to_string),
                                schema: compiler.compile(&schema, &at)?,
                            });
                        }
                    }
                    responses.insert(status.clone(), ResponseSpec { content, headers });
                }
                let segments = template
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Param
                        } else {
                            Segment::Literal(s.to_string())
                        }
                    })
                    .collect();
                operations.push(Operation {
                    id,
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments,
                    responses,
                });
            }
        }
        Ok(SpecValidator { operations })
    }

    /// Every (operationId, response key) the spec documents.
    pub fn documented(&self) -> BTreeSet<(String, String)> {
        self.operations
            .iter()
            .flat_map(|op| op.responses.keys().map(move |k| (op.id.clone(), k.clone())))
            .collect()
    }

    /// Every operationId with its method and path template, in spec order.
    pub fn operations(&self) -> Vec<(String, String, String)> {
        self.operations
            .iter()
            .map(|o| (o.id.clone(), o.method.clone(), o.template.clone()))
            .collect()
    }

    /// The operation serving `method` on the concrete `path` (no query).
    /// Among matching templates, the one with the most literal segments
    /// wins (`/v1/orders/export` over `/v1/orders/{id}`).
    pub fn operation(&self, method: &str, path: &str) -> Option<&str> {
        self.find(method, path).map(|o| o.id.as_str())
    }

    fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        let concrete: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method))
            .filter(|op| {
                op.segments.len() == concrete.len()
                    && op.segments.iter().zip(&concrete).all(|(s, c)| match s {
                        Segment::Literal(l) => l == c,
                        Segment::Param => !c.is_empty(),
                    })
            })
            .max_by_key(|op| {
                op.segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
    }

    /// Checks one response to `method path`.
    pub fn check(&self, method: &str, path: &str, rsp: Response<'_>) -> Outcome {
        let violation =
            |operation: &str, pointer: &str, value: String, message: String| Violation {
                operation: operation.to_string(),
                method: method.to_uppercase(),
                path: path.to_string(),
                status: rsp.status,
                pointer: pointer.to_string(),
                value,
                message,
            };
        let Some(op) = self.find(method, path) else {
            return Outcome {
                operation: None,
                response_key: None,
                violations: vec![violation(
                    "-",
                    "",
                    "-".into(),
                    "no operation in the spec serves this method and path".into(),
                )],
            };
        };
        let status = rsp.status.to_string();
        let range = format!("{}XX", rsp.status / 100);
        let key = [status.as_str(), range.as_str(), "default"]
            .into_iter()
            .find(|k| {
                op.responses.contains_key(*k) || op.responses.contains_key(&k.to_ascii_lowercase())
            })
            .map(str::to_string);
        let Some(key) = key else {
            let documented: Vec<&str> = op.responses.keys().map(String::as_str).collect();
            return Outcome {
                operation: Some(op.id.clone()),
                response_key: None,
                violations: vec![violation(
                    &op.id,
                    "status",
                    status,
                    format!(
                        "status is not documented for this operation (documented: {})",
                        documented.join(", ")
                    ),
                )],
            };
        };
        let spec = op
            .responses
            .get(&key)
            .or_else(|| op.responses.get(&key.to_ascii_lowercase()));
        let mut violations = Vec::new();
        if let Some(spec) = spec {
            self.check_headers(&op.id, spec, rsp, &violation, &mut violations);
            Self::check_body(&op.id, spec, rsp, &violation, &mut violations);
        }
        Outcome {
            operation: Some(op.id.clone()),
            response_key: Some(key),
            violations,
        }
    }

    fn check_headers(
        &self,
        op: &str,
        spec: &ResponseSpec,
        rsp: Response<'_>,
        violation: &dyn Fn(&str, &str, String, String) -> Violation,
        out: &mut Vec<Violation>,
    ) {
        for h in &spec.headers {
            let pointer = format!("header:{}", h.name);
            let Some(raw) = rsp.headers.get(h.name.as_str()) else {
                if h.required {
                    out.push(violation(
                        op,
                        &pointer,
                        "<absent>".into(),
                        "required response header is missing".into(),
                    ));
                }
                continue;
            };
            let Ok(text) = raw.to_str() else {
                out.push(violation(
                    op,
                    &pointer,
                    format!("{raw:?}"),
                    "header value is not visible ASCII".into(),
                ));
                continue;
            };
            // Header values are text; read them as the schema's type says
            // (OpenAPI's `simple` style for scalars).
            let value = match h.kind.as_deref() {
                Some("integer") | Some("number") => serde_json::from_str::<Value>(text.trim())
                    .ok()
                    .filter(Value::is_number)
                    .unwrap_or_else(|| Value::String(text.to_string())),
                Some("boolean") => match text.trim() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::String(text.to_string()),
                },
                _ => Value::String(text.to_string()),
            };
            for e in h.schema.iter_errors(&value) {
                out.push(violation(op, &pointer, show(&value), e.to_string()));
            }
        }
    }

    fn check_body(
        op: &str,
        spec: &ResponseSpec,
        rsp: Response<'_>,
        violation: &dyn Fn(&str, &str, String, String) -> Violation,
        out: &mut Vec<Violation>,
    ) {
        let content_type = rsp
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if spec.content.is_empty() {
            if !rsp.body.is_empty() {
                out.push(violation(
                    op,
                    "",
                    format!("{} bytes", rsp.body.len()),
                    "the spec declares no content for this response, but it has a body".into(),
                ));
            }
            return;
        }
        let declared: Vec<&str> = spec.content.keys().map(String::as_str).collect();
        let Some(content_type) = content_type else {
            out.push(violation(
                op,
                "header:Content-Type",
                "<absent>".into(),
                format!("expected one of: {}", declared.join(", ")),
            ));
            return;
        };
        let media = essence(content_type);
        let Some((_, schema)) = spec.content.iter().find(|(d, _)| covers(d, &media)) else {
            out.push(violation(
                op,
                "header:Content-Type",
                content_type.to_string(),
                format!(
                    "media type is not declared for this response (declared: {})",
                    declared.join(", ")
                ),
            ));
            return;
        };
        let Some(schema) = schema else {
            return;
        };
        if !is_json(&media) {
            return;
        }
        let body: Value = match serde_json::from_slice(rsp.body) {
            Ok(v) => v,
            Err(e) => {
                out.push(violation(
                    op,
                    "",
                    String::from_utf8_lossy(rsp.body)
                        .chars()
                        .take(200)
                        .collect(),
                    format!("the body is not JSON: {e}"),
                ));
                return;
            }
        };
        for e in schema.iter_errors(&body) {
            out.push(violation(
                op,
                &e.instance_path().to_string(),
                show(e.instance()),
                e.to_string(),
            ));
        }
    }
}
