//! The front: the public listener, so that every response is the contract's.
//!
//! dropshot 0.18 answers a routing failure (unknown path 404, wrong method
//! 405, undecodable path 400) with its own JSON body before any endpoint
//! runs, generates its own request id, and overwrites `X-Request-Id` on
//! every response; it offers a hook for none of these. Nor can code outside
//! dropshot call a handler itself: `RequestContext` is `#[non_exhaustive]`
//! and dropshot's per-connection service is private, so the only way into
//! its handlers is its own listener.
//!
//! So the front owns the public socket and dropshot listens on an ephemeral
//! loopback port behind it. For each request the front:
//!
//! 1. chooses the request id: the client's `X-Request-Id` when well formed
//!    ([`client_request_id`]), else a fresh UUID;
//! 2. routes it with dropshot's own router (built from the same API
//!    description) and answers a routing failure itself, as a problem
//!    (`not_found`, `method_not_allowed` with `Allow`, `malformed_request`);
//! 3. otherwise forwards it, streaming, over pooled keep-alive connections,
//!    with the chosen id, the client's address and a per-process token;
//! 4. stamps the chosen id on whatever comes back.
//!
//! Behind it, [`wrap_endpoints`] puts a thin wrapper around every endpoint
//! that, when the token matches, sets `rqctx.request_id` and the remote
//! address to what the front sent, so the edge, the rate limiter and the
//! logs see the chosen id and the real client.
//!
//! It deliberately does not parse or buffer bodies, authenticate, retry, or
//! change a response beyond `X-Request-Id` and hop-by-hop headers; the body
//! limit, extractors and detached handlers stay dropshot's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use dropshot::{
    ApiDescription, ApiEndpoint, ApiEndpointParameter, ApiEndpointParameterLocation,
    ApiEndpointVersions, Body, HttpError, Path, RawRequest, RequestContext, RequestInfo,
    ServerContext, SharedExtractor,
};
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use orderflow_server_api::ApiError;
use slog::Logger;
use tokio::net::TcpListener;

/// The longest client request id echoed (the spec's `X-Request-Id` syntax).
pub const MAX_REQUEST_ID_LEN: usize = 128;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The per-process secret that marks a request as forwarded by the front.
const FRONT_TOKEN: HeaderName = HeaderName::from_static("x-orderflow-front-token");
/// The client's address, as the front saw it.
const FRONT_PEER: HeaderName = HeaderName::from_static("x-orderflow-front-peer");

/// Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so
/// neither hop passes them on. hyper frames each hop itself.
static HOP_BY_HOP: [HeaderName; 7] = [
    http::header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    http::header::TE,
    http::header::TRAILER,
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
];

/// The client's `X-Request-Id` if it is well formed: 1 to
/// [`MAX_REQUEST_ID_LEN`] characters of `[A-Za-z0-9._-]`.
pub fn client_request_id(value: Option<&HeaderValue>) -> Option<&str> {
    let bytes = value?.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    // Only ASCII passed the check, so this never fails.
    ok.then(|| std::str::from_utf8(bytes).ok()).flatten()
}

/// The id of a request: the client's when well formed, else a new UUID.
pub fn choose_request_id(headers: &http::HeaderMap) -> String {
    match client_request_id(headers.get(X_REQUEST_ID)) {
        Some(id) => id.to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    }
}

/// A fresh secret for [`FRONT_TOKEN`]: 122 random bits.
pub fn new_token() -> Arc<str> {
    uuid::Uuid::new_v4().simple().to_string().into()
}

/// The problem for a routing failure from dropshot's router: `instance` is
/// the path, and a 405 carries the router's `Allow`.
pub fn routing_problem(method: &Method, path: &str, e: &HttpError) -> ApiError {
    let mut problem = match e.status_code.as_u16() {
        404 => ApiError::new("not_found", format!("no operation at {path}")),
        405 => {
            let mut p = ApiError::new(
                "method_not_allowed",
                format!("{method} is not allowed on {path}; the Allow header lists what is"),
            );
            let allowed: Vec<&str> = e
                .headers
                .iter()
                .flat_map(|h| h.get_all(http::header::ALLOW))
                .filter_map(|v| v.to_str().ok())
                .collect();
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                p.headers.insert(http::header::ALLOW, v);
            }
            p
        }
        400 => ApiError::new(
            "malformed_request",
            "the path is not valid percent-encoded UTF-8",
        ),
        _ => ApiError::from_extractor(e),
    };
    problem.problem.instance = Some(path.to_string());
    problem
}

