//! A validating, recording reverse proxy for contract tests.
//!
//! [`Proxy::start`] listens on `127.0.0.1:0` and forwards every request,
//! unchanged, to an upstream server (SDK and raw HTTP alike, so everything
//! is checked on the wire). Each response goes through the
//! [`SpecValidator`] before it is handed back, and the exchange is recorded:
//! which operation, which documented status, which violations. The test
//! reads the record at the end ([`Proxy::exchanges`], [`Proxy::violations`],
//! [`Proxy::exercised`]).
//!
//! It buffers whole bodies (test traffic is small), speaks HTTP/1.1 only,
//! and never follows redirects. By default it never changes a request or a
//! response: it observes. With a [`Rewrite`] it translates between what the
//! client speaks and what the upstream is asked (one API version's
//! scenario replayed against another): the validator always checks the
//! upstream's real response to the real, rewritten request; only the copy
//! handed back to the client is translated.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::validator::{Response, SpecValidator, Violation};

/// One request and what the validator made of its response.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub operation: Option<String>,
    pub status: u16,
    /// The documented response key the status matched, if any.
    pub response_key: Option<String>,
    pub violations: Vec<Violation>,
}

/// Runs before each request is forwarded (tests move a manual clock here).
pub type Hook = Arc<dyn Fn() + Send + Sync>;

/// Translates requests on the way up and responses on the way back (see
/// the module docs). `request` gets the path with its query and the body;
/// `response` gets the headers and the body the upstream sent.
#[derive(Clone)]
pub struct Rewrite {
    pub request: Arc<RewriteRequest>,
    pub response: Arc<RewriteResponse>,
}

/// (method, path with query, headers (edited in place), body) -> the path
/// with query and the body, as the upstream gets them.
pub type RewriteRequest =
    dyn Fn(&http::Method, &str, &mut http::HeaderMap, Bytes) -> (String, Bytes) + Send + Sync;
/// The upstream's headers (edited in place) and body -> the client's body.
pub type RewriteResponse = dyn Fn(&mut http::HeaderMap, Bytes) -> Bytes + Send + Sync;

/// A running proxy. Dropping it stops accepting connections.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`: point clients here.
    pub base: String,
    record: Arc<Mutex<Vec<Exchange>>>,
    accept: tokio::task::JoinHandle<()>,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    validator: Arc<SpecValidator>,
    record: Arc<Mutex<Vec<Exchange>>>,
    before: Option<Hook>,
    rewrite: Option<Rewrite>,
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the HTTP stacks set.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
];

impl Proxy {
    /// Starts a proxy in front of `upstream` (`http://host:port`).
    pub async fn start(
        upstream: &str,
        validator: Arc<SpecValidator>,
        before: Option<Hook>,
    ) -> std::io::Result<Proxy> {
        Proxy::start_rewriting(upstream, validator, before, None).await
    }

    /// [`Proxy::start`] with a [`Rewrite`] between client and upstream.
    pub async fn start_rewriting(
        upstream: &str,
        validator: Arc<SpecValidator>,
        before: Option<Hook>,
        rewrite: Option<Rewrite>,
    ) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let record = Arc::new(Mutex::new(Vec::new()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            validator,
            record: record.clone(),
            before,
            rewrite,
        });
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(forward(&shared, req).await) }
                    });
                    // A client that hangs up mid-exchange is not our concern.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Proxy {
            base,
            record,
            accept,
        })
    }

    /// Every exchange so far, in the order responses came back.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.record.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Every violation so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.exchanges()
            .into_iter()
            .flat_map(|e| e.violations)
            .collect()
    }

    /// The (operationId, response key) pairs answered so far.
    pub fn exercised(&self) -> BTreeSet<(String, String)> {
        self.exchanges()
            .into_iter()
            .filter_map(|e| Some((e.operation?, e.response_key?)))
            .collect()
    }

    /// Stops accepting connections.
    pub fn stop(self) {
        self.accept.abort();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn plain(status: u16, text: String) -> hyper::Response<Full<Bytes>> {
    let mut rsp = hyper::Response::new(Full::new(Bytes::from(text)));
    *rsp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    rsp
}

async fn forward(
    shared: &Shared,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    if let Some(hook) = &shared.before {
        hook();
    }
    let (mut parts, body) = req.into_parts();
    let mut body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return plain(502, format!("proxy: reading the request body: {e}")),
    };
    let mut path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    if let Some(rw) = &shared.rewrite {
        (path_and_query, body) =
            (rw.request)(&parts.method, &path_and_query, &mut parts.headers, body);
    }
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query.as_str(), |(p, _)| p)
        .to_string();
    let url = format!("{}{path_and_query}", shared.upstream);
    let mut out = shared.client.request(parts.method.clone(), &url);
    for (name, value) in &parts.headers {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            out = out.header(name, value);
        }
    }
    if !body.is_empty() {
        out = out.body(body);
    }
    let upstream = match out.send().await {
        Ok(r) => r,
        Err(e) => return plain(502, format!("proxy: forwarding to {url}: {e}")),
    };
    let status = upstream.status();
    let mut headers = upstream.headers().clone();
    let bytes = match upstream.bytes().await {
        Ok(b) => b,
        Err(e) => return plain(502, format!("proxy: reading the response from {url}: {e}")),
    };
    let outcome = shared.validator.check(
        parts.method.as_str(),
        &path,
        Response {
            status: status.as_u16(),
            headers: &headers,
            body: &bytes,
        },
    );
    if let Ok(mut record) = shared.record.lock() {
        record.push(Exchange {
            method: parts.method.to_string(),
            path,
            operation: outcome.operation,
            status: status.as_u16(),
            response_key: outcome.response_key,
            violations: outcome.violations,
        });
    }
    let bytes = match &shared.rewrite {
        Some(rw) => (rw.response)(&mut headers, bytes),
        None => bytes,
    };
    let mut rsp = hyper::Response::new(Full::new(bytes));
    *rsp.status_mut() = status;
    for (name, value) in &headers {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            rsp.headers_mut().append(name, value.clone());
        }
    }
    rsp
}
