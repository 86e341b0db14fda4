//! The retry contract over real HTTP: an unsafe write can be retried
//! without fear, and over-quota clients are told exactly when to come back.
//! Time is a manual clock, so rate windows and key expiry move by assignment,
//! never by sleeping.

use std::sync::Arc;

use orderflow_server::store::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestServer;

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut req = client.request(method.parse().expect("a method"), url);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let rsp = req.send().await.expect("the server answers");
    Answer {
        status: rsp.status(),
        headers: rsp.headers().clone(),
        body: rsp.bytes().await.expect("a body").to_vec(),
    }
}

/// A customer, a product, and a customer key; returns (customer id,
/// product id, customer key).
async fn fixture(server: &TestServer, email: &str, sku: &str) -> (String, String, String) {
    let admin = server.http(Some(&server.admin_key));
    let c = send(
        &admin,
        "POST",
        &format!("{}/v1/customers", server.base),
        None,
        Some(&json!({"name": "C", "email": email})),
    )
    .await;
    assert_eq!(c.status, 201);
    let cid = c.json()["id"].as_str().expect("id").to_string();
    let p = send(
        &admin,
        "POST",
        &format!("{}/v1/products", server.base),
        None,
        Some(&json!({"sku": sku, "name": "P", "price": {"amount_minor": 500, "currency": "EUR"}})),
    )
    .await;
    assert_eq!(p.status, 201);
    let pid = p.json()["id"].as_str().expect("id").to_string();
    let k = send(
        &admin,
        "POST",
        &format!("{}/v1/customers/{cid}/api-keys", server.base),
        None,
        Some(&json!({"name": "k"})),
    )
    .await;
    assert_eq!(k.status, 201);
    (
        cid,
        pid,
        k.json()["secret"].as_str().expect("secret").to_string(),
    )
}

async fn order_count(server: &TestServer) -> usize {
    let admin = server.http(Some(&server.admin_key));
    let mut count = 0;
    let mut url = format!("{}/v1/orders?limit=100", server.base);
    loop {
        let page = send(&admin, "GET", &url, None, None).await;
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        let v = page.json();
        count += v["data"].as_array().map(Vec::len).unwrap_or(0);
        match v["next_cursor"].as_str() {
            Some(c) => url = format!("{}/v1/orders?limit=100&cursor={c}", server.base),
            None => return count,
        }
    }
}

