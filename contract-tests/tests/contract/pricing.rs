//! The edge's use of the internal pricing service over gRPC, with the
//! service in its own server the test stops, slows past the deadline and
//! brings back: the public answers (503 `unavailable` with `Retry-After`,
//! never a 500), the breaker's transitions in /metrics, /readyz, and an
//! Idempotency-Key retried after recovery placing exactly one order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use orderflow_pricing::{
    Catalog, CatalogError, CatalogProduct, PricingServer, ServeOptions, SqliteCatalog,
};
use serde_json::{Value, json};

use crate::support::TestServer;

/// The real catalog of the server's database, opened on first use (the
/// database exists only once the server started), with an injected delay.
#[derive(Default)]
struct Controlled {
    path: OnceLock<PathBuf>,
    inner: OnceLock<SqliteCatalog>,
    delay_ms: AtomicU64,
}

impl Catalog for Controlled {
    fn lookup(&self, ids: &[&str]) -> Result<Vec<Option<CatalogProduct>>, CatalogError> {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            // The stall the deadline must cut short (not an assertion).
            std::thread::sleep(Duration::from_millis(delay));
        }
        let path = self
            .path
            .get()
            .ok_or_else(|| CatalogError::Unavailable("no path yet".into()))?;
        if self.inner.get().is_none() {
            let _ = self.inner.set(SqliteCatalog::open(path, 1)?);
        }
        match self.inner.get() {
            Some(c) => c.lookup(ids),
            None => Err(CatalogError::Unavailable("not open".into())),
        }
    }
}

async fn pricing_on(catalog: Arc<Controlled>, addr: SocketAddr) -> PricingServer {
    // The port was just released by a stopped server: binding may need a
    // moment on a busy machine, so try for a bounded while.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match PricingServer::start(
            catalog.clone(),
            ServeOptions {
                grpc: addr,
                rest: None,
            },
        )
        .await
        {
            Ok(s) => return s,
            Err(e) if Instant::now() < until => {
                let _ = e;
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("the pricing service restarts on {addr}: {e:#}"),
        }
    }
}

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn post(client: &reqwest::Client, url: &str, key: Option<&str>, body: &Value) -> Answer {
    let mut req = client.post(url).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let rsp = req.send().await.expect("the server answers");
    let status = rsp.status().as_u16();
    let retry_after = rsp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = rsp.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
    }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

