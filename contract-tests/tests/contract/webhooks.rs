//! Order events from the outbox, delivered to a local receiver that checks
//! every request the way a careful integrator would (signature over the
//! raw body, timestamp, payload against the spec's callback schema), and
//! the audit log of admin actions seen over HTTP.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::TestServer;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Bytes,
    answered: u16,
}

/// A webhook receiver on `127.0.0.1:0`: answers 503 to the first
/// `fail_first` requests of each event id, then `then` (a status).
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(fail_first: usize, then: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("addr");
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let shared = got.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let got = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let got = got.clone();
                        async move {
                            let header = |n: &str| {
                                req.headers()
                                    .get(n)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_owned()
                            };
                            let (id, timestamp, signature) = (
                                header("webhook-id"),
                                header("webhook-timestamp"),
                                header("webhook-signature"),
                            );
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let mut got = got.lock().expect("lock");
                            let seen = got.iter().filter(|r| r.id == id).count();
                            let answered = if seen < fail_first { 503 } else { then };
                            got.push(Received {
                                id,
                                timestamp,
                                signature,
                                body,
                                answered,
                            });
                            let mut rsp = hyper::Response::new(Full::new(Bytes::new()));
                            *rsp.status_mut() =
                                hyper::StatusCode::from_u16(answered).expect("a status");
                            Ok::<_, std::convert::Infallible>(rsp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { addr, got, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/orderflow", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits (bounded) until `done` holds for what was received.
    async fn until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; received {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Verifies a Standard Webhooks signature as a receiver would, written
/// from the callback's description, not from the server's code.
fn signature_ok(secret: &str, r: &Received) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
    else {
        return false;
    };
    let mut signed = format!("{}.{}.", r.id, r.timestamp).into_bytes();
    signed.extend_from_slice(&r.body);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(&signed);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    r.signature
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

fn spec() -> Value {
    crate::drift::spec_value(orderflow_server_api::SPEC_YAML)
}

/// The schema of the callback's request body, from the spec.
fn callback_schema(spec: &Value) -> Value {
    spec.pointer(
        "/paths/~1v2~1webhook-endpoints/post/callbacks/orderEvent/{$request.body#~1url}/post/requestBody/content/application~1json/schema",
    )
    .cloned()
    .expect("the spec describes the callback's body")
}

async fn json_of(rsp: reqwest::Response) -> (u16, Value) {
    let status = rsp.status().as_u16();
    let body = rsp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// A customer, a product and an order through v2; returns the order.
async fn place_order(server: &TestServer, http: &reqwest::Client) -> Value {
    let (_, customer) = json_of(
        http.post(format!("{}/v2/customers", server.base))
            .json(&json!({"name": "Ada", "email": format!("ada-{}@example.com", uuid::Uuid::new_v4())}))
            .send()
            .await
            .expect("customer"),
    )
    .await;
    let (_, product) = json_of(
        http.post(format!("{}/v2/products", server.base))
            .json(&json!({"sku": format!("S-{}", uuid::Uuid::new_v4().simple()), "name": "Mug", "price": {"amount": "12.50", "currency": "EUR"}}))
            .send()
            .await
            .expect("product"),
    )
    .await;
    let (status, order) = json_of(
        http.post(format!("{}/v2/orders", server.base))
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&json!({"customer_id": customer["id"], "items": [{"product_id": product["id"], "quantity": 2}]}))
            .send()
            .await
            .expect("order"),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    order
}

async fn quick_server(max_attempts: u32) -> TestServer {
    TestServer::start_configured(|c| {
        c.webhooks = Some(orderflow_server::webhooks::WebhookSettings {
            max_attempts,
            backoff_base: Duration::from_millis(20),
            backoff_cap: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
            poll: Duration::from_millis(50),
            concurrency: 4,
            allow_private: true,
        });
        c.webhook_allow_private = true;
    })
    .await
}

#[tokio::test]
async fn order_events_arrive_signed_valid_and_retried_until_acknowledged() {
    let server = quick_server(5).await;
    let receiver = Receiver::start(2, 204).await;
    let http = server.http(Some(&server.admin_key));
    let (status, endpoint) = json_of(
        http.post(format!("{}/v2/webhook-endpoints", server.base))
            .json(&json!({"url": receiver.url()}))
            .send()
            .await
            .expect("register"),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    let secret = endpoint["secret"].as_str().expect("a secret").to_owned();

    let order = place_order(&server, &http).await;
    let order_id = order["id"].as_str().expect("id");
    let url = format!("{}/v2/orders/{order_id}", server.base);
    let etag = http
        .get(&url)
        .send()
        .await
        .expect("get")
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("an ETag");
    let (status, _) = json_of(
        http.post(format!("{url}/transitions"))
            .header("If-Match", etag)
            .json(&json!({"to": "processing"}))
            .send()
            .await
            .expect("move"),
    )
    .await;
    assert_eq!(status, 200);

    // Two events, each refused twice (503) and then acknowledged.
    let got = receiver
        .until("two acknowledged events", |got| {
            got.iter().filter(|r| r.answered == 204).count() == 2
        })
        .await;
    let spec = spec();
    let schema = callback_schema(&spec);
    let now = chrono::Utc::now().timestamp();
    let mut per_event: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for r in &got {
        assert!(signature_ok(&secret, r), "the signature verifies: {r:?}");
        let ts: i64 = r.timestamp.parse().expect("Unix seconds");
        assert!((now - ts).abs() < 300, "a current timestamp: {ts} vs {now}");
        let body: Value = serde_json::from_slice(&r.body).expect("JSON");
        let errors = orderflow_contract_tests::validator::schema_errors(&spec, &schema, &body)
            .expect("compiles");
        assert!(
            errors.is_empty(),
            "the body is the spec's OrderEvent: {errors:?} in {body}"
        );
        assert_eq!(body["id"], json!(r.id), "webhook-id is the event id");
        assert_eq!(body["data"]["order_id"], json!(order_id));
        per_event.entry(r.id.clone()).or_default().push(r.answered);
    }
    assert_eq!(per_event.len(), 2, "{per_event:?}");
    for (id, answers) in &per_event {
        assert_eq!(answers, &[503, 503, 204], "event {id}: retried, then once");
    }
    let bodies: Vec<Value> = got
        .iter()
        .filter(|r| r.answered == 204)
        .map(|r| serde_json::from_slice(&r.body).expect("JSON"))
        .collect();
    let types: Vec<&str> = bodies.iter().filter_map(|b| b["type"].as_str()).collect();
    assert!(types.contains(&"order.created") && types.contains(&"order.status_changed"));
    // A tampered body would not verify.
    let mut forged = got[0].clone();
    forged.body = Bytes::from(got[0].body.iter().copied().rev().collect::<Vec<u8>>());
    assert!(!signature_ok(&secret, &forged));

    // The delivery log says the same, attempt by attempt.
    let created = bodies
        .iter()
        .find(|b| b["type"] == "order.created")
        .expect("created");
    let (status, log) = json_of(
        http.get(format!(
            "{}/v2/events/{}/deliveries",
            server.base,
            created["id"].as_str().expect("id")
        ))
        .send()
        .await
        .expect("log"),
    )
    .await;
    assert_eq!(status, 200, "{log}");
    // The worker records the attempt after the receiver answered: wait
    // for the log to catch up, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = log;
    while log["data"][0]["state"] != "delivered" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        log = json_of(
            http.get(format!(
                "{}/v2/events/{}/deliveries",
                server.base,
                created["id"].as_str().expect("id")
            ))
            .send()
            .await
            .expect("log"),
        )
        .await
        .1;
    }
    assert_eq!(log["data"][0]["state"], "delivered", "{log}");
    assert_eq!(log["data"][0]["next_attempt_at"], Value::Null);
    let statuses: Vec<&Value> = log["data"][0]["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(503), &json!(503), &json!(204)], "{log}");
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_delivery_that_runs_out_of_attempts_is_dead_and_filters_are_kept() {
    let server = quick_server(3).await;
    let failing = Receiver::start(usize::MAX, 503).await;
    let picky = Receiver::start(0, 200).await;
    let http = server.http(Some(&server.admin_key));
    for (url, events) in [
        (failing.url(), json!(["order.created"])),
        (picky.url(), json!(["order.status_changed"])),
    ] {
        let (status, body) = json_of(
            http.post(format!("{}/v2/webhook-endpoints", server.base))
                .json(&json!({"url": url, "events": events}))
                .send()
                .await
                .expect("register"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let order = place_order(&server, &http).await;
    let got = failing.until("three attempts", |got| got.len() >= 3).await;
    let event_id = got[0].id.clone();
    let url = format!("{}/v2/events/{event_id}/deliveries", server.base);
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let (_, log) = json_of(http.get(&url).send().await.expect("log")).await;
        if log["data"][0]["state"] == "dead" || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(log["data"][0]["state"], "dead", "{log}");
    assert_eq!(
        log["data"][0]["attempts"].as_array().map(Vec::len),
        Some(3),
        "{log}"
    );
    assert!(
        log["data"][0]["attempts"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{log}"
    );
    assert_eq!(failing.received().len(), 3, "no attempt after the last");
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "orderflow_webhook_attempts_total{outcome=\"retry\"} 2",
        "orderflow_webhook_attempts_total{outcome=\"dead\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    assert!(
        picky.received().is_empty(),
        "an endpoint that takes only status changes got no order.created: {:?}",
        picky.received()
    );
    assert_eq!(order["status"], "pending");
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn admin_writes_are_audited_with_their_request_id_and_failed_ones_are_not() {
    let server = TestServer::start().await;
    let http = server.http(Some(&server.admin_key));
    let base = &server.base;
    let send = |rb: reqwest::RequestBuilder, rid: &str| rb.header("X-Request-Id", rid).send();

    let (s, customer) = json_of(
        send(
            http.post(format!("{base}/v2/customers"))
                .json(&json!({"name": "Ada", "email": "ada@example.com"})),
            "rid-customer",
        )
        .await
        .expect("customer"),
    )
    .await;
    assert_eq!(s, 201);
    let cus = customer["id"].as_str().expect("id").to_owned();
    // A failed write: a duplicate email. No event.
    let (s, _) = json_of(
        send(
            http.post(format!("{base}/v2/customers"))
                .json(&json!({"name": "Ada 2", "email": "ADA@example.com"})),
            "rid-duplicate",
        )
        .await
        .expect("dup"),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = json_of(
        send(
            http.patch(format!("{base}/v1/customers/{cus}"))
                .json(&json!({"name": "Ada Lovelace"})),
            "rid-rename",
        )
        .await
        .expect("rename"),
    )
    .await;
    assert_eq!(s, 200);
    let (s, key) = json_of(
        send(
            http.post(format!("{base}/v2/customers/{cus}/api-keys"))
                .json(&json!({"name": "shop"})),
            "rid-key",
        )
        .await
        .expect("key"),
    )
    .await;
    assert_eq!(s, 201);
    let (s, hook) = json_of(
        send(
            http.post(format!("{base}/v2/webhook-endpoints"))
                .json(&json!({"url": "https://hooks.example.com/a"})),
            "rid-hook",
        )
        .await
        .expect("hook"),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = json_of(
        send(
            http.delete(format!(
                "{base}/v2/api-keys/{}",
                key["id"].as_str().expect("id")
            )),
            "rid-revoke",
        )
        .await
        .expect("revoke"),
    )
    .await;
    assert_eq!(s, 204);

    // A customer key may not read the log.
    let customer_key = key["secret"].as_str().expect("secret");
    let (s, _) = json_of(
        server
            .http(Some(customer_key))
            .get(format!("{base}/v2/audit-events"))
            .send()
            .await
            .expect("refused"),
    )
    .await;
    assert_eq!(s, 401, "the key was revoked a moment ago");

    // Walk the whole log two at a time: every event once, newest first.
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v2/audit-events?limit=2");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (s, page) = json_of(http.get(&url).send().await.expect("page")).await;
        assert_eq!(s, 200, "{page}");
        events.extend(page["data"].as_array().expect("data").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["request_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("api_key.revoked", "rid-revoke"),
            ("webhook_endpoint.created", "rid-hook"),
            ("api_key.created", "rid-key"),
            ("customer.updated", "rid-rename"),
            ("customer.created", "rid-customer"),
        ],
        "{events:#?}"
    );
    let text = serde_json::to_string(&events).expect("json");
    assert!(!text.contains(customer_key), "no API key secret");
    assert!(
        !text.contains(hook["secret"].as_str().expect("secret")),
        "no signing secret"
    );
    let rename = &events[3];
    assert_eq!(rename["operation"], "updateCustomer");
    assert_eq!(
        rename["changes"],
        json!([{"field": "name", "before": "Ada", "after": "Ada Lovelace"}])
    );
    let me = server
        .running
        .app
        .store
        .authenticate(&server.admin_key)
        .expect("store")
        .expect("live");
    assert!(events.iter().all(|e| e["actor"] == json!(me.key_id)));

    // Filters: by resource, and by an actor who did nothing.
    let (_, of_customer) = json_of(
        http.get(format!("{base}/v2/audit-events?resource_id={cus}"))
            .send()
            .await
            .expect("by resource"),
    )
    .await;
    assert_eq!(of_customer["data"].as_array().map(Vec::len), Some(2));
    let (_, nobody) = json_of(
        http.get(format!("{base}/v1/audit-events?actor=key_nobody"))
            .send()
            .await
            .expect("by actor"),
    )
    .await;
    assert_eq!(nobody["data"], json!([]));
    // A cursor is bound to its filters.
    let (s, first) = json_of(
        http.get(format!("{base}/v2/audit-events?limit=1"))
            .send()
            .await
            .expect("first"),
    )
    .await;
    assert_eq!(s, 200);
    let (s, refused) = json_of(
        http.get(format!(
            "{base}/v2/audit-events?limit=1&resource_id={cus}&cursor={}",
            first["next_cursor"].as_str().expect("a next page")
        ))
        .send()
        .await
        .expect("mixed"),
    )
    .await;
    assert_eq!(s, 400, "{refused}");
    assert_eq!(refused["code"], "invalid_cursor");
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_worker_stops_within_the_drain_and_the_next_start_delivers() {
    // A receiver that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}/hooks", silent.local_addr().expect("addr"));
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let server = TestServer::start_configured(|c| {
        c.webhooks = Some(orderflow_server::webhooks::WebhookSettings {
            timeout: Duration::from_secs(60),
            poll: Duration::from_millis(50),
            allow_private: true,
            ..orderflow_server::webhooks::WebhookSettings::default()
        });
        c.webhook_allow_private = true;
    })
    .await;
    let http = server.http(Some(&server.admin_key));
    let (status, endpoint) = json_of(
        http.post(format!("{}/v2/webhook-endpoints", server.base))
            .json(&json!({"url": silent_url}))
            .send()
            .await
            .expect("register"),
    )
    .await;
    assert_eq!(status, 201);
    let order = place_order(&server, &http).await;
    let store = server.running.app.store.clone();
    let order_id = order["id"].as_str().expect("id").to_owned();
    let event = tokio::task::spawn_blocking(move || store.order_events(&order_id))
        .await
        .expect("join")
        .expect("events")
        .remove(0);
    // Wait until the worker has claimed it (its attempt is in flight).
    let db = server.database();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let conn = rusqlite::Connection::open(&db).expect("open");
        let claimed: Option<String> = conn
            .query_row("SELECT claimed_by FROM webhook_deliveries", [], |r| {
                r.get(0)
            })
            .expect("one delivery");
        if claimed.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the worker never claimed it");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The drain is one second; the attempt would take up to sixty.
    let asked = Instant::now();
    let (dir, admin_key, _) = server.stop_within(Duration::from_secs(1)).await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the worker did not hold the shutdown: {:?}",
        asked.elapsed()
    );
    hold.abort();

    // The next start sends it again, to a receiver that answers now (the
    // endpoint's URL is rewired in the database while nothing runs: the
    // test's shortcut, not an API).
    let receiver = Receiver::start(0, 200).await;
    let conn = rusqlite::Connection::open(dir.path().join("orderflow.db")).expect("open");
    let still: (String, Option<String>) = conn
        .query_row(
            "SELECT state, claimed_by FROM webhook_deliveries",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the delivery");
    assert_eq!(still.0, "pending", "cut short, so still pending: {still:?}");
    conn.execute(
        "UPDATE webhook_endpoints SET url = ?1 WHERE id = ?2",
        rusqlite::params![receiver.url(), endpoint["id"].as_str().expect("id")],
    )
    .expect("rewire");
    drop(conn);
    let restarted = TestServer::start_configured_in(dir, Some(admin_key), |c| {
        c.webhooks = Some(orderflow_server::webhooks::WebhookSettings {
            allow_private: true,
            ..orderflow_server::webhooks::WebhookSettings::default()
        });
    })
    .await;
    let got = receiver
        .until("the delivery after the restart", |got| !got.is_empty())
        .await;
    assert_eq!(got[0].id, event.id);
    assert!(signature_ok(
        endpoint["secret"].as_str().expect("secret"),
        &got[0]
    ));
    restarted.running.stop().await.expect("clean shutdown");
}
