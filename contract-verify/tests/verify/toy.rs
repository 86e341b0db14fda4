//! A tiny widgets server for `toy.yaml` (hyper, no framework) that keeps
//! the contract, unless told to break one rule: the verifier must find
//! exactly that break. It runs on its own thread and runtime on
//! `127.0.0.1:0`, so tests drive the verifier's CLI synchronously.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// The one rule a toy breaks (all false: a correct server).
#[derive(Debug, Clone, Copy, Default)]
pub struct Bugs {
    /// A replay renders a fresh body instead of the stored one.
    pub replay_differs: bool,
    /// Idempotency runs before rate limiting and stores the 429.
    pub cache_429: bool,
    /// A 429 says requests remain (`r=3`).
    pub ratelimit_lies: bool,
    /// Sunset earlier than Deprecation.
    pub sunset_early: bool,
    /// Each page starts with the last item of the previous one.
    pub repeat_item: bool,
    /// A bad `limit` is answered as plain JSON, not a problem.
    pub plain_4xx: bool,
    /// A 304 carries another ETag.
    pub etag_304_differs: bool,
    /// Every deprecated operation answers 410 (a server past the sunset).
    pub retired: bool,
    /// A `limit` over the maximum closes the connection without answering.
    pub drop_bad_limit: bool,
    /// The last page still links `rel="next"`.
    pub stale_next_link: bool,
}

#[derive(Default)]
struct Limiter {
    windows: HashMap<(String, &'static str), (Instant, u64)>,
}

struct Stored {
    fingerprint: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

#[derive(Default)]
struct State {
    widgets: Vec<(u64, String, String, i64)>,
    keys: HashMap<(String, String), Stored>,
    limiter: Limiter,
    next: u64,
}

type Reply = (u16, Vec<(String, String)>, Option<Value>);

fn problem(status: u16, title: &str) -> Reply {
    (
        status,
        vec![("content-type".into(), "application/problem+json".into())],
        Some(
            json!({"type": format!("https://toy.example/{status}"), "title": title, "status": status}),
        ),
    )
}

/// Starts a toy; returns its base URL.
pub fn start(bugs: Bugs) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            tx.send(listener.local_addr().expect("an address"))
                .expect("the test waits");
            let state = Arc::new(Mutex::new(State::default()));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), bugs, req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    let addr: SocketAddr = rx.recv().expect("the toy starts");
    format!("http://{addr}")
}

async fn handle(
    state: Arc<Mutex<State>>,
    bugs: Bugs,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if bugs.drop_bad_limit && query.get("limit").is_some_and(|l| l == "11") {
        // An error from the service makes hyper close the connection.
        return Err(std::io::Error::other("dropped on purpose"));
    }
    let auth = header("authorization");
    let key = header("idempotency-key");
    let if_none_match = header("if-none-match");
    let if_match = header("if-match");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        route(
            &mut s,
            bugs,
            &method,
            &path,
            &query,
            auth.as_deref(),
            key.as_deref(),
            if_none_match.as_deref(),
            if_match.as_deref(),
            &body,
        )
    };
    let (status, headers, body) = reply;
    let mut builder = Response::builder().status(status);
    let mut has_type = false;
    for (n, v) in &headers {
        has_type |= n == "content-type";
        builder = builder.header(n.as_str(), v.as_str());
    }
    let bytes = match body {
        Some(b) => {
            if !has_type {
                builder = builder.header("content-type", "application/json");
            }
            Bytes::from(b.to_string())
        }
        None => Bytes::new(),
    };
    Ok(builder.body(Full::new(bytes)).expect("a valid response"))
}

