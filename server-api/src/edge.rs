//! The edge: the steps the generated code runs around every handler.
//!
//! dropshot has no middleware, so the generator emits, for each operation,
//! the same sequence of calls into this module, in this order:
//!
//! 1. request id (dropshot's) and authentication through [`Guard`];
//! 2. rate limiting under the operation's spec-declared policy (before
//!    idempotency, so a 429 is never stored as a key's result);
//! 3. `Idempotency-Key` presence and syntax, where the spec requires it;
//! 4. the extractors (malformed input becomes a 400/413/415 problem) and
//!    the spec's value constraints (400 for parameters, 422 for bodies);
//! 5. the idempotency look-up: claim the key, or replay the stored
//!    response, or refuse (409 in flight, 422 reused with another body);
//! 6. the hand-written handler, which records a success in its own
//!    transaction;
//! 7. settling the claim of a request that failed, rendering the response
//!    with its documented headers (`RateLimit*` on every limited response),
//!    and the observation hook (logs, metrics).
//!
//! A handler cannot skip a step because it never sees the request before
//! the edge has run. Nothing here knows storage or business rules: the
//! [`Guard`] implemented by the server resolves credentials and keeps the
//! rate-limit state and the idempotency records.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dropshot::{
    ApiEndpointBodyContentType, ApiEndpointResponse, Body, ExclusiveExtractor, ExtractorMetadata,
    HttpError, HttpResponse, RequestContext, ServerContext, SharedExtractor,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::Serialize;

// dropshot does not re-export its alias for this.
type HttpHandlerResult = Result<Response<Body>, HttpError>;

use crate::api::types::FieldError;
use crate::problem::ApiError;
use crate::validate;

/// What the spec says about one operation, as the edge needs it.
#[derive(Debug)]
pub struct OperationMeta {
    pub operation_id: &'static str,
    pub method: &'static str,
    /// The path template, e.g. `/v1/orders/{order_id}`: the metric label,
    /// never the raw path.
    pub route: &'static str,
    /// Whether the operation declares security (a bearer API key).
    pub authenticated: bool,
    /// Whether `Idempotency-Key` is a required header of the operation.
    pub idempotency_key: bool,
    pub success_status: u16,
    /// The spec's `x-rate-limit-policy` for the operation.
    pub rate_limit: Option<&'static RateLimitPolicy>,
}

/// A rate-limit policy from the spec's `x-rate-limit-policies`.
#[derive(Debug, PartialEq, Eq)]
pub struct RateLimitPolicy {
    pub name: &'static str,
    /// Requests per window (also the burst).
    pub quota: u32,
    pub window_seconds: u32,
}

impl RateLimitPolicy {
    /// `RateLimit-Policy: "writes";q=50;w=1`. Names are lint-checked
    /// tokens, so they need no escaping inside the sf-string.
    pub fn header_value(&self) -> String {
        format!(
            "\"{}\";q={};w={}",
            self.name, self.quota, self.window_seconds
        )
    }
}

/// The caller's standing under a policy after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub policy: &'static RateLimitPolicy,
    /// Requests still available now.
    pub remaining: u32,
    /// Seconds until the quota is fully restored.
    pub reset_seconds: u64,
}

impl RateState {
    /// `RateLimit: "writes";r=7;t=1`.
    pub fn header_value(&self) -> String {
        format!(
            "\"{}\";r={};t={}",
            self.policy.name, self.remaining, self.reset_seconds
        )
    }

    /// Both headers, for problems and replays.
    pub fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&self.policy.header_value()) {
            h.insert("ratelimit-policy", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.header_value()) {
            h.insert("ratelimit", v);
        }
        h
    }

    /// The 429 for a request refused under this state: the registered
    /// quota-exceeded problem type, `violated-policies`, `Retry-After`
    /// (whole seconds, at least 1) and both rate-limit headers.
    pub fn too_many_requests(&self, retry_after_seconds: u64) -> ApiError {
        let retry = retry_after_seconds.max(1);
        let mut e = ApiError::new(
            "rate_limited",
            format!(
                "over the '{}' quota of {} requests per {} s; retry in {retry} s",
                self.policy.name, self.policy.quota, self.policy.window_seconds
            ),
        );
        e.problem.violated_policies = vec![self.policy.name.to_string()];
        e.headers.extend(self.headers());
        e.headers
            .insert(http::header::RETRY_AFTER, HeaderValue::from(retry));
        e
    }
}