/// Renders a problem as `application/problem+json` with its headers and
/// the request id in body and `X-Request-Id`.
pub fn problem_response(mut e: ApiError, request_id: &str) -> Response<Body> {
    e.problem.request_id = request_id.to_string();
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A Problem is plain strings and numbers: serializing cannot fail.
    let body = serde_json::to_vec(&e.problem).unwrap_or_default();
    let mut rsp = Response::new(Body::from(body));
    *rsp.status_mut() = status;
    let headers = rsp.headers_mut();
    headers.extend(e.headers);
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(X_REQUEST_ID, v);
    }
    rsp
}

/// The path variables of a route template, e.g. `order_id` in
/// `/v1/orders/{order_id}`.
fn path_variables(template: &str) -> Vec<String> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|s| s.trim_end_matches(":.*").to_string())
        .collect()
}

/// A one-member path type, only to borrow the schema dropshot describes a
/// string path parameter with.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct OneString {
    _v: String,
}

/// Path parameters named `names`, so that dropshot accepts a wrapper at the
/// same route template (it checks that every path variable is consumed).
fn path_parameters(names: &[String]) -> Vec<ApiEndpointParameter> {
    names
        .iter()
        .filter_map(|name| {
            let meta = Path::<OneString>::metadata(dropshot::ApiEndpointBodyContentType::Json);
            let schema = meta.parameters.into_iter().next()?.schema;
            Some(ApiEndpointParameter::new_named(
                &ApiEndpointParameterLocation::Path,
                name.clone(),
                None,
                true,
                schema,
                Vec::new(),
            ))
        })
        .collect()
}

/// Re-registers every endpoint of `api` behind a wrapper that adopts what
/// the front sent (see the module docs). Routes, body media types and body
/// limits are unchanged; only the request id, remote address and logger of
/// the `RequestContext` differ.
pub fn wrap_endpoints<C: ServerContext>(
    api: ApiDescription<C>,
    token: Arc<str>,
    log: Logger,
) -> Result<ApiDescription<C>> {
    let router = api.into_router();
    let mut wrapped = ApiDescription::new();
    for (path, method, endpoint) in router.endpoints(None) {
        let inner = Arc::clone(&endpoint.handler);
        let token = token.clone();
        let log = log.clone();
        let handler = move |mut rqctx: RequestContext<C>, raw: RawRequest| {
            let inner = inner.clone();
            let token = token.clone();
            let log = log.clone();
            async move {
                let mut request = raw.into_inner();
                adopt(&mut rqctx, &mut request, &token, &log);
                let id = rqctx.request_id.clone();
                let path = request.uri().path().to_string();
                match inner.handle_request(rqctx, request).await {
                    Ok(rsp) => Ok::<_, HttpError>(rsp),
                    // The generated endpoints answer every problem
                    // themselves, so an error here is dropshot failing to
                    // render a response: a 500 that carries nothing internal.
                    Err(_) => {
                        slog::error!(log, "endpoint failed outside the edge"; "request_id" => &id);
                        let mut e = ApiError::internal();
                        e.problem.instance = Some(path);
                        Ok(problem_response(e, &id))
                    }
                }
            }
        };
        let method: Method = method
            .parse()
            .map_err(|e| anyhow!("method {method} of {path}: {e}"))?;
        let mut ep = ApiEndpoint::new(
            endpoint.operation_id.clone(),
            handler,
            method,
            endpoint.body_content_type.mime_type(),
            &path,
            ApiEndpointVersions::All,
        );
        ep.parameters = path_parameters(&path_variables(&path));
        ep.body_content_type = endpoint.body_content_type.clone();
        ep.request_body_max_bytes = endpoint.request_body_max_bytes;
        ep.visible = endpoint.visible;
        wrapped
            .register(ep)
            .map_err(|e| anyhow!("wrapping {path}: {e}"))?;
    }
    Ok(wrapped)
}

