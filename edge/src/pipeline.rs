//! The pipeline: every operation's request goes through [`run`], which
//! holds the step order in one place.
//!
//! 1. request id and client address ([`Request`]);
//! 2. authentication through the [`Authenticator`] port, when the
//!    operation declares security (a refused caller still spends its
//!    address's quota, so guessing keys is rate-limited too);
//! 3. rate limiting through the [`RateLimiter`] port under the operation's
//!    spec-declared policy, before idempotency, so a 429 is never stored as
//!    a key's result;
//! 4. `Idempotency-Key` presence, count and syntax, where the spec declares
//!    the header;
//! 5. the inputs ([`Inputs`]): extractor failures become 400/413/415
//!    problems, and every value is checked against the spec's rules
//!    ([`crate::schema`]): 400 for parameters and malformed bodies, 422 for
//!    bodies that break a constraint;
//! 6. the claim on the Idempotency-Key through the [`IdempotencyStore`]
//!    port: run, replay the stored response, or refuse;
//! 7. the hand-written handler (business logic only);
//! 8. for a claimed key: the rendered response is recorded and the
//!    handler's side effect committed with it, atomically; a failure undoes
//!    the side effect and keeps a 4xx for replay or releases the key on a
//!    5xx;
//! 9. rendering with the documented headers (`X-Request-Id`, `RateLimit*`
//!    on every limited response), and the [`Observer`] port.
//!
//! A handler cannot skip a step because it never sees the request before
//! the pipeline has run. This module never imports generated code: an
//! operation is described to it by an [`Operation`] value, its inputs by
//! [`Inputs`], and its response by a render function.

use std::future::Future;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use dropshot::{
    ApiEndpointBodyContentType, ApiEndpointResponse, Body, ExclusiveExtractor, ExtractorMetadata,
    HttpError, HttpResponse, RequestContext, ServerContext, SharedExtractor, TypedBody,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ports::{
    Claim, IdempotencyBegin, IdempotencyOutcome, Outcome, Ports, Principal, RateLimitPolicy,
    RateState, StoredReply,
};
use crate::problem::{ApiError, FieldError};
use crate::schema::{self, Mode, Rules, Severity};

// dropshot does not re-export its alias for this.
type HttpHandlerResult = Result<Response<Body>, HttpError>;

/// Whether and how an operation takes an `Idempotency-Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// The spec declares no `Idempotency-Key` header.
    None,
    /// Declared, not required: the request is idempotent when it has one.
    Optional,
    /// Declared and required: a request without one is a 400.
    Required,
}

/// The spec's rules for an operation's inputs, as generated rule trees.
#[derive(Debug)]
pub struct OperationRules {
    /// The component schemas' rules, by name (for `$ref`).
    pub components: &'static Rules,
    pub path: Option<Rules>,
    pub query: Option<Rules>,
    pub headers: Option<Rules>,
    pub body: Option<Rules>,
}

/// Whether and how an operation takes `If-Match` (RFC 9110 §13.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// The spec declares no `If-Match` header.
    None,
    /// Declared, not required: with one, the change is conditional.
    Optional,
    /// Declared and required: a request without one is a 428.
    Required,
}

/// A handler's value with the strong entity tag of what it represents
/// (the operation's success response declares `ETag`).
#[derive(Debug, Clone)]
pub struct Tagged<T> {
    pub value: T,
    /// The quoted entity tag, e.g. `"r3"`.
    pub etag: String,
}

/// The strong ETag of a stored row at `version`: `"r<version>"`.
pub fn row_etag(version: i64) -> String {
    format!("\"r{version}\"")
}

/// The entity tags of an `If-Match` / `If-None-Match` value: `None` for
/// `*`, else the tags (weak ones keep their `W/`). `Err` when the value is
/// not a list of entity tags (RFC 9110 §8.8.3).
pub fn entity_tags(value: &str) -> Result<Option<Vec<String>>, String> {
    let value = value.trim();
    if value == "*" {
        return Ok(None);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (weak, body) = match rest.strip_prefix("W/") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let Some(inner) = body.strip_prefix('"') else {
            return Err(format!(
                "{value:?} is not a list of entity tags such as \"r3\""
            ));
        };
        let Some(end) = inner.find('"') else {
            return Err(format!("{value:?} has an unterminated entity tag"));
        };
        let tag = &inner[..end];
        tags.push(format!("{}\"{tag}\"", if weak { "W/" } else { "" }));
        rest = &inner[end + 1..];
        if !rest.is_empty() && !rest.trim_start().starts_with(',') {
            return Err(format!(
                "{value:?} is not a comma-separated list of entity tags"
            ));
        }
    }
    if tags.is_empty() {
        return Err("an empty entity-tag list".into());
    }
    Ok(Some(tags))
}

/// Every field line of `name`, joined with ", " (RFC 9110 §5.3).
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// Weak comparison (RFC 9110 §8.8.3.2), for If-None-Match.
fn weak_match(a: &str, b: &str) -> bool {
    a.trim_start_matches("W/") == b.trim_start_matches("W/")
}

