//! Provider verification: the running server cannot drift from the spec.
//!
//! `every_documented_status_is_exercised_and_valid_on_the_wire` puts the
//! validating, recording proxy (`orderflow_contract_tests::proxy`) in front
//! of a real server and drives every operation and every documented status
//! through it: the SDK where it can, raw HTTP where the SDK refuses to send
//! bad input. Every response is validated against the spec on the wire; the
//! test fails on any violation, and on any (operation, status) pair the spec
//! documents that no request exercised and that is not in [`EXEMPT`] with a
//! written reason. Adding an operation or a status to the spec without a
//! contract test here fails the build.
//!
//! `the_validator_catches_*` prove the validator can fail: deliberately
//! wrong responses, each caught with a precise message.
//!
//! Time is a manual clock that the proxy moves one second per request, so
//! quotas never run out by accident; the 429 step stops the clock to
//! exhaust them on purpose.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use orderflow_client::types;
use orderflow_client::{Client, Error};
use orderflow_contract_tests::proxy::{Exchange, Proxy, Rewrite};
use orderflow_contract_tests::validator::{Response, SpecValidator};
use orderflow_server::store::{IdempotencyKey, ManualClock};
use serde_json::{Value, json};

use crate::support::{Backend, TestServer};

/// Documented (operation, status) pairs no test can provoke honestly, each
/// with the reason. An exempt pair that gets exercised fails the test too
/// (the exemption is stale). None today: the 400 of the operations whose
/// only input is a path id comes from an undecodable path, which the front
/// (server/src/front.rs) answers as a problem.
const EXEMPT: &[(&str, &str, &str)] = &[];

fn validator() -> Arc<SpecValidator> {
    Arc::new(SpecValidator::from_yaml(orderflow_server_api::SPEC_YAML).expect("the spec compiles"))
}

/// A server behind the validating proxy, on a manual clock that advances
/// one second per request unless `frozen`.
struct Harness {
    server: TestServer,
    proxy: Proxy,
    clock: Option<Arc<ManualClock>>,
    frozen: Arc<AtomicBool>,
}

impl Harness {
    async fn start(
        server: TestServer,
        clock: Option<Arc<ManualClock>>,
        rewrite: Option<Rewrite>,
    ) -> Harness {
        let frozen = Arc::new(AtomicBool::new(false));
        let hook = clock.clone().map(|clock| {
            let frozen = frozen.clone();
            Arc::new(move || {
                if !frozen.load(Ordering::SeqCst) {
                    clock.advance(chrono::Duration::seconds(1));
                }
            }) as orderflow_contract_tests::proxy::Hook
        });
        let proxy = Proxy::start_rewriting(&server.base, validator(), hook, rewrite)
            .await
            .expect("the proxy starts");
        Harness {
            server,
            proxy,
            clock,
            frozen,
        }
    }

    /// Stops time with every quota full: a quiet minute passes first.
    fn freeze(&self) {
        if let Some(clock) = &self.clock {
            clock.advance(chrono::Duration::seconds(60));
        }
        self.frozen.store(true, Ordering::SeqCst);
    }

    fn sdk(&self, key: &str) -> Client {
        Client::new_with_client(&self.proxy.base, self.server.http(Some(key)))
    }