/// Takes the front's request id and client address when the request
/// carries this process's token; a request that reached dropshot's loopback
/// port some other way keeps dropshot's id and address.
fn adopt<C: ServerContext>(
    rqctx: &mut RequestContext<C>,
    request: &mut Request<Body>,
    token: &str,
    log: &Logger,
) {
    let headers = request.headers_mut();
    let trusted = headers
        .get(FRONT_TOKEN)
        .is_some_and(|v| v.as_bytes() == token.as_bytes());
    let peer = headers
        .get(FRONT_PEER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<SocketAddr>().ok());
    headers.remove(FRONT_TOKEN);
    headers.remove(FRONT_PEER);
    if !trusted {
        return;
    }
    if let Some(id) = client_request_id(request.headers().get(X_REQUEST_ID)) {
        rqctx.request_id = id.to_string();
    }
    let peer = peer.unwrap_or_else(|| rqctx.request.remote_addr());
    rqctx.request = RequestInfo::new(&*request, peer);
    rqctx.log = log.new(slog::o!(
        "request_id" => rqctx.request_id.clone(),
        "remote_addr" => peer.to_string(),
        "method" => request.method().to_string(),
        "uri" => request.uri().to_string(),
    ));
}

/// Routes a request without running it: the operation id of the endpoint
/// it reaches, or the router's error for a routing failure.
pub type Lookup = Arc<dyn Fn(&Method, &str) -> Result<String, HttpError> + Send + Sync>;

/// Cross-origin requests from browsers (the Fetch standard's CORS
/// protocol): an allowlist of origins, and per operation the request
/// headers the spec declares, so a preflight answers exactly what the
/// operation accepts.
#[derive(Debug, Default, Clone)]
pub struct Cors {
    /// Serialised origins (`https://shop.example`, no path). Never `*`:
    /// requests carry credentials (`Authorization`).
    pub origins: std::collections::HashSet<String>,
    /// Lower-case request header names by operation id.
    pub headers: std::collections::HashMap<String, Vec<String>>,
}

/// Response headers a browser script may read (RateLimit and Retry-After
/// tell it when to retry, Location where a created resource is).
const EXPOSED: &str =
    "RateLimit, RateLimit-Policy, Retry-After, Location, X-Request-Id, Idempotent-Replayed";

impl Cors {
    /// Checks one `--cors-origin`: a scheme and host (and port), nothing
    /// else, and never `*`.
    pub fn parse_origin(raw: &str) -> Result<String> {
        if raw.trim() == "*" {
            return Err(anyhow!(
                "'*' is not allowed: API keys are credentials, and a wildcard would let any site use a visitor's key; list each origin, e.g. https://shop.example"
            ));
        }
        let uri: http::Uri = raw.trim().parse().map_err(|e| {
            anyhow!("{raw:?} is not an origin ({e}); expected e.g. https://shop.example")
        })?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(anyhow!(
                "{raw:?} is not an origin; expected a scheme and host, e.g. https://shop.example"
            ));
        };
        if !matches!(scheme, "http" | "https") {
            return Err(anyhow!("{raw:?}: an origin's scheme is http or https"));
        }
        if uri
            .path_and_query()
            .is_some_and(|pq| pq.as_str() != "/" && !pq.as_str().is_empty())
            || raw.trim().ends_with('/')
        {
            return Err(anyhow!(
                "{raw:?}: an origin has no path (not even '/'); expected e.g. https://shop.example"
            ));
        }
        Ok(format!(
            "{scheme}://{}",
            authority.as_str().to_ascii_lowercase()
        ))
    }

    /// The declared request headers of every operation, from the
    /// generated descriptors, plus what the pipeline itself reads.
    pub fn headers_of(
        ops: &[&orderflow_edge::Operation],
    ) -> std::collections::HashMap<String, Vec<String>> {
        ops.iter()
            .map(|op| {
                let mut names: Vec<String> = vec!["x-request-id".into()];
                if op.authenticated {
                    names.push("authorization".into());
                }
                if op.rules.body.is_some() {
                    names.push("content-type".into());
                }
                if let Some(rules) = &op.rules.headers
                    && let Some(props) = rules.tree().get("properties").and_then(|p| p.as_object())
                {
                    names.extend(props.keys().map(|k| k.to_ascii_lowercase()));
                }
                names.sort();
                names.dedup();
                (op.operation_id.to_string(), names)
            })
            .collect()
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins.contains(origin)
    }
}