/// What the spec says about one operation, as the pipeline needs it.
#[derive(Debug)]
pub struct Operation {
    pub operation_id: &'static str,
    pub method: &'static str,
    /// The path template, e.g. `/v1/orders/{order_id}`: the metric label,
    /// never the raw path.
    pub route: &'static str,
    /// Whether the operation declares security (a bearer API key).
    pub authenticated: bool,
    pub idempotency: Idempotency,
    pub success_status: u16,
    /// The spec's `x-rate-limit-policy` for the operation.
    pub rate_limit: Option<&'static RateLimitPolicy>,
    /// For a deprecated operation: its dates and successor.
    pub lifecycle: Option<&'static Lifecycle>,
    /// Whether the operation takes `If-Match`.
    pub if_match: Precondition,
    pub rules: OperationRules,
}

/// What the spec declares about a deprecated operation (`deprecated: true`,
/// `x-deprecated-since`, `x-sunset`, `x-successor`, and the root
/// `x-deprecation-policy`), with the header values computed by the
/// generator. Every response of the operation carries `Deprecation`,
/// `Sunset` and `Link`; from the sunset on, the operation answers 410.
#[derive(Debug)]
pub struct Lifecycle {
    /// `Deprecation` (RFC 9745): `@` and Unix seconds.
    pub deprecation: &'static str,
    /// `Sunset` (RFC 8594): an IMF-fixdate, never earlier than Deprecation.
    pub sunset: Option<&'static str>,
    /// The sunset as Unix seconds: from then on, 410 `version_retired`.
    pub sunset_at: Option<i64>,
    /// The successor operation: its method and path template, whose
    /// parameters are the same names as this operation's.
    pub successor: Option<(&'static str, &'static str)>,
    /// The deprecation policy page (`rel="deprecation"`).
    pub policy: Option<&'static str>,
}

impl Lifecycle {
    /// Whether the operation is past its sunset at `now` (Unix seconds).
    pub fn retired_at(&self, now: i64) -> bool {
        self.sunset_at.is_some_and(|at| now >= at)
    }
}

/// `template` (`/v2/orders/{order_id}`) filled with the values that `path`
/// has where `pattern` (`/v1/orders/{order_id}`) has parameters. The
/// values stay percent-encoded as they arrived. `None` when `path` does not
/// have `pattern`'s shape.
pub fn fill_template(pattern: &str, path: &str, template: &str) -> Option<String> {
    let pat: Vec<&str> = pattern.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if pat.len() != got.len() {
        return None;
    }
    let mut values = Vec::new();
    for (p, g) in pat.iter().zip(&got) {
        if let Some(name) = p.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            values.push((name, *g));
        } else if p != g {
            return None;
        }
    }
    let filled: Vec<String> = template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                Some(name) => values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string()),
                None => Some(seg.to_string()),
            },
        )
        .collect::<Option<Vec<_>>>()?;
    Some(filled.join("/"))
}

/// The parts of an HTTP request the pipeline reads, apart from the inputs.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub request_id: &'a str,
    pub uri: &'a http::Uri,
    pub headers: &'a HeaderMap,
    pub remote: IpAddr,
}

impl<'a> Request<'a> {
    pub fn of<C: ServerContext>(rqctx: &'a RequestContext<C>) -> Request<'a> {
        Request {
            request_id: &rqctx.request_id,
            uri: rqctx.request.uri(),
            headers: rqctx.request.headers(),
            remote: rqctx.request.remote_addr().ip(),
        }
    }
}

/// An opaque per-call slot for the storage port: where an
/// [`crate::ports::IdempotencyStore`] keeps the transaction a claimed
/// call's side effect runs in. The pipeline never looks inside.
#[derive(Default)]
pub struct UnitSlot(Mutex<Option<Box<dyn std::any::Any + Send>>>);

impl UnitSlot {
    /// Takes what is in the slot, if it is a `T`.
    pub fn take<T: Send + 'static>(&self) -> Option<Box<T>> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.take()?.downcast::<T>() {
            Ok(t) => Some(t),
            Err(other) => {
                *slot = Some(other);
                None
            }
        }
    }

    pub fn put<T: Send + 'static>(&self, value: Box<T>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
    }
}

impl std::fmt::Debug for UnitSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnitSlot")
    }
}

/// One call in flight: what the pipeline learned before the handler runs.
#[derive(Debug)]
pub struct Call {
    pub op: &'static Operation,
    pub request_id: String,
    pub principal: Option<Principal>,
    /// The client's IP address: the rate-limit key when unauthenticated.
    pub client: String,
    /// The request's path and query, for building `Link` headers.
    pub uri: http::Uri,
    pub started: Instant,
    /// The caller's standing under the operation's rate-limit policy.
    pub rate: Option<RateState>,
    /// This call's claim on its Idempotency-Key, once taken.
    pub claim: Option<Claim>,
    /// Storage's per-call state (see [`UnitSlot`]).
    pub unit: UnitSlot,
    /// The request's `If-None-Match`, if any (all field lines joined).
    pub if_none_match: Option<String>,
    /// The request's `If-Match`, if any.
    pub if_match: Option<String>,
}

impl Call {
    pub fn new(op: &'static Operation, req: &Request<'_>) -> Call {
        Call {
            op,
            request_id: req.request_id.to_string(),
            principal: None,
            client: req.remote.to_string(),
            uri: req.uri.clone(),
            started: Instant::now(),
            rate: None,
            claim: None,
            unit: UnitSlot::default(),
            if_none_match: joined(req.headers, "if-none-match"),
            if_match: joined(req.headers, "if-match"),
        }
    }

