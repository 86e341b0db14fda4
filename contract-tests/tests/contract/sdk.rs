//! Every operation through the generated SDK against the real server: if
//! server and client disagreed on a path, a field, a status or a type, these
//! round trips would fail to deserialize or get an unexpected response.
//! Each runs on both backends: the embedded SQLite default and PostgreSQL
//! (`ORDERFLOW_TEST_POSTGRES`, as `bash scripts/with-postgres.sh` sets it).

use std::collections::BTreeSet;

use orderflow_client::types;
use orderflow_client::{Client, Error};

use crate::support::{Backend, TestServer};

/// The problem a failed SDK call carries, or a panic naming the surprise.
fn problem<T: std::fmt::Debug>(r: Result<T, Error<types::Problem>>) -> types::Problem {
    match r {
        Err(Error::ErrorResponse(rv)) => {
            let status = rv.status().as_u16();
            let p = rv.into_inner();
            assert_eq!(
                p.status, status,
                "problem.status must equal the HTTP status"
            );
            p
        }
        other => panic!("expected a documented problem response, got {other:?}"),
    }
}

async fn customer(sdk: &Client, name: &str, email: &str) -> types::Customer {
    sdk.create_customer()
        .body(types::CustomerCreate::builder().name(name).email(email))
        .send()
        .await
        .expect("create customer")
        .into_inner()
}

async fn product(sdk: &Client, sku: &str, price: i64, currency: &str) -> types::Product {
    sdk.create_product()
        .body(
            types::ProductCreate::builder()
                .sku(sku)
                .name(format!("Product {sku}"))
                .price(
                    types::Money::builder()
                        .amount_minor(price)
                        .currency(currency),
                ),
        )
        .send()
        .await
        .expect("create product")
        .into_inner()
}