async fn metrics(server: &TestServer) -> String {
    server
        .http(Some(&server.admin_key))
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

fn assert_unavailable(a: &Answer, what: &str) {
    assert_eq!(a.status, 503, "{what}: {}", a.body);
    assert_eq!(a.body["code"], "unavailable", "{what}: {}", a.body);
    assert_eq!(
        a.body["type"], "https://orderflow.dev/problems/unavailable",
        "{what}"
    );
    let detail = a.body["detail"].as_str().unwrap_or("");
    assert!(detail.contains("can be retried"), "{what}: {detail}");
    assert!(
        !detail.contains("tonic") && !detail.contains("transport"),
        "{what}: {detail}"
    );
    let secs: u64 = a
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: Retry-After in whole seconds"));
    assert!(secs >= 1, "{what}");
}

#[tokio::test]
async fn pricing_failures_are_honest_503s_and_a_keyed_retry_places_one_order() {
    let catalog = Arc::new(Controlled::default());
    let pricing = pricing_on(catalog.clone(), "127.0.0.1:0".parse().expect("addr")).await;
    let addr = pricing.grpc_addr();
    let server = TestServer::start_configured(|c| {
        let _ = catalog.path.set(c.database.clone());
        c.pricing.url = Some(format!("http://{addr}"));
        c.pricing.deadline = Duration::from_millis(300);
        c.pricing.breaker.failure_threshold = 3;
        c.pricing.breaker.cool_down = Duration::from_millis(200);
    })
    .await;
    let admin = server.http(Some(&server.admin_key));
    let base = &server.base;
    let c = post(
        &admin,
        &format!("{base}/v1/customers"),
        None,
        &json!({"name": "C", "email": "c@example.com"}),
    )
    .await;
    let cid = c.body["id"].as_str().expect("customer id").to_string();
    let p = post(
        &admin,
        &format!("{base}/v1/products"),
        None,
        &json!({"sku": "S-1", "name": "P", "price": {"amount_minor": 700, "currency": "EUR"}}),
    )
    .await;
    let pid = p.body["id"].as_str().expect("product id").to_string();
    let order = json!({"customer_id": cid, "items": [{"product_id": pid, "quantity": 3}]});
    let orders = format!("{base}/v1/orders");

    // Healthy: priced through gRPC.
    let ok = post(&admin, &orders, Some("k-healthy"), &order).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.body["total"]["amount_minor"], 2100);
    // An unknown product is still the store's 422, not a dependency error.
    let bad = post(
        &admin,
        &orders,
        Some("k-bad"),
        &json!({"customer_id": cid, "items": [{"product_id": "prd_nope", "quantity": 1}]}),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let m = metrics(&server).await;
    assert_eq!(metric(&m, "orderflow_pricing_breaker_state"), 0.0);
    assert!(
        metric(&m, "orderflow_pricing_calls_total{outcome=\"ok\"}") >= 2.0,
        "{m}"
    );

    // Slow past the deadline: 503, counted as a deadline.
    catalog.delay_ms.store(1500, Ordering::SeqCst);
    let slow = post(&admin, &orders, Some("k-retried"), &order).await;
    assert_unavailable(&slow, "slow");
    assert!(
        slow.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("in time")
    );
    catalog.delay_ms.store(0, Ordering::SeqCst);
    let m = metrics(&server).await;
    assert_eq!(
        metric(&m, "orderflow_pricing_calls_total{outcome=\"deadline\"}"),
        1.0,
        "{m}"
    );

    // Down: the next failures open the breaker (threshold 3, one so far).
    pricing.stop().await;
    for i in 0..2 {
        let down = post(&admin, &orders, Some("k-retried"), &order).await;
        assert_unavailable(&down, &format!("down #{i}"));
    }
    let m = metrics(&server).await;
    assert_eq!(metric(&m, "orderflow_pricing_breaker_state"), 2.0, "{m}");
    assert_eq!(
        metric(
            &m,
            "orderflow_pricing_breaker_transitions_total{outcome=\"open\"}"
        ),
        1.0,
        "{m}"
    );
    // Open: refused without trying, still an honest 503.
    let open = post(&admin, &orders, Some("k-retried"), &order).await;
    assert_unavailable(&open, "open");
    let m = metrics(&server).await;
    let rejected = metric(
        &m,
        "orderflow_pricing_calls_total{outcome=\"breaker_open\"}",
    );
    // The cool-down is short; the call may have been the half-open trial.
    let trial = metric(
        &m,
        "orderflow_pricing_breaker_transitions_total{outcome=\"half_open\"}",
    );
    assert!(rejected + trial >= 1.0, "{m}");
    let ready = admin
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
    assert!(ready.headers().contains_key("retry-after"));

    // Back: /readyz turns ready (polled with a deadline), and the keyed
    // order that failed three times is placed now, once.
    let pricing = pricing_on(catalog.clone(), addr).await;
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let r = admin
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("readyz");
        if r.status() == 200 {
            break;
        }
        assert!(Instant::now() < until, "/readyz did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let placed = loop {
        let a = post(&admin, &orders, Some("k-retried"), &order).await;
        if a.status == 201 {
            break a;
        }
        // A failed half-open trial (the service was still starting) is
        // another 503; the client's retry loop is exactly this.
        assert_unavailable(&a, "recovering");
        assert!(Instant::now() < until, "the order was never placed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let again = post(&admin, &orders, Some("k-retried"), &order).await;
    assert_eq!(again.status, 201);
    assert_eq!(
        again.body["id"], placed.body["id"],
        "a replay, not a second order"
    );
    let list: Value = admin
        .get(format!("{base}/v1/orders?limit=100"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        list["data"].as_array().map(Vec::len),
        Some(2),
        "the healthy order and the retried one: {list}"
    );
    let m = metrics(&server).await;
    assert_eq!(metric(&m, "orderflow_pricing_breaker_state"), 0.0, "{m}");
    assert!(
        metric(
            &m,
            "orderflow_pricing_breaker_transitions_total{outcome=\"closed\"}"
        ) >= 1.0,
        "{m}"
    );
    pricing.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_price_changed_between_quote_and_transaction_is_a_retryable_503() {
    // The store's check, driven directly: a quote that no longer holds
    // writes nothing.
    let dir = tempfile::tempdir().expect("dir");
    let store = orderflow_server::store::Store::open(
        &dir.path().join("o.db"),
        Arc::new(orderflow_server::store::SystemClock),
        Arc::new(orderflow_server::store::RandomIds),
    )
    .expect("store");
    let c = store
        .create_customer(
            &orderflow_server::store::Actor::operator("test"),
            "C",
            "c@example.com",
        )
        .expect("customer");
    let p = store
        .create_product(
            &orderflow_server::store::Actor::operator("test"),
            &orderflow_server::store::NewProduct {
                sku: "S".into(),
                name: "N".into(),
                price: orderflow_server::store::Money {
                    amount_minor: 100,
                    currency: "EUR".into(),
                },
                active: true,
            },
        )
        .expect("product");
    let entry = |price| {
        Some(orderflow_server::domain::CatalogProduct {
            sku: "S".into(),
            name: "N".into(),
            price_minor: price,
            currency: "EUR".into(),
            active: true,
        })
    };
    let items = [(p.id.clone(), 2u32)];
    assert!(
        store
            .create_order_at_quote(&c.id, &items, &[entry(99)])
            .expect("no storage error")
            .is_none(),
        "a stale price is refused"
    );
    assert!(
        store
            .create_order_at_quote(&c.id, &items, &[None])
            .expect("no storage error")
            .is_none(),
        "a quote that did not know the product is refused"
    );
    let o = store
        .create_order_at_quote(&c.id, &items, &[entry(100)])
        .expect("no storage error")
        .expect("a holding quote places the order");
    assert_eq!(o.total_minor, 200);
    let e = orderflow_server::pricing::quote_stale();
    assert_eq!(e.status(), 503);
}