    /// The row versions the request's `If-Match` accepts: `None` when it
    /// has none or `*` (any current version), else the versions named by
    /// this server's strong tags (`"r3"`). A weak or foreign tag names no
    /// version, so it can never match (strong comparison, RFC 9110
    /// §13.1.1); a malformed value is a 400.
    pub fn expected_versions(&self) -> Result<Option<Vec<i64>>, ApiError> {
        let Some(raw) = &self.if_match else {
            return Ok(None);
        };
        let tags = entity_tags(raw).map_err(|e| {
            ApiError::invalid(
                "invalid_parameter",
                vec![FieldError {
                    pointer: "If-Match".into(),
                    detail: e,
                }],
            )
        })?;
        Ok(tags.map(|tags| {
            tags.iter()
                .filter_map(|t| t.strip_prefix("\"r")?.strip_suffix('"')?.parse().ok())
                .collect()
        }))
    }

    /// The authenticated principal. Operations without security never call
    /// handlers that need one, so absence here is a wiring bug: it surfaces
    /// as a 401, never a panic.
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("this operation needs an API key"))
    }

    /// The `RateLimit` header value. Only limited operations declare the
    /// header (the lint sees to it), so the empty fallback is never sent.
    pub fn rate_limit_value(&self) -> String {
        self.rate.map(|r| r.header_value()).unwrap_or_default()
    }

    /// The `RateLimit-Policy` header value.
    pub fn rate_limit_policy_value(&self) -> String {
        self.rate
            .map(|r| r.policy.header_value())
            .unwrap_or_default()
    }

    /// `Deprecation` of a deprecated operation (empty otherwise: only
    /// deprecated operations declare the header, the lint sees to it).
    pub fn deprecation_value(&self) -> String {
        self.op
            .lifecycle
            .map(|l| l.deprecation.to_string())
            .unwrap_or_default()
    }

    /// `Sunset` of a deprecated operation.
    pub fn sunset_value(&self) -> String {
        self.op
            .lifecycle
            .and_then(|l| l.sunset)
            .map(str::to_string)
            .unwrap_or_default()
    }

    /// A deprecated operation's links (see [`lifecycle_links`]).
    pub fn lifecycle_links(&self) -> Vec<String> {
        lifecycle_links(self.op, self.uri.path())
    }

    /// `Link` of a deprecated operation: the page's `rel="next"` (when
    /// there is one) and the lifecycle links, in one field value.
    pub fn link_value(&self, next_cursor: Option<&str>) -> String {
        let mut links: Vec<String> = next_cursor.map(|c| self.next_link(c)).into_iter().collect();
        links.extend(self.lifecycle_links());
        links.join(", ")
    }

    /// The lifecycle headers for responses the generated render does not
    /// build (problems, stored replies).
    pub fn lifecycle_headers(&self) -> HeaderMap {
        lifecycle_headers(self.op, self.uri.path())
    }

    /// `Link: <path?query-with-cursor>; rel="next"` for a list page.
    pub fn next_link(&self, cursor: &str) -> String {
        let mut pairs: Vec<(String, String)> = self
            .uri
            .query()
            .map(|q| {
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        (k.to_string(), v.to_string())
                    })
                    .filter(|(k, _)| k != "cursor")
                    .collect()
            })
            .unwrap_or_default();
        pairs.push(("cursor".to_string(), cursor.to_string()));
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        format!("<{}?{}>; rel=\"next\"", self.uri.path(), query)
    }
}

/// A deprecated operation's links for a request to `path`:
/// `rel="successor-version"` to the same resource under the successor,
/// `rel="deprecation"` to the policy.
pub fn lifecycle_links(op: &Operation, path: &str) -> Vec<String> {
    let Some(l) = op.lifecycle else {
        return Vec::new();
    };
    let mut links = Vec::new();
    if let Some((_, template)) = l.successor
        && let Some(target) = fill_template(op.route, path, template)
    {
        links.push(format!("<{target}>; rel=\"successor-version\""));
    }
    if let Some(policy) = l.policy {
        links.push(format!("<{policy}>; rel=\"deprecation\""));
    }
    links
}

/// `Deprecation`, `Sunset` and the lifecycle `Link` of a deprecated
/// operation for a request to `path`; empty for any other operation. For
/// responses the generated render does not build: problems (the edge's and
/// the front's) and stored replies.
pub fn lifecycle_headers(op: &Operation, path: &str) -> HeaderMap {
    let mut out = HeaderMap::new();
    let Some(l) = op.lifecycle else {
        return out;
    };
    out.insert("deprecation", HeaderValue::from_static(l.deprecation));
    if let Some(s) = l.sunset {
        out.insert("sunset", HeaderValue::from_static(s));
    }
    let links = lifecycle_links(op, path).join(", ");
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links)
    {
        out.insert(http::header::LINK, v);
    }
    out
}

/// Whether `path` (raw, percent-encoded) has the shape of `template`.
pub fn route_matches(template: &str, path: &str) -> bool {
    fill_template(template, path, template).is_some()
}

/// A created resource and where it lives (the `Location` header).
#[derive(Debug, Clone)]
pub struct Created<T> {
    pub body: T,
    pub location: String,
}

/// Where a parameter part comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Headers,
}

/// One input of an operation, checked by the pipeline.
pub trait Part {
    type Value: Serialize + Send + 'static;
    /// Unwraps the extractor's result and checks the spec's rules;
    /// `raw_query` is the request's query string, to say which parameter
    /// a failed query extraction was about.
    fn check(
        self,
        rules: &OperationRules,
        raw_query: Option<&str>,
    ) -> Result<Self::Value, ApiError>;
    /// Whether the value belongs in the Idempotency-Key fingerprint
    /// (headers do not: the key itself is one).
    fn fingerprinted(&self) -> bool;
}