/// A response kept for an Idempotency-Key, replayed verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the guard found for an Idempotency-Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is claimed for this request: run the handler.
    Claimed,
    /// The key finished earlier with the same request: replay this.
    Replay(StoredReply),
    /// Idempotency is switched off (the retry-storm demonstration only).
    Bypass,
}

/// This request's claim on an Idempotency-Key.
#[derive(Debug)]
pub struct Claim {
    pub key: String,
    /// SHA-256 (hex) of method, route and canonical body.
    pub fingerprint: String,
    /// Set by the handler once the result is stored in its transaction.
    pub recorded: AtomicBool,
}

impl Claim {
    pub fn mark_recorded(&self) {
        self.recorded.store(true, Ordering::SeqCst);
    }

    pub fn is_recorded(&self) -> bool {
        self.recorded.load(Ordering::SeqCst)
    }
}

/// How a claimed request ended without recording its result.
#[derive(Debug)]
pub enum Settle<'a> {
    /// It failed with this problem: a 4xx is stored for replay, a 5xx
    /// releases the key so that a retry runs again.
    Failed(&'a ApiError),
    /// It succeeded but the handler did not record the result: release the
    /// key and complain loudly (a programming error).
    Unrecorded,
}

/// The caller, as resolved by the [`Guard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The API key's id (never the secret).
    pub key_id: String,
    pub admin: bool,
    /// The customer a customer-role key acts for.
    pub customer_id: Option<String>,
}

/// Policy hooks the server provides to the edge.
#[async_trait]
pub trait Guard: Send + Sync + 'static {
    /// Resolves the `Authorization` header value (if any) to a principal.
    /// Called only for operations that declare security; `call` has no
    /// principal yet.
    async fn authenticate(
        &self,
        call: &Call,
        authorization: Option<&str>,
    ) -> Result<Principal, ApiError>;

    /// Checks and counts one request under `policy` for the caller (the
    /// principal's key id, else the client address). A refusal is the 429
    /// from [`RateState::too_many_requests`].
    async fn rate_limit(
        &self,
        call: &Call,
        policy: &'static RateLimitPolicy,
    ) -> Result<RateState, ApiError>;

    /// Claims `key` for this request, or finds its stored response, or
    /// refuses (409 in flight, 422 reused with another body).
    async fn idempotency_begin(
        &self,
        call: &Call,
        key: &str,
        fingerprint: &str,
    ) -> Result<IdempotencyBegin, ApiError>;

    /// Settles a claim the handler did not record (see [`Settle`]).
    async fn idempotency_settle(&self, call: &Call, claim: &Claim, outcome: Settle<'_>);

    /// Called once per finished call, for logs and metrics.
    fn observe(&self, _call: &Call, _status: u16, _elapsed: Duration, _problem: Option<&ApiError>) {
    }
}

/// One call in flight: what the edge learned before the handler runs.
#[derive(Debug)]
pub struct Call {
    pub op: &'static OperationMeta,
    pub request_id: String,
    pub principal: Option<Principal>,
    /// The client's IP address: the rate-limit key when unauthenticated.
    pub client: String,
    /// The request's path and query, for building `Link` headers.
    pub uri: http::Uri,
    pub started: Instant,
    /// The caller's standing under the operation's rate-limit policy.
    pub rate: Option<RateState>,
    /// The validated `Idempotency-Key` (unquoted), where required.
    pub idempotency_key: Option<String>,
    /// This request's claim on that key, once taken.
    pub idempotency: Option<Claim>,
}