/// The preflight answer for `path` (RFC 9110 OPTIONS plus the CORS
/// headers when `origin` is allowed and asks for something the operation
/// accepts); browsers fail the request when the CORS headers are absent.
fn preflight(
    shared: &Shared,
    path: &str,
    origin: Option<&str>,
    headers: &http::HeaderMap,
) -> Response<Body> {
    let allowed = allowed_methods(&shared.lookup, path);
    let mut rsp = options_response(&allowed);
    rsp.headers_mut()
        .append(http::header::VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = origin.filter(|o| shared.cors.allows(o)) else {
        return rsp;
    };
    let Some(requested) = headers
        .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .and_then(|m| m.parse::<Method>().ok())
    else {
        return rsp;
    };
    let lookup_method = if requested == Method::HEAD {
        Method::GET
    } else {
        requested.clone()
    };
    let Ok(operation) = (shared.lookup)(&lookup_method, path) else {
        return rsp;
    };
    let accepted = shared
        .cors
        .headers
        .get(&operation)
        .cloned()
        .unwrap_or_default();
    let asked: Vec<String> = headers
        .get_all(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if asked.iter().any(|h| !accepted.contains(h)) {
        // A header the operation does not declare: no CORS headers, so
        // the browser does not send the request.
        return rsp;
    }
    let h = rsp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    let methods: Vec<&str> = allowed
        .iter()
        .copied()
        .filter(|m| *m != "OPTIONS")
        .collect();
    if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
        h.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    if let Ok(v) = HeaderValue::from_str(&accepted.join(", ")) {
        h.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    h.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    rsp
}

struct Shared {
    upstream: SocketAddr,
    token: Arc<str>,
    lookup: Lookup,
    cors: Cors,
    metrics: Arc<crate::metrics::Metrics>,
    client: Client<HttpConnector, Incoming>,
    log: Logger,
}

/// The running front.
pub struct Front {
    local_addr: SocketAddr,
    close: Option<tokio::sync::oneshot::Sender<()>>,
    /// Set when the drain time is over: every connection still open is
    /// dropped (its socket closed), whatever it was doing.
    kill: tokio::sync::watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl Front {
    /// Binds the public address. Separate from [`Front::start`] so that the
    /// server takes the port before it does anything a failed start would
    /// lose (the first admin key is created only once this succeeded). The
    /// error names the address and the OS reason ("Address already in
    /// use", "Permission denied").
    pub async fn bind(listen: SocketAddr) -> Result<TcpListener> {
        TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))
    }

    /// Serves on `listener`, forwarding to dropshot at `upstream`.
    pub async fn start(
        listener: TcpListener,
        upstream: SocketAddr,
        lookup: Lookup,
        cors: Cors,
        metrics: Arc<crate::metrics::Metrics>,
        token: Arc<str>,
        log: Logger,
    ) -> Result<Front> {
        let local_addr = listener.local_addr().context("reading the bound address")?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            // Below hyper's 30-second header timeout on dropshot's side,
            // so the pool drops an idle connection before the server does.
            .pool_idle_timeout(Duration::from_secs(20))
            .build(connector);
        let shared = Arc::new(Shared {
            upstream,
            token,
            lookup,
            cors,
            metrics,
            client,
            log: log.clone(),
        });
        let (close, mut closed) = tokio::sync::oneshot::channel::<()>();
        let (kill, killed) = tokio::sync::watch::channel(false);
        let join = tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new());
            builder.http2().timer(TokioTimer::new());
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let (socket, remote) = match accepted {
                            Ok(a) => a,
                            Err(e) => {
                                // A failed accept concerns that one socket
                                // (or a momentary lack of descriptors).
                                slog::warn!(shared.log, "accept failed"; "cause" => e.to_string());
                                continue;
                            }
                        };
                        let shared = shared.clone();
                        let service = hyper::service::service_fn(move |req| {
                            handle(shared.clone(), remote, req)
                        });
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(socket), service)
                            .into_owned();
                        let watched = graceful.watch(conn);
                        let mut killed = killed.clone();
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = watched => {}
                                _ = killed.wait_for(|k| *k) => {}
                            }
                        });
                    }
                    _ = &mut closed => break,
                }
            }
            graceful.shutdown().await;
        });
        Ok(Front {
            local_addr,
            close: Some(close),
            kill,
            join,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and waits for the responses in flight, for at most
    /// `drain`; then closes every connection still open (a stalled upload,
    /// a client that stopped reading) and returns. `Ok(true)` when every
    /// connection finished within the drain time.
    pub async fn stop(mut self, drain: Duration) -> Result<bool> {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        let drained = tokio::time::timeout(drain, &mut self.join).await;
        match drained {
            Ok(joined) => joined
                .map(|()| true)
                .map_err(|e| anyhow!("the front stopped: {e}")),
            Err(_) => {
                let _ = self.kill.send(true);
                (&mut self.join)
                    .await
                    .map(|()| false)
                    .map_err(|e| anyhow!("the front stopped: {e}"))
            }
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    remote: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let id = choose_request_id(req.headers());
    let method = req.method().clone();
    let uri = req.uri().clone();
    let _active = shared.metrics.request_started(method.as_str());
    if uri.path() == "/dashboard/history" && method == Method::GET {
        let since = uri
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("since=")))
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .unwrap_or(-1.0);
        let mut rsp = Response::new(Body::from(shared.metrics.history_json(since)));
        rsp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        rsp.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        if let Ok(v) = HeaderValue::from_str(&id) {
            rsp.headers_mut().insert(X_REQUEST_ID, v);
        }
        return Ok(rsp);
    }
    if (method == Method::GET || method == Method::HEAD)
        && let Some(rsp) = dashboard_asset(uri.path(), &id).or_else(|| policy_page(uri.path(), &id))
    {
        if method == Method::HEAD {
            let (parts, _) = rsp.into_parts();
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        return Ok(rsp);
    }
    if uri.path() == "/metrics" && (method == Method::GET || method == Method::HEAD) {
        // OpenMetrics for a scraper that asks for it (Prometheus does),
        // the classic text format otherwise.
        let openmetrics = req
            .headers()
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/openmetrics-text"));
        let (body, content_type) = if openmetrics {
            (
                shared.metrics.encode(),
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
        } else {
            (
                shared.metrics.encode_prometheus(),
                "text/plain; version=0.0.4; charset=utf-8",
            )
        };
        let mut rsp = Response::new(Body::from(body));
        rsp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        rsp.headers_mut()
            .append(http::header::VARY, HeaderValue::from_static("Accept"));
        if let Ok(v) = HeaderValue::from_str(&id) {
            rsp.headers_mut().insert(X_REQUEST_ID, v);
        }
        if method == Method::HEAD {
            let (parts, _) = rsp.into_parts();
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        return Ok(rsp);
    }
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Forwarded requests reach an operation, whose observer logs them (one
    // line per request); the front logs only what it answers itself.
    let mut forwarded = true;
    let mut rsp = match (shared.lookup)(&method, uri.path()) {
        Ok(_) => forward(&shared, remote, &id, req).await,
        // HEAD is GET without the body (RFC 9110 §9.3.2): the same
        // pipeline (authentication, rate limits) answers it.
        Err(_) if method == Method::HEAD && (shared.lookup)(&Method::GET, uri.path()).is_ok() => {
            let (mut parts, body) = req.into_parts();
            parts.method = Method::GET;
            let got = forward(&shared, remote, &id, Request::from_parts(parts, body)).await;
            let (parts, _) = got.into_parts();
            Response::from_parts(parts, Body::empty())
        }
        Err(e) if method == Method::OPTIONS && e.status_code.as_u16() == 405 => {
            forwarded = false;
            preflight(&shared, uri.path(), origin.as_deref(), req.headers())
        }
        Err(e) => {
            forwarded = false;
            let mut p = routing_problem(&method, uri.path(), &e);
            // On a deprecated operation's path (a malformed id, a wrong
            // method) the answer carries its lifecycle headers too.
            if let Some(op) = deprecated_at(&method, uri.path()) {
                p.headers
                    .extend(orderflow_edge::pipeline::lifecycle_headers(op, uri.path()));
            }
            if e.status_code.as_u16() == 405 {
                let allow = allowed_methods(&shared.lookup, uri.path()).join(", ");
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    p.headers.insert(http::header::ALLOW, v);
                }
            }
            problem_response(p, &id)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        rsp.headers_mut().insert(X_REQUEST_ID, v);
    }
    // An allowed origin's actual request (the preflight set its own).
    if !shared.cors.origins.is_empty() && method != Method::OPTIONS {
        let h = rsp.headers_mut();
        h.append(http::header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = origin.as_deref().filter(|o| shared.cors.allows(o))
            && let Ok(v) = HeaderValue::from_str(origin)
        {
            h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            h.insert(
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED),
            );
        }
    }
    if !forwarded {
        let status = rsp.status().as_u16();
        let code = match status {
            404 => "not_found",
            405 => "method_not_allowed",
            400 => "malformed_request",
            _ => "-",
        };
        // The same fields as the observer's line (`ports::RequestLog`); no
        // route, since none matched.
        slog::info!(shared.log, "request answered by the front";
            "request_id" => &id, "method" => crate::metrics::method_label(method.as_str()),
            "route" => "-", "status" => status, "code" => code,
            "latency_ms" => started.elapsed().as_secs_f64() * 1000.0,
            "principal" => "-", "rate_limit" => "-", "idempotency" => "-",
            "remote_addr" => remote.to_string());
    }
    Ok(rsp)
}

/// The deprecated operation a path that reached no operation belongs to:
/// the one with the request's method when there is one, else any at that
/// path shape (all of a path's operations share a version).
fn deprecated_at(method: &Method, path: &str) -> Option<&'static orderflow_edge::Operation> {
    let at_path = || {
        orderflow_server_api::ops::ALL
            .iter()
            .copied()
            .filter(|op| orderflow_edge::pipeline::route_matches(op.route, path))
    };
    at_path()
        .find(|op| op.method == method.as_str())
        .or_else(|| at_path().next())
        .filter(|op| op.lifecycle.is_some())
}

/// The deprecation policy page, at the spec's `x-deprecation-policy`.
fn policy_page(path: &str, id: &str) -> Option<Response<Body>> {
    let ops = orderflow_server_api::ops::ALL;
    if crate::deprecation::policy_path(ops) != Some(path) {
        return None;
    }
    let mut rsp = Response::new(Body::from(crate::deprecation::page(ops)));
    let h = rsp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert(X_REQUEST_ID, v);
    }
    Some(rsp)
}

/// The built-in live dashboard (`/dashboard`): a page, its script and its
/// styles, compiled in, with nothing loaded from elsewhere; the script
/// reads `/metrics`. Like `/metrics` it is for operators, not part of the
/// public spec.
fn dashboard_asset(path: &str, id: &str) -> Option<Response<Body>> {
    let (body, content_type): (&'static str, &'static str) = match path {
        "/dashboard" => (
            include_str!("dashboard/dashboard.html"),
            "text/html; charset=utf-8",
        ),
        "/dashboard.js" => (
            include_str!("dashboard/dashboard.js"),
            "text/javascript; charset=utf-8",
        ),
        "/dashboard.css" => (
            include_str!("dashboard/dashboard.css"),
            "text/css; charset=utf-8",
        ),
        _ => return None,
    };
    let mut rsp = Response::new(Body::from(body));
    let h = rsp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    // Only this server's own files and its /metrics; inline styles for the
    // legend swatches only.
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert(X_REQUEST_ID, v);
    }
    Some(rsp)
}

/// The methods a path answers: its operations' methods, HEAD wherever GET
/// is, and OPTIONS (answered by the front itself).
pub fn allowed_methods(lookup: &Lookup, path: &str) -> Vec<&'static str> {
    let mut allowed = Vec::new();
    for (method, name) in [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
    ] {
        if lookup(&method, path).is_ok() {
            allowed.push(name);
            if method == Method::GET {
                allowed.push("HEAD");
            }
        }
    }
    allowed.push("OPTIONS");
    allowed
}

/// `OPTIONS` on a path that exists: 204 with `Allow`.
fn options_response(allowed: &[&str]) -> Response<Body> {
    let mut rsp = Response::new(Body::empty());
    *rsp.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        rsp.headers_mut().insert(http::header::ALLOW, v);
    }
    rsp
}