/// A path, query or header parameter object.
pub struct Param<T> {
    pub value: Result<T, HttpError>,
    pub location: Location,
}

impl<T: Serialize + Send + 'static> Part for Param<T> {
    type Value = T;

    fn check(self, all: &OperationRules, raw_query: Option<&str>) -> Result<T, ApiError> {
        let location = self.location;
        let value = self.value.map_err(|e| {
            let mut p = ApiError::from_extractor(&e);
            if p.code() == "malformed_request" {
                // dropshot's text ("unable to parse query string: invalid
                // digit found in string") names neither the parameter nor
                // what it expects: find them against the spec's rules.
                let named = match (location, &all.query) {
                    (Location::Query, Some(rules)) => {
                        query_errors(raw_query.unwrap_or(""), rules, all.components)
                    }
                    _ => Vec::new(),
                };
                p = if named.is_empty() {
                    ApiError::new("invalid_parameter", p.problem.detail)
                } else {
                    ApiError::invalid("invalid_parameter", named)
                };
            }
            p
        })?;
        let rules = match self.location {
            Location::Path => &all.path,
            Location::Query => &all.query,
            Location::Headers => &all.headers,
        };
        let Some(rules_tree) = rules else {
            return Ok(value);
        };
        let raw = serde_json::to_value(&value).unwrap_or(Value::Null);
        let errors: Vec<FieldError> = schema::validate(
            &raw,
            rules_tree.tree(),
            all.components.tree(),
            Mode::Parameters,
        )
        .into_iter()
        .map(|v| v.error)
        .collect();
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::invalid("invalid_parameter", errors))
        }
    }

    fn fingerprinted(&self) -> bool {
        self.location != Location::Headers
    }
}

/// The spec's complaints about a query string that did not deserialize:
/// each parameter as the client sent it, checked against the query's
/// rules. A value that reads as a number or a boolean is checked in that
/// form too, and a parameter is reported only when neither form passes
/// (so `status=123` for a string parameter is not blamed). Empty when the
/// rules find nothing, or the query is not even form-encoded.
fn query_errors(raw: &str, rules: &Rules, components: &Rules) -> Vec<FieldError> {
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(raw) else {
        return Vec::new();
    };
    let typed = |v: &str| -> Value {
        if let Ok(n) = v.parse::<i64>() {
            Value::from(n)
        } else if let Ok(n) = v.parse::<u64>() {
            Value::from(n)
        } else if let Some(n) = v
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .and_then(serde_json::Number::from_f64)
        {
            Value::Number(n)
        } else if v == "true" || v == "false" {
            Value::Bool(v == "true")
        } else {
            Value::String(v.to_string())
        }
    };
    let object = |form: &dyn Fn(&str) -> Value| -> Value {
        let mut map = serde_json::Map::new();
        for (k, v) in &pairs {
            let v = form(v);
            match map.get_mut(k) {
                // A repeated parameter is an array (`form`, `explode`).
                Some(Value::Array(items)) => items.push(v),
                Some(first) => *first = Value::Array(vec![first.take(), v]),
                None => {
                    map.insert(k.clone(), v);
                }
            }
        }
        Value::Object(map)
    };
    let check = |value: &Value| -> Vec<FieldError> {
        schema::validate(value, rules.tree(), components.tree(), Mode::Parameters)
            .into_iter()
            .map(|v| v.error)
            .collect()
    };
    let as_text = check(&object(&|v| Value::String(v.to_string())));
    let as_typed = check(&object(&typed));
    as_typed
        .into_iter()
        .filter(|e| as_text.iter().any(|t| t.pointer == e.pointer))
        .collect()
}

/// A JSON request body, read raw by [`CheckedBody`].
pub struct BodyPart<T> {
    pub value: Result<Value, ApiError>,
    pub _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Serialize + Send + 'static> Part for BodyPart<T> {
    type Value = T;

    fn check(self, rules: &OperationRules, _raw_query: Option<&str>) -> Result<T, ApiError> {
        let raw = self.value?;
        if let Some(body_rules) = &rules.body {
            let violations =
                schema::validate(&raw, body_rules.tree(), rules.components.tree(), Mode::Body);
            let shape: Vec<FieldError> = violations
                .iter()
                .filter(|v| v.severity == Severity::Shape)
                .map(|v| v.error.clone())
                .collect();
            if !shape.is_empty() {
                return Err(ApiError::invalid("malformed_request", shape));
            }
            if !violations.is_empty() {
                return Err(ApiError::invalid(
                    "validation_failed",
                    violations.into_iter().map(|v| v.error).collect(),
                ));
            }
        }
        serde_json::from_value(raw).map_err(|e| {
            ApiError::new(
                "malformed_request",
                format!("the body does not match the request schema: {e}"),
            )
        })
    }

    fn fingerprinted(&self) -> bool {
        true
    }
}

/// The inputs of an operation: a tuple of [`Part`]s.
pub trait Inputs {
    type Values: Send + 'static;
    fn check(
        self,
        rules: &OperationRules,
        raw_query: Option<&str>,
    ) -> Result<(Self::Values, Vec<Value>), ApiError>;
}

impl Inputs for () {
    type Values = ();
    fn check(
        self,
        _rules: &OperationRules,
        _raw_query: Option<&str>,
    ) -> Result<((), Vec<Value>), ApiError> {
        Ok(((), Vec::new()))
    }
}

