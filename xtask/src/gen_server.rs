//! Emits `server-api/src/api.rs`: types (typify), constraint rules, operation
//! metadata, the handlers trait, the `#[dropshot::api_description]` trait and
//! the edge implementation that wraps every handler in the same steps.
//!
//! It assumes a spec that passed [`crate::spec::Spec::lint`]; anything the
//! lint lets through must generate code that compiles. It does not format
//! or write files (see `crate::render`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, anyhow};
use openapiv3::{Parameter, ParameterSchemaOrContent, ReferenceOr, StatusCode};
use serde_json::{Map, Value, json};

use crate::spec::{Op, Spec, location, resolve_response};

/// Keywords serde cannot enforce without stopping at the first violation;
/// the edge's validator enforces them from the generated rules instead.
const CONSTRAINT_KEYWORDS: &[&str] = &[
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
];

pub fn pascal(id: &str) -> String {
    let mut s = String::new();
    let mut upper = true;
    for c in id.chars() {
        if c == '_' || c == '-' {
            upper = true;
        } else if upper {
            s.extend(c.to_uppercase());
            upper = false;
        } else {
            s.push(c);
        }
    }
    s
}

pub fn snake(id: &str) -> String {
    let mut s = String::new();
    for (i, c) in id.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// OpenAPI 3.0 schema JSON to JSON Schema as typify reads it: `nullable`
/// becomes a type union, examples go, and (for server types) the
/// constraint keywords go.
pub fn to_json_schema(v: &Value, strip_constraints: bool) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            let nullable = map.get("nullable") == Some(&Value::Bool(true));
            for (k, val) in map {
                if k == "nullable" || k == "example" || k == "examples" {
                    continue;
                }
                if strip_constraints && CONSTRAINT_KEYWORDS.contains(&k.as_str()) {
                    continue;
                }
                let converted = match k.as_str() {
                    "properties" => Value::Object(
                        val.as_object()
                            .map(|m| {
                                m.iter()
                                    .map(|(pk, pv)| {
                                        (pk.clone(), to_json_schema(pv, strip_constraints))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    ),
                    "enum" | "required" | "default" => val.clone(),
                    _ => to_json_schema(val, strip_constraints),
                };
                out.insert(k.clone(), converted);
            }
            if nullable && let Some(Value::String(t)) = out.get("type").cloned() {
                out.insert("type".into(), json!([t, "null"]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| to_json_schema(x, strip_constraints))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The constraint subset of a schema, for the edge's validator.
pub fn rules_of(v: &Value) -> Value {
    let Some(map) = v.as_object() else {
        return Value::Null;
    };
    let mut out = Map::new();
    for (k, val) in map {
        match k.as_str() {
            "$ref" => {
                out.insert(k.clone(), val.clone());
            }
            "properties" => {
                let props: Map<String, Value> = val
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(pk, pv)| (pk.clone(), rules_of(pv)))
                            .filter(|(_, pv)| pv.as_object().is_some_and(|o| !o.is_empty()))
                            .collect()
                    })
                    .unwrap_or_default();
                if !props.is_empty() {
                    out.insert(k.clone(), Value::Object(props));
                }
            }
            "items" => {
                let r = rules_of(val);
                if r.as_object().is_some_and(|o| !o.is_empty()) {
                    out.insert(k.clone(), r);
                }
            }
            k2 if CONSTRAINT_KEYWORDS.contains(&k2) => {
                out.insert(k.clone(), val.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

fn schema_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).context("re-encoding a spec schema as JSON")
}

fn to_schemars(v: Value) -> Result<schemars::schema::Schema> {
    serde_json::from_value(v).context("converting a spec schema for typify")
}

struct Params<'a> {
    path: Vec<&'a Parameter>,
    query: Vec<&'a Parameter>,
    header: Vec<&'a Parameter>,
}

fn params_object(params: &[&Parameter], strip: bool) -> Result<Value> {
    let mut props = Map::new();
    let mut required = Vec::new();
    for p in params {
        let data = p.parameter_data_ref();
        let ParameterSchemaOrContent::Schema(s) = &data.format else {
            return Err(anyhow!("parameter {:?} has no schema", data.name));
        };
        let mut schema = to_json_schema(&schema_json(s)?, strip);
        if let (Some(desc), Some(obj)) = (&data.description, schema.as_object_mut())
            && !obj.contains_key("$ref")
        {
            obj.insert("description".into(), Value::String(desc.clone()));
        }
        props.insert(data.name.clone(), schema);
        if data.required {
            required.push(Value::String(data.name.clone()));
        }
    }
    Ok(json!({"type": "object", "properties": props, "required": required}))
}

fn params_rules(params: &[&Parameter]) -> Result<String> {
    let obj = params_object(params, false)?;
    Ok(serde_json::to_string(&rules_of(&obj))?)
}

struct OpPlan {
    id: String,
    snake: String,
    pascal: String,
    method: String,
    path: String,
    tags: Vec<String>,
    authenticated: bool,
    idempotency_key: bool,
    success: u16,
    body_type: Option<String>,
    response_type: Option<String>,
    has_path: bool,
    has_query: bool,
    has_header: bool,
    headers: Vec<String>,
    rules: BTreeMap<&'static str, String>,
    deprecated: bool,
    summary: String,
    policy: Option<String>,
}

fn ref_name(r: &ReferenceOr<openapiv3::Schema>) -> Option<String> {
    match r {
        ReferenceOr::Reference { reference } => reference.rsplit('/').next().map(str::to_string),
        ReferenceOr::Item(_) => None,
    }
}

fn plan_op<'a>(spec: &'a Spec, op: &Op<'a>) -> Result<(OpPlan, Params<'a>)> {
    let api = &spec.api;
    let id = op.operation_id().to_string();
    let all = op.parameters(api);
    let params = Params {
        path: all
            .iter()
            .copied()
            .filter(|p| location(p) == "path")
            .collect(),
        query: all
            .iter()
            .copied()
            .filter(|p| location(p) == "query")
            .collect(),
        header: all
            .iter()
            .copied()
            .filter(|p| location(p) == "header")
            .collect(),
    };
    let idempotency_key = params.header.iter().any(|p| {
        let d = p.parameter_data_ref();
        d.name.eq_ignore_ascii_case("Idempotency-Key") && d.required
    });
    let body_type = match &op.op.request_body {
        Some(ReferenceOr::Item(b)) => {
            let media = b
                .content
                .get("application/json")
                .ok_or_else(|| anyhow!("{}: request body is not application/json", op.pointer))?;
            let schema = media
                .schema
                .as_ref()
                .ok_or_else(|| anyhow!("{}: request body has no schema", op.pointer))?;
            Some(ref_name(schema).ok_or_else(|| {
                anyhow!(
                    "{}: request body schema must be a $ref to a named schema",
                    op.pointer
                )
            })?)
        }
        _ => None,
    };
    let mut success = 0u16;
    let mut response_type = None;
    let mut headers = Vec::new();
    for (code, resp) in op.op.responses.responses.iter() {
        let StatusCode::Code(c) = code else { continue };
        if !(200..300).contains(c) {
            continue;
        }
        success = *c;
        let resp = resolve_response(api, resp)
            .ok_or_else(|| anyhow!("{}: unresolved response", op.pointer))?;
        headers = resp.headers.keys().cloned().collect();
        if let Some(m) = resp.content.get("application/json") {
            response_type = m.schema.as_ref().and_then(ref_name);
        }
    }
    let authenticated = match &op.op.security {
        Some(s) => !s.is_empty() && s.iter().any(|r| !r.is_empty()),
        None => api.security.as_ref().is_some_and(|s| !s.is_empty()),
    };
    let mut rules = BTreeMap::new();
    if !params.path.is_empty() {
        rules.insert("PATH", params_rules(&params.path)?);
    }
    if !params.query.is_empty() {
        rules.insert("QUERY", params_rules(&params.query)?);
    }
    if !params.header.is_empty() {
        rules.insert("HEADERS", params_rules(&params.header)?);
    }
    if let Some(b) = &body_type {
        rules.insert(
            "BODY",
            json!({"$ref": format!("#/components/schemas/{b}")}).to_string(),
        );
    }
    Ok((
        OpPlan {
            snake: snake(&id),
            pascal: pascal(&id),
            id,
            method: op.method.to_string(),
            path: op.path.to_string(),
            tags: op.op.tags.clone(),
            authenticated,
            idempotency_key,
            success,
            body_type,
            response_type,
            has_path: !params.path.is_empty(),
            has_query: !params.query.is_empty(),
            has_header: !params.header.is_empty(),
            headers,
            rules,
            deprecated: op.op.deprecated,
            summary: op.op.summary.clone().unwrap_or_default(),
            policy: spec.op_policy(op).map(str::to_string),
        },
        params,
    ))
}

/// Generates the unformatted token stream of `server-api/src/api.rs`.
pub fn generate(spec: &Spec) -> Result<proc_macro2::TokenStream> {
    let api = &spec.api;
    let mut settings = typify::TypeSpaceSettings::default();
    settings
        .with_derive("schemars::JsonSchema".to_string())
        .with_struct_builder(false);
    let mut space = typify::TypeSpace::new(&settings);

    // Component schemas, constraints stripped (the edge checks them).
    let mut component_rules = Map::new();
    let mut defs = Vec::new();
    if let Some(components) = &api.components {
        for (name, schema) in components.schemas.iter() {
            let raw = schema_json(schema)?;
            component_rules.insert(name.clone(), rules_of(&raw));
            defs.push((name.clone(), to_schemars(to_json_schema(&raw, true))?));
        }
    }
    space
        .add_ref_types(defs)
        .map_err(|e| anyhow!("typify rejected the component schemas: {e}"))?;

    let mut plans = Vec::new();
    for op in spec.operations() {
        let (plan, params) = plan_op(spec, &op)?;
        for (suffix, list) in [
            ("Path", &params.path),
            ("Query", &params.query),
            ("Headers", &params.header),
        ] {
            if list.is_empty() {
                continue;
            }
            let name = format!("{}{suffix}", plan.pascal);
            let mut obj = params_object(list, true)?;
            if let Some(o) = obj.as_object_mut() {
                o.insert(
                    "description".into(),
                    Value::String(format!(
                        "The {} parameters of `{}`.",
                        suffix.to_lowercase(),
                        plan.id
                    )),
                );
            }
            space
                .add_type_with_name(&to_schemars(obj)?, Some(name.clone()))
                .map_err(|e| anyhow!("typify rejected the parameters of {}: {e}", plan.id))?;
        }
        plans.push(plan);
    }
    let types = space.to_stream();

    let mut src = String::new();
    let spec_name = "spec/orderflow.yaml";
    writeln!(
        src,
        "#![allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]"
    )?;
    writeln!(
        src,
        "//! The OrderFlow API trait, types and edge, generated from `{spec_name}`."
    )?;
    writeln!(src, "use std::sync::Arc;")?;
    writeln!(src, "use async_trait::async_trait;")?;
    writeln!(
        src,
        "use dropshot::{{Header, HttpResponseCreated, HttpResponseDeleted, HttpResponseHeaders, HttpResponseOk, HttpResponseAccepted, HttpResponseUpdatedNoContent, Path, Query, RequestContext, TypedBody}};"
    )?;
    writeln!(
        src,
        "use crate::edge::{{self, Call, Checked, CheckedBody, Created, Guard, OperationMeta, Reply}};"
    )?;
    writeln!(src, "use crate::problem::ApiError;")?;
    writeln!(
        src,
        "/// Request and response types, generated by typify from the spec's schemas."
    )?;
    writeln!(src, "pub mod types {{ {types} }}")?;
    writeln!(
        src,
        "/// The spec's value constraints per component schema, enforced by `crate::validate`."
    )?;
    writeln!(
        src,
        "pub const COMPONENT_RULES: &str = {:?};",
        serde_json::to_string(&Value::Object(component_rules))?
    )?;

    // Operation metadata.
    writeln!(src, "/// What the spec says about each operation.")?;
    writeln!(
        src,
        "pub mod ops {{ use crate::edge::{{OperationMeta, RateLimitPolicy}};"
    )?;
    let policies = spec.rate_limit_policies();
    for pol in &policies {
        writeln!(
            src,
            "/// Rate-limit policy `{}`: {} requests per {} s.\npub static POLICY_{}: RateLimitPolicy = RateLimitPolicy {{ name: {:?}, quota: {}, window_seconds: {} }};",
            pol.name,
            pol.quota,
            pol.window,
            policy_ident(&pol.name),
            pol.name,
            pol.quota,
            pol.window
        )?;
    }
    writeln!(
        src,
        "/// Every rate-limit policy the spec declares.\npub static RATE_LIMIT_POLICIES: &[&RateLimitPolicy] = &[{}];",
        policies
            .iter()
            .map(|p| format!("&POLICY_{}", policy_ident(&p.name)))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    for p in &plans {
        let rate_limit = match &p.policy {
            Some(name) => format!("Some(&POLICY_{})", policy_ident(name)),
            None => "None".to_string(),
        };
        writeln!(
            src,
            "/// `{} {}`: {}\npub static {}: OperationMeta = OperationMeta {{ operation_id: {:?}, method: {:?}, route: {:?}, authenticated: {}, idempotency_key: {}, success_status: {}, rate_limit: {rate_limit} }};",
            p.method,
            p.path,
            p.summary,
            p.snake.to_uppercase(),
            p.id,
            p.method,
            p.path,
            p.authenticated,
            p.idempotency_key,
            p.success
        )?;
    }
    writeln!(
        src,
        "/// Every operation, in spec order.\npub static ALL: &[&OperationMeta] = &[{}];",
        plans
            .iter()
            .map(|p| format!("&{}", p.snake.to_uppercase()))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(src, "}}")?;

    // Constraint rules per operation.
    writeln!(src, "/// Constraint rules of each operation's inputs.")?;
    writeln!(src, "pub mod rules {{")?;
    for p in &plans {
        for (kind, json) in &p.rules {
            writeln!(
                src,
                "pub const {}_{kind}: &str = {:?};",
                p.snake.to_uppercase(),
                json
            )?;
        }
    }
    writeln!(src, "}}")?;

    // Response header structs.
    writeln!(
        src,
        "/// The documented response headers of each operation."
    )?;
    writeln!(src, "pub mod headers {{")?;
    for p in &plans {
        if p.headers.is_empty() {
            continue;
        }
        writeln!(
            src,
            "/// Response headers of `{}`.\n#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)] pub struct {}ResponseHeaders {{",
            p.id, p.pascal
        )?;
        for h in &p.headers {
            let (field, ty, doc) = header_field(h)?;
            let skip = if ty.starts_with("Option") {
                "#[serde(skip_serializing_if = \"Option::is_none\")]"
            } else {
                ""
            };
            writeln!(
                src,
                "/// {doc}\n#[serde(rename = {h:?})] {skip} pub {field}: {ty},"
            )?;
        }
        writeln!(src, "}}")?;
    }
    writeln!(src, "}}")?;

    // Handlers trait.
    writeln!(
        src,
        "/// The business logic of every operation, implemented by hand in `server/`.\n/// The edge has already authenticated the caller and validated every input\n/// against the spec when these run.\n#[async_trait] pub trait OrderFlowHandlers: Send + Sync + 'static {{"
    )?;
    for p in &plans {
        writeln!(
            src,
            "/// `{} {}`: {}\nasync fn {}(&self, call: &Call{}) -> Result<{}, ApiError>;",
            p.method,
            p.path,
            p.summary,
            p.snake,
            handler_args(p),
            handler_return(p)
        )?;
    }
    writeln!(src, "}}")?;

    writeln!(
        src,
        "/// The server context: the hand-written handlers and policy guard.\npub struct EdgeContext {{ pub handlers: Arc<dyn OrderFlowHandlers>, pub guard: Arc<dyn Guard> }}"
    )?;

    // dropshot trait.
    writeln!(
        src,
        "/// The API as dropshot sees it. `order_flow_api_mod::stub_api_description()`\n/// yields the OpenAPI document this trait serves, which the drift check\n/// compares with the spec.\n#[dropshot::api_description] pub trait OrderFlowApi {{ type Context;"
    )?;
    for p in &plans {
        let tags = p
            .tags
            .iter()
            .map(|t| format!("{t:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let deprecated = if p.deprecated {
            ", deprecated = true"
        } else {
            ""
        };
        writeln!(
            src,
            "/// {}\n#[endpoint {{ method = {}, path = {:?}, operation_id = {:?}, tags = [{tags}]{deprecated} }}]\nasync fn {}(rqctx: RequestContext<Self::Context>{}) -> Result<Reply<{}>, types::Problem>;",
            p.summary,
            p.method,
            p.path,
            p.id,
            p.snake,
            endpoint_args(p),
            response_type(p)
        )?;
    }
    writeln!(src, "}}")?;

    // The edge: the one implementation of the dropshot trait.
    writeln!(
        src,
        "/// The edge: implements the dropshot trait by running the same steps\n/// around every handler.\npub enum OrderFlowEdge {{}}"
    )?;
    writeln!(
        src,
        "impl OrderFlowApi for OrderFlowEdge {{ type Context = EdgeContext;"
    )?;
    for p in &plans {
        let upper = p.snake.to_uppercase();
        let mut unwrap = String::new();
        let mut args = Vec::new();
        for (flag, var, kind) in [
            (p.has_path, "path", "PATH"),
            (p.has_query, "query", "QUERY"),
            (p.has_header, "headers", "HEADERS"),
        ] {
            if flag {
                writeln!(
                    unwrap,
                    "let {var} = edge::param({var}.0.map(|v| v.into_inner()), rules::{upper}_{kind})?;"
                )?;
                args.push(var.to_string());
            }
        }
        if p.body_type.is_some() {
            writeln!(
                unwrap,
                "let body = edge::body(body.0.map(|v| v.into_inner()), rules::{upper}_BODY)?;"
            )?;
            args.push("body".into());
        }
        let call_args = if args.is_empty() {
            String::new()
        } else {
            format!(", {}", args.join(", "))
        };
        let claim = if p.idempotency_key {
            "if let Some(replay) = match edge::claim(&mut call, guard, &body).await {
                Ok(replay) => replay,
                Err(e) => return Ok(edge::fail(&call, guard, e).await),
            } {
                return Ok(edge::replay(&call, replay));
            }"
            .to_string()
        } else {
            String::new()
        };
        let mutable = if p.idempotency_key { "mut " } else { "" };
        let bind = match args.len() {
            0 => "()".to_string(),
            1 => args[0].clone(),
            _ => format!("({})", args.join(", ")),
        };
        writeln!(
            src,
            "async fn {snake}(rqctx: RequestContext<EdgeContext>{eargs}) -> Result<Reply<{rtype}>, types::Problem> {{
                let cx = rqctx.context();
                let guard = &*cx.guard;
                let {mutable}call = match edge::begin(&ops::{upper}, &rqctx, guard).await {{
                    Ok(call) => call,
                    Err((call, e)) => return Ok(edge::fail(&call, guard, e).await),
                }};
                let input = (|| -> Result<_, ApiError> {{
                    {unwrap}
                    Ok({bind})
                }})();
                let {bind} = match input {{
                    Ok(v) => v,
                    Err(e) => return Ok(edge::fail(&call, guard, e).await),
                }};
                {claim}
                let result = cx.handlers.{snake}(&call{call_args}).await;
                Ok(edge::finish(&call, guard, result, {build}).await)
            }}",
            snake = p.snake,
            eargs = endpoint_args(p),
            rtype = response_type(p),
            build = build_closure(p)?,
        )?;
    }
    writeln!(src, "}}")?;

    src.parse::<proc_macro2::TokenStream>()
        .map_err(|e| anyhow!("internal: generated server code does not tokenize: {e}"))
}

fn policy_ident(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

fn header_field(name: &str) -> Result<(&'static str, &'static str, &'static str)> {
    match name {
        "RateLimit" => Ok((
            "rate_limit",
            "String",
            "Remaining quota under the operation's policy.",
        )),
        "RateLimit-Policy" => Ok((
            "rate_limit_policy",
            "String",
            "The operation's rate-limit policy.",
        )),
        "Idempotent-Replayed" => Ok((
            "idempotent_replayed",
            "Option<String>",
            "`true` on a replayed response; absent otherwise.",
        )),
        "X-Request-Id" => Ok(("x_request_id", "String", "The request's id.")),
        "Location" => Ok((
            "location",
            "String",
            "The URL path of the created resource.",
        )),
        "Link" => Ok((
            "link",
            "Option<String>",
            "The next page (`rel=\"next\"`), absent on the last page.",
        )),
        other => Err(anyhow!(
            "response header {other:?} is not one the edge can fill"
        )),
    }
}

fn handler_args(p: &OpPlan) -> String {
    let mut s = String::new();
    if p.has_path {
        let _ = write!(s, ", path: types::{}Path", p.pascal);
    }
    if p.has_query {
        let _ = write!(s, ", query: types::{}Query", p.pascal);
    }
    if p.has_header {
        let _ = write!(s, ", headers: types::{}Headers", p.pascal);
    }
    if let Some(b) = &p.body_type {
        let _ = write!(s, ", body: types::{b}");
    }
    s
}

fn endpoint_args(p: &OpPlan) -> String {
    let mut s = String::new();
    if p.has_path {
        let _ = write!(s, ", path: Checked<Path<types::{}Path>>", p.pascal);
    }
    if p.has_query {
        let _ = write!(s, ", query: Checked<Query<types::{}Query>>", p.pascal);
    }
    if p.has_header {
        let _ = write!(s, ", headers: Checked<Header<types::{}Headers>>", p.pascal);
    }
    if let Some(b) = &p.body_type {
        let _ = write!(s, ", body: CheckedBody<TypedBody<types::{b}>>");
    }
    s
}

fn body_ty(p: &OpPlan) -> String {
    p.response_type
        .as_ref()
        .map(|t| format!("types::{t}"))
        .unwrap_or_else(|| "()".into())
}

fn handler_return(p: &OpPlan) -> String {
    match p.success {
        201 => format!("Created<{}>", body_ty(p)),
        204 => "()".into(),
        _ => body_ty(p),
    }
}

fn inner_response(p: &OpPlan) -> String {
    match p.success {
        201 => format!("HttpResponseCreated<{}>", body_ty(p)),
        202 => format!("HttpResponseAccepted<{}>", body_ty(p)),
        204 if p.method == "DELETE" => "HttpResponseDeleted".into(),
        204 => "HttpResponseUpdatedNoContent".into(),
        _ => format!("HttpResponseOk<{}>", body_ty(p)),
    }
}

fn response_type(p: &OpPlan) -> String {
    if p.headers.is_empty() {
        inner_response(p)
    } else {
        format!(
            "HttpResponseHeaders<{}, headers::{}ResponseHeaders>",
            inner_response(p),
            p.pascal
        )
    }
}

fn build_closure(p: &OpPlan) -> Result<String> {
    let (pat, body_expr) = match p.success {
        201 => (
            "created: Created<_>",
            "HttpResponseCreated(created.body)".to_string(),
        ),
        202 => ("value", "HttpResponseAccepted(value)".to_string()),
        204 if p.method == "DELETE" => ("_value: ()", "HttpResponseDeleted()".to_string()),
        204 => ("_value: ()", "HttpResponseUpdatedNoContent()".to_string()),
        _ => ("value", "HttpResponseOk(value)".to_string()),
    };
    if p.headers.is_empty() {
        return Ok(format!("|{pat}, _call: &Call| {body_expr}"));
    }
    let mut fields = Vec::new();
    let mut pre = String::new();
    for h in &p.headers {
        match h.as_str() {
            "X-Request-Id" => fields.push("x_request_id: call.request_id.clone()".to_string()),
            "RateLimit" => fields.push("rate_limit: call.rate_limit_value()".to_string()),
            "RateLimit-Policy" => {
                fields.push("rate_limit_policy: call.rate_limit_policy_value()".to_string())
            }
            // A replay is served from the stored response, never from here.
            "Idempotent-Replayed" => fields.push("idempotent_replayed: None".to_string()),
            "Location" => fields.push("location: created.location".to_string()),
            "Link" => {
                pre.push_str("let link = value.next_cursor.as_deref().map(|c| call.next_link(c));");
                fields.push("link".to_string());
            }
            other => {
                return Err(anyhow!(
                    "response header {other:?} is not one the edge can fill"
                ));
            }
        }
    }
    // `Location` moves out of `created` after the body: take it first.
    if p.success == 201 {
        pre.push_str("let created: Created<_> = created; let location = created.location.clone();");
        for f in fields.iter_mut() {
            if f.starts_with("location") {
                *f = "location".into();
            }
        }
    }
    Ok(format!(
        "|{pat}, call: &Call| {{ {pre} HttpResponseHeaders::new({body_expr}, headers::{}ResponseHeaders {{ {} }}) }}",
        p.pascal,
        fields.join(", ")
    ))
}