#[tokio::test]
async fn a_retried_order_is_placed_once_and_replayed_exactly() {
    let server = TestServer::start().await;
    let (_, pid, key) = fixture(&server, "a@example.com", "S-1").await;
    let client = server.http(Some(&key));
    let url = format!("{}/v1/orders", server.base);
    let body = json!({"items": [{"product_id": pid, "quantity": 3}]});

    let first = send(&client, "POST", &url, Some("order-1"), Some(&body)).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    // Same body, other formatting and key order: the same request.
    let reordered = json!({"items": [{"quantity": 3, "product_id": pid}]});
    let second = send(&client, "POST", &url, Some("\"order-1\""), Some(&reordered)).await;
    assert_eq!(second.status, 201, "the replay has the original status");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        second.body, first.body,
        "the replay is the original body, byte for byte"
    );
    assert_eq!(second.header("location"), first.header("location"));
    assert_ne!(
        second.header("x-request-id"),
        first.header("x-request-id"),
        "each response has its own id"
    );
    assert!(
        second.header("ratelimit").is_some(),
        "a replay still reports the caller's quota"
    );
    assert_eq!(order_count(&server).await, 1, "exactly one order");

    // The same key with another body is refused, and places nothing.
    let other = json!({"items": [{"product_id": pid, "quantity": 4}]});
    let reused = send(&client, "POST", &url, Some("order-1"), Some(&other)).await;
    assert_eq!(reused.status, 422);
    assert_eq!(reused.json()["code"], "idempotency_key_reused");
    assert_eq!(order_count(&server).await, 1);
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn concurrent_identical_posts_create_exactly_one_order() {
    let server = TestServer::start().await;
    let (_, pid, key) = fixture(&server, "c@example.com", "S-2").await;
    let client = server.http(Some(&key));
    let url = format!("{}/v1/orders", server.base);
    let body = json!({"items": [{"product_id": pid, "quantity": 1}]});
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            send(&client, "POST", &url, Some("same-key"), Some(&body)).await
        }));
    }
    let mut created = 0;
    let mut bodies = Vec::new();
    for t in tasks {
        let a = t.await.expect("task");
        match a.status.as_u16() {
            201 => {
                if a.header("idempotent-replayed").is_none() {
                    created += 1;
                }
                bodies.push(a.body.clone());
            }
            409 => {
                assert_eq!(a.json()["code"], "idempotency_key_in_flight");
                assert_eq!(
                    a.header("retry-after"),
                    Some("1"),
                    "an in-flight 409 says when to retry"
                );
            }
            other => panic!(
                "unexpected status {other}: {}",
                String::from_utf8_lossy(&a.body)
            ),
        }
    }
    assert_eq!(created, 1, "one request ran the handler");
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every 201 is the same order"
    );
    assert_eq!(order_count(&server).await, 1);
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn keys_are_scoped_to_their_principal() {
    let server = TestServer::start().await;
    let (_, pid_a, key_a) = fixture(&server, "a@example.com", "S-A").await;
    let (_, _, key_b) = fixture(&server, "b@example.com", "S-B").await;
    let url = format!("{}/v1/orders", server.base);
    let body = json!({"items": [{"product_id": pid_a, "quantity": 1}]});
    let a = send(
        &server.http(Some(&key_a)),
        "POST",
        &url,
        Some("shared"),
        Some(&body),
    )
    .await;
    let b = send(
        &server.http(Some(&key_b)),
        "POST",
        &url,
        Some("shared"),
        Some(&body),
    )
    .await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (201, 201));
    assert_eq!(
        b.header("idempotent-replayed"),
        None,
        "B never sees A's response"
    );
    assert_ne!(a.json()["id"], b.json()["id"]);
    assert_eq!(order_count(&server).await, 2);
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn failures_are_replayed_too_and_replays_survive_a_restart() {
    let server = TestServer::start().await;
    let (_, pid, key) = fixture(&server, "r@example.com", "S-R").await;
    let url = format!("{}/v1/orders", server.base);
    let client = server.http(Some(&key));
    let bad = json!({"items": [{"product_id": "prd_missing", "quantity": 1}]});
    let first = send(&client, "POST", &url, Some("bad-1"), Some(&bad)).await;
    assert_eq!(first.status, 422);
    let again = send(&client, "POST", &url, Some("bad-1"), Some(&bad)).await;
    assert_eq!(again.status, 422);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(again.body, first.body);

    let good = json!({"items": [{"product_id": pid, "quantity": 2}]});
    let placed = send(&client, "POST", &url, Some("good-1"), Some(&good)).await;
    assert_eq!(placed.status, 201);

    let (dir, admin_key) = server.stop().await;
    let server = TestServer::start_in(dir, None, Some(admin_key)).await;
    let client = server.http(Some(&key));
    let after = send(
        &client,
        "POST",
        &format!("{}/v1/orders", server.base),
        Some("good-1"),
        Some(&good),
    )
    .await;
    assert_eq!(after.status, 201);
    assert_eq!(after.header("idempotent-replayed"), Some("true"));
    assert_eq!(after.body, placed.body, "the record outlived the process");
    assert_eq!(order_count(&server).await, 1);
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn over_quota_is_a_429_with_an_honest_retry_after_and_never_stored() {
    let clock = Arc::new(ManualClock::at_default_epoch());
    let server = TestServer::start_with_clock(clock.clone()).await;
    let (_, pid, key) = fixture(&server, "q@example.com", "S-Q").await;
    let client = server.http(Some(&key));
    let url = format!("{}/v1/orders", server.base);
    let body = json!({"items": [{"product_id": pid, "quantity": 1}]});
    let policy = orderflow_server_api::ops::CREATE_ORDER
        .rate_limit
        .expect("createOrder is limited");

    // The whole burst is available, and each answer counts down.
    let mut last_remaining = u32::MAX;
    for n in 0..policy.quota {
        let a = send(
            &client,
            "POST",
            &url,
            Some(&format!("burst-{n}")),
            Some(&body),
        )
        .await;
        assert_eq!(a.status, 201, "request {n} is within the burst");
        assert_eq!(
            a.header("ratelimit-policy"),
            Some(
                format!(
                    "\"{}\";q={};w={}",
                    policy.name, policy.quota, policy.window_seconds
                )
                .as_str()
            )
        );
        let r: u32 = a
            .header("ratelimit")
            .and_then(|v| v.split(";r=").nth(1))
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.parse().ok())
            .expect("RateLimit: \"writes\";r=N;t=S");
        assert!(r < last_remaining, "remaining counts down");
        last_remaining = r;
    }
    assert_eq!(last_remaining, 0);

    let refused = send(&client, "POST", &url, Some("after-burst"), Some(&body)).await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    let p = refused.json();
    assert_eq!(
        p["type"],
        "https://iana.org/assignments/http-problem-types#quota-exceeded"
    );
    assert_eq!(p["code"], "rate_limited");
    assert_eq!(p["violated-policies"], json!([policy.name]));
    let retry_after: i64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a 429 always says when to retry");
    assert!(retry_after >= 1);
    assert!(
        refused
            .header("ratelimit")
            .is_some_and(|v| v.contains("r=0"))
    );

    // Honouring Retry-After is enough: the same key then runs for real,
    // because the 429 was never stored as its result.
    clock.advance(chrono::Duration::seconds(retry_after));
    let retried = send(&client, "POST", &url, Some("after-burst"), Some(&body)).await;
    assert_eq!(retried.status, 201);
    assert_eq!(
        retried.header("idempotent-replayed"),
        None,
        "the 429 was not the key's result"
    );
    assert_eq!(order_count(&server).await, policy.quota as usize + 1);

    // Reads have their own policy: writes being exhausted does not block them.
    let read = send(&client, "GET", &format!("{url}?limit=1"), None, None).await;
    assert_eq!(read.status, 200);
    assert!(
        read.header("ratelimit-policy")
            .is_some_and(|v| v.starts_with("\"reads\""))
    );
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn every_limited_response_carries_the_rate_limit_headers() {
    let server = TestServer::start().await;
    let client = server.http(Some(&server.admin_key));
    for (method, path, status) in [
        ("GET", "/v1/orders", 200),
        ("GET", "/v1/orders/ord_missing", 404),
        ("GET", "/v1/orders?limit=1000", 400),
        // No body and no Content-Type: 415, the body's media type is wrong.
        ("POST", "/v1/customers", 415),
    ] {
        let a = send(
            &client,
            method,
            &format!("{}{path}", server.base),
            None,
            None,
        )
        .await;
        assert_eq!(a.status.as_u16(), status, "{method} {path}");
        assert!(
            a.header("ratelimit").is_some(),
            "{method} {path}: RateLimit"
        );
        assert!(
            a.header("ratelimit-policy").is_some(),
            "{method} {path}: RateLimit-Policy"
        );
    }
    // Unlimited operations (the probes) carry none.
    let probe = send(
        &client,
        "GET",
        &format!("{}/healthz", server.base),
        None,
        None,
    )
    .await;
    assert!(probe.header("ratelimit").is_none());
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn guessing_keys_spends_the_callers_address_quota() {
    let clock = Arc::new(ManualClock::at_default_epoch());
    let server = TestServer::start_with_clock(clock.clone()).await;
    let url = format!("{}/v1/orders", server.base);
    let policy = orderflow_server_api::ops::LIST_ORDERS
        .rate_limit
        .expect("listOrders is limited");
    let mut statuses = Vec::new();
    for n in 0..=policy.quota {
        let guess = server.http(Some(&format!("of_sk_guess{n}")));
        let a = send(&guess, "GET", &url, None, None).await;
        statuses.push(a.status.as_u16());
        if a.status == 401 {
            assert!(
                a.header("ratelimit").is_some(),
                "a refused guess still reports the quota"
            );
        }
    }
    assert!(
        statuses[..policy.quota as usize].iter().all(|s| *s == 401),
        "{statuses:?}"
    );
    assert_eq!(
        statuses[policy.quota as usize], 429,
        "the address ran out of quota"
    );
    // A real key is limited by its own quota, not the address's.
    let admin = server.http(Some(&server.admin_key));
    assert_eq!(send(&admin, "GET", &url, None, None).await.status, 200);
    server.running.stop().await.expect("clean shutdown");
}

/// Customer creation is idempotent only because the spec declares an
/// optional `Idempotency-Key` on it: its handler holds business logic only.
#[tokio::test]
async fn a_second_operation_is_idempotent_by_declaration_alone() {
    let server = TestServer::start().await;
    let admin = server.http(Some(&server.admin_key));
    let url = format!("{}/v1/customers", server.base);
    let body = json!({"name": "Grace", "email": "grace@example.com"});
    let first = send(&admin, "POST", &url, Some("cus-1"), Some(&body)).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = send(&admin, "POST", &url, Some("cus-1"), Some(&body)).await;
    assert_eq!(again.status, 201, "a replay, not a 409 duplicate_email");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the original body, byte for byte");
    assert_eq!(again.header("location"), first.header("location"));
    assert_ne!(
        again.header("x-request-id"),
        first.header("x-request-id"),
        "the replay carries its own request id"
    );
    let other = json!({"name": "Grace", "email": "grace.h@example.com"});
    let reused = send(&admin, "POST", &url, Some("cus-1"), Some(&other)).await;
    assert_eq!(reused.status, 422);
    assert_eq!(reused.json()["code"], "idempotency_key_reused");
    // Without a key it is an ordinary create: the same email conflicts.
    let plain = send(&admin, "POST", &url, None, Some(&body)).await;
    assert_eq!(plain.status, 409);
    assert_eq!(plain.json()["code"], "duplicate_email");
    let list = send(&admin, "GET", &format!("{url}?limit=100"), None, None).await;
    let graces = list.json()["data"]
        .as_array()
        .expect("a page")
        .iter()
        .filter(|c| c["email"].as_str().is_some_and(|e| e.starts_with("grace")))
        .count();
    assert_eq!(graces, 1, "one customer for three attempts");
    // A failed create under a key is replayed as the same failure.
    let dup_key = send(&admin, "POST", &url, Some("cus-2"), Some(&body)).await;
    assert_eq!(dup_key.status, 409);
    let dup_again = send(&admin, "POST", &url, Some("cus-2"), Some(&body)).await;
    assert_eq!(dup_again.status, 409);
    assert_eq!(dup_again.header("idempotent-replayed"), Some("true"));
}
