//! Loading and linting the source spec before any generator sees it.
//!
//! The generators (typify, progenitor and our dropshot trait emitter) accept
//! only a subset of OpenAPI. Rather than let one of them panic or emit code
//! that does not compile, the lint here refuses, with a file, line, JSON
//! pointer and a hint, every construct outside that subset. This module does
//! not generate anything.

use std::collections::BTreeMap;
use std::fmt;

use openapiv3::{
    OpenAPI, Operation, Parameter, ParameterSchemaOrContent, PathItem, ReferenceOr, Response,
    Schema, SchemaKind, StatusCode, Type,
};

/// Response headers the generated edge knows how to fill. Any other declared
/// response header would be documented but never sent, so the lint refuses it.
pub const EDGE_RESPONSE_HEADERS: &[&str] = &[
    "X-Request-Id",
    "Location",
    "Link",
    "RateLimit",
    "RateLimit-Policy",
    "Idempotent-Replayed",
    "Deprecation",
    "Sunset",
    "ETag",
    "Cache-Control",
];

/// A rate-limit policy declared at the root under `x-rate-limit-policies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitPolicy {
    pub name: String,
    pub quota: u32,
    pub window: u32,
}

/// One problem found in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintError {
    /// JSON pointer (RFC 6901) of the offending node.
    pub pointer: String,
    /// 1-based line in the YAML file, when it could be located.
    pub line: Option<usize>,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: ")?,
            None => write!(f, "(line unknown): ")?,
        }
        write!(f, "{}: {} ({})", self.pointer, self.message, self.hint)
    }
}

/// A spec that could not be loaded or linted.
#[derive(Debug)]
pub enum SpecError {
    /// The YAML could not be parsed as an OpenAPI document.
    Parse {
        file: String,
        line: Option<usize>,
        message: String,
    },
    /// The document parsed but uses constructs the generators cannot express.
    Lint {
        file: String,
        errors: Vec<LintError>,
    },
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Parse {
                file,
                line,
                message,
            } => {
                let at = line.map(|l| format!(":{l}")).unwrap_or_default();
                write!(
                    f,
                    "{file}{at}: not a valid OpenAPI 3.0 document: {message}; fix the YAML and run `cargo xtask gen` again"
                )
            }
            SpecError::Lint { file, errors } => {
                writeln!(
                    f,
                    "{file}: {} problem(s) the generators cannot express:",
                    errors.len()
                )?;
                for e in errors {
                    writeln!(f, "  {file}:{e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SpecError {}

/// A parsed spec with its source text, for line look-ups.
pub struct Spec {
    pub file: String,
    pub text: String,
    pub api: OpenAPI,
    /// The name generated identifiers carry (`{api_name}Api`); from the
    /// generator configuration.
    pub api_name: String,
    /// The document with its exact line index, parsed on first use.
    doc: std::sync::OnceLock<Option<openapi_doc::Document>>,
}

/// One operation with its path-level parameters merged in.
pub struct Op<'a> {
    pub path: &'a str,
    pub method: &'static str,
    pub op: &'a Operation,
    pub item: &'a PathItem,
    /// Pointer to the operation node, for messages.
    pub pointer: String,
}

impl<'a> Op<'a> {
    pub fn operation_id(&self) -> &'a str {
        self.op.operation_id.as_deref().unwrap_or("")
    }

    /// Path-item parameters first, overridden by operation parameters with
    /// the same name and location (OpenAPI 3.0 §4.7.9).
    pub fn parameters(&self, api: &'a OpenAPI) -> Vec<&'a Parameter> {
        let mut out: Vec<&'a Parameter> = Vec::new();
        for p in self.item.parameters.iter().chain(self.op.parameters.iter()) {
            if let Some(p) = resolve_parameter(api, p) {
                let data = p.parameter_data_ref();
                let loc = location(p);
                out.retain(|q| !(q.parameter_data_ref().name == data.name && location(q) == loc));
                out.push(p);
            }
        }
        out
    }
}

pub fn location(p: &Parameter) -> &'static str {
    match p {
        Parameter::Query { .. } => "query",
        Parameter::Header { .. } => "header",
        Parameter::Path { .. } => "path",
        Parameter::Cookie { .. } => "cookie",
    }
}

pub fn resolve_parameter<'a>(
    api: &'a OpenAPI,
    p: &'a ReferenceOr<Parameter>,
) -> Option<&'a Parameter> {
    match p {
        ReferenceOr::Item(p) => Some(p),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/parameters/")?;
            match api.components.as_ref()?.parameters.get(name)? {
                ReferenceOr::Item(p) => Some(p),
                ReferenceOr::Reference { .. } => None,
            }
        }
    }
}