macro_rules! inputs_for_tuple {
    ($($name:ident),+) => {
        impl<$($name: Part),+> Inputs for ($($name,)+) {
            type Values = ($($name::Value,)+);
            #[allow(non_snake_case)]
            fn check(
                self,
                rules: &OperationRules,
                raw_query: Option<&str>,
            ) -> Result<(Self::Values, Vec<Value>), ApiError> {
                let ($($name,)+) = self;
                let mut printed = Vec::new();
                $(
                    let fingerprinted = $name.fingerprinted();
                    let $name = $name.check(rules, raw_query)?;
                    if fingerprinted {
                        printed.push(serde_json::to_value(&$name).unwrap_or(Value::Null));
                    }
                )+
                Ok((($($name,)+), printed))
            }
        }
    };
}

inputs_for_tuple!(A);
inputs_for_tuple!(A, B);
inputs_for_tuple!(A, B, C);
inputs_for_tuple!(A, B, C, D);

/// The future a handler returns.
pub type HandlerFuture<'h, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'h>>;

/// Runs one request through every step (see the module docs) and renders
/// the answer. `handler` is the business logic; `render` turns its value
/// into the documented success response.
pub async fn run<'h, I, T, R>(
    op: &'static Operation,
    req: Request<'_>,
    ports: &Ports,
    inputs: I,
    handler: impl FnOnce(Arc<Call>, I::Values) -> HandlerFuture<'h, T>,
    render: fn(T, &Call) -> R,
) -> Reply<R>
where
    I: Inputs,
    R: HttpResponse,
{
    let mut call = Call::new(op, &req);
    let mut idem = None;
    let values = match prepare(&mut call, &req, ports, inputs, &mut idem).await {
        Ok(Prepared::Run(values)) => values,
        Ok(Prepared::Replay(stored)) => {
            observe(ports, &call, stored.status, None, idem);
            return replay(&call, stored);
        }
        Err(e) => return fail(&call, ports, e, idem).await,
    };
    let call = Arc::new(call);
    let result = handler(call.clone(), values).await;
    match result {
        Ok(value) => {
            let reply = render(value, &call);
            let Some(claim) = &call.claim else {
                if let Some(wanted) = &call.if_none_match
                    && (op.method == "GET" || op.method == "HEAD")
                {
                    return not_modified_or(&call, ports, wanted, reply, idem).await;
                }
                observe(ports, &call, op.success_status, None, idem);
                return Reply::Success(reply);
            };
            // Record exactly the bytes the client gets, so that a replay
            // is the original response.
            let stored = match stored_reply(reply).await {
                Ok(s) => s,
                Err(e) => return fail(&call, ports, e, idem).await,
            };
            if let Err(e) = ports.idempotency.commit(&call, claim, &stored).await {
                return fail(&call, ports, e, idem).await;
            }
            let extra = per_request_headers(&call);
            observe(ports, &call, stored.status, None, idem);
            Reply::Stored(stored, extra)
        }
        Err(e) => fail(&call, ports, e, idem).await,
    }
}

/// A conditional GET (RFC 9110 §13.1.2): `304 Not Modified` when the
/// rendered response's `ETag` matches `If-None-Match` (weak comparison, or
/// `*`), with the headers a 200 would carry but no body; else the 200.
async fn not_modified_or<R: HttpResponse>(
    call: &Call,
    ports: &Ports,
    wanted: &str,
    reply: R,
    idem: Option<IdempotencyOutcome>,
) -> Reply<R> {
    let tags = match entity_tags(wanted) {
        Ok(t) => t,
        Err(e) => {
            let err = ApiError::invalid(
                "invalid_parameter",
                vec![FieldError {
                    pointer: "If-None-Match".into(),
                    detail: e,
                }],
            );
            return fail(call, ports, err, idem).await;
        }
    };
    // The whole rendered response, every header kept (a 200 goes out as
    // rendered).
    let rendered = match whole_reply(reply).await {
        Ok(s) => s,
        Err(e) => return fail(call, ports, e, idem).await,
    };
    let etag = rendered
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("etag"))
        .map(|(_, v)| v.clone());
    let matched = match (&tags, &etag) {
        (None, Some(_)) => true,
        (Some(tags), Some(etag)) => tags.iter().any(|t| weak_match(t, etag)),
        _ => false,
    };
    if !matched {
        observe(ports, call, rendered.status, None, idem);
        return Reply::Stored(rendered, HeaderMap::new());
    }
    // RFC 9110 §15.4.5: the validators and caching headers a 200 would
    // have carried, and this request's own headers; no content.
    let headers = rendered
        .headers
        .into_iter()
        .filter(|(n, _)| {
            let n = n.to_ascii_lowercase();
            [
                "etag",
                "cache-control",
                "vary",
                "expires",
                "content-location",
            ]
            .contains(&n.as_str())
                || PER_REQUEST_HEADERS.contains(&n.as_str())
        })
        .collect();
    observe(ports, call, 304, None, idem);
    Reply::Stored(
        StoredReply {
            status: 304,
            headers,
            body: Vec::new(),
        },
        HeaderMap::new(),
    )
}