impl Call {
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

/// A created resource and where it lives (the `Location` header).
#[derive(Debug, Clone)]
pub struct Created<T> {
    pub body: T,
    pub location: String,
}

/// What an endpoint returns to dropshot: the typed success (documented in
/// the OpenAPI dropshot derives) or a problem rendered by hand as
/// `application/problem+json` with its headers.
pub enum Reply<R> {
    Success(R),
    Problem(ApiError),
    /// An Idempotency-Key replay: the stored response plus these headers.
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
                        rsp.headers_mut().insert(n, v);
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
/// returned, so the edge can render it as a problem after authentication.
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

/// The body extractor counterpart of [`Checked`]. It also answers 415 and
/// 413 from the request headers itself, since dropshot reports both as 400.
pub struct CheckedBody<E>(pub Result<E, ApiError>);

#[async_trait]
impl<E: ExclusiveExtractor + 'static> ExclusiveExtractor for CheckedBody<E> {
    async fn from_request<C: ServerContext>(
        rqctx: &RequestContext<C>,
        request: hyper::Request<Body>,
    ) -> Result<Self, HttpError> {
        if let Some(ct) = request.headers().get(http::header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            let mime = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if mime != "application/json" {
                return Ok(CheckedBody(Err(ApiError::new(
                    "unsupported_media_type",
                    format!("expected content type 'application/json', got {ct:?}"),
                ))));
            }
        }
        let cap = rqctx.request_body_max_bytes();
        if let Some(len) = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            && len > cap
        {
            return Ok(CheckedBody(Err(ApiError::new(
                "payload_too_large",
                format!("the request body is {len} bytes; the limit is {cap} bytes"),
            ))));
        }
        // Read the body here, under the same cap, to refuse an explicit
        // `null` for a member the body type declares: serde reads `null` as
        // an absent optional member, so `{"email": null}` would pass as
        // "leave unchanged" although the spec's type is `string`. Members the
        // type does not declare are ignored whatever their value, as before.
        // No request schema in the spec is `nullable` (contract-tests'
        // verify.rs fails if one becomes so).
        let (parts, mut body) = request.into_parts();
        let mut buf = Vec::new();
        while let Some(frame) =
            std::future::poll_fn(|cx| hyper::body::Body::poll_frame(Pin::new(&mut body), cx)).await
        {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    return Ok(CheckedBody(Err(ApiError::new(
                        "malformed_request",
                        format!("reading the request body: {e}"),
                    ))));
                }
            };
            if let Ok(data) = frame.into_data() {
                buf.extend_from_slice(&data);
                if buf.len() > cap {
                    return Ok(CheckedBody(Err(ApiError::new(
                        "payload_too_large",
                        format!("the request body is over the limit of {cap} bytes"),
                    ))));
                }
            }
        }
        let nulls = match serde_json::from_slice::<serde_json::Value>(&buf) {
            Ok(value) => {
                let mut found = Vec::new();
                nulls_in(&value, "", &mut found);
                Some((value, found))
            }
            Err(_) => None,
        };
        let rebuild = |bytes: Vec<u8>| {
            let mut r = hyper::Request::new(Body::from(bytes));
            *r.method_mut() = parts.method.clone();
            *r.uri_mut() = parts.uri.clone();
            *r.version_mut() = parts.version;
            *r.headers_mut() = parts.headers.clone();
            r.headers_mut().remove(http::header::CONTENT_LENGTH);
            r
        };
        let extracted = match E::from_request(rqctx, rebuild(buf)).await {
            Ok(e) => e,
            Err(e) => return Ok(CheckedBody(Err(ApiError::from_extractor(&e)))),
        };
        // A null is at a declared member exactly when the body type refuses
        // a value no member type accepts (`[[[]]]`) in its place. At most
        // MAX_NULLS_CHECKED are tried, one parse each, to bound the work.
        // TODO-hardening: a declared null after that many undeclared ones
        // passes as absent; checking against the schema would need no bound.
        if let Some((value, found)) = nulls {
            for pointer in found.iter().take(MAX_NULLS_CHECKED) {
                let mut probe = value.clone();
                if let Some(slot) = probe.pointer_mut(pointer) {
                    *slot = serde_json::json!([[[]]]);
                }
                let bytes = serde_json::to_vec(&probe).unwrap_or_default();
                if E::from_request(rqctx, rebuild(bytes)).await.is_err() {
                    return Ok(CheckedBody(Err(ApiError::new(
                        "malformed_request",
                        format!("#{pointer}: null is not a valid value; omit the member instead"),
                    ))));
                }
            }
        }
        Ok(CheckedBody(Ok(extracted)))
    }

    fn metadata(body_content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        E::metadata(body_content_type)
    }
}

/// How many `null`s of one request body [`CheckedBody`] checks.
const MAX_NULLS_CHECKED: usize = 32;