/// Counts a request; `Err` is the 429.
fn limit(
    s: &mut State,
    bugs: Bugs,
    cred: &str,
    policy: &'static str,
    quota: u64,
) -> Result<Vec<(String, String)>, Reply> {
    let now = Instant::now();
    let entry = s
        .limiter
        .windows
        .entry((cred.to_owned(), policy))
        .or_insert((now, 0));
    if now.duration_since(entry.0).as_secs_f64() >= 1.0 {
        *entry = (now, 0);
    }
    let left = 1.0 - now.duration_since(entry.0).as_secs_f64();
    let t = left.ceil().max(1.0) as u64;
    let policy_header = (
        "ratelimit-policy".to_owned(),
        format!("\"{policy}\";q={quota};w=1"),
    );
    if entry.1 >= quota {
        let r = if bugs.ratelimit_lies { 3 } else { 0 };
        let (status, mut headers, _) = problem(429, "Quota exceeded");
        headers.push(("retry-after".into(), t.to_string()));
        headers.push(("ratelimit".into(), format!("\"{policy}\";r={r};t={t}")));
        headers.push(policy_header);
        let body = json!({
            "type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
            "title": "Quota exceeded",
            "status": 429
        });
        return Err((status, headers, Some(body)));
    }
    entry.1 += 1;
    Ok(vec![
        (
            "ratelimit".into(),
            format!("\"{policy}\";r={};t={t}", quota - entry.1),
        ),
        policy_header,
    ])
}

fn signature(seq: u64) -> u64 {
    (seq * 7919 + 13) % 100_003
}

fn widget_json(w: &(u64, String, String, i64)) -> Value {
    json!({"id": w.1, "name": w.2, "size": w.3})
}