/// A rendered response as bytes, with every header.
async fn whole_reply<R: HttpResponse>(reply: R) -> Result<StoredReply, ApiError> {
    use http_body_util::BodyExt;
    let rsp = reply.to_result().map_err(|e| {
        ApiError::internal_because(format!("rendering a response: {}", e.internal_message))
    })?;
    let (parts, body) = rsp.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| ApiError::internal_because(format!("collecting a response body: {e}")))?
        .to_bytes();
    Ok(StoredReply {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.to_string(), v.to_string())))
            .collect(),
        body: bytes.to_vec(),
    })
}

enum Prepared<V> {
    Run(V),
    Replay(StoredReply),
}

/// Steps 2 to 6.
async fn prepare<I: Inputs>(
    call: &mut Call,
    req: &Request<'_>,
    ports: &Ports,
    inputs: I,
    idem: &mut Option<IdempotencyOutcome>,
) -> Result<Prepared<I::Values>, ApiError> {
    let op = call.op;
    if let Some(l) = op.lifecycle
        && l.retired_at(ports.clock.unix_now())
    {
        let successor = l
            .successor
            .map(|(m, r)| format!("; use {m} {r} (the Link header with rel=\"successor-version\")"))
            .unwrap_or_default();
        return Err(ApiError::new(
            "version_retired",
            format!(
                "{} {} was retired on {}{successor}",
                op.method,
                op.route,
                l.sunset.unwrap_or("its sunset date")
            ),
        ));
    }
    if op.authenticated {
        let auth = req
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        match ports.authenticator.authenticate(call, auth).await {
            Ok(p) => call.principal = Some(p),
            Err(e) => {
                if let Some(policy) = op.rate_limit {
                    call.rate = Some(ports.rate_limiter.check(call, policy).await?);
                }
                return Err(e);
            }
        }
    }
    if let Some(policy) = op.rate_limit {
        call.rate = Some(ports.rate_limiter.check(call, policy).await?);
    }
    if op.if_match == Precondition::Required && call.if_match.is_none() {
        return Err(ApiError::new(
            "precondition_required",
            format!(
                "{} {} changes a resource only conditionally: send If-Match with the ETag of the version you read (GET it first), or If-Match: * to change it whatever its version",
                op.method, op.route
            ),
        ));
    }
    let key = match op.idempotency {
        Idempotency::None => None,
        declared => idempotency_key_of(req.headers, declared == Idempotency::Required)?,
    };
    let (values, printed) = inputs.check(&op.rules, req.uri.query())?;
    let Some(key) = key else {
        return Ok(Prepared::Run(values));
    };
    let claim = Claim {
        key,
        fingerprint: fingerprint(op, &printed),
    };
    match ports.idempotency.begin(call, &claim).await {
        Ok(IdempotencyBegin::Claimed) => {
            *idem = Some(IdempotencyOutcome::New);
            call.claim = Some(claim);
            Ok(Prepared::Run(values))
        }
        Ok(IdempotencyBegin::Replay(stored)) => {
            *idem = Some(IdempotencyOutcome::Replayed);
            Ok(Prepared::Replay(stored))
        }
        Ok(IdempotencyBegin::Bypass) => Ok(Prepared::Run(values)),
        Err(e) => {
            *idem = match e.code() {
                "idempotency_key_in_flight" => Some(IdempotencyOutcome::InFlight),
                "idempotency_key_reused" => Some(IdempotencyOutcome::Mismatch),
                _ => None,
            };
            Err(e)
        }
    }
}

/// Reads the `Idempotency-Key` header: exactly one, of valid syntax.
fn idempotency_key_of(headers: &HeaderMap, required: bool) -> Result<Option<String>, ApiError> {
    let mut all = headers.get_all("idempotency-key").iter();
    let Some(first) = all.next() else {
        return if required {
            Err(ApiError::new(
                "idempotency_key_missing",
                "this operation requires an Idempotency-Key header",
            ))
        } else {
            Ok(None)
        };
    };
    if all.next().is_some() {
        return Err(ApiError::new(
            "idempotency_key_invalid",
            "send exactly one Idempotency-Key header; this request has several",
        ));
    }
    let raw = first
        .to_str()
        .map_err(|_| ApiError::new("idempotency_key_invalid", "Idempotency-Key is not ASCII"))?;
    idempotency_key(raw).map(|k| Some(k.to_string()))
}

/// Response headers that belong to one request, not to the stored result
/// of an Idempotency-Key: a replay gets its own.
pub const PER_REQUEST_HEADERS: &[&str] = &[
    "x-request-id",
    "deprecation",
    "sunset",
    "link",
    "ratelimit",
    "ratelimit-policy",
    "retry-after",
    "idempotent-replayed",
];

async fn stored_reply<R: HttpResponse>(reply: R) -> Result<StoredReply, ApiError> {
    use http_body_util::BodyExt;
    let rsp = reply.to_result().map_err(|e| {
        ApiError::internal_because(format!("rendering a response: {}", e.internal_message))
    })?;
    let (parts, body) = rsp.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| ApiError::internal_because(format!("collecting a response body: {e}")))?
        .to_bytes();
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| !PER_REQUEST_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.to_string(), v.to_string()))
        })
        .collect();
    Ok(StoredReply {
        status: parts.status.as_u16(),
        headers,
        body: bytes.to_vec(),
    })
}

fn per_request_headers(call: &Call) -> HeaderMap {
    let mut extra = call.rate.map(|r| r.headers()).unwrap_or_default();
    extra.extend(call.lifecycle_headers());
    if let Ok(v) = HeaderValue::from_str(&call.request_id) {
        extra.insert("x-request-id", v);
    }
    extra
}

