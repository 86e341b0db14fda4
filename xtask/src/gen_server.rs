//! Emits `server-api/src/api.rs`: types (typify), constraint rules, operation
//! metadata, the handlers trait, the `#[dropshot::api_description]` trait and
//! the edge implementation that wraps every handler in the same steps.
//!
//! It assumes a spec that passed [`crate::spec::Spec::lint`]; anything the
//! lint lets through must generate code that compiles. It does not format
//! or write files (see `crate::render`).

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow};
use openapiv3::{Parameter, ParameterSchemaOrContent, ReferenceOr, StatusCode};
use orderflow_edge::keywords::{Keyword, KeywordKind};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::{Map, Value, json};

use crate::spec::{Op, Spec, location, resolve_response};

/// Whether `k` is a keyword serde cannot enforce without stopping at the
/// first violation; the edge's validator enforces it from the generated
/// rules instead (the one list is `orderflow_edge::keywords::Keyword`).
fn is_constraint(k: &str) -> bool {
    Keyword::parse(k).is_some_and(|k| k.kind() == KeywordKind::Constraint)
}

/// Whether the edge's validator reads `k` (structure and constraints; not
/// prose).
fn is_rule(k: &str) -> bool {
    Keyword::parse(k).is_some_and(|k| k.kind() != KeywordKind::Annotation)
}

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

/// OpenAPI 3.0 schema JSON to JSON Schema as typify reads it, through the
/// one conversion (`openapi_doc::to_json_schema`); for server types the
/// constraint keywords go too (the edge checks them from the rules).
pub fn to_json_schema(v: &Value, strip_constraints: bool) -> Value {
    let converted = openapi_doc::to_json_schema(v);
    if strip_constraints {
        strip(&converted)
    } else {
        converted
    }
}

/// `v` without constraint keywords, at every depth.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !is_constraint(k))
                .map(|(k, val)| {
                    let val = match k.as_str() {
                        // Data, not schemas.
                        "enum" | "required" | "default" => val.clone(),
                        "properties" => Value::Object(
                            val.as_object()
                                .map(|m| m.iter().map(|(n, p)| (n.clone(), strip(p))).collect())
                                .unwrap_or_default(),
                        ),
                        _ => strip(val),
                    };
                    (k.clone(), val)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
        other => other.clone(),
    }
}

/// The rule subset of a schema (structure and constraints, no prose), for
/// the edge's validator.
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
            k2 if is_rule(k2) => {
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

/// How an operation declares an edge-owned request header (`Idempotency-Key`,
/// `If-Match`): absent, optional or required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderPlan {
    None,
    Optional,
    Required,
}

struct OpPlan {
    id: String,
    snake: String,
    pascal: String,
    method: String,
    path: String,
    tags: Vec<String>,
    authenticated: bool,
    idempotency: HeaderPlan,
    /// Whether the handler receives the header parameters (it does not
    /// when the only ones are edge-owned, such as `Idempotency-Key`).
    handler_headers: bool,
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
    lifecycle: Option<crate::lifecycle::Lifecycle>,
    /// The success body is a list page (it has `next_cursor`).
    has_next_cursor: bool,
    /// How the operation takes `If-Match`.
    if_match: HeaderPlan,
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
    let idempotency = params
        .header
        .iter()
        .map(|p| p.parameter_data_ref())
        .find(|d| d.name.eq_ignore_ascii_case(IDEMPOTENCY_KEY))
        .map_or(HeaderPlan::None, |d| {
            if d.required {
                HeaderPlan::Required
            } else {
                HeaderPlan::Optional
            }
        });
    let handler_headers = params.header.iter().any(|p| {
        let name = &p.parameter_data_ref().name;
        !EDGE_OWNED_HEADERS
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
    });
    let if_match = params
        .header
        .iter()
        .map(|p| p.parameter_data_ref())
        .find(|d| d.name.eq_ignore_ascii_case("If-Match"))
        .map_or(HeaderPlan::None, |d| {
            if d.required {
                HeaderPlan::Required
            } else {
                HeaderPlan::Optional
            }
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
    let mut has_next_cursor = false;
    for (code, resp) in op.op.responses.responses.iter() {
        let StatusCode::Code(c) = code else { continue };
        if !(200..300).contains(c) {
            continue;
        }
        success = *c;
        let resp = resolve_response(api, resp)
            .ok_or_else(|| anyhow!("{}: unresolved response", op.pointer))?;
        headers = resp.headers.keys().cloned().collect();
        has_next_cursor = spec.schema_has_next_cursor(resp);
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
            idempotency,
            handler_headers,
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
            lifecycle: crate::lifecycle::of(spec, op),
            has_next_cursor,
            if_match,
        },
        params,
    ))
}