/// The JSON pointers (RFC 6901) of the `null`s in `value`, in order.
fn nulls_in(value: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Null => out.push(at.to_string()),
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                nulls_in(v, &format!("{at}/{i}"), out);
            }
        }
        serde_json::Value::Object(members) => {
            for (k, v) in members {
                let k = k.replace('~', "~0").replace('/', "~1");
                nulls_in(v, &format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// Steps 1 to 3: request id, authentication, rate limit, Idempotency-Key
/// syntax.
pub async fn begin<C: ServerContext>(
    op: &'static OperationMeta,
    rqctx: &RequestContext<C>,
    guard: &dyn Guard,
) -> Result<Call, (Call, ApiError)> {
    let mut call = Call {
        op,
        request_id: rqctx.request_id.clone(),
        principal: None,
        client: rqctx.request.remote_addr().ip().to_string(),
        uri: rqctx.request.uri().clone(),
        started: Instant::now(),
        rate: None,
        idempotency_key: None,
        idempotency: None,
    };
    if op.authenticated {
        let auth = rqctx
            .request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        match guard.authenticate(&call, auth).await {
            Ok(p) => call.principal = Some(p),
            Err(e) => {
                // An unauthenticated caller is limited by its address, so
                // guessing keys spends quota like any other request.
                if let Some(policy) = op.rate_limit {
                    match guard.rate_limit(&call, policy).await {
                        Ok(state) => call.rate = Some(state),
                        Err(refused) => return Err((call, refused)),
                    }
                }
                return Err((call, e));
            }
        }
    }
    if let Some(policy) = op.rate_limit {
        match guard.rate_limit(&call, policy).await {
            Ok(state) => call.rate = Some(state),
            Err(e) => return Err((call, e)),
        }
    }
    if op.idempotency_key {
        let raw = rqctx.request.headers().get("idempotency-key");
        let checked = match raw {
            None => Err(ApiError::new(
                "idempotency_key_missing",
                "this operation requires an Idempotency-Key header",
            )),
            Some(v) => v
                .to_str()
                .map_err(|_| {
                    ApiError::new("idempotency_key_invalid", "Idempotency-Key is not ASCII")
                })
                .and_then(|v| idempotency_key(v).map(str::to_string)),
        };
        match checked {
            Ok(key) => call.idempotency_key = Some(key),
            Err(e) => return Err((call, e)),
        }
    }
    Ok(call)
}

/// Step 2: unwrap a parameter extractor and check the spec's constraints on
/// it. `rules` is the generated constraint schema of the parameter object.
pub fn param<T: Serialize>(
    value: Result<T, HttpError>,
    rules: &'static str,
) -> Result<T, ApiError> {
    let value = value.map_err(|e| {
        let mut p = ApiError::from_extractor(&e);
        if p.code() == "malformed_request" {
            p = ApiError::new("invalid_parameter", p.problem.detail);
        }
        p
    })?;
    let errors = validate::check(&value, rules, validate::Mode::Parameters);
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::invalid("invalid_parameter", errors))
    }
}

/// Step 2 for a body: unwrap and check constraints (422 listing every bad
/// field).
pub fn body<T: Serialize>(value: Result<T, ApiError>, rules: &'static str) -> Result<T, ApiError> {
    let value = value?;
    let errors: Vec<FieldError> = validate::check(&value, rules, validate::Mode::Body);
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::invalid("validation_failed", errors))
    }
}

/// Step 5: claim the Idempotency-Key for this request. `Ok(Some(_))` is a
/// stored response to replay instead of running the handler.
pub async fn claim<T: Serialize>(
    call: &mut Call,
    guard: &dyn Guard,
    body: &T,
) -> Result<Option<StoredReply>, ApiError> {
    let Some(key) = call.idempotency_key.clone() else {
        return Ok(None);
    };
    let fingerprint = fingerprint(call.op, body);
    match guard.idempotency_begin(call, &key, &fingerprint).await? {
        IdempotencyBegin::Claimed => {
            call.idempotency = Some(Claim {
                key,
                fingerprint,
                recorded: AtomicBool::new(false),
            });
            Ok(None)
        }
        IdempotencyBegin::Replay(stored) => Ok(Some(stored)),
        IdempotencyBegin::Bypass => Ok(None),
    }
}