async fn forward(
    shared: &Shared,
    remote: SocketAddr,
    id: &str,
    req: Request<Incoming>,
) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    for name in &HOP_BY_HOP {
        parts.headers.remove(name);
    }
    // Whatever a client sends under the internal names is dropped; the
    // values below are the front's.
    parts.headers.remove(FRONT_TOKEN);
    parts.headers.remove(FRONT_PEER);
    let pq = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let uri = match format!("http://{}{pq}", shared.upstream).parse() {
        Ok(u) => u,
        Err(_) => {
            let mut e = ApiError::new("malformed_request", "the request target is not valid");
            e.problem.instance = Some(parts.uri.path().to_string());
            return problem_response(e, id);
        }
    };
    let path = parts.uri.path().to_string();
    parts.uri = uri;
    parts.version = http::Version::HTTP_11;
    for (name, value) in [
        (X_REQUEST_ID, id.to_string()),
        (FRONT_TOKEN, shared.token.to_string()),
        (FRONT_PEER, remote.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            parts.headers.insert(name, v);
        }
    }
    match shared
        .client
        .request(Request::from_parts(parts, body))
        .await
    {
        Ok(rsp) => {
            let (mut parts, body) = rsp.into_parts();
            for name in &HOP_BY_HOP {
                parts.headers.remove(name);
            }
            Response::from_parts(parts, Body::wrap(body))
        }
        Err(e) => {
            // dropshot is in this process: failing to reach it means a
            // handler panicked or the server is shutting down.
            slog::error!(shared.log, "forwarding to dropshot failed";
                "request_id" => id, "cause" => format!("{e:#}"));
            let mut e = ApiError::internal();
            e.problem.instance = Some(path);
            problem_response(e, id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_ids_are_echoed_only_when_well_formed() {
        let long_ok = "a".repeat(MAX_REQUEST_ID_LEN);
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        // (header bytes, echoed)
        let cases: &[(&[u8], bool)] = &[
            (b"abc-123.X_y", true),
            (b"3f1e2d4c-5b6a-4978-8c9d-0e1f2a3b4c5d", true),
            (b"a", true),
            (b"...", true),
            (long_ok.as_bytes(), true),
            (too_long.as_bytes(), false),
            (b"", false),
            (b"has space", false),
            (b"semi;colon", false),
            (b"slash/", false),
            (b"colon:", false),
            (b"\xc3\xbcml", false),
            (b"tab\t", false),
        ];
        for (raw, echoed) in cases {
            let value = HeaderValue::from_bytes(raw).expect("a header value");
            let got = client_request_id(Some(&value));
            let want = echoed.then(|| std::str::from_utf8(raw).expect("ASCII"));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(raw));
        }
        assert_eq!(client_request_id(None), None);
    }

    #[test]
    fn a_missing_or_malformed_id_is_replaced_by_a_uuid() {
        for raw in [None, Some("bad id"), Some("")] {
            let mut headers = http::HeaderMap::new();
            if let Some(raw) = raw {
                headers.insert(X_REQUEST_ID, HeaderValue::from_static(raw));
            }
            let id = choose_request_id(&headers);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{raw:?} -> {id}");
        }
        let mut headers = http::HeaderMap::new();
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123.X_y"));
        assert_eq!(choose_request_id(&headers), "abc-123.X_y");
    }

    #[test]
    fn route_templates_name_their_variables() {
        let cases: &[(&str, &[&str])] = &[
            ("/v1/orders", &[]),
            ("/v1/orders/{order_id}", &["order_id"]),
            ("/v1/customers/{customer_id}/api-keys", &["customer_id"]),
        ];
        for (template, want) in cases {
            assert_eq!(path_variables(template), *want, "{template}");
        }
    }

    #[test]
    fn routing_failures_become_catalogued_problems() {
        let mut not_allowed = HttpError::for_client_error_with_status(
            None,
            dropshot::ClientErrorStatusCode::METHOD_NOT_ALLOWED,
        );
        not_allowed
            .add_header(http::header::ALLOW, "GET")
            .expect("a header");
        not_allowed
            .add_header(http::header::ALLOW, "POST")
            .expect("a header");
        // (router error, status, code, Allow)
        let cases = [
            (
                HttpError::for_not_found(None, "no route".into()),
                404,
                "not_found",
                None,
            ),
            (not_allowed, 405, "method_not_allowed", Some("GET, POST")),
            (
                HttpError::for_bad_request(None, "invalid path encoding".into()),
                400,
                "malformed_request",
                None,
            ),
        ];
        for (error, status, code, allow) in cases {
            let p = routing_problem(&Method::DELETE, "/v1/x", &error);
            assert_eq!((p.status(), p.code()), (status, code));
            assert_eq!(p.problem.instance.as_deref(), Some("/v1/x"));
            assert_eq!(
                p.headers
                    .get(http::header::ALLOW)
                    .and_then(|v| v.to_str().ok()),
                allow
            );
            let rsp = problem_response(p, "rid");
            assert_eq!(rsp.status().as_u16(), status);
            assert_eq!(
                rsp.headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json")
            );
            assert_eq!(
                rsp.headers()
                    .get(X_REQUEST_ID)
                    .and_then(|v| v.to_str().ok()),
                Some("rid")
            );
        }
    }
}