/// Serves a stored response: the same status, headers and body, marked
/// `Idempotent-Replayed: true`, with this request's rate-limit headers.
fn replay<R>(call: &Call, stored: StoredReply) -> Reply<R> {
    let mut extra = per_request_headers(call);
    extra.insert("idempotent-replayed", HeaderValue::from_static("true"));
    Reply::Stored(stored, extra)
}

fn observe(
    ports: &Ports,
    call: &Call,
    status: u16,
    problem: Option<&ApiError>,
    idempotency: Option<IdempotencyOutcome>,
) {
    ports.observer.observe(
        call,
        &Outcome {
            status,
            elapsed: call.started.elapsed(),
            problem,
            idempotency,
        },
    );
}

/// Renders a problem from any step: stamped with the request id, carrying
/// the rate-limit headers, and settled against the Idempotency-Key claim.
async fn fail<R>(
    call: &Call,
    ports: &Ports,
    mut e: ApiError,
    idem: Option<IdempotencyOutcome>,
) -> Reply<R> {
    e.problem.request_id = call.request_id.clone();
    if e.problem.instance.is_none() {
        e.problem.instance = Some(call.uri.path().to_string());
    }
    if let Some(rate) = &call.rate {
        for (name, value) in rate.headers().iter() {
            if !e.headers.contains_key(name) {
                e.headers.insert(name.clone(), value.clone());
            }
        }
    }
    if let Some(claim) = &call.claim {
        let keep = problem_record(&e);
        ports.idempotency.abandon(call, claim, keep.as_ref()).await;
    }
    if let Ok(v) = HeaderValue::from_str(&call.request_id) {
        e.headers.insert("x-request-id", v);
    }
    e.headers.extend(call.lifecycle_headers());
    observe(ports, call, e.status(), Some(&e), idem);
    Reply::Problem(e)
}

/// The problem as an Idempotency-Key records it for replay: a client error
/// only (a 5xx is not final), with its own headers but none of the
/// per-request ones.
fn problem_record(e: &ApiError) -> Option<StoredReply> {
    if e.status() >= 500 {
        return None;
    }
    let body = serde_json::to_vec(&e.problem).ok()?;
    let mut headers = vec![(
        "content-type".to_string(),
        "application/problem+json".to_string(),
    )];
    for (name, value) in e.headers.iter() {
        if !PER_REQUEST_HEADERS.contains(&name.as_str())
            && let Ok(v) = value.to_str()
        {
            headers.push((name.to_string(), v.to_string()));
        }
    }
    Some(StoredReply {
        status: e.status(),
        headers,
        body,
    })
}