    /// Sends one raw request through the proxy and asserts its status.
    /// The ETag a GET of `path` answers with.
    async fn etag(&self, path: &str, key: Option<&str>) -> String {
        let rsp = self
            .server
            .http(key)
            .get(format!("{}{path}", self.proxy.base))
            .send()
            .await
            .expect("the proxy answers");
        assert_eq!(rsp.status().as_u16(), 200, "GET {path}");
        rsp.headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("GET {path} has no ETag"))
            .to_string()
    }

    async fn raw(&self, case: Raw<'_>) -> Value {
        let client = self.server.http(case.key);
        let mut req = client.request(
            case.method.parse().expect("a method"),
            format!("{}{}", self.proxy.base, case.path),
        );
        for (k, v) in &case.headers {
            req = req.header(*k, v);
        }
        if let Some((ct, body)) = case.body {
            req = req.header("content-type", ct).body(body);
        }
        let rsp = req.send().await.expect("the proxy answers");
        let status = rsp.status().as_u16();
        let text = rsp.text().await.expect("a body");
        assert_eq!(
            status, case.status,
            "{} {}: expected {} (body: {text})",
            case.method, case.path, case.status
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// An operation with a JSON body: method, path, a valid body, extra headers.
type BodyCase = (&'static str, String, Value, Vec<(&'static str, String)>);
/// Response headers of a hand-made response.
type Headers = Vec<(&'static str, &'static str)>;
/// A wrong response: what, method, path, status, headers, body, and the
/// fragments the violation message must contain.
type WrongCase = (
    &'static str,
    &'static str,
    &'static str,
    u16,
    Headers,
    Value,
    Vec<&'static str>,
);

/// One raw request and the status it must get.
struct Raw<'a> {
    method: &'static str,
    path: String,
    key: Option<&'a str>,
    headers: Vec<(&'static str, String)>,
    body: Option<(&'static str, String)>,
    status: u16,
}

fn raw<'a>(method: &'static str, path: impl Into<String>, key: Option<&'a str>) -> Raw<'a> {
    Raw {
        method,
        path: path.into(),
        key,
        headers: Vec::new(),
        body: None,
        status: 0,
    }
}

impl<'a> Raw<'a> {
    fn json(mut self, body: Value) -> Self {
        self.body = Some(("application/json", body.to_string()));
        self
    }
    fn body(mut self, content_type: &'static str, body: impl Into<String>) -> Self {
        self.body = Some((content_type, body.into()));
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn expect(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

/// The problem of a failed SDK call; panics on anything else.
fn problem<T: std::fmt::Debug>(r: Result<T, Error<types::Problem>>) -> types::Problem {
    match r {
        Err(Error::ErrorResponse(rv)) => rv.into_inner(),
        other => panic!("expected a documented problem response, got {other:?}"),
    }
}

/// A body over the server's 64 KiB limit.
fn oversized() -> String {
    json!({"name": "x".repeat(70 * 1024)}).to_string()
}

/// Every (operation, status) the spec documents, with what happened to it.
fn coverage_table(
    v: &SpecValidator,
    exchanges: &[Exchange],
    exempt: &[(&str, &str, &str)],
) -> (String, Vec<(String, String)>, Vec<String>) {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in exchanges {
        if let (Some(op), Some(key)) = (&e.operation, &e.response_key) {
            *counts.entry((op.clone(), key.clone())).or_default() += 1;
        }
    }
    let exempt: BTreeMap<(&str, &str), &str> =
        exempt.iter().map(|(o, s, r)| ((*o, *s), *r)).collect();
    let documented = v.documented();
    let mut table =
        String::from("| operation | method | path | status | result |\n|---|---|---|---|---|\n");
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for (op, method, path) in v.operations() {
        for (o, status) in documented.iter().filter(|(o, _)| *o == op) {
            let n = counts
                .get(&(o.clone(), status.clone()))
                .copied()
                .unwrap_or(0);
            let reason = exempt.get(&(o.as_str(), status.as_str()));
            let result = match (n, reason) {
                (0, Some(r)) => format!("exempt: {r}"),
                (0, None) => {
                    missing.push((o.clone(), status.clone()));
                    "**NOT EXERCISED**".to_string()
                }
                (n, Some(_)) => {
                    stale.push(format!("{o} {status}"));
                    format!("exercised ({n}), but listed as exempt")
                }
                (n, None) => format!("exercised ({n})"),
            };
            table.push_str(&format!(
                "| {o} | {method} | `{path}` | {status} | {result} |\n"
            ));
        }
    }
    (table, missing, stale)
}

/// Every documented (operation, status) pair of both versions, on the
/// wire. The scenario below speaks v1; it runs once as written and once
/// through [`to_v2`], which sends every request to the v2 twin (money as
/// decimal strings) and translates the answers back so the scenario can go
/// on. The validator checks each real v2 response against the spec's v2
/// operation, so both versions are covered by one list of requests.
#[tokio::test]
async fn every_documented_status_is_exercised_and_valid_on_the_wire() {
    every_documented_status_on(Backend::Sqlite).await;
}

/// The same scenario, coverage gate included, on a server whose store is
/// PostgreSQL: the backends must not differ on the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_status_is_exercised_and_valid_on_the_wire_on_postgres() {
    every_documented_status_on(Backend::Postgres).await;
}

async fn every_documented_status_on(backend: Backend) {
    let mut exchanges = exercise(backend, None).await;
    let v2 = exercise(backend, Some(to_v2())).await;
    assert!(
        v2.iter().all(|e| !e.path.starts_with("/v1/")),
        "the v2 pass sent every request to v2"
    );
    exchanges.extend(v2);

    // ---- 503: readiness while the database is stalled. ----
    exchanges.extend(readiness_when_the_database_stalls(backend).await);
    // ---- 503: order creation (both versions) while the pricing service
    // is down. ----
    exchanges.extend(order_when_pricing_is_down(backend).await);

    let violations: Vec<String> = exchanges
        .iter()
        .flat_map(|e| e.violations.iter().map(ToString::to_string))
        .collect();
    let v = validator();
    let (table, missing, stale) = coverage_table(&v, &exchanges, EXEMPT);
    if let Ok(path) = std::env::var("ORDERFLOW_COVERAGE_OUT") {
        std::fs::write(&path, &table).expect("write the coverage table");
    }
    assert!(
        violations.is_empty(),
        "{} responses break the spec:\n{}",
        violations.len(),
        violations.join("\n")
    );
    assert!(
        missing.is_empty(),
        "documented but never exercised (add a request here, or an EXEMPT entry with the reason):\n{}\n\n{table}",
        missing
            .iter()
            .map(|(o, s)| format!("  {o} {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        stale.is_empty(),
        "exempt but exercised (remove the exemption): {stale:?}"
    );
}

/// The scenario of [`every_documented_status_is_exercised_and_valid_on_the_wire`]
/// on a fresh server, through a proxy with `rewrite`; returns what it saw.
async fn exercise(backend: Backend, rewrite: Option<Rewrite>) -> Vec<Exchange> {
    // The one place the scenario knows its version: a claim it plants in
    // the store must carry the fingerprint of the operation the request
    // will reach.
    let v2 = rewrite.is_some();
    let create_order = if v2 {
        &orderflow_server_api::ops::CREATE_ORDER_V2
    } else {
        &orderflow_server_api::ops::CREATE_ORDER
    };
    let clock = Arc::new(ManualClock::at_default_epoch());
    let h = Harness::start(
        TestServer::start_on(backend, Some(clock.clone())).await,
        Some(clock.clone()),
        rewrite,
    )
    .await;
    let admin_key = h.server.admin_key.clone();
    let admin = h.sdk(&admin_key);
    let a = Some(admin_key.as_str());

    // ---- Success through the SDK. ----
    assert_eq!(
        admin
            .get_health()
            .send()
            .await
            .expect("healthz")
            .into_inner()
            .status,
        "ok"
    );
    assert_eq!(
        admin
            .get_readiness()
            .send()
            .await
            .expect("readyz")
            .into_inner()
            .status,
        "ok"
    );
    let ada = admin
        .create_customer()
        .body(
            types::CustomerCreate::builder()
                .name("Ada")
                .email("ada@example.com"),
        )
        .send()
        .await
        .expect("create customer")
        .into_inner();
    let grace = admin
        .create_customer()
        .body(
            types::CustomerCreate::builder()
                .name("Grace")
                .email("grace@example.com"),
        )
        .send()
        .await
        .expect("create customer")
        .into_inner();
    admin
        .get_customer()
        .customer_id(&ada.id)
        .send()
        .await
        .expect("get customer");
    admin
        .update_customer()
        .customer_id(&ada.id)
        .body(types::CustomerUpdate::builder().name(Some("Ada L.".parse().expect("a name"))))
        .send()
        .await
        .expect("update customer");
    let page = admin
        .list_customers()
        .limit(1)
        .send()
        .await
        .expect("list customers")
        .into_inner();
    assert!(page.next_cursor.is_some(), "a Link and a cursor on page 1");
    admin.get_caller().send().await.expect("who is calling");
    let mug = admin
        .create_product()
        .body(
            types::ProductCreate::builder()
                .sku("MUG-1")
                .name("Mug")
                .price(types::Money::builder().amount_minor(1250).currency("EUR")),
        )
        .send()
        .await
        .expect("create product")
        .into_inner();
    admin
        .get_product()
        .product_id(&mug.id)
        .send()
        .await
        .expect("get product");
    admin
        .update_product()
        .product_id(&mug.id)
        .body(types::ProductUpdate::builder().active(Some(true)))
        .send()
        .await
        .expect("update product");
    admin
        .list_products()
        .active(true)
        .send()
        .await
        .expect("list products");
    let ada_key = admin
        .create_api_key()
        .customer_id(&ada.id)
        .body(types::ApiKeyCreate::builder().name("ada"))
        .send()
        .await
        .expect("issue key")
        .into_inner();
    let spare = admin
        .create_api_key()
        .customer_id(&grace.id)
        .body(types::ApiKeyCreate::builder().name("spare"))
        .send()
        .await
        .expect("issue key")
        .into_inner();
    let ada_sdk = h.sdk(&ada_key.secret);
    let c = Some(ada_key.secret.as_str());
    let store_for_events = h.server.running.app.store.clone();
    let item = |q: u32| -> types::OrderItemCreate {
        types::OrderItemCreate::builder()
            .product_id(mug.id.clone())
            .quantity(q)
            .try_into()
            .expect("an item")
    };
    let order = ada_sdk
        .create_order()
        .idempotency_key("order-1")
        .body(types::OrderCreate::builder().items(vec![item(2), item(1)]))
        .send()
        .await
        .expect("place order")
        .into_inner();
    // The replay is a documented 201 too (with Idempotent-Replayed).
    ada_sdk
        .create_order()
        .idempotency_key("order-1")
        .body(types::OrderCreate::builder().items(vec![item(2), item(1)]))
        .send()
        .await
        .expect("replay");
    ada_sdk
        .get_order()
        .order_id(&order.id)
        .send()
        .await
        .expect("get order");
    ada_sdk
        .list_order_items()
        .order_id(&order.id)
        .limit(1)
        .send()
        .await
        .expect("items");
    ada_sdk.list_orders().send().await.expect("list orders");
    admin
        .transition_order()
        .order_id(&order.id)
        .body(types::OrderTransition::builder().to(types::OrderStatus::Processing))
        .send()
        .await
        .expect("process");
    let revoked = admin
        .revoke_api_key()
        .key_id(&spare.id)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status().as_u16(), 204);

    // Webhook endpoints, the delivery log and the audit log (raw: the
    // scenario runs on both versions through the translating proxy).
    let endpoint = h
        .raw(
            raw("POST", "/v1/webhook-endpoints", a)
                .json(
                    json!({"url": "https://hooks.example.invalid/a", "events": ["order.status_changed"]}),
                )
                .expect(201),
        )
        .await;
    let endpoint_id = endpoint["id"].as_str().expect("an endpoint id").to_owned();
    let doomed = h
        .raw(
            raw("POST", "/v1/webhook-endpoints", a)
                .json(json!({"url": "https://hooks.example.com/x"}))
                .expect(201),
        )
        .await;
    h.raw(raw("GET", "/v1/webhook-endpoints?limit=1", a).expect(200))
        .await;
    h.raw(
        raw(
            "DELETE",
            format!(
                "/v1/webhook-endpoints/{}",
                doomed["id"].as_str().expect("id")
            ),
            a,
        )
        .expect(204),
    )
    .await;
    let order_id = order.id.clone();
    let event_id = tokio::task::spawn_blocking(move || store_events(&*store_for_events, &order_id))
        .await
        .expect("join");
    let deliveries = format!("/v1/events/{event_id}/deliveries");
    h.raw(raw("GET", deliveries.clone(), a).expect(200)).await;
    let audit = h
        .raw(
            raw(
                "GET",
                format!("/v1/audit-events?resource_id={endpoint_id}"),
                a,
            )
            .expect(200),
        )
        .await;
    assert_eq!(
        audit["data"][0]["action"], "webhook_endpoint.created",
        "{audit}"
    );
    h.raw(raw("GET", "/v1/audit-events?limit=2&actor=key_nobody", a).expect(200))
        .await;

    // ---- Refusals the SDK can express. ----
    assert_eq!(problem(ada_sdk.list_customers().send().await).status, 403);
    assert_eq!(
        problem(admin.get_customer().customer_id("cus_missing").send().await).status,
        404
    );
    assert_eq!(
        problem(admin.get_product().product_id("prd_missing").send().await).status,
        404
    );
    assert_eq!(
        problem(admin.get_order().order_id("ord_missing").send().await).status,
        404
    );
    assert_eq!(
        problem(
            admin
                .list_order_items()
                .order_id("ord_missing")
                .send()
                .await
        )
        .status,
        404
    );
    assert_eq!(
        problem(
            admin
                .create_customer()
                .body(
                    types::CustomerCreate::builder()
                        .name("Dup")
                        .email("ADA@example.com")
                )
                .send()
                .await
        )
        .code,
        "duplicate_email"
    );
    assert_eq!(
        problem(
            admin
                .create_product()
                .body(
                    types::ProductCreate::builder()
                        .sku("MUG-1")
                        .name("Again")
                        .price(types::Money::builder().amount_minor(1).currency("EUR")),
                )
                .send()
                .await
        )
        .code,
        "duplicate_sku"
    );
    assert_eq!(
        problem(
            admin
                .transition_order()
                .order_id(&order.id)
                .body(types::OrderTransition::builder().to(types::OrderStatus::Processing))
                .send()
                .await
        )
        .code,
        "illegal_transition"
    );
    let spare_sdk = h.sdk(&spare.secret);
    assert_eq!(problem(spare_sdk.list_products().send().await).status, 401);

    // ---- What the SDK refuses to send, raw. ----
    let cus = format!("/v1/customers/{}", ada.id);
    let prd = format!("/v1/products/{}", mug.id);
    let ord = format!("/v1/orders/{}", order.id);
    // Every operation with a JSON body: (method, path, valid body, extra headers).
    let idem = || vec![("Idempotency-Key", "bodies-k".to_string())];
    let with_body: Vec<BodyCase> = vec![
        (
            "POST",
            "/v1/customers".into(),
            json!({"name": "N", "email": "n@example.com"}),
            vec![],
        ),
        ("PATCH", cus.clone(), json!({"name": "N"}), vec![]),
        (
            "POST",
            format!("{cus}/api-keys"),
            json!({"name": "k"}),
            vec![],
        ),
        (
            "POST",
            "/v1/products".into(),
            json!({"sku": "S", "name": "S", "price": {"amount_minor": 1, "currency": "EUR"}}),
            vec![],
        ),
        ("PATCH", prd.clone(), json!({"name": "N"}), vec![]),
        (
            "POST",
            "/v1/orders".into(),
            json!({"customer_id": ada.id, "items": [{"product_id": mug.id, "quantity": 1}]}),
            idem(),
        ),
        (
            "POST",
            format!("{ord}/transitions"),
            json!({"to": "shipped"}),
            vec![],
        ),
        (
            "POST",
            "/v1/webhook-endpoints".into(),
            json!({"url": "https://hooks.example.invalid/more"}),
            vec![],
        ),
    ];
    for (method, path, _, headers) in &with_body {
        // 400: malformed JSON; 413: over the limit; 415: not JSON.
        for (ct, body, status) in [
            ("application/json", "{\"name\": ".to_string(), 400),
            ("application/json", oversized(), 413),
            ("text/plain", "name=x".to_string(), 415),
        ] {
            let mut case = raw(method, path.clone(), a).body(ct, body).expect(status);
            for (k, v) in headers {
                case = case.header(k, format!("{v}-{status}"));
            }
            h.raw(case).await;
        }
    }
    // 401: every secured operation without credentials.
    for (method, path, body, _) in &with_body {
        h.raw(
            raw(method, path.clone(), None)
                .json(body.clone())
                .expect(401),
        )
        .await;
    }
    for path in [
        "/v1/customers".to_string(),
        cus.clone(),
        "/v1/products".into(),
        prd.clone(),
        "/v1/orders".into(),
        ord.clone(),
        format!("{ord}/items"),
        "/v1/me".into(),
        "/v1/webhook-endpoints".into(),
        "/v1/audit-events".into(),
        deliveries.clone(),
    ] {
        h.raw(raw("GET", path, None).expect(401)).await;
    }
    h.raw(raw("DELETE", format!("/v1/api-keys/{}", ada_key.id), None).expect(401))
        .await;
    h.raw(
        raw(
            "DELETE",
            format!("/v1/webhook-endpoints/{endpoint_id}"),
            None,
        )
        .expect(401),
    )
    .await;

    // 400 on the parameters.
    h.raw(raw("GET", "/v1/customers?limit=0", a).expect(400))
        .await;
    h.raw(raw("GET", "/v1/products?limit=ten", a).expect(400))
        .await;
    h.raw(raw("GET", "/v1/orders?cursor=not-a-cursor", a).expect(400))
        .await;
    h.raw(raw("GET", format!("{ord}/items?limit=101"), a).expect(400))
        .await;
    h.raw(raw("GET", "/v1/audit-events?limit=0", a).expect(400))
        .await;
    h.raw(raw("GET", "/v1/webhook-endpoints?cursor=forged", a).expect(400))
        .await;
    h.raw(
        raw("POST", "/v1/orders", a)
            .json(json!({"customer_id": ada.id, "items": [{"product_id": mug.id, "quantity": 1}]}))
            .expect(400),
    )
    .await;

    // 403: a customer key on admin operations, or on someone else's behalf.
    for (method, path, body, headers) in &with_body {
        // Orders and transitions are open to customer keys; below.
        if path.ends_with("/transitions") || path == "/v1/orders" {
            continue;
        }
        let mut case = raw(method, path.clone(), c).json(body.clone()).expect(403);
        for (k, v) in headers {
            case = case.header(k, v.clone());
        }
        h.raw(case).await;
    }
    h.raw(raw("DELETE", format!("/v1/api-keys/{}", ada_key.id), c).expect(403))
        .await;
    for path in [
        "/v1/webhook-endpoints".to_string(),
        "/v1/audit-events".into(),
        deliveries.clone(),
    ] {
        h.raw(raw("GET", path, c).expect(403)).await;
    }
    h.raw(raw("DELETE", format!("/v1/webhook-endpoints/{endpoint_id}"), c).expect(403))
        .await;
    h.raw(
        raw("POST", "/v1/orders", c)
            .header("Idempotency-Key", "for-grace")
            .json(
                json!({"customer_id": grace.id, "items": [{"product_id": mug.id, "quantity": 1}]}),
            )
            .expect(403),
    )
    .await;
    h.raw(
        raw("POST", format!("{ord}/transitions"), c)
            .json(json!({"to": "shipped"}))
            .expect(403),
    )
    .await;
    h.raw(raw("GET", format!("/v1/orders?customer_id={}", grace.id), c).expect(403))
        .await;

    // 404: unknown ids on writes.
    h.raw(
        raw("PATCH", "/v1/customers/cus_missing", a)
            .json(json!({"name": "N"}))
            .expect(404),
    )
    .await;
    h.raw(
        raw("POST", "/v1/customers/cus_missing/api-keys", a)
            .json(json!({"name": "k"}))
            .expect(404),
    )
    .await;
    h.raw(raw("DELETE", "/v1/api-keys/key_missing", a).expect(404))
        .await;
    h.raw(raw("DELETE", "/v1/webhook-endpoints/whe_missing", a).expect(404))
        .await;
    h.raw(raw("GET", "/v1/events/evt_missing/deliveries", a).expect(404))
        .await;
    h.raw(
        raw("PATCH", "/v1/products/prd_missing", a)
            .json(json!({"name": "N"}))
            .expect(404),
    )
    .await;
    h.raw(
        raw("POST", "/v1/orders/ord_missing/transitions", a)
            .json(json!({"to": "shipped"}))
            .expect(404),
    )
    .await;

    // 409: duplicate email on update; an admin revoking its own key; an
    // Idempotency-Key still in flight (claimed in the shared database as a
    // request on another replica would).
    h.raw(
        raw("PATCH", cus.clone(), a)
            .json(json!({"email": "grace@example.com"}))
            .expect(409),
    )
    .await;
    let store = h.server.running.app.store.clone();
    let me = store
        .authenticate(&admin_key)
        .expect("the store answers")
        .expect("the admin key is live");
    h.raw(raw("DELETE", format!("/v1/api-keys/{}", me.key_id), a).expect(409))
        .await;
    let body = json!({"customer_id": ada.id, "items": [{"product_id": mug.id, "quantity": 1}]});
    let typed: orderflow_server_api::types::OrderCreate =
        serde_json::from_value(body.clone()).expect("a valid order");
    let fingerprint = orderflow_server_api::edge::pipeline::fingerprint(
        create_order,
        &[serde_json::to_value(&typed).expect("re-encodes")],
    );
    store
        .idempotency_begin(
            &IdempotencyKey {
                principal: &me.key_id,
                key: "in-flight",
                fingerprint: &fingerprint,
            },
            orderflow_server::handlers::IDEMPOTENCY_LEASE,
            orderflow_server::handlers::IDEMPOTENCY_RETENTION,
        )
        .expect("the claim is stored");
    let p = h
        .raw(
            raw("POST", "/v1/orders", a)
                .header("Idempotency-Key", "in-flight")
                .json(body)
                .expect(409),
        )
        .await;
    assert_eq!(p["code"], "idempotency_key_in_flight");

    // 422: well-formed but invalid.
    for (method, path, body, headers) in [
        (
            "POST",
            "/v1/customers".to_string(),
            json!({"name": "", "email": "x"}),
            vec![],
        ),
        ("PATCH", cus.clone(), json!({"name": ""}), vec![]),
        (
            "POST",
            format!("{cus}/api-keys"),
            json!({"name": ""}),
            vec![],
        ),
        (
            "POST",
            "/v1/products".into(),
            json!({"sku": "bad sku!", "name": "", "price": {"amount_minor": -5, "currency": "euro"}}),
            vec![],
        ),
        ("PATCH", prd.clone(), json!({"name": ""}), vec![]),
        (
            "POST",
            "/v1/orders".into(),
            json!({"customer_id": ada.id, "items": []}),
            vec![("Idempotency-Key", "empty-order")],
        ),
        (
            "POST",
            "/v1/webhook-endpoints".into(),
            json!({"url": "ftp://hooks.example.com/x", "events": ["order.created", "order.created"]}),
            vec![],
        ),
    ] {
        let mut case = raw(method, path, a).json(body).expect(422);
        for (k, v) in headers {
            case = case.header(k, v);
        }
        h.raw(case).await;
    }

    // An explicit null where the spec says `string` is refused; a null in
    // a member the schema does not declare is ignored like any other value.
    let null = h
        .raw(
            raw("PATCH", cus.clone(), a)
                .json(json!({"email": null}))
                .expect(400),
        )
        .await;
    assert_eq!(null["code"], "malformed_request", "{null}");
    assert!(
        null["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("#/email")),
        "{null}"
    );
    h.raw(
        raw("PATCH", prd.clone(), a)
            .json(json!({"active": true, "note": null, "price": {"amount_minor": 1250, "currency": "EUR", "x": [null]}}))
            .expect(200),
    )
    .await;

    // Blank names are refused by the spec's own pattern (the edge), not
    // only by the store: the spec says what the server does.
    let blank = h
        .raw(
            raw("PATCH", cus.clone(), a)
                .json(json!({"name": " \u{c}\u{a0}"}))
                .expect(422),
        )
        .await;
    assert!(
        blank["errors"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("must match the pattern")),
        "the name pattern is enforced at the edge: {blank}"
    );

    // 304: every conditional GET, revalidated with the ETag it gave.
    for path in [
        "/v1/customers?limit=1".to_string(),
        cus.clone(),
        "/v1/products".into(),
        prd.clone(),
        "/v1/orders".into(),
        ord.clone(),
        format!("{ord}/items"),
    ] {
        let etag = h.etag(&path, a).await;
        h.raw(
            raw("GET", path, a)
                .header("If-None-Match", etag)
                .expect(304),
        )
        .await;
    }
    // 412: a change under a stale If-Match changes nothing.
    for (method, path, body) in [
        ("PATCH", cus.clone(), json!({"name": "Stale"})),
        ("PATCH", prd.clone(), json!({"name": "Stale"})),
        (
            "POST",
            format!("{ord}/transitions"),
            json!({"to": "shipped"}),
        ),
    ] {
        h.raw(
            raw(method, path, a)
                .header("If-Match", "\"r999\"")
                .json(body)
                .expect(412),
        )
        .await;
    }
    // 428: v2 requires If-Match (sent to v2 as is: the translation only
    // moves v1 paths).
    if v2 {
        for (method, path, body) in [
            ("PATCH", cus.replace("/v1/", "/v2/"), json!({"name": "N"})),
            ("PATCH", prd.replace("/v1/", "/v2/"), json!({"name": "N"})),
            (
                "POST",
                format!("{}/transitions", ord.replace("/v1/", "/v2/")),
                json!({"to": "shipped"}),
            ),
        ] {
            h.raw(raw(method, path, a).json(body).expect(428)).await;
        }
    }

    // 429: stop the clock and exhaust each policy, then every limited
    // operation is refused.
    h.freeze();
    let reads = orderflow_server_api::ops::LIST_PRODUCTS
        .rate_limit
        .expect("reads are limited");
    for _ in 0..reads.quota {
        h.raw(raw("GET", "/v1/products?limit=1", a).expect(200))
            .await;
    }
    for path in [
        "/v1/customers".to_string(),
        cus.clone(),
        "/v1/products".into(),
        prd.clone(),
        "/v1/orders".into(),
        ord.clone(),
        format!("{ord}/items"),
        "/v1/me".into(),
        "/v1/webhook-endpoints".into(),
        "/v1/audit-events".into(),
        deliveries.clone(),
    ] {
        h.raw(raw("GET", path, a).expect(429)).await;
    }
    let writes = orderflow_server_api::ops::CREATE_CUSTOMER
        .rate_limit
        .expect("writes are limited");
    for _ in 0..writes.quota {
        // Refused by validation, but counted: limits run first.
        h.raw(
            raw("POST", "/v1/customers", a)
                .json(json!({"name": "", "email": "q@example.com"}))
                .expect(422),
        )
        .await;
    }
    for (method, path, body, headers) in &with_body {
        let mut case = raw(method, path.clone(), a).json(body.clone()).expect(429);
        for (k, v) in headers {
            case = case.header(k, format!("{v}-429"));
        }
        h.raw(case).await;
    }
    h.raw(raw("DELETE", format!("/v1/api-keys/{}", ada_key.id), a).expect(429))
        .await;
    h.raw(raw("DELETE", format!("/v1/webhook-endpoints/{endpoint_id}"), a).expect(429))
        .await;
    h.frozen.store(false, Ordering::SeqCst);

    // ---- 400 for the operations whose only input is a path id: a path
    // that is not valid percent-encoded UTF-8, refused by the router and
    // answered as a problem by the front. ----
    for (method, path) in [
        ("GET", "/v1/customers/%FF"),
        ("GET", "/v1/products/%FF"),
        ("GET", "/v1/orders/%FF"),
        ("DELETE", "/v1/api-keys/%FF"),
        ("DELETE", "/v1/webhook-endpoints/%FF"),
        ("GET", "/v1/events/%FF/deliveries"),
    ] {
        let body = h.raw(raw(method, path, a).expect(400)).await;
        assert_eq!(body["code"], json!("malformed_request"), "{method} {path}");
    }

    // 410: the clock past v1's sunset; every v1 operation is retired. (The
    // v2 pass has no sunset to pass.)
    if !v2 {
        let sunset = orderflow_server_api::ops::ALL
            .iter()
            .filter_map(|o| o.lifecycle.and_then(|l| l.sunset_at))
            .max()
            .expect("v1 declares a sunset");
        h.freeze();
        clock.set(chrono::DateTime::from_timestamp(sunset, 0).expect("a time"));
        for op in orderflow_server_api::ops::ALL
            .iter()
            .filter(|o| o.lifecycle.is_some())
        {
            let path = op.route.replace('{', "x_").replace('}', "");
            h.raw(raw(op.method, path, a).expect(410)).await;
        }
    }
    let exchanges = h.proxy.exchanges();
    h.server.running.stop().await.expect("clean shutdown");
    exchanges
}

/// The id of an order's first event, from the store (events are pushed to
/// endpoints, not listed).
fn store_events(store: &dyn orderflow_server::store::Storage, order_id: &str) -> String {
    store
        .order_events(order_id)
        .expect("the order's events")
        .first()
        .expect("placing an order writes an event")
        .id
        .clone()
}

/// `/readyz` answers 503 when the database does not answer in time. Another
/// process holds SQLite's write lock, a write stalls on it holding the only
/// database slot (`max_db_in_flight = 1`), and readiness, which needs a
/// slot to ask the database anything, gives up after its wait: 503 with
/// `Retry-After`. Released, the stalled write completes normally.
async fn readiness_when_the_database_stalls(backend: Backend) -> Vec<Exchange> {
    let server = TestServer::start_configured_on(backend, |c| c.max_db_in_flight = 1).await;
    let h = Harness::start(server, None, None).await;
    let lock = Locker::take(&h.server).await;
    let client = h.server.http(Some(&h.server.admin_key));
    let url = format!("{}/v1/customers", h.proxy.base);
    let write = tokio::spawn(async move {
        client
            .post(url)
            .json(&json!({"name": "Stalled", "email": "stalled@example.com"}))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let probe = h.server.http(None);
    loop {
        let status = probe
            .get(format!("{}/readyz", h.proxy.base))
            .send()
            .await
            .expect("readyz answers")
            .status()
            .as_u16();
        if status == 503 {
            break;
        }
        assert_eq!(status, 200, "readiness is 200 or 503");
        assert!(
            tokio::time::Instant::now() < deadline,
            "readiness never reported the stalled database"
        );
        tokio::task::yield_now().await;
    }
    lock.release().await;
    assert_eq!(
        write
            .await
            .expect("the write task")
            .expect("the write answers"),
        201,
        "the stalled write completes once the lock is released"
    );
    let exchanges = h.proxy.exchanges();
    h.server.running.stop().await.expect("clean shutdown");
    exchanges
}

/// Another process holding the lock a customer insert needs: SQLite's
/// write lock (`BEGIN EXCLUSIVE`), or on PostgreSQL an exclusive lock on
/// the customers table, in a transaction of another connection.
enum Locker {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl Locker {
    async fn take(server: &TestServer) -> Locker {
        match server.postgres_url() {
            None => {
                let db = rusqlite::Connection::open(server.database()).expect("open the database");
                db.execute_batch("BEGIN EXCLUSIVE")
                    .expect("take the write lock");
                Locker::Sqlite(db)
            }
            Some(url) => {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .expect("connect to the scratch database");
                tokio::spawn(conn);
                client
                    .batch_execute("BEGIN; LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
                    .await
                    .expect("lock the customers table");
                Locker::Postgres(client)
            }
        }
    }

    async fn release(self) {
        match self {
            Locker::Sqlite(db) => db.execute_batch("COMMIT").expect("release the write lock"),
            Locker::Postgres(client) => client
                .batch_execute("COMMIT")
                .await
                .expect("release the table lock"),
        }
    }
}

/// `POST /v1/orders` answers the `unavailable` problem (503, with
/// `Retry-After`) when the internal pricing service does not answer: here
/// nothing listens at its address.
async fn order_when_pricing_is_down(backend: Backend) -> Vec<Exchange> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = closed.local_addr().expect("its address");
    drop(closed);
    let server = TestServer::start_configured_on(backend, |c| {
        c.pricing.url = Some(format!("http://{addr}"));
        c.pricing.deadline = std::time::Duration::from_millis(300);
    })
    .await;
    let h = Harness::start(server, None, None).await;
    let admin = h.server.http(Some(&h.server.admin_key));
    let c: Value = admin
        .post(format!("{}/v1/customers", h.proxy.base))
        .json(&json!({"name": "Down", "email": "down@example.com"}))
        .send()
        .await
        .expect("customer")
        .json()
        .await
        .expect("json");
    for version in ["v1", "v2"] {
        let order = admin
            .post(format!("{}/{version}/orders", h.proxy.base))
            .header("Idempotency-Key", format!("pricing-down-{version}"))
            .json(
                &json!({"customer_id": c["id"], "items": [{"product_id": "prd_x", "quantity": 1}]}),
            )
            .send()
            .await
            .expect("the order answers");
        assert_eq!(order.status().as_u16(), 503, "{version}");
        assert!(order.headers().contains_key("retry-after"), "{version}");
    }
    let exchanges = h.proxy.exchanges();
    h.server.running.stop().await.expect("clean shutdown");
    exchanges
}

// ---- The validator can fail. ----

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        map.insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("a header name"),
            http::HeaderValue::from_str(v).expect("a header value"),
        );
    }
    map
}

/// The lifecycle headers of a v1 response.
const V1_LIFECYCLE: &[(&str, &str)] = &[
    ("deprecation", "@1796083200"),
    ("sunset", "Wed, 30 Jun 2027 00:00:00 GMT"),
    ("link", "</v2/customers>; rel=\"successor-version\""),
];

const CUSTOMER_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/json"),
    ("x-request-id", "r1"),
    ("location", "/v1/customers/cus_1"),
    ("ratelimit", "\"writes\";r=49;t=1"),
    ("ratelimit-policy", "\"writes\";q=50;w=1"),
];

fn customer() -> Value {
    json!({"id": "cus_1", "name": "Ada", "email": "ada@example.com",
           "created_at": "2026-11-21T10:00:00Z", "updated_at": "2026-11-21T10:00:00Z"})
}

/// Checks `method path` answering `status` with `headers` and `body`, and
/// returns the violations as text.
fn check(method: &str, path: &str, status: u16, hs: &[(&str, &str)], body: &Value) -> Vec<String> {
    let v = validator();
    // Every v1 response carries the lifecycle headers; a case that is not
    // about them gets well-formed ones.
    let mut hs = hs.to_vec();
    if path.starts_with("/v1/") {
        for (k, val) in V1_LIFECYCLE {
            if !hs.iter().any(|(n, _)| n == k) {
                hs.push((k, val));
            }
        }
    }
    let map = headers(&hs);
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    v.check(
        method,
        path,
        Response {
            status,
            headers: &map,
            body: &bytes,
        },
    )
    .violations
    .iter()
    .map(ToString::to_string)
    .collect()
}

#[test]
fn the_validator_accepts_what_the_spec_documents() {
    let page_headers = [
        ("content-type", "application/json"),
        ("x-request-id", "r1"),
        ("ratelimit", "\"reads\";r=1;t=1"),
        ("ratelimit-policy", "\"reads\";q=200;w=1"),
        ("etag", "\"l0123456789abcdef01234567\""),
        ("cache-control", "private, no-cache"),
    ];
    let cases: Vec<(&str, &str, u16, Headers, Value)> = vec![
        (
            "POST",
            "/v1/customers",
            201,
            CUSTOMER_HEADERS.to_vec(),
            customer(),
        ),
        // nullable: true admits null and a string.
        (
            "GET",
            "/v1/customers",
            200,
            page_headers.to_vec(),
            json!({"data": [customer()], "next_cursor": null}),
        ),
        (
            "GET",
            "/v1/customers",
            200,
            page_headers.to_vec(),
            json!({"data": [], "next_cursor": "abc"}),
        ),
        (
            "DELETE",
            "/v1/api-keys/key_1",
            204,
            vec![
                ("x-request-id", "r"),
                ("ratelimit", "x"),
                ("ratelimit-policy", "y"),
            ],
            Value::Null,
        ),
        (
            "GET",
            "/readyz",
            503,
            vec![("content-type", "application/problem+json")],
            json!({"type": "t", "title": "t", "status": 503, "detail": "d", "code": "unavailable", "request_id": "r"}),
        ),
    ];
    for (method, path, status, hs, body) in cases {
        assert_eq!(
            check(method, path, status, &hs, &body),
            Vec::<String>::new(),
            "{method} {path} {status}"
        );
    }
}

#[test]
fn the_validator_catches_wrong_responses() {
    let mut no_location: Vec<(&str, &str)> = CUSTOMER_HEADERS.to_vec();
    no_location.retain(|(k, _)| *k != "location");
    let mut without_email = customer();
    without_email
        .as_object_mut()
        .expect("an object")
        .remove("email");
    let mut numeric_name = customer();
    numeric_name["name"] = json!(42);
    let mut bad_date = customer();
    bad_date["created_at"] = json!("yesterday");
    let problem = json!({"type": "t", "title": "t", "status": 404, "detail": "d", "code": "not_found", "request_id": "r"});
    // (what, method, path, status, headers, body, fragments the message must contain)
    let cases: Vec<WrongCase> = vec![
        (
            "a v1 response without its Deprecation",
            "POST",
            "/v1/customers",
            201,
            [CUSTOMER_HEADERS, &[("deprecation", "")]].concat(),
            customer(),
            vec!["createCustomer", "-> 201", "header:Deprecation"],
        ),
        (
            "undocumented status",
            "POST",
            "/v1/customers",
            418,
            CUSTOMER_HEADERS.to_vec(),
            customer(),
            vec![
                "createCustomer",
                "-> 418",
                "at status",
                "not documented",
                "201",
            ],
        ),
        (
            "a 500 is undocumented everywhere",
            "GET",
            "/v1/orders",
            500,
            vec![("content-type", "application/problem+json")],
            problem.clone(),
            vec!["listOrders", "-> 500", "not documented"],
        ),
        (
            "missing required property",
            "POST",
            "/v1/customers",
            201,
            CUSTOMER_HEADERS.to_vec(),
            without_email,
            vec![
                "createCustomer",
                "-> 201",
                "at (root)",
                "\"email\" is a required property",
            ],
        ),
        (
            "wrong type",
            "POST",
            "/v1/customers",
            201,
            CUSTOMER_HEADERS.to_vec(),
            numeric_name,
            vec![
                "createCustomer",
                "at /name",
                "(value: 42)",
                "is not of type \"string\"",
            ],
        ),
        (
            "wrong format",
            "POST",
            "/v1/customers",
            201,
            CUSTOMER_HEADERS.to_vec(),
            bad_date,
            vec!["at /created_at", "\"yesterday\"", "date-time"],
        ),
        (
            "nested wrong type through $ref",
            "GET",
            "/v1/customers",
            200,
            vec![
                ("content-type", "application/json"),
                ("x-request-id", "r"),
                ("ratelimit", "x"),
                ("ratelimit-policy", "y"),
            ],
            json!({"data": [{"id": 1}], "next_cursor": 7}),
            vec![
                "listCustomers",
                "at /data/0/id",
                "at /next_cursor",
                "(value: 7)",
            ],
        ),
        (
            "missing required header",
            "POST",
            "/v1/customers",
            201,
            no_location,
            customer(),
            vec![
                "createCustomer",
                "-> 201",
                "at header:Location",
                "required response header is missing",
                "<absent>",
            ],
        ),
        (
            "problem as plain JSON",
            "GET",
            "/v1/customers/cus_x",
            404,
            vec![("content-type", "application/json"), ("x-request-id", "r")],
            problem.clone(),
            vec![
                "getCustomer",
                "-> 404",
                "header:Content-Type",
                "application/json",
                "application/problem+json",
            ],
        ),
        (
            "no Content-Type",
            "GET",
            "/v1/customers/cus_x",
            404,
            vec![],
            problem,
            vec!["getCustomer", "header:Content-Type", "<absent>"],
        ),
        (
            "a body on a 204",
            "DELETE",
            "/v1/api-keys/key_1",
            204,
            vec![
                ("x-request-id", "r"),
                ("ratelimit", "x"),
                ("ratelimit-policy", "y"),
            ],
            json!({}),
            vec!["revokeApiKey", "-> 204", "declares no content"],
        ),
        (
            "no such operation",
            "PUT",
            "/v1/customers",
            200,
            vec![],
            Value::Null,
            vec!["PUT /v1/customers", "no operation in the spec"],
        ),
    ];
    for (what, method, path, status, hs, body, fragments) in cases {
        let found = check(method, path, status, &hs, &body).join("\n");
        assert!(!found.is_empty(), "{what}: not caught");
        for f in fragments {
            assert!(found.contains(f), "{what}: message lacks {f:?}:\n{found}");
        }
    }
}

#[test]
fn paths_match_templates_and_prefer_literals() {
    let v = SpecValidator::from_yaml(
        "openapi: 3.0.3\npaths:\n  /a/{id}:\n    get:\n      operationId: byId\n      responses: {'200': {description: x}}\n  /a/export:\n    get:\n      operationId: export\n      responses: {'200': {description: x}}\n",
    )
    .expect("a spec");
    for (path, want) in [
        ("/a/export", Some("export")),
        ("/a/x1", Some("byId")),
        ("/a", None),
        ("/a/x/y", None),
        ("/a/", None),
    ] {
        assert_eq!(v.operation("GET", path), want, "{path}");
    }
    let real = validator();
    for (method, path, want) in [
        ("GET", "/v1/orders/ord_1/items", "listOrderItems"),
        ("POST", "/v1/orders/ord_1/transitions", "transitionOrder"),
        ("DELETE", "/v1/api-keys/key_1", "revokeApiKey"),
        ("PATCH", "/v1/customers/cus_1", "updateCustomer"),
    ] {
        assert_eq!(real.operation(method, path), Some(want), "{method} {path}");
    }
}

#[test]
fn recursive_and_cyclic_references_are_safe() {
    // A recursive schema validates lazily; a $ref cycle among responses is
    // an error, not a hang.
    let recursive = SpecValidator::from_yaml(
        "openapi: 3.0.3\npaths:\n  /t:\n    get:\n      operationId: tree\n      responses:\n        '200':\n          description: x\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Node'}\ncomponents:\n  schemas:\n    Node:\n      type: object\n      required: [name]\n      properties:\n        name: {type: string}\n        children: {type: array, items: {$ref: '#/components/schemas/Node'}}\n",
    )
    .expect("a recursive spec compiles");
    let hs = headers(&[("content-type", "application/json")]);
    let body =
        json!({"name": "a", "children": [{"name": "b", "children": [{"name": 3}]}]}).to_string();
    let out = recursive.check(
        "GET",
        "/t",
        Response {
            status: 200,
            headers: &hs,
            body: body.as_bytes(),
        },
    );
    assert_eq!(out.violations.len(), 1, "{:?}", out.violations);
    assert_eq!(out.violations[0].pointer, "/children/0/children/0/name");
    let cyclic = SpecValidator::from_yaml(
        "openapi: 3.0.3\npaths:\n  /t:\n    get:\n      operationId: t\n      responses:\n        '200': {$ref: '#/components/responses/A'}\ncomponents:\n  responses:\n    A: {$ref: '#/components/responses/B'}\n    B: {$ref: '#/components/responses/A'}\n",
    );
    let err = cyclic.err().expect("a cycle is refused").to_string();
    assert!(err.contains("$ref cycle"), "{err}");
}

/// The edge refuses an explicit `null` anywhere in a request body
/// (`server-api/src/edge.rs`, `CheckedBody`), because serde would read it
/// as an absent member. That is right only while no request schema is
/// `nullable`; this fails when one becomes so.
#[test]
fn no_request_body_schema_is_nullable() {
    let spec = crate::drift::spec_value(orderflow_server_api::SPEC_YAML);
    fn walk(spec: &Value, node: &Value, at: &str, seen: &mut Vec<String>, found: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str)
                    && !seen.iter().any(|s| s == r)
                {
                    seen.push(r.to_string());
                    if let Some(target) = spec.pointer(r.trim_start_matches('#')) {
                        walk(spec, target, r, seen, found);
                    }
                }
                if map.get("nullable") == Some(&Value::Bool(true)) {
                    found.push(at.to_string());
                }
                for (k, v) in map {
                    walk(spec, v, &format!("{at}/{k}"), seen, found);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(spec, v, &format!("{at}/{i}"), seen, found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    let paths = spec["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("a path item") {
            if let Some(body) = op.get("requestBody") {
                walk(
                    &spec,
                    body,
                    &format!("{method} {path} requestBody"),
                    &mut Vec::new(),
                    &mut found,
                );
            }
        }
    }
    assert!(
        found.is_empty(),
        "nullable request schemas; teach CheckedBody which nulls to accept: {found:?}"
    );
}

/// The coverage gate can fail: with no traffic, every documented pair that
/// is not exempt is reported, and an exempt pair that was exercised is
/// reported as stale.
#[test]
fn the_coverage_gate_names_every_unexercised_pair() {
    let v = validator();
    let (_, missing, stale) = coverage_table(&v, &[], EXEMPT);
    assert_eq!(missing.len(), v.documented().len() - EXEMPT.len());
    assert!(missing.contains(&("getHealth".to_string(), "200".to_string())));
    assert!(stale.is_empty());
    // An exemption keeps a pair out of the missing list, and becomes stale
    // once the pair is exercised.
    let exemption = [("getOrder", "400", "a reason")];
    let (_, missing, _) = coverage_table(&v, &[], &exemption);
    assert_eq!(missing.len(), v.documented().len() - 1);
    assert!(!missing.contains(&("getOrder".to_string(), "400".to_string())));
    let exercised = Exchange {
        method: "GET".into(),
        path: "/".into(),
        operation: Some("getOrder".into()),
        status: 400,
        response_key: Some("400".into()),
        violations: Vec::new(),
    };
    let (_, _, stale) = coverage_table(&v, &[exercised], &exemption);
    assert_eq!(stale, vec!["getOrder 400".to_string()]);
}

/// The v1 -> v2 translation of the coverage scenario: paths move to `/v2`,
/// money objects in request bodies become decimal strings, and the answers
/// come back as v1 would have given them (money in minor units, `/v1`
/// locations and links). Values the translation cannot map (a malformed
/// amount a refusal case sends on purpose) go through unchanged, so v2
/// refuses them in its own terms.
fn to_v2() -> Rewrite {
    fn walk(v: &mut Value, f: &dyn Fn(&mut serde_json::Map<String, Value>)) {
        match v {
            Value::Object(map) => {
                f(map);
                map.values_mut().for_each(|x| walk(x, f));
            }
            Value::Array(items) => items.iter_mut().for_each(|x| walk(x, f)),
            _ => {}
        }
    }
    fn rebody(body: Bytes, f: &dyn Fn(&mut serde_json::Map<String, Value>)) -> Bytes {
        match serde_json::from_slice::<Value>(&body) {
            Ok(mut v) => {
                walk(&mut v, f);
                Bytes::from(serde_json::to_vec(&v).expect("JSON"))
            }
            Err(_) => body,
        }
    }
    let money_up = |m: &mut serde_json::Map<String, Value>| {
        if let (Some(minor), Some(Value::String(cur))) = (
            m.get("amount_minor").and_then(Value::as_i64),
            m.get("currency"),
        ) {
            let amount = orderflow_server::money::to_decimal(minor, cur);
            m.remove("amount_minor");
            m.insert("amount".into(), Value::String(amount));
        }
    };
    let money_down = |m: &mut serde_json::Map<String, Value>| {
        if let (Some(Value::String(amount)), Some(Value::String(cur))) =
            (m.get("amount"), m.get("currency"))
            && let Ok(minor) = orderflow_server::money::from_decimal(amount, cur)
        {
            m.remove("amount");
            m.insert("amount_minor".into(), Value::from(minor));
        }
    };
    Rewrite {
        request: Arc::new(move |method, path, headers, body| {
            let path = match path.strip_prefix("/v1/") {
                Some(rest) => {
                    // v2 requires If-Match on changes, v1 does not: a v1
                    // change without one becomes a v2 change "whatever the
                    // version", which is what v1 did.
                    let changes = *method == http::Method::PATCH || rest.ends_with("/transitions");
                    if changes && !headers.contains_key("if-match") {
                        headers.insert("if-match", http::HeaderValue::from_static("*"));
                    }
                    format!("/v2/{rest}")
                }
                None => path.to_string(),
            };
            (path, rebody(body, &money_up))
        }),
        response: Arc::new(move |headers, body| {
            for name in ["location", "link"] {
                let values: Vec<http::HeaderValue> = headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .filter_map(|v| http::HeaderValue::from_str(&v.replace("/v2/", "/v1/")).ok())
                    .collect();
                headers.remove(name);
                for v in values {
                    headers.append(name, v);
                }
            }
            rebody(body, &money_down)
        }),
    }
}