#[tokio::test]
async fn every_operation_round_trips_through_the_sdk_on_sqlite() {
    every_operation_round_trips_through_the_sdk(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_round_trips_through_the_sdk_on_postgres() {
    every_operation_round_trips_through_the_sdk(Backend::Postgres).await;
}

async fn every_operation_round_trips_through_the_sdk(backend: Backend) {
    let server = TestServer::start_on(backend, None).await;
    let admin = server.sdk(&server.admin_key);
    let mut exercised = BTreeSet::new();

    // Health.
    let h = admin
        .get_health()
        .send()
        .await
        .expect("healthz")
        .into_inner();
    assert_eq!(h.status, "ok");
    exercised.insert("getHealth");
    let r = admin
        .get_readiness()
        .send()
        .await
        .expect("readyz")
        .into_inner();
    assert_eq!(r.status, "ok");
    exercised.insert("getReadiness");

    // Customers.
    let ada = admin
        .create_customer()
        .body(
            types::CustomerCreate::builder()
                .name("Ada Lovelace")
                .email("ada@example.com"),
        )
        .send()
        .await
        .expect("create customer");
    assert_eq!(ada.status().as_u16(), 201);
    let location = ada
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ada = ada.into_inner();
    assert_eq!(
        location.as_deref(),
        Some(format!("/v1/customers/{}", ada.id).as_str())
    );
    exercised.insert("createCustomer");
    let grace = customer(&admin, "Grace Hopper", "grace@example.com").await;

    let got = admin
        .get_customer()
        .customer_id(&ada.id)
        .send()
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got, ada);
    exercised.insert("getCustomer");

    let renamed = admin
        .update_customer()
        .customer_id(&ada.id)
        .body(
            types::CustomerUpdate::builder()
                .name(Some("Augusta Ada King".parse().expect("a name"))),
        )
        .send()
        .await
        .expect("update")
        .into_inner();
    assert_eq!(renamed.name, "Augusta Ada King");
    assert_eq!(renamed.email, ada.email, "absent fields keep their value");
    exercised.insert("updateCustomer");

    let page = admin
        .list_customers()
        .limit(1)
        .send()
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.data[0].id, grace.id, "newest first");
    let next = page.next_cursor.expect("a second page");
    let page2 = admin
        .list_customers()
        .limit(1)
        .cursor(next)
        .send()
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(page2.data[0].id, ada.id);
    assert!(
        page2.next_cursor.is_none(),
        "two customers fit in two pages"
    );
    exercised.insert("listCustomers");

    // Duplicate email: 409.
    let dup = admin
        .create_customer()
        .body(
            types::CustomerCreate::builder()
                .name("Other")
                .email("ADA@example.com"),
        )
        .send()
        .await;
    assert_eq!(problem(dup).code, "duplicate_email");

    // Products.
    let mug = product(&admin, "MUG-001", 1250, "EUR").await;
    exercised.insert("createProduct");
    let tee = product(&admin, "TEE-001", 2000, "EUR").await;
    let got = admin
        .get_product()
        .product_id(&mug.id)
        .send()
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got, mug);
    exercised.insert("getProduct");
    let cheaper = admin
        .update_product()
        .product_id(&tee.id)
        .body(
            types::ProductUpdate::builder().price(Some(
                types::Money::builder()
                    .amount_minor(1800)
                    .currency("EUR")
                    .try_into()
                    .expect("money"),
            )),
        )
        .send()
        .await
        .expect("update product")
        .into_inner();
    assert_eq!(cheaper.price.amount_minor, 1800);
    exercised.insert("updateProduct");
    let products = admin
        .list_products()
        .active(true)
        .send()
        .await
        .expect("list products")
        .into_inner();
    assert_eq!(products.data.len(), 2);
    exercised.insert("listProducts");

    // A customer key for Ada.
    let issued = admin
        .create_api_key()
        .customer_id(&ada.id)
        .body(types::ApiKeyCreate::builder().name("storefront"))
        .send()
        .await
        .expect("issue key");
    assert_eq!(issued.status().as_u16(), 201);
    let issued = issued.into_inner();
    assert_eq!(issued.customer_id.as_deref(), Some(ada.id.as_str()));
    exercised.insert("createApiKey");
    let ada_sdk = server.sdk(&issued.secret);

    // Orders: Ada places one for herself (customer_id omitted).
    let placed = ada_sdk
        .create_order()
        .idempotency_key("order-1")
        .body(types::OrderCreate::builder().items(vec![
            types::OrderItemCreate::builder()
                .product_id(mug.id.clone())
                .quantity(2)
                .try_into()
                .expect("item"),
            types::OrderItemCreate::builder()
                .product_id(tee.id.clone())
                .quantity(1)
                .try_into()
                .expect("item"),
        ]))
        .send()
        .await
        .expect("place order");
    assert_eq!(placed.status().as_u16(), 201);
    let order = placed.into_inner();
    assert_eq!(order.customer_id, ada.id);
    assert_eq!(order.status, types::OrderStatus::Pending);
    assert_eq!(order.total.amount_minor, 2 * 1250 + 1800);
    assert_eq!(order.items.len(), 2);
    exercised.insert("createOrder");

    let got = ada_sdk
        .get_order()
        .order_id(&order.id)
        .send()
        .await
        .expect("get order")
        .into_inner();
    assert_eq!(got, order);
    exercised.insert("getOrder");

    let items = ada_sdk
        .list_order_items()
        .order_id(&order.id)
        .limit(1)
        .send()
        .await
        .expect("items")
        .into_inner();
    assert_eq!(items.data[0].line, 1);
    assert!(items.next_cursor.is_some());
    exercised.insert("listOrderItems");

    let mine = ada_sdk
        .list_orders()
        .send()
        .await
        .expect("list orders")
        .into_inner();
    assert_eq!(mine.data.len(), 1);
    exercised.insert("listOrders");

    // Grace cannot see Ada's order: 404, not 403 (no existence leak).
    let grace_key = admin
        .create_api_key()
        .customer_id(&grace.id)
        .body(types::ApiKeyCreate::builder().name("grace"))
        .send()
        .await
        .expect("issue key")
        .into_inner();
    let grace_sdk = server.sdk(&grace_key.secret);
    assert_eq!(
        problem(grace_sdk.get_order().order_id(&order.id).send().await).status,
        404
    );

    // A webhook endpoint, registered before the transitions so that their
    // events are for it (the name never resolves: deliveries stay
    // pending, which the log shows).
    let endpoint = admin
        .create_webhook_endpoint()
        .body(
            types::WebhookEndpointCreate::builder().url("https://hooks.example.invalid/orderflow"),
        )
        .send()
        .await
        .expect("register an endpoint")
        .into_inner();
    assert!(endpoint.secret.starts_with("whsec_"), "{endpoint:?}");
    assert_eq!(
        endpoint.events,
        [
            types::WebhookEventType::OrderCreated,
            types::WebhookEventType::OrderStatusChanged
        ],
        "every type when none is named"
    );
    exercised.insert("createWebhookEndpoint");
    // The server's own network is not a webhook target by default.
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://169.254.169.254/latest",
        "http://localhost/x",
    ] {
        let refused = problem(
            admin
                .create_webhook_endpoint()
                .body(types::WebhookEndpointCreate::builder().url(url))
                .send()
                .await,
        );
        assert_eq!(refused.status, 422, "{url}");
        let errors = refused.errors;
        assert_eq!(errors[0].pointer, "#/url", "{url}");
        assert!(
            errors[0].detail.contains("does not call"),
            "{url}: {errors:?}"
        );
    }
    let listed = admin
        .list_webhook_endpoints()
        .send()
        .await
        .expect("list endpoints")
        .into_inner();
    assert_eq!(
        listed
            .data
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        [endpoint.id.as_str()]
    );
    exercised.insert("listWebhookEndpoints");

    // Transitions: a customer may not ship; the admin may process; the
    // customer may cancel; cancelled is final.
    let refused = ada_sdk
        .transition_order()
        .order_id(&order.id)
        .body(types::OrderTransition::builder().to(types::OrderStatus::Shipped))
        .send()
        .await;
    assert_eq!(problem(refused).status, 403);
    let processing = admin
        .transition_order()
        .order_id(&order.id)
        .body(types::OrderTransition::builder().to(types::OrderStatus::Processing))
        .send()
        .await
        .expect("process")
        .into_inner();
    assert_eq!(processing.status, types::OrderStatus::Processing);
    exercised.insert("transitionOrder");
    let cancelled = ada_sdk
        .transition_order()
        .order_id(&order.id)
        .body(types::OrderTransition::builder().to(types::OrderStatus::Cancelled))
        .send()
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.status, types::OrderStatus::Cancelled);
    let illegal = admin
        .transition_order()
        .order_id(&order.id)
        .body(types::OrderTransition::builder().to(types::OrderStatus::Shipped))
        .send()
        .await;
    assert_eq!(problem(illegal).code, "illegal_transition");

    // The events of the order: created (before the endpoint existed: no
    // delivery), then two status changes, each with a delivery for it.
    let store = server.running.app.store.clone();
    let order_id = order.id.clone();
    let events = tokio::task::spawn_blocking(move || store.order_events(&order_id))
        .await
        .expect("join")
        .expect("events");
    assert_eq!(
        events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        [
            "order.created",
            "order.status_changed",
            "order.status_changed"
        ]
    );
    let log = admin
        .list_event_deliveries()
        .event_id(&events[1].id)
        .send()
        .await
        .expect("delivery log")
        .into_inner();
    assert_eq!(log.event.id, events[1].id);
    assert_eq!(log.event.data.status, types::OrderStatus::Processing);
    assert_eq!(log.event.data.previous_status.as_deref(), Some("pending"));
    assert_eq!(
        log.data
            .iter()
            .map(|d| d.endpoint_id.as_str())
            .collect::<Vec<_>>(),
        [endpoint.id.as_str()]
    );
    exercised.insert("listEventDeliveries");

    // The audit log of the order: the admin's move, not the customer's
    // cancellation (a customer action is not an admin action).
    let audit = admin
        .list_audit_events()
        .resource_id(order.id.as_str())
        .send()
        .await
        .expect("audit")
        .into_inner();
    assert_eq!(audit.data.len(), 1, "{audit:?}");
    assert_eq!(audit.data[0].action, "order.status_changed");
    assert_eq!(audit.data[0].operation, "transitionOrder");
    assert_eq!(audit.data[0].changes[0].field, "status");
    assert_eq!(audit.data[0].changes[0].before, "pending");
    assert_eq!(audit.data[0].changes[0].after, "processing");
    exercised.insert("listAuditEvents");

    let removed = admin
        .delete_webhook_endpoint()
        .endpoint_id(&endpoint.id)
        .send()
        .await
        .expect("remove endpoint");
    assert_eq!(removed.status().as_u16(), 204);
    exercised.insert("deleteWebhookEndpoint");

    // Who is calling: the admin key, then a customer key.
    let me = admin.get_caller().send().await.expect("me").into_inner();
    assert_eq!(me.role, types::CallerRole::Admin);
    assert_eq!(me.customer_id, None);
    assert!(me.key_id.starts_with("key_"), "{me:?}");
    let me = grace_sdk
        .get_caller()
        .send()
        .await
        .expect("me")
        .into_inner();
    assert_eq!(me.key_id, grace_key.id);
    assert_eq!(me.role, types::CallerRole::Customer);
    assert_eq!(me.customer_id.as_deref(), Some(grace.id.as_str()));
    exercised.insert("getCaller");

    // Revoke Grace's key: it stops working at once.
    let revoked = admin
        .revoke_api_key()
        .key_id(&grace_key.id)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status().as_u16(), 204);
    exercised.insert("revokeApiKey");
    assert_eq!(problem(grace_sdk.list_orders().send().await).status, 401);

    // Every v1 operation (and the probes) was exercised; v2's are in
    // `v2_serves_every_resource_on_the_same_data`.
    let all: BTreeSet<&str> = orderflow_server_api::ops::ALL
        .iter()
        .filter(|o| !o.route.starts_with("/v2/"))
        .map(|o| o.operation_id)
        .collect();
    let missing: Vec<_> = all.difference(&exercised).collect();
    assert!(
        missing.is_empty(),
        "operations not driven through the SDK: {missing:?}"
    );

    server.running.stop().await.expect("clean shutdown");
}

