//! Quickstart: create a customer, a product and an order, then list orders,
//! all on v2 (v1 is deprecated; its SDK methods warn).
//!
//! Run a server (`cargo run -p orderflow-server`), copy the admin key it
//! prints, then:
//!
//!     ORDERFLOW_URL=http://127.0.0.1:8080 ORDERFLOW_KEY=of_sk_... \
//!         cargo run -p orderflow-client --example quickstart

use orderflow_client::retry::{RetryPolicy, send_with_retries};
use orderflow_client::{Client, types};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("ORDERFLOW_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let key = std::env::var("ORDERFLOW_KEY").map_err(|_| "set ORDERFLOW_KEY to an API key")?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse()?,
    );
    let client = Client::new_with_client(
        &url,
        reqwest::Client::builder()
            .default_headers(headers)
            .build()?,
    );

    let customer = client
        .create_customer_v2()
        .body(
            types::CustomerCreate::builder()
                .name("Ada Lovelace")
                .email(format!("ada+{}@example.com", std::process::id())),
        )
        .send()
        .await?
        .into_inner();
    let product = client
        .create_product_v2()
        .body(
            types::ProductCreateV2::builder()
                .sku(format!("MUG-{}", std::process::id()))
                .name("Enamel mug")
                .price(types::MoneyV2::builder().amount("12.50").currency("EUR")),
        )
        .send()
        .await?
        .into_inner();
    // Safe retries: 429, 503 and an in-flight 409 are retried after
    // Retry-After, always with the same Idempotency-Key, so the order is
    // placed once however often an attempt fails.
    let body: types::OrderCreate = types::OrderCreate::builder()
        .customer_id(Some(customer.id.clone()))
        .items(vec![
            types::OrderItemCreate::builder()
                .product_id(product.id)
                .quantity(2)
                .try_into()?,
        ])
        .try_into()?;
    let order = send_with_retries(&RetryPolicy::default(), None, |key| {
        client
            .create_order_v2()
            .idempotency_key(key)
            .body(body.clone())
            .send()
    })
    .await?
    .into_inner();
    println!(
        "placed {} for {} ({} {})",
        order.id, customer.name, &*order.total.amount, &*order.total.currency
    );

    // Problems are typed: a 404 comes back as `Error::ErrorResponse` with
    // the RFC 9457 body.
    match client
        .get_order_v2()
        .order_id("ord_does_not_exist")
        .send()
        .await
    {
        Err(orderflow_client::Error::ErrorResponse(p)) => {
            println!("as expected: {} {}", p.status, p.code)
        }
        other => println!("unexpected: {other:?}"),
    }

    let page = client.list_orders_v2().limit(10).send().await?.into_inner();
    println!(
        "{} order(s) on the first page; more: {}",
        page.data.len(),
        page.next_cursor.is_some()
    );
    Ok(())
}