/// SHA-256 (hex) of method, route and the fingerprinted inputs (path,
/// query, body) re-encoded canonically (serde_json orders object keys), so
/// that formatting and key order do not make two equal requests differ.
pub fn fingerprint(op: &Operation, parts: &[Value]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(op.method.as_bytes());
    h.update(b" ");
    h.update(op.route.as_bytes());
    for (i, part) in parts.iter().enumerate() {
        h.update(if i == 0 { b"\n" } else { b"\x1e" });
        h.update(serde_json::to_vec(part).unwrap_or_default());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks an `Idempotency-Key` value: a Structured Field string or a bare
/// token of 1 to 255 characters of `[A-Za-z0-9._:-]`. Returns the key
/// without quotes.
pub fn idempotency_key(raw: &str) -> Result<&str, ApiError> {
    let key = raw
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .unwrap_or(raw);
    let ok = !key.is_empty()
        && key.len() <= 255
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(key)
    } else {
        Err(ApiError::new(
            "idempotency_key_invalid",
            "Idempotency-Key must be 1 to 255 characters of [A-Za-z0-9._:-], optionally in double quotes",
        ))
    }
}

/// What an endpoint returns to dropshot: the typed success (documented in
/// the OpenAPI dropshot derives) or a problem rendered by hand as
/// `application/problem+json` with its headers.
pub enum Reply<R> {
    Success(R),
    Problem(ApiError),
    /// A recorded response (first answer or replay) plus this request's
    /// own headers.
    Stored(StoredReply, HeaderMap),
}

impl<R: HttpResponse + Send + Sync + 'static> HttpResponse for Reply<R> {
    fn to_result(self) -> HttpHandlerResult {
        match self {
            Reply::Success(inner) => inner.to_result(),
            Reply::Problem(e) => problem_response(e),
            Reply::Stored(stored, extra) => {
                let status = StatusCode::from_u16(stored.status)
                    .map_err(|e| HttpError::for_internal_error(format!("stored status: {e}")))?;
                let mut rsp = Response::builder()
                    .status(status)
                    .body(Body::from(stored.body))
                    .map_err(|e| {
                        HttpError::for_internal_error(format!("building a replay: {e}"))
                    })?;
                for (name, value) in &stored.headers {
                    if let (Ok(n), Ok(v)) = (
                        http::HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_str(value),
                    ) {
                        rsp.headers_mut().append(n, v);
                    }
                }
                for (name, value) in extra.iter() {
                    rsp.headers_mut().insert(name.clone(), value.clone());
                }
                Ok(rsp)
            }
        }
    }

    fn response_metadata() -> ApiEndpointResponse {
        R::response_metadata()
    }

    fn status_code(&self) -> StatusCode {
        match self {
            Reply::Success(inner) => inner.status_code(),
            Reply::Problem(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Reply::Stored(s, _) => {
                StatusCode::from_u16(s.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

fn problem_response(e: ApiError) -> HttpHandlerResult {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&e.problem)
        .map_err(|err| HttpError::for_internal_error(format!("serializing a problem: {err}")))?;
    let mut rsp = Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/problem+json")
        .body(Body::from(body))
        .map_err(|err| {
            HttpError::for_internal_error(format!("building a problem response: {err}"))
        })?;
    for (name, value) in e.headers.iter() {
        rsp.headers_mut().insert(name.clone(), value.clone());
    }
    Ok(rsp)
}

/// A shared extractor (path, query, header) whose failure is kept, not
/// returned, so the pipeline can render it as a problem after
/// authentication.
pub struct Checked<E>(pub Result<E, HttpError>);

#[async_trait]
impl<E: SharedExtractor + 'static> SharedExtractor for Checked<E> {
    async fn from_request<C: ServerContext>(rqctx: &RequestContext<C>) -> Result<Self, HttpError> {
        Ok(Checked(E::from_request(rqctx).await))
    }

    fn metadata(body_content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        E::metadata(body_content_type)
    }
}

/// A JSON body, read raw (bounded by the body limit) so the pipeline can
/// check it against the spec's rules before serde decodes it into `T`.
/// Documented exactly as dropshot's `TypedBody<T>`. It answers 415 when
/// `Content-Type` is missing or not JSON, 413 over the limit, and 400 for
/// bytes that are not one JSON value (trailing bytes included).
pub struct CheckedBody<T>(pub Result<Value, ApiError>, PhantomData<fn() -> T>);

impl<T> CheckedBody<T> {
    pub fn part(self) -> BodyPart<T> {
        BodyPart {
            value: self.0,
            _type: PhantomData,
        }
    }
}

/// A parameter part from an extractor's result.
pub fn param<T>(value: Result<T, HttpError>, location: Location) -> Param<T> {
    Param { value, location }
}

#[async_trait]
impl<T> ExclusiveExtractor for CheckedBody<T>
where
    T: schemars::JsonSchema + DeserializeOwned + Send + Sync + 'static,
{
    async fn from_request<C: ServerContext>(
        rqctx: &RequestContext<C>,
        request: hyper::Request<Body>,
    ) -> Result<Self, HttpError> {
        let done = |r| Ok(CheckedBody(r, PhantomData));
        let Some(ct) = request.headers().get(http::header::CONTENT_TYPE) else {
            return done(Err(ApiError::new(
                "unsupported_media_type",
                "this operation takes a JSON body: send 'Content-Type: application/json'",
            )));
        };
        let ct = ct.to_str().unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" {
            return done(Err(ApiError::new(
                "unsupported_media_type",
                format!("expected content type 'application/json', got {ct:?}"),
            )));
        }
        let cap = rqctx.request_body_max_bytes();
        if let Some(len) = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            && len > cap
        {
            return done(Err(ApiError::new(
                "payload_too_large",
                format!("the request body is {len} bytes; the limit is {cap} bytes"),
            )));
        }
        let mut body = request.into_body();
        let mut buf = Vec::new();
        while let Some(frame) =
            std::future::poll_fn(|cx| hyper::body::Body::poll_frame(Pin::new(&mut body), cx)).await
        {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    return done(Err(ApiError::new(
                        "malformed_request",
                        format!("reading the request body: {e}"),
                    )));
                }
            };
            if let Ok(data) = frame.into_data() {
                buf.extend_from_slice(&data);
                if buf.len() > cap {
                    return done(Err(ApiError::new(
                        "payload_too_large",
                        format!("the request body is over the limit of {cap} bytes"),
                    )));
                }
            }
        }
        // One JSON value, and nothing after it but white space: serde_json
        // refuses trailing bytes.
        done(serde_json::from_slice::<Value>(&buf).map_err(|e| {
            ApiError::new(
                "malformed_request",
                format!("the body is not valid JSON: {e} (a retry with the same body fails again)"),
            )
        }))
    }

    fn metadata(body_content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        TypedBody::<T>::metadata(body_content_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static COMPONENTS: Rules = Rules::new("{}");

    fn rules() -> Rules {
        Rules::new(
            r#"{"type":"object","properties":{"limit":{"type":"integer","minimum":1,"maximum":100},"status":{"type":"string","enum":["open","closed"]},"q":{"type":"string"}}}"#,
        )
    }

    fn blamed(query: &str) -> Vec<String> {
        query_errors(query, &rules(), &COMPONENTS)
            .into_iter()
            .map(|e| e.pointer)
            .collect()
    }

    #[test]
    fn a_query_that_did_not_deserialize_names_the_parameter_at_fault() {
        assert_eq!(blamed("limit=ten"), ["limit"]);
        assert_eq!(blamed("limit=0&status=open"), ["limit"]);
        assert_eq!(blamed("status=lost&limit=5"), ["status"]);
        assert_eq!(blamed("limit=x&status=lost"), ["limit", "status"]);
        // Repeated where one value is expected.
        assert_eq!(blamed("limit=5&limit=6"), ["limit"]);
        // A string parameter whose value happens to read as a number is
        // not blamed for it.
        assert_eq!(blamed("q=123&limit=ten"), ["limit"]);
    }

    #[test]
    fn nothing_is_blamed_when_every_parameter_passes_or_the_query_is_unreadable() {
        assert!(blamed("limit=5&status=open&q=7").is_empty());
        assert!(blamed("").is_empty());
    }
}