/// Walks the order list while new orders arrive between page fetches: every
/// order that existed at the start appears exactly once, in order.
#[tokio::test]
async fn paging_through_orders_while_inserting_skips_and_repeats_nothing_on_sqlite() {
    paging_through_orders_while_inserting_skips_and_repeats_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_orders_while_inserting_skips_and_repeats_nothing_on_postgres() {
    paging_through_orders_while_inserting_skips_and_repeats_nothing(Backend::Postgres).await;
}

async fn paging_through_orders_while_inserting_skips_and_repeats_nothing(backend: Backend) {
    let server = TestServer::start_on(backend, None).await;
    let admin = server.sdk(&server.admin_key);
    let c = customer(&admin, "Pager", "pager@example.com").await;
    let p = product(&admin, "PG-1", 100, "USD").await;
    let place = |n: usize| {
        let admin = &admin;
        let c = c.id.clone();
        let p = p.id.clone();
        async move {
            admin
                .create_order()
                .idempotency_key(format!("k-{n}"))
                .body(
                    types::OrderCreate::builder()
                        .customer_id(Some(c))
                        .items(vec![
                            types::OrderItemCreate::builder()
                                .product_id(p)
                                .quantity(1)
                                .try_into()
                                .expect("item"),
                        ]),
                )
                .send()
                .await
                .expect("place")
                .into_inner()
                .id
        }
    };
    let mut before = Vec::new();
    for n in 0..23 {
        before.push(place(n).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut inserted = 100;
    loop {
        let mut req = admin.list_orders().limit(5);
        if let Some(c) = cursor.take() {
            req = req.cursor(c);
        }
        let page = req.send().await.expect("a page").into_inner();
        seen.extend(page.data.into_iter().map(|o| o.id));
        // New orders arrive while the client pages.
        place(inserted).await;
        inserted += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    before.reverse();
    assert_eq!(
        seen, before,
        "exactly the orders that existed, newest first, each once"
    );
    server.running.stop().await.expect("clean shutdown");
}

/// The ETag of a response.
fn etag(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("an ETag")
        .to_string()
}

fn eur(amount: &str) -> types::MoneyV2 {
    types::MoneyV2::builder()
        .amount(amount)
        .currency("EUR")
        .try_into()
        .expect("money")
}

/// Every v2 operation through the SDK, interleaved with v1 on the same
/// server: what one version writes the other reads, under the same ids,
/// with money in each version's own representation.
#[tokio::test]
async fn v2_serves_every_resource_on_the_same_data_on_sqlite() {
    v2_serves_every_resource_on_the_same_data(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_serves_every_resource_on_the_same_data_on_postgres() {
    v2_serves_every_resource_on_the_same_data(Backend::Postgres).await;
}

async fn v2_serves_every_resource_on_the_same_data(backend: Backend) {
    let server = TestServer::start_on(backend, None).await;
    let admin = server.sdk(&server.admin_key);
    let mut exercised = BTreeSet::new();

    // Customers: created in v2, read in v1 and the other way round.
    let ada = admin
        .create_customer_v2()
        .body(
            types::CustomerCreate::builder()
                .name("Ada")
                .email("ada@example.com"),
        )
        .send()
        .await
        .expect("create customer v2");
    assert_eq!(ada.status().as_u16(), 201);
    let location = ada.headers().get("location").cloned();
    let ada = ada.into_inner();
    assert_eq!(
        location.and_then(|l| l.to_str().ok().map(str::to_string)),
        Some(format!("/v2/customers/{}", ada.id)),
        "a v2 create points at the v2 resource"
    );
    exercised.insert("createCustomerV2");
    let via_v1 = admin
        .get_customer()
        .customer_id(&ada.id)
        .send()
        .await
        .expect("v1 get");
    assert_eq!(via_v1.into_inner(), ada, "v1 reads what v2 wrote");
    let grace = customer(&admin, "Grace", "grace@example.com").await;
    let via_v2 = admin
        .get_customer_v2()
        .customer_id(&grace.id)
        .send()
        .await
        .expect("v2 get")
        .into_inner();
    assert_eq!(via_v2, grace, "v2 reads what v1 wrote");
    exercised.insert("getCustomerV2");
    let renamed = admin
        .update_customer_v2()
        .customer_id(&ada.id)
        // `*`: whatever its version (If-Match is required in v2).
        .if_match("*")
        .body(types::CustomerUpdate::builder().name(Some("Ada L.".parse().expect("a name"))))
        .send()
        .await
        .expect("update v2")
        .into_inner();
    assert_eq!(renamed.name, "Ada L.");
    exercised.insert("updateCustomerV2");
    let page = admin
        .list_customers_v2()
        .limit(1)
        .send()
        .await
        .expect("list v2")
        .into_inner();
    assert_eq!(page.data[0].id, grace.id, "newest first");
    let page2 = admin
        .list_customers_v2()
        .limit(1)
        .cursor(page.next_cursor.expect("a second page"))
        .send()
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(page2.data[0].id, ada.id);
    exercised.insert("listCustomersV2");

    // Products: v2 writes a decimal price, v1 sees minor units.
    let mug = admin
        .create_product_v2()
        .body(
            types::ProductCreateV2::builder()
                .sku("MUG-1")
                .name("Mug")
                .price(eur("12.5")),
        )
        .send()
        .await
        .expect("create product v2")
        .into_inner();
    assert_eq!(
        mug.price.amount.as_str(),
        "12.50",
        "rendered with EUR's two digits"
    );
    exercised.insert("createProductV2");
    let v1_mug = admin
        .get_product()
        .product_id(&mug.id)
        .send()
        .await
        .expect("v1")
        .into_inner();
    assert_eq!(v1_mug.price.amount_minor, 1250);
    assert_eq!(v1_mug.price.currency.as_str(), "EUR");
    let too_precise = admin
        .create_product_v2()
        .body(
            types::ProductCreateV2::builder()
                .sku("MUG-2")
                .name("Mug")
                .price(eur("1.234")),
        )
        .send()
        .await;
    let p = problem(too_precise);
    assert_eq!(p.status, 422);
    assert_eq!(p.errors[0].pointer, "#/price/amount", "{p:?}");
    let tee = product(&admin, "TEE-1", 2000, "EUR").await;
    let got = admin
        .get_product_v2()
        .product_id(&tee.id)
        .send()
        .await
        .expect("v2 get product");
    let tee_etag = etag(got.headers());
    let got = got.into_inner();
    assert_eq!(
        got.price.amount.as_str(),
        "20.00",
        "v2 reads v1's 2000 minor units"
    );
    exercised.insert("getProductV2");
    let cheaper = admin
        .update_product_v2()
        .product_id(&tee.id)
        .if_match(tee_etag.as_str())
        .body(types::ProductUpdateV2::builder().price(Some(eur("18"))))
        .send()
        .await
        .expect("update v2");
    assert_ne!(
        etag(cheaper.headers()),
        tee_etag,
        "a change makes a new ETag"
    );
    let cheaper = cheaper.into_inner();
    assert_eq!(cheaper.price.amount.as_str(), "18.00");
    exercised.insert("updateProductV2");
    let products = admin
        .list_products_v2()
        .active(true)
        .send()
        .await
        .expect("list products v2")
        .into_inner();
    assert_eq!(products.data.len(), 2);
    exercised.insert("listProductsV2");

    // Keys and the caller.
    let key = admin
        .create_api_key_v2()
        .customer_id(&ada.id)
        .body(types::ApiKeyCreate::builder().name("ada"))
        .send()
        .await
        .expect("issue key v2")
        .into_inner();
    exercised.insert("createApiKeyV2");
    let ada_sdk = server.sdk(&key.secret);
    let me = ada_sdk
        .get_caller_v2()
        .send()
        .await
        .expect("me v2")
        .into_inner();
    assert_eq!(me.customer_id.as_deref(), Some(ada.id.as_str()));
    exercised.insert("getCallerV2");

    // Orders: placed through v1, read through v2, and the other way round.
    let line = |id: &str, q: u32| -> types::OrderItemCreate {
        types::OrderItemCreate::builder()
            .product_id(id)
            .quantity(q)
            .try_into()
            .expect("an item")
    };
    let v1_order = ada_sdk
        .create_order()
        .idempotency_key("v1-order")
        .body(types::OrderCreate::builder().items(vec![line(&mug.id, 2)]))
        .send()
        .await
        .expect("v1 order")
        .into_inner();
    let seen = ada_sdk
        .get_order_v2()
        .order_id(&v1_order.id)
        .send()
        .await
        .expect("v2 get order");
    let seen_etag = etag(seen.headers());
    let seen = seen.into_inner();
    assert_eq!(seen.id, v1_order.id);
    assert_eq!(seen.total.amount.as_str(), "25.00", "2 x 12.50");
    assert_eq!(seen.items[0].unit_price.amount.as_str(), "12.50");
    exercised.insert("getOrderV2");
    let v2_order = ada_sdk
        .create_order_v2()
        .idempotency_key("v2-order")
        .body(types::OrderCreate::builder().items(vec![line(&tee.id, 1), line(&mug.id, 1)]))
        .send()
        .await
        .expect("v2 order");
    let location = v2_order.headers().get("location").cloned();
    let v2_order = v2_order.into_inner();
    assert_eq!(
        location.and_then(|l| l.to_str().ok().map(str::to_string)),
        Some(format!("/v2/orders/{}", v2_order.id))
    );
    assert_eq!(v2_order.total.amount.as_str(), "30.50");
    exercised.insert("createOrderV2");
    let replay = ada_sdk
        .create_order_v2()
        .idempotency_key("v2-order")
        .body(types::OrderCreate::builder().items(vec![line(&tee.id, 1), line(&mug.id, 1)]))
        .send()
        .await
        .expect("v2 replay");
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(replay.into_inner().id, v2_order.id, "one order for one key");
    let v1_view = ada_sdk
        .get_order()
        .order_id(&v2_order.id)
        .send()
        .await
        .expect("v1 get order")
        .into_inner();
    assert_eq!(v1_view.total.amount_minor, 3050);
    let items = ada_sdk
        .list_order_items_v2()
        .order_id(&v2_order.id)
        .limit(1)
        .send()
        .await
        .expect("items v2")
        .into_inner();
    assert_eq!(items.data[0].line_total.amount.as_str(), "18.00");
    assert!(items.next_cursor.is_some());
    exercised.insert("listOrderItemsV2");
    let orders = ada_sdk
        .list_orders_v2()
        .send()
        .await
        .expect("list v2")
        .into_inner();
    let ids: Vec<&str> = orders.data.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        [v2_order.id.as_str(), v1_order.id.as_str()],
        "both versions' orders, newest first"
    );
    exercised.insert("listOrdersV2");
    let moved = admin
        .transition_order_v2()
        .order_id(&v1_order.id)
        .if_match(seen_etag.as_str())
        .body(types::OrderTransition::builder().to(types::OrderStatus::Processing))
        .send()
        .await
        .expect("transition v2")
        .into_inner();
    assert_eq!(moved.status, types::OrderStatus::Processing);
    let v1_seen = admin
        .get_order()
        .order_id(&v1_order.id)
        .send()
        .await
        .expect("v1")
        .into_inner();
    assert_eq!(
        v1_seen.status,
        types::OrderStatus::Processing,
        "v1 sees v2's transition"
    );
    exercised.insert("transitionOrderV2");

    // Webhooks and the audit log in v2: the same rows as v1's.
    let endpoint = admin
        .create_webhook_endpoint_v2()
        .body(
            types::WebhookEndpointCreate::builder()
                .url("https://hooks.example.com/orderflow")
                .events(vec![types::WebhookEventType::OrderStatusChanged]),
        )
        .send()
        .await
        .expect("register v2");
    assert_eq!(
        endpoint
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string),
        Some(format!("/v2/webhook-endpoints/{}", endpoint.id))
    );
    let endpoint = endpoint.into_inner();
    assert_eq!(
        endpoint.events,
        [types::WebhookEventType::OrderStatusChanged]
    );
    exercised.insert("createWebhookEndpointV2");
    let listed = admin
        .list_webhook_endpoints_v2()
        .send()
        .await
        .expect("list v2")
        .into_inner();
    assert_eq!(listed.data[0].id, endpoint.id);
    exercised.insert("listWebhookEndpointsV2");
    let store = server.running.app.store.clone();
    let order_id = v1_order.id.clone();
    let events = tokio::task::spawn_blocking(move || store.order_events(&order_id))
        .await
        .expect("join")
        .expect("events");
    let log = admin
        .list_event_deliveries_v2()
        .event_id(&events[0].id)
        .send()
        .await
        .expect("delivery log v2")
        .into_inner();
    assert_eq!(log.event.type_, types::WebhookEventType::OrderCreated);
    assert!(
        log.data.is_empty(),
        "no endpoint existed when it was placed"
    );
    exercised.insert("listEventDeliveriesV2");
    let audit = admin
        .list_audit_events_v2()
        .actor(
            admin
                .get_caller_v2()
                .send()
                .await
                .expect("me")
                .into_inner()
                .key_id,
        )
        .limit(2)
        .send()
        .await
        .expect("audit v2")
        .into_inner();
    assert_eq!(audit.data.len(), 2);
    assert_eq!(audit.data[0].action, "webhook_endpoint.created");
    assert_eq!(audit.data[0].operation, "createWebhookEndpointV2");
    assert!(
        audit.next_cursor.is_some(),
        "more than two admin actions so far"
    );
    exercised.insert("listAuditEventsV2");
    let removed = admin
        .delete_webhook_endpoint_v2()
        .endpoint_id(&endpoint.id)
        .send()
        .await
        .expect("remove v2");
    assert_eq!(removed.status().as_u16(), 204);
    let again = admin
        .delete_webhook_endpoint_v2()
        .endpoint_id(&endpoint.id)
        .send()
        .await;
    assert_eq!(problem(again).status, 404, "removed once");
    exercised.insert("deleteWebhookEndpointV2");

    let revoked = admin
        .revoke_api_key_v2()
        .key_id(&key.id)
        .send()
        .await
        .expect("revoke v2");
    assert_eq!(revoked.status().as_u16(), 204);
    assert_eq!(
        problem(ada_sdk.list_orders().send().await).status,
        401,
        "revoked for both versions"
    );
    exercised.insert("revokeApiKeyV2");

    let all: BTreeSet<&str> = orderflow_server_api::ops::ALL
        .iter()
        .filter(|o| o.route.starts_with("/v2/"))
        .map(|o| o.operation_id)
        .collect();
    let missing: Vec<_> = all.difference(&exercised).collect();
    assert!(
        missing.is_empty(),
        "v2 operations not driven through the SDK: {missing:?}"
    );
    server.running.stop().await.expect("clean shutdown");
}