/// The name of the header the edge owns (it claims and replays the key);
/// handlers never receive it.
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The request headers the edge reads itself (the Idempotency-Key claim,
/// conditional requests); handlers never receive them.
const EDGE_OWNED_HEADERS: &[&str] = &[IDEMPOTENCY_KEY, "If-Match", "If-None-Match"];

fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// A Rust type written as text (from the plan) as tokens.
fn ty(text: &str) -> Result<TokenStream> {
    text.parse::<TokenStream>()
        .map_err(|e| anyhow!("internal: type {text:?} does not tokenize: {e}"))
}

/// Generates the unformatted token stream of `server-api/src/api.rs`.
pub fn generate(spec: &Spec) -> Result<TokenStream> {
    let api = &spec.api;
    let mut settings = typify::TypeSpaceSettings::default();
    settings
        .with_derive("schemars::JsonSchema".to_string())
        .with_struct_builder(false);
    // The runtime owns the problem types it renders; the generated code
    // uses them for the spec's schemas of the same name.
    for (name, path) in [
        ("Problem", "::orderflow_edge::Problem"),
        ("FieldError", "::orderflow_edge::FieldError"),
    ] {
        settings.with_replacement(name, path, std::iter::empty::<typify::TypeSpaceImpl>());
    }
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
    let component_rules = serde_json::to_string(&Value::Object(component_rules))?;

    let policies = spec.rate_limit_policies();
    let policy_items = policies.iter().map(|pol| {
        let id = format_ident!("POLICY_{}", policy_ident(&pol.name));
        let doc = format!(
            "Rate-limit policy `{}`: {} requests per {} s.",
            pol.name, pol.quota, pol.window
        );
        let (name, quota, window) = (&pol.name, pol.quota, pol.window);
        quote! {
            #[doc = #doc]
            pub static #id: RateLimitPolicy = RateLimitPolicy { name: #name, quota: #quota, window_seconds: #window };
        }
    });
    let policy_refs = policies
        .iter()
        .map(|p| format_ident!("POLICY_{}", policy_ident(&p.name)));

    let mut op_items = Vec::new();
    for p in &plans {
        let id = format_ident!("{}", p.snake.to_uppercase());
        let doc = format!("`{} {}`: {}", p.method, p.path, p.summary);
        let (op_id, method, route, auth, success) =
            (&p.id, &p.method, &p.path, p.authenticated, p.success);
        let idempotency = match p.idempotency {
            HeaderPlan::None => quote!(Idempotency::None),
            HeaderPlan::Optional => quote!(Idempotency::Optional),
            HeaderPlan::Required => quote!(Idempotency::Required),
        };
        let rate_limit = match &p.policy {
            Some(name) => {
                let pid = format_ident!("POLICY_{}", policy_ident(name));
                quote!(Some(&#pid))
            }
            None => quote!(None),
        };
        let if_match = match p.if_match {
            HeaderPlan::None => quote!(Precondition::None),
            HeaderPlan::Optional => quote!(Precondition::Optional),
            HeaderPlan::Required => quote!(Precondition::Required),
        };
        let lifecycle = match &p.lifecycle {
            None => quote!(None),
            Some(l) => {
                let dep = &l.deprecation;
                let opt_str = |v: &Option<String>| match v {
                    Some(s) => quote!(Some(#s)),
                    None => quote!(None),
                };
                let sunset = opt_str(&l.sunset);
                let policy = opt_str(&l.policy);
                let sunset_at = match l.sunset_at {
                    Some(t) => quote!(Some(#t)),
                    None => quote!(None),
                };
                let successor = match &l.successor {
                    Some((m, r)) => quote!(Some((#m, #r))),
                    None => quote!(None),
                };
                quote!(Some(&Lifecycle {
                    deprecation: #dep,
                    sunset: #sunset,
                    sunset_at: #sunset_at,
                    successor: #successor,
                    policy: #policy,
                }))
            }
        };
        let rule = |kind: &str| match p.rules.get(kind) {
            Some(json) => quote!(Some(Rules::new(#json))),
            None => quote!(None),
        };
        let (path, query, headers, body) =
            (rule("PATH"), rule("QUERY"), rule("HEADERS"), rule("BODY"));
        op_items.push(quote! {
            #[doc = #doc]
            pub static #id: Operation = Operation {
                operation_id: #op_id,
                method: #method,
                route: #route,
                authenticated: #auth,
                idempotency: #idempotency,
                success_status: #success,
                rate_limit: #rate_limit,
                lifecycle: #lifecycle,
                if_match: #if_match,
                rules: OperationRules {
                    components: &super::COMPONENT_RULES,
                    path: #path,
                    query: #query,
                    headers: #headers,
                    body: #body,
                },
            };
        });
    }
    let all_ops = plans
        .iter()
        .map(|p| format_ident!("{}", p.snake.to_uppercase()));

    // Response header structs.
    let mut header_structs = Vec::new();
    for p in plans.iter().filter(|p| !p.headers.is_empty()) {
        let name = format_ident!("{}ResponseHeaders", p.pascal);
        let doc = format!("Response headers of `{}`.", p.id);
        let mut fields = Vec::new();
        for h in &p.headers {
            let (field, field_ty, fdoc) = header_field(h, p.lifecycle.is_some())?;
            let field = ident(field);
            let field_ty = ty(field_ty)?;
            let skip = if field_ty.to_string().starts_with("Option") {
                quote!(#[serde(skip_serializing_if = "Option::is_none")])
            } else {
                quote!()
            };
            fields.push(quote! {
                #[doc = #fdoc]
                #[serde(rename = #h)]
                #skip
                pub #field: #field_ty,
            });
        }
        header_structs.push(quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
            pub struct #name { #(#fields)* }
        });
    }

    // Handlers trait, dropshot trait and the thin endpoints.
    let mut handler_fns = Vec::new();
    let mut api_fns = Vec::new();
    let mut edge_fns = Vec::new();
    for p in &plans {
        let snake = ident(&p.snake);
        let upper = format_ident!("{}", p.snake.to_uppercase());
        let doc = format!("`{} {}`: {}", p.method, p.path, p.summary);
        let summary = &p.summary;
        let ret = ty(&handler_return(p))?;
        let rtype = ty(&response_type(p))?;

        // What the handler receives: every input but edge-owned headers.
        let mut handler_params = Vec::new();
        let mut endpoint_params = Vec::new();
        let mut parts = Vec::new();
        let mut bindings = Vec::new();
        let mut passed = Vec::new();
        for (flag, var, suffix, extractor, location) in [
            (p.has_path, "path", "Path", "Path", "Path"),
            (p.has_query, "query", "Query", "Query", "Query"),
            (p.has_header, "headers", "Headers", "Header", "Headers"),
        ] {
            if !flag {
                continue;
            }
            let v = ident(var);
            let t = format_ident!("{}{}", p.pascal, suffix);
            let ex = ident(extractor);
            let loc = ident(location);
            endpoint_params.push(quote!(#v: Checked<#ex<types::#t>>));
            parts.push(quote!(edge::param(#v.0.map(|v| v.into_inner()), edge::Location::#loc)));
            let to_handler = var != "headers" || p.handler_headers;
            if to_handler {
                handler_params.push(quote!(#v: types::#t));
                bindings.push(quote!(#v));
                passed.push(quote!(#v));
            } else {
                bindings.push(quote!(_));
            }
        }
        if let Some(b) = &p.body_type {
            let t = ident(b);
            handler_params.push(quote!(body: types::#t));
            endpoint_params.push(quote!(body: CheckedBody<types::#t>));
            parts.push(quote!(body.part()));
            bindings.push(quote!(body));
            passed.push(quote!(body));
        }
        handler_fns.push(quote! {
            #[doc = #doc]
            async fn #snake(&self, call: &Call #(, #handler_params)*) -> Result<#ret, ApiError>;
        });
        let tags = &p.tags;
        let method = ident(&p.method);
        let (path, op_id) = (&p.path, &p.id);
        let deprecated = if p.deprecated {
            quote!(, deprecated = true)
        } else {
            quote!()
        };
        api_fns.push(quote! {
            #[doc = #summary]
            #[endpoint { method = #method, path = #path, operation_id = #op_id, tags = [#(#tags),*] #deprecated }]
            async fn #snake(rqctx: RequestContext<Self::Context> #(, #endpoint_params)*) -> Result<Reply<#rtype>, Problem>;
        });
        let render = render_fn(p)?;
        edge_fns.push(quote! {
            async fn #snake(rqctx: RequestContext<EdgeContext> #(, #endpoint_params)*) -> Result<Reply<#rtype>, Problem> {
                #render
                let cx = rqctx.context();
                let handlers = &cx.handlers;
                Ok(edge::run(
                    &ops::#upper,
                    edge::Request::of(&rqctx),
                    &cx.ports,
                    (#(#parts,)*),
                    move |call, (#(#bindings,)*)| Box::pin(async move { handlers.#snake(&call #(, #passed)*).await }),
                    render,
                ).await)
            }
        });
    }

    let file_doc = format!(
        "The {} API trait, types and edge wiring, generated from `{}`.",
        spec.api_name, spec.file
    );
    let handlers_trait = format_ident!("{}Handlers", spec.api_name);
    let api_trait = format_ident!("{}Api", spec.api_name);
    let edge_type = format_ident!("{}Edge", spec.api_name);
    let api_mod_doc = format!(
        "The API as dropshot sees it. `{}_mod::stub_api_description()` yields the OpenAPI document this trait serves, which the drift check compares with the spec.",
        snake(&spec.api_name)
    );
    Ok(quote! {
        #![allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]
        #![doc = #file_doc]
        use std::sync::Arc;
        use async_trait::async_trait;
        use dropshot::{Header, HttpResponseCreated, HttpResponseDeleted, HttpResponseHeaders, HttpResponseOk, HttpResponseAccepted, HttpResponseUpdatedNoContent, Path, Query, RequestContext};
        use orderflow_edge::{self as edge, ApiError, Call, Checked, CheckedBody, Created, Problem, Reply, Tagged};

        /// Request and response types, generated by typify from the spec's schemas.
        pub mod types { #types }

        /// The spec's rules (structure and constraints) per component schema, enforced by `orderflow_edge::schema`.
        pub static COMPONENT_RULES: edge::Rules = edge::Rules::new(#component_rules);

        /// What the spec says about each operation.
        pub mod ops {
            use orderflow_edge::{Idempotency, Lifecycle, Operation, OperationRules, Precondition, RateLimitPolicy, Rules};
            #(#policy_items)*
            /// Every rate-limit policy the spec declares.
            pub static RATE_LIMIT_POLICIES: &[&RateLimitPolicy] = &[#(&#policy_refs),*];
            #(#op_items)*
            /// Every operation, in spec order.
            pub static ALL: &[&Operation] = &[#(&#all_ops),*];
        }

        /// The documented response headers of each operation.
        pub mod headers { #(#header_structs)* }

        /// The business logic of every operation, implemented by hand in `server/`.
        /// The edge has already authenticated the caller, validated every input
        /// against the spec and claimed any Idempotency-Key when these run.
        #[async_trait]
        pub trait #handlers_trait: Send + Sync + 'static { #(#handler_fns)* }

        /// The server context: the hand-written handlers and the edge's ports.
        pub struct EdgeContext {
            pub handlers: Arc<dyn #handlers_trait>,
            pub ports: edge::Ports,
        }

        #[doc = #api_mod_doc]
        #[dropshot::api_description]
        pub trait #api_trait { type Context; #(#api_fns)* }

        /// The edge: implements the dropshot trait, each endpoint a call of the
        /// one pipeline (`orderflow_edge::run`).
        pub enum #edge_type {}

        impl #api_trait for #edge_type {
            type Context = EdgeContext;
            #(#edge_fns)*
        }
    })
}

fn policy_ident(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

fn header_field(
    name: &str,
    deprecated: bool,
) -> Result<(&'static str, &'static str, &'static str)> {
    match name {
        "ETag" => Ok((
            "etag",
            "String",
            "The strong entity tag of the resource: its row version.",
        )),
        "Cache-Control" => Ok((
            "cache_control",
            "String",
            "`private, no-cache`: caches keep it for this client only and revalidate first.",
        )),
        "Deprecation" => Ok((
            "deprecation",
            "String",
            "When the operation was deprecated (RFC 9745).",
        )),
        "Sunset" => Ok((
            "sunset",
            "String",
            "When the operation stops answering (RFC 8594).",
        )),
        "Link" if deprecated => Ok((
            "link",
            "String",
            "The successor version and the deprecation policy, and on a list page the next page.",
        )),
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
        _ if tagged(p) => format!("Tagged<{}>", body_ty(p)),
        _ => body_ty(p),
    }
}

/// Whether the handler returns its value with an entity tag: the success
/// response declares `ETag`.
fn tagged(p: &OpPlan) -> bool {
    p.headers.iter().any(|h| h == "ETag")
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

/// `fn render(value, call) -> Response`: the handler's value as the
/// documented success response with its headers.
fn render_fn(p: &OpPlan) -> Result<TokenStream> {
    let ret = ty(&handler_return(p))?;
    let rtype = ty(&response_type(p))?;
    let body_expr = match p.success {
        201 => quote!(HttpResponseCreated(value.body)),
        202 => quote!(HttpResponseAccepted(value)),
        204 if p.method == "DELETE" => quote!(HttpResponseDeleted()),
        204 => quote!(HttpResponseUpdatedNoContent()),
        _ => quote!(HttpResponseOk(value)),
    };
    // A 204 has no value to render.
    let value = if p.success == 204 {
        quote!(_value)
    } else {
        quote!(value)
    };
    if p.headers.is_empty() {
        return Ok(quote! {
            fn render(#value: #ret, _call: &Call) -> #rtype { #body_expr }
        });
    }
    let mut pre = Vec::new();
    let mut fields = Vec::new();
    for h in &p.headers {
        match h.as_str() {
            "X-Request-Id" => fields.push(quote!(x_request_id: call.request_id.clone())),
            "RateLimit" => fields.push(quote!(rate_limit: call.rate_limit_value())),
            "RateLimit-Policy" => {
                fields.push(quote!(rate_limit_policy: call.rate_limit_policy_value()))
            }
            // A replay is served from the stored response, never from here.
            "Idempotent-Replayed" => fields.push(quote!(idempotent_replayed: None)),
            "Location" => {
                // `Location` moves out of the value before its body does.
                pre.push(quote!(let location = value.location.clone();));
                fields.push(quote!(location));
            }
            "ETag" => fields.push(quote!(etag)),
            "Cache-Control" => fields.push(quote!(cache_control: "private, no-cache".to_string())),
            "Deprecation" => fields.push(quote!(deprecation: call.deprecation_value())),
            "Sunset" => fields.push(quote!(sunset: call.sunset_value())),
            "Link" if p.lifecycle.is_some() => {
                let next = if p.has_next_cursor {
                    quote!(value.next_cursor.as_deref())
                } else {
                    quote!(None)
                };
                pre.push(quote!(let link = call.link_value(#next);));
                fields.push(quote!(link));
            }
            "Link" => {
                pre.push(
                    quote!(let link = value.next_cursor.as_deref().map(|c| call.next_link(c));),
                );
                fields.push(quote!(link));
            }
            other => {
                return Err(anyhow!(
                    "response header {other:?} is not one the edge can fill"
                ));
            }
        }
    }
    if tagged(p) {
        // The entity tag moves out before the value is used.
        pre.insert(0, quote!(let Tagged { value, etag } = value;));
    }
    let headers_ty = format_ident!("{}ResponseHeaders", p.pascal);
    Ok(quote! {
        fn render(#value: #ret, call: &Call) -> #rtype {
            #(#pre)*
            HttpResponseHeaders::new(#body_expr, headers::#headers_ty { #(#fields),* })
        }
    })
}