/// SHA-256 (hex) of method, route and the body re-encoded canonically
/// (serde_json orders object keys), so that formatting and key order do
/// not make two equal requests differ.
pub fn fingerprint<T: Serialize>(op: &OperationMeta, body: &T) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::to_value(body)
        .and_then(|v| serde_json::to_vec(&v))
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(op.method.as_bytes());
    h.update(b" ");
    h.update(op.route.as_bytes());
    h.update(b"\n");
    h.update(&canonical);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves a stored response: the same status, headers and body, marked
/// `Idempotent-Replayed: true`, with this request's rate-limit headers.
pub fn replay<R>(call: &Call, stored: StoredReply) -> Reply<R> {
    let mut extra = call.rate.map(|r| r.headers()).unwrap_or_default();
    extra.insert("idempotent-replayed", HeaderValue::from_static("true"));
    if let Ok(v) = HeaderValue::from_str(&call.request_id) {
        extra.insert("x-request-id", v);
    }
    Reply::Stored(stored, extra)
}

/// Last step: render a handler's result.
pub async fn finish<R, T>(
    call: &Call,
    guard: &dyn Guard,
    result: Result<T, ApiError>,
    build: impl FnOnce(T, &Call) -> R,
) -> Reply<R>
where
    R: HttpResponse,
{
    match result {
        Ok(value) => {
            if let Some(claim) = &call.idempotency
                && !claim.is_recorded()
            {
                guard
                    .idempotency_settle(call, claim, Settle::Unrecorded)
                    .await;
            }
            let reply = build(value, call);
            guard.observe(call, call.op.success_status, call.started.elapsed(), None);
            Reply::Success(reply)
        }
        Err(e) => fail(call, guard, e).await,
    }
}

/// Renders a problem from any step: stamped with the request id, carrying
/// the rate-limit headers, and settled against the Idempotency-Key claim.
pub async fn fail<R>(call: &Call, guard: &dyn Guard, mut e: ApiError) -> Reply<R> {
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
    if let Some(claim) = &call.idempotency
        && !claim.is_recorded()
    {
        guard
            .idempotency_settle(call, claim, Settle::Failed(&e))
            .await;
    }
    if let Ok(v) = HeaderValue::from_str(&call.request_id) {
        e.headers.insert("x-request-id", v);
    }
    guard.observe(call, e.status(), call.started.elapsed(), Some(&e));
    Reply::Problem(e)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys() {
        // (raw header value, accepted key or None)
        let cases: &[(&str, Option<&str>)] = &[
            (
                "8e03978e-40d5-43e8-bc93-6894a57f9324",
                Some("8e03978e-40d5-43e8-bc93-6894a57f9324"),
            ),
            ("\"quoted-key\"", Some("quoted-key")),
            ("a", Some("a")),
            ("k:1.2_3", Some("k:1.2_3")),
            ("", None),
            ("\"\"", None),
            ("has space", None),
            ("ünïcode", None),
            ("\"unterminated", None),
        ];
        for (raw, want) in cases {
            let got = idempotency_key(raw).ok();
            assert_eq!(got, *want, "{raw:?}");
        }
        assert!(idempotency_key(&"x".repeat(255)).is_ok());
        let too_long = idempotency_key(&"x".repeat(256)).expect_err("256 characters");
        assert_eq!(too_long.code(), "idempotency_key_invalid");
        assert_eq!(too_long.status(), 400);
    }

    #[test]
    fn next_links_replace_the_cursor_and_keep_other_parameters() {
        static OP: OperationMeta = OperationMeta {
            operation_id: "listOrders",
            method: "GET",
            route: "/v1/orders",
            authenticated: true,
            idempotency_key: false,
            success_status: 200,
            rate_limit: None,
        };
        let cases = [
            ("/v1/orders", "</v1/orders?cursor=C>; rel=\"next\""),
            (
                "/v1/orders?limit=5",
                "</v1/orders?limit=5&cursor=C>; rel=\"next\"",
            ),
            (
                "/v1/orders?cursor=OLD&status=pending",
                "</v1/orders?status=pending&cursor=C>; rel=\"next\"",
            ),
        ];
        for (uri, want) in cases {
            let call = Call {
                op: &OP,
                request_id: "r".into(),
                principal: None,
                client: "127.0.0.1".into(),
                uri: uri.parse().expect("a URI"),
                started: Instant::now(),
                rate: None,
                idempotency_key: None,
                idempotency: None,
            };
            assert_eq!(call.next_link("C"), want, "{uri}");
        }
    }
}