#[allow(clippy::too_many_arguments)]
fn route(
    s: &mut State,
    bugs: Bugs,
    method: &str,
    path: &str,
    query: &HashMap<String, String>,
    auth: Option<&str>,
    key: Option<&str>,
    if_none_match: Option<&str>,
    if_match: Option<&str>,
    body: &[u8],
) -> Reply {
    let cred = match auth {
        Some("Bearer a") => "a",
        Some("Bearer b") => "b",
        _ => return problem(401, "Unauthenticated"),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["widgets"]) => {
            let Some(key) = key else {
                return problem(400, "Idempotency-Key missing");
            };
            let fingerprint = String::from_utf8_lossy(body).into_owned();
            let slot = (cred.to_owned(), key.to_owned());
            if bugs.cache_429
                && let Some(stored) = s.keys.get(&slot)
            {
                if stored.fingerprint != fingerprint {
                    return problem(422, "Idempotency-Key reused");
                }
                let mut headers = stored.headers.clone();
                headers.push(("idempotent-replayed".into(), "true".into()));
                return (stored.status, headers, Some(stored.body.clone()));
            }
            let mut headers = match limit(s, bugs, cred, "writes", 5) {
                Ok(h) => h,
                Err(reply) => {
                    if bugs.cache_429 {
                        s.keys.insert(
                            slot,
                            Stored {
                                fingerprint,
                                status: reply.0,
                                headers: reply.1.clone(),
                                body: reply.2.clone().unwrap_or(Value::Null),
                            },
                        );
                    }
                    return reply;
                }
            };
            if let Some(stored) = s.keys.get(&slot) {
                if stored.fingerprint != fingerprint {
                    return problem(422, "Idempotency-Key reused");
                }
                let mut out = stored.headers.clone();
                out.push(("idempotent-replayed".into(), "true".into()));
                let mut body = stored.body.clone();
                if bugs.replay_differs {
                    body["name"] = json!("rendered again");
                }
                return (stored.status, out, Some(body));
            }
            let Ok(input) = serde_json::from_slice::<Value>(body) else {
                return problem(400, "Bad JSON");
            };
            let (Some(name), Some(size)) = (
                input.get("name").and_then(Value::as_str),
                input.get("size").and_then(Value::as_i64),
            ) else {
                return problem(422, "Invalid widget");
            };
            s.next += 1;
            let id = format!("w{}", s.next);
            let widget = (s.next, id.clone(), name.to_owned(), size);
            let body = widget_json(&widget);
            s.widgets.push(widget);
            headers.push(("location".into(), format!("/widgets/{id}")));
            s.keys.insert(
                slot,
                Stored {
                    fingerprint,
                    status: 201,
                    headers: vec![("location".into(), format!("/widgets/{id}"))],
                    body: body.clone(),
                },
            );
            (201, headers, Some(body))
        }
        ("GET", ["widgets"]) => {
            let headers = match limit(s, bugs, cred, "reads", 10) {
                Ok(h) => h,
                Err(reply) => return reply,
            };
            let limit: i64 = match query.get("limit").map(|l| l.parse::<i64>()) {
                None => 5,
                Some(Ok(n)) if (1..=10).contains(&n) => n,
                Some(_) if bugs.plain_4xx => {
                    return (400, vec![], Some(json!({"error": "bad limit"})));
                }
                Some(_) => return problem(400, "Invalid limit"),
            };
            let before = match query.get("cursor") {
                None => u64::MAX,
                Some(c) => {
                    let parsed = c
                        .split_once('.')
                        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
                    match parsed {
                        Some((seq, sig)) if signature(seq) == sig => {
                            if bugs.repeat_item {
                                seq + 1
                            } else {
                                seq
                            }
                        }
                        _ => return problem(400, "Invalid cursor"),
                    }
                }
            };
            let mut page: Vec<_> = s.widgets.iter().filter(|w| w.0 < before).collect();
            page.sort_by_key(|w| std::cmp::Reverse(w.0));
            let more = page.len() as i64 > limit;
            page.truncate(limit as usize);
            let next = match (more, page.last()) {
                (true, Some(last)) => json!(format!("{}.{}", last.0, signature(last.0))),
                _ => Value::Null,
            };
            let last_seq = page.last().map(|w| w.0).unwrap_or(0);
            let items: Vec<Value> = page.into_iter().map(widget_json).collect();
            let mut headers = headers;
            match next.as_str() {
                Some(c) => headers.push((
                    "link".into(),
                    format!("</widgets?limit={limit}&cursor={c}>; rel=\"next\""),
                )),
                None if bugs.stale_next_link => headers.push((
                    "link".into(),
                    format!(
                        "</widgets?limit={limit}&cursor={last_seq}.{}>; rel=\"next\"",
                        signature(last_seq)
                    ),
                )),
                None => {}
            }
            (
                200,
                headers,
                Some(json!({"items": items, "next_cursor": next})),
            )
        }
        ("GET", ["widgets", id]) => {
            if bugs.retired {
                return problem(410, "Gone");
            }
            let mut headers = match limit(s, bugs, cred, "reads", 10) {
                Ok(h) => h,
                Err(reply) => return reply,
            };
            let Some(w) = s.widgets.iter().find(|w| w.1 == *id) else {
                return problem(404, "Not found");
            };
            let etag = format!("\"v1-{}\"", w.1);
            headers.push(("cache-control".into(), "private, no-cache".into()));
            headers.push(("deprecation".into(), "@1767225600".into()));
            headers.push((
                "sunset".into(),
                if bugs.sunset_early {
                    "Wed, 01 Jan 2025 00:00:00 GMT".into()
                } else {
                    "Wed, 30 Jun 2027 00:00:00 GMT".into()
                },
            ));
            headers.push((
                "link".into(),
                format!(
                    "</v2/widgets/{id}>; rel=\"successor-version\", <https://toy.example/deprecation>; rel=\"deprecation\""
                ),
            ));
            if if_none_match == Some(etag.as_str()) {
                let sent = if bugs.etag_304_differs {
                    "\"v2-other\"".to_owned()
                } else {
                    etag
                };
                headers.push(("etag".into(), sent));
                return (304, headers, None);
            }
            headers.push(("etag".into(), etag));
            (200, headers, Some(widget_json(w)))
        }
        ("PUT", ["widgets", id]) => {
            let Some(w) = s.widgets.iter().find(|w| w.1 == *id) else {
                return problem(404, "Not found");
            };
            let etag = format!("\"v1-{}\"", w.1);
            match if_match {
                None => problem(428, "Precondition required"),
                Some(m) if m == etag || m == "*" => (200, vec![], Some(widget_json(w))),
                Some(_) => problem(412, "Precondition failed"),
            }
        }
        _ => problem(404, "Not found"),
    }
}