pub fn resolve_response<'a>(
    api: &'a OpenAPI,
    r: &'a ReferenceOr<Response>,
) -> Option<&'a Response> {
    match r {
        ReferenceOr::Item(r) => Some(r),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/responses/")?;
            match api.components.as_ref()?.responses.get(name)? {
                ReferenceOr::Item(r) => Some(r),
                ReferenceOr::Reference { .. } => None,
            }
        }
    }
}

/// Escapes one JSON pointer segment (RFC 6901 §3): the shared reader's.
pub use openapi_doc::escape;

impl Spec {
    /// Parses the YAML text. Never panics, whatever the input.
    pub fn parse(file: &str, text: &str) -> Result<Spec, SpecError> {
        let api: OpenAPI = serde_norway::from_str(text).map_err(|e| SpecError::Parse {
            file: file.to_string(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        Ok(Spec {
            file: file.to_string(),
            text: text.to_string(),
            api,
            api_name: "OrderFlow".to_string(),
            doc: std::sync::OnceLock::new(),
        })
    }

    /// Every operation, in path order then method order.
    pub fn operations(&self) -> Vec<Op<'_>> {
        let mut out = Vec::new();
        for (path, item) in self.api.paths.paths.iter() {
            let ReferenceOr::Item(item) = item else {
                continue;
            };
            let methods: [(&'static str, &Option<Operation>); 8] = [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("OPTIONS", &item.options),
                ("HEAD", &item.head),
                ("PATCH", &item.patch),
                ("TRACE", &item.trace),
            ];
            for (method, op) in methods {
                if let Some(op) = op {
                    out.push(Op {
                        path,
                        method,
                        op,
                        item,
                        pointer: format!("/paths/{}/{}", escape(path), method.to_lowercase()),
                    });
                }
            }
        }
        out
    }

    /// The exact 1-based line of a JSON pointer in the spec, from the one
    /// OpenAPI document reader (`openapi-doc`, shared with break-diff). A
    /// pointer that names no node gives the line of its deepest existing
    /// ancestor, so a message about something missing still points close.
    pub fn line_of(&self, pointer: &str) -> Option<usize> {
        let doc = self
            .doc
            .get_or_init(|| openapi_doc::Document::parse(&self.file, &self.text).ok())
            .as_ref()?;
        let mut ptr = pointer;
        loop {
            if doc.at(ptr).is_some() {
                let line = doc.line(ptr);
                return (line > 0).then_some(line as usize);
            }
            match ptr.rfind('/') {
                Some(i) if i > 0 => ptr = &ptr[..i],
                _ => return None,
            }
        }
    }

    /// The root `x-rate-limit-policies`, in name order. Malformed entries
    /// are reported by the lint and skipped here.
    pub fn rate_limit_policies(&self) -> Vec<RateLimitPolicy> {
        self.policies_checked().0
    }

    fn policies_checked(&self) -> (Vec<RateLimitPolicy>, Vec<LintError>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let Some(root) = self.api.extensions.get("x-rate-limit-policies") else {
            return (out, errors);
        };
        let Some(map) = root.as_object() else {
            errors.push(self.err(
                "/x-rate-limit-policies".into(),
                "x-rate-limit-policies is not a mapping",
                "write `x-rate-limit-policies: {writes: {quota: 50, window: 1}}`",
            ));
            return (out, errors);
        };
        for (name, v) in map {
            let ptr = format!("/x-rate-limit-policies/{}", escape(name));
            let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !name_ok {
                errors.push(self.err(
                    ptr.clone(),
                    format!("policy name {name:?} is not a lower-case token"),
                    "use [a-z][a-z0-9_-]*: the name is sent in RateLimit headers as a Structured Field string",
                ));
                continue;
            }
            let num = |k: &str| {
                v.get(k)
                    .and_then(|x| x.as_u64())
                    .filter(|n| *n >= 1 && *n <= 1_000_000)
                    .map(|n| n as u32)
            };
            match (num("quota"), num("window")) {
                (Some(quota), Some(window)) => out.push(RateLimitPolicy {
                    name: name.clone(),
                    quota,
                    window,
                }),
                _ => errors.push(self.err(
                    ptr,
                    format!("policy {name:?} needs integer `quota` and `window` (seconds) between 1 and 1000000"),
                    "write e.g. `{quota: 50, window: 1}`",
                )),
            }
        }
        (out, errors)
    }

    /// The policy an operation names with `x-rate-limit-policy`, if any.
    pub fn op_policy<'o>(&self, op: &'o Op<'_>) -> Option<&'o str> {
        op.op
            .extensions
            .get("x-rate-limit-policy")
            .and_then(|v| v.as_str())
    }

    pub(crate) fn err(
        &self,
        pointer: String,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> LintError {
        LintError {
            line: self.line_of(&pointer),
            pointer,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// Every schema keyword outside the edge's one list
    /// (`orderflow_edge::keywords::Keyword`) and every `format` outside its
    /// formats, by name, with its line. Extensions (`x-...`) are allowed.
    fn schema_keywords(&self) -> Vec<LintError> {
        let Ok(root) = serde_norway::from_str::<serde_json::Value>(&self.text) else {
            return Vec::new();
        };
        let mut sites: Vec<(String, &serde_json::Value)> = Vec::new();
        if let Some(schemas) = root
            .pointer("/components/schemas")
            .and_then(|v| v.as_object())
        {
            for (name, schema) in schemas {
                sites.push((format!("/components/schemas/{}", escape(name)), schema));
            }
        }
        // Schemas under parameters, headers and media types, wherever they sit.
        fn collect<'v>(
            v: &'v serde_json::Value,
            ptr: String,
            out: &mut Vec<(String, &'v serde_json::Value)>,
        ) {
            let Some(map) = v.as_object() else {
                if let Some(items) = v.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        collect(item, format!("{ptr}/{i}"), out);
                    }
                }
                return;
            };
            for (k, child) in map {
                let cptr = format!("{ptr}/{}", escape(k));
                if k == "schema" {
                    out.push((cptr, child));
                } else if k != "schemas" && k != "examples" && k != "example" {
                    collect(child, cptr, out);
                }
            }
        }
        for top in ["paths", "components"] {
            if let Some(v) = root.get(top) {
                collect(v, format!("/{top}"), &mut sites);
            }
        }
        let mut errors = Vec::new();
        for (ptr, schema) in sites {
            self.check_schema(schema, &ptr, &mut errors, 0);
        }
        errors
    }

    fn check_schema(
        &self,
        schema: &serde_json::Value,
        ptr: &str,
        errors: &mut Vec<LintError>,
        depth: usize,
    ) {
        use orderflow_edge::keywords::{FORMATS, Keyword};
        let Some(map) = schema.as_object() else {
            return;
        };
        if depth > 64 {
            return;
        }
        for (k, v) in map {
            let kptr = format!("{ptr}/{}", escape(k));
            if k.starts_with("x-") {
                continue;
            }
            match Keyword::parse(k) {
                None => {
                    let supported: Vec<&str> = Keyword::ALL.iter().map(|k| k.name()).collect();
                    errors.push(self.err(
                        kptr,
                        format!("schema keyword `{k}` is not supported by the edge, so it would be ignored"),
                        format!("remove it or express it with the supported keywords: {}", supported.join(", ")),
                    ));
                }
                Some(Keyword::Properties) => {
                    if let Some(props) = v.as_object() {
                        for (name, p) in props {
                            self.check_schema(
                                p,
                                &format!("{kptr}/{}", escape(name)),
                                errors,
                                depth + 1,
                            );
                        }
                    }
                }
                Some(Keyword::Items) => self.check_schema(v, &kptr, errors, depth + 1),
                Some(Keyword::Format) => {
                    if let Some(f) = v.as_str()
                        && !FORMATS.contains(&f)
                    {
                        errors.push(self.err(
                            kptr,
                            format!(
                                "format `{f}` is not one the edge knows, so it would be ignored"
                            ),
                            format!(
                                "use one of {}, or describe the format in `description`",
                                FORMATS.join(", ")
                            ),
                        ));
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// Lints the whole document; returns every problem at once.
    pub fn lint(&self) -> Result<(), SpecError> {
        let mut errors = self.schema_keywords();
        errors.extend(crate::lifecycle::lint(self));
        errors.extend(crate::conditional::lint(self));
        let api = &self.api;
        let (policies, policy_errors) = self.policies_checked();
        errors.extend(policy_errors);
        if !api.openapi.starts_with("3.0.") {
            errors.push(self.err(
                "/openapi".into(),
                format!("version {:?} is not OpenAPI 3.0.x", api.openapi),
                "progenitor and openapiv3 read 3.0.x only; write `openapi: 3.0.3`",
            ));
        }
        for (path, item) in api.paths.paths.iter() {
            if let ReferenceOr::Reference { .. } = item {
                errors.push(self.err(
                    format!("/paths/{}", escape(path)),
                    "path item is a $ref",
                    "inline the path item; the generators do not follow path-item references",
                ));
            }
        }
        let mut seen_ids: BTreeMap<&str, String> = BTreeMap::new();
        let mut error_schema: Option<(String, String)> = None;
        for op in self.operations() {
            let ptr = &op.pointer;
            match op.op.operation_id.as_deref() {
                None | Some("") => errors.push(self.err(
                    ptr.clone(),
                    format!("{} {} has no operationId", op.method, op.path),
                    "add a unique camelCase `operationId`; dropshot and progenitor name functions after it",
                )),
                Some(id) => {
                    if !id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        || !id.chars().all(|c| c.is_ascii_alphanumeric())
                    {
                        errors.push(self.err(
                            format!("{ptr}/operationId"),
                            format!("operationId {id:?} is not camelCase ASCII"),
                            "use letters and digits only, starting lower-case, e.g. `listOrders`",
                        ));
                    }
                    if let Some(first) = seen_ids.insert(id, ptr.clone()) {
                        errors.push(self.err(
                            format!("{ptr}/operationId"),
                            format!("operationId {id:?} is also used at {first}"),
                            "operationIds must be unique",
                        ));
                    }
                }
            }
            if op.op.description.as_deref().unwrap_or("").is_empty() {
                errors.push(self.err(
                    ptr.clone(),
                    "operation has no description",
                    "describe what the operation does and who may call it",
                ));
            }
            // Rate limiting: the policy exists, and its 429 and headers are
            // documented, so that the contract says what the edge does.
            let policy = op.op.extensions.get("x-rate-limit-policy");
            let success_headers: Vec<String> = op
                .op
                .responses
                .responses
                .iter()
                .filter(|(c, _)| matches!(c, StatusCode::Code(c) if (200..300).contains(c)))
                .filter_map(|(_, r)| resolve_response(api, r))
                .flat_map(|r| r.headers.keys().cloned())
                .collect();
            match policy {
                None => {
                    for h in ["RateLimit", "RateLimit-Policy"] {
                        if success_headers.iter().any(|x| x == h) {
                            errors.push(self.err(
                                format!("{ptr}/x-rate-limit-policy"),
                                format!(
                                    "{h} is declared but the operation names no x-rate-limit-policy"
                                ),
                                "name a policy from x-rate-limit-policies, or drop the header",
                            ));
                        }
                    }
                }
                Some(v) => match v.as_str() {
                    Some(name) if policies.iter().any(|p| p.name == name) => {
                        if !op
                            .op
                            .responses
                            .responses
                            .contains_key(&StatusCode::Code(429))
                        {
                            errors.push(self.err(
                                format!("{ptr}/responses"),
                                "a rate-limited operation does not document 429",
                                "add `'429': $ref: '#/components/responses/TooManyRequests'`",
                            ));
                        }
                        for h in ["RateLimit", "RateLimit-Policy"] {
                            if !success_headers.iter().any(|x| x == h) {
                                errors.push(self.err(
                                    format!("{ptr}/responses"),
                                    format!("a rate-limited operation does not document the {h} response header"),
                                    "every limited response carries RateLimit and RateLimit-Policy; declare both",
                                ));
                            }
                        }
                    }
                    _ => errors.push(self.err(
                        format!("{ptr}/x-rate-limit-policy"),
                        format!(
                            "x-rate-limit-policy {v} is not declared under x-rate-limit-policies"
                        ),
                        format!(
                            "use one of {:?}",
                            policies.iter().map(|p| p.name.as_str()).collect::<Vec<_>>()
                        ),
                    )),
                },
            }
            let idempotent = op.parameters(api).iter().any(|p| {
                matches!(p, Parameter::Header { .. })
                    && p.parameter_data_ref()
                        .name
                        .eq_ignore_ascii_case("Idempotency-Key")
            });
            if success_headers.iter().any(|h| h == "Idempotent-Replayed") && !idempotent {
                errors.push(self.err(
                    format!("{ptr}/responses"),
                    "Idempotent-Replayed is declared but the operation has no Idempotency-Key header",
                    "declare an `Idempotency-Key` header parameter, or drop the header",
                ));
            }
            // Parameters.
            for p in op.item.parameters.iter().chain(op.op.parameters.iter()) {
                if resolve_parameter(api, p).is_none() {
                    errors.push(self.err(
                        format!("{ptr}/parameters"),
                        "a parameter $ref does not resolve to #/components/parameters/<name>",
                        "point the $ref at an existing component parameter",
                    ));
                }
            }
            for p in op.parameters(api) {
                let data = p.parameter_data_ref();
                let pptr = format!("{ptr}/parameters ({} {:?})", location(p), data.name);
                let style_ok = match p {
                    Parameter::Query { style, .. } => matches!(style, openapiv3::QueryStyle::Form),
                    Parameter::Path { style, .. } => matches!(style, openapiv3::PathStyle::Simple),
                    Parameter::Header { style, .. } => {
                        matches!(style, openapiv3::HeaderStyle::Simple)
                    }
                    Parameter::Cookie { .. } => false,
                };
                if matches!(p, Parameter::Cookie { .. }) {
                    errors.push(self.err(
                        pptr.clone(),
                        "cookie parameters are not supported",
                        "use a header or query parameter",
                    ));
                } else if !style_ok || data.explode == Some(false) {
                    errors.push(self.err(
                        pptr.clone(),
                        "unsupported parameter style",
                        "use the default style (form for query, simple for path and header)",
                    ));
                }
                match &data.format {
                    ParameterSchemaOrContent::Content(_) => errors.push(self.err(
                        pptr.clone(),
                        "parameter uses `content` instead of `schema`",
                        "give the parameter a `schema`",
                    )),
                    ParameterSchemaOrContent::Schema(s) => {
                        if let Some(kind) = self.scalar_kind(s)
                            && !kind
                        {
                            errors.push(self.err(
                                    pptr.clone(),
                                    "parameter schema is not a scalar (string, integer, number, boolean or string enum)",
                                    "dropshot reads parameters into scalar fields; use a request body for structured input",
                                ));
                        }
                    }
                }
                if matches!(p, Parameter::Path { .. })
                    && !op.path.contains(&format!("{{{}}}", data.name))
                {
                    errors.push(self.err(
                        pptr.clone(),
                        format!(
                            "path parameter {:?} does not appear in the path template",
                            data.name
                        ),
                        "rename the parameter or the template variable so they match",
                    ));
                }
            }
            // Request body.
            if let Some(body) = &op.op.request_body {
                match body {
                    ReferenceOr::Reference { .. } => errors.push(self.err(
                        format!("{ptr}/requestBody"),
                        "request body is a $ref",
                        "inline the request body and $ref its schema instead",
                    )),
                    ReferenceOr::Item(body) => {
                        let keys: Vec<&String> = body.content.keys().collect();
                        if keys.len() != 1 || keys[0] != "application/json" {
                            errors.push(self.err(
                                format!("{ptr}/requestBody/content"),
                                format!("request body media types {keys:?}"),
                                "declare exactly one media type, application/json",
                            ));
                        }
                        if !body.required {
                            errors.push(self.err(
                                format!("{ptr}/requestBody/required"),
                                "optional request bodies are not supported",
                                "set `required: true`",
                            ));
                        }
                    }
                }
            }
            // Responses.
            let mut successes = Vec::new();
            if op.op.responses.default.is_some() {
                errors.push(self.err(
                    format!("{ptr}/responses/default"),
                    "a `default` response is not supported",
                    "list each status code; errors share the Problem schema",
                ));
            }
            for (code, resp) in op.op.responses.responses.iter() {
                let code_str = match code {
                    StatusCode::Code(c) => c.to_string(),
                    StatusCode::Range(r) => format!("{r}XX"),
                };
                let rptr = format!("{ptr}/responses/{code_str}");
                let Some(resp) = resolve_response(api, resp) else {
                    errors.push(self.err(
                        rptr,
                        "response $ref does not resolve to #/components/responses/<name>",
                        "point the $ref at an existing component response",
                    ));
                    continue;
                };
                let is_success = matches!(code, StatusCode::Code(c) if (200..300).contains(c));
                let is_error = matches!(code, StatusCode::Code(c) if *c >= 400)
                    || matches!(code, StatusCode::Range(r) if *r >= 4);
                if is_success {
                    successes.push(code_str.clone());
                    let allowed = ["200", "201", "202", "204"];
                    if !allowed.contains(&code_str.as_str()) {
                        errors.push(self.err(
                            rptr.clone(),
                            format!("success status {code_str} has no dropshot response type"),
                            "use 200, 201, 202 or 204",
                        ));
                    }
                    for name in resp.headers.keys() {
                        if !EDGE_RESPONSE_HEADERS.contains(&name.as_str()) {
                            errors.push(self.err(
                                format!("{rptr}/headers/{}", escape(name)),
                                format!("response header {name:?} is not one the generated edge can fill"),
                                format!("declare only {EDGE_RESPONSE_HEADERS:?}, or teach xtask/src/gen_server.rs to fill it"),
                            ));
                        }
                    }
                    if resp.headers.contains_key("Location") && code_str != "201" {
                        errors.push(self.err(
                            format!("{rptr}/headers/Location"),
                            "Location declared on a response that is not 201",
                            "only creations return Location",
                        ));
                    }
                    if code_str == "204" && !resp.content.is_empty() {
                        errors.push(self.err(
                            format!("{rptr}/content"),
                            "a 204 response declares content",
                            "drop the content or use 200",
                        ));
                    }
                    if code_str != "204" {
                        let keys: Vec<&String> = resp.content.keys().collect();
                        if keys.len() != 1 || keys[0] != "application/json" {
                            errors.push(self.err(
                                format!("{rptr}/content"),
                                format!("success media types {keys:?}"),
                                "declare exactly one media type, application/json, with a $ref schema",
                            ));
                        } else if !matches!(
                            resp.content["application/json"].schema,
                            Some(ReferenceOr::Reference { .. })
                        ) {
                            errors.push(self.err(
                                format!("{rptr}/content/application~1json/schema"),
                                "success schema is inline",
                                "$ref a named schema in #/components/schemas so both generators share its name",
                            ));
                        } else if resp.headers.contains_key("Link")
                            && !op.op.deprecated
                            && !self.schema_has_next_cursor(resp)
                        {
                            errors.push(self.err(
                                format!("{rptr}/headers/Link"),
                                "Link declared but the body has no `next_cursor` property",
                                "the edge builds Link from next_cursor; add it to the page schema",
                            ));
                        }
                    }
                } else if is_error {
                    let schema = resp
                        .content
                        .iter()
                        .map(|(mt, m)| {
                            let s = match &m.schema {
                                Some(ReferenceOr::Reference { reference }) => reference.clone(),
                                Some(ReferenceOr::Item(_)) => "<inline>".to_string(),
                                None => "<none>".to_string(),
                            };
                            format!("{mt} {s}")
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    match &error_schema {
                        None => error_schema = Some((schema, rptr.clone())),
                        Some((first, at)) if *first != schema => errors.push(self.err(
                            rptr.clone(),
                            format!("error response schema `{schema}` differs from `{first}` at {at}"),
                            "every error response must share one schema (progenitor and dropshot allow one error type)",
                        )),
                        Some(_) => {}
                    }
                } else if code_str == "304" {
                    // The edge answers a conditional GET itself; the 304
                    // carries no content and is only valid where the
                    // request can be conditional.
                    let conditional = op.parameters(api).iter().any(|p| {
                        matches!(p, Parameter::Header { .. })
                            && p.parameter_data_ref()
                                .name
                                .eq_ignore_ascii_case("If-None-Match")
                    });
                    if !conditional || !resp.content.is_empty() {
                        errors.push(self.err(
                            rptr,
                            "a 304 on an operation without an If-None-Match header, or with content",
                            "declare the If-None-Match header parameter, and no content on the 304",
                        ));
                    }
                } else {
                    errors.push(self.err(
                        rptr,
                        format!("status {code_str} is neither 2xx nor an error"),
                        "redirects and informational statuses are not supported",
                    ));
                }
            }
            if successes.len() != 1 {
                errors.push(self.err(
                    format!("{ptr}/responses"),
                    format!("{} success statuses {:?}", successes.len(), successes),
                    "declare exactly one 2xx response; dropshot has one success status per operation",
                ));
            }
            if let Some(sec) = &op.op.security {
                for req in sec {
                    for name in req.keys() {
                        if name != "bearerAuth" {
                            errors.push(self.err(
                                format!("{ptr}/security"),
                                format!("security scheme {name:?} is not supported by the edge"),
                                "use `bearerAuth` or `[]`",
                            ));
                        }
                    }
                }
            }
        }
        for required in ["Problem", "FieldError"] {
            if self
                .component_schema(&format!("#/components/schemas/{required}"))
                .is_none()
            {
                errors.push(self.err(
                    "/components/schemas".into(),
                    format!("schema {required:?} is missing"),
                    "the generated edge renders every error as an RFC 9457 `Problem` with `FieldError` entries; declare both",
                ));
            }
        }
        if let Some((first, at)) = &error_schema
            && !first.contains("#/components/schemas/Problem")
        {
            errors.push(self.err(
                at.clone(),
                format!("error schema `{first}` is not #/components/schemas/Problem"),
                "errors are RFC 9457 problem details: $ref #/components/schemas/Problem",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Lint {
                file: self.file.clone(),
                errors,
            })
        }
    }

    /// Whether the response's JSON body is a named schema with a
    /// `next_cursor` property (a list page).
    pub(crate) fn schema_has_next_cursor(&self, resp: &Response) -> bool {
        let Some(ReferenceOr::Reference { reference }) = resp
            .content
            .get("application/json")
            .and_then(|m| m.schema.as_ref())
        else {
            return false;
        };
        match self.component_schema(reference) {
            Some(Schema {
                schema_kind: SchemaKind::Type(Type::Object(o)),
                ..
            }) => o.properties.contains_key("next_cursor"),
            _ => false,
        }
    }

    pub fn component_schema(&self, reference: &str) -> Option<&Schema> {
        let name = reference.strip_prefix("#/components/schemas/")?;
        match self.api.components.as_ref()?.schemas.get(name)? {
            ReferenceOr::Item(s) => Some(s),
            ReferenceOr::Reference { reference } => self.component_schema(reference),
        }
    }

    /// `Some(true)` for a scalar schema, `Some(false)` for a structured one,
    /// `None` when a $ref does not resolve (reported elsewhere).
    fn scalar_kind(&self, s: &ReferenceOr<Schema>) -> Option<bool> {
        let schema = match s {
            ReferenceOr::Item(s) => s,
            ReferenceOr::Reference { reference } => self.component_schema(reference)?,
        };
        Some(matches!(
            &schema.schema_kind,
            SchemaKind::Type(
                Type::String(_) | Type::Integer(_) | Type::Number(_) | Type::Boolean(_)
            )
        ))
    }
}
