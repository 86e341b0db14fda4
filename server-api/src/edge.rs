//! The edge: the steps the generated code runs around every handler.
//!
//! dropshot has no middleware, so the generator emits, for each operation,
//! the same sequence of calls into this module: start the call (request id,
//! authentication through [`Guard`]), unwrap the extractors (malformed input
//! becomes a 400 problem), validate the spec's constraints, call the
//! hand-written handler, and finish (problem rendering, response headers,
//! observation). A handler cannot skip a step because it never sees the
//! request before the edge has run.
//!
//! Nothing here knows storage or business rules; the [`Guard`] implemented
//! by the server resolves credentials.

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
    /// Called only for operations that declare security.
    async fn authenticate(
        &self,
        op: &'static OperationMeta,
        authorization: Option<&str>,
    ) -> Result<Principal, ApiError>;

    /// Called once per finished call, for logs and metrics.
    fn observe(&self, _call: &Call, _status: u16, _elapsed: Duration, _problem: Option<&ApiError>) {
    }
}

/// One call in flight: what the edge learned before the handler runs.
#[derive(Debug, Clone)]
pub struct Call {
    pub op: &'static OperationMeta,
    pub request_id: String,
    pub principal: Option<Principal>,
    /// The request's path and query, for building `Link` headers.
    pub uri: http::Uri,
    pub started: Instant,
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
    Success(R, HeaderMap),
    Problem(ApiError),
}

impl<R: HttpResponse + Send + Sync + 'static> HttpResponse for Reply<R> {
    fn to_result(self) -> HttpHandlerResult {
        match self {
            Reply::Success(inner, headers) => {
                let mut rsp = inner.to_result()?;
                for (name, value) in headers.iter() {
                    rsp.headers_mut().insert(name.clone(), value.clone());
                }
                Ok(rsp)
            }
            Reply::Problem(e) => problem_response(e),
        }
    }

    fn response_metadata() -> ApiEndpointResponse {
        R::response_metadata()
    }

    fn status_code(&self) -> StatusCode {
        match self {
            Reply::Success(inner, _) => inner.status_code(),
            Reply::Problem(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
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
        Ok(CheckedBody(
            E::from_request(rqctx, request)
                .await
                .map_err(|e| ApiError::from_extractor(&e)),
        ))
    }

    fn metadata(body_content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        E::metadata(body_content_type)
    }
}

/// Step 1: request id and authentication.
pub async fn begin<C: ServerContext>(
    op: &'static OperationMeta,
    rqctx: &RequestContext<C>,
    guard: &dyn Guard,
) -> Result<Call, (Call, ApiError)> {
    let mut call = Call {
        op,
        request_id: rqctx.request_id.clone(),
        principal: None,
        uri: rqctx.request.uri().clone(),
        started: Instant::now(),
    };
    if op.authenticated {
        let auth = rqctx
            .request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        match guard.authenticate(op, auth).await {
            Ok(p) => call.principal = Some(p),
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
                .and_then(|v| idempotency_key(v).map(|_| ())),
        };
        if let Err(e) = checked {
            return Err((call, e));
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

/// Last step: render a handler's result.
pub fn finish<R, T>(
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
            let reply = build(value, call);
            guard.observe(call, call.op.success_status, call.started.elapsed(), None);
            Reply::Success(reply, HeaderMap::new())
        }
        Err(e) => fail(call, guard, e),
    }
}

/// Renders a problem from any step, stamped with the request id.
pub fn fail<R>(call: &Call, guard: &dyn Guard, mut e: ApiError) -> Reply<R> {
    e.problem.request_id = call.request_id.clone();
    if e.problem.instance.is_none() {
        e.problem.instance = Some(call.uri.path().to_string());
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
                uri: uri.parse().expect("a URI"),
                started: Instant::now(),
            };
            assert_eq!(call.next_link("C"), want, "{uri}");
        }
    }
}
