//! The lifecycle the spec declares for v1, on the wire: `Deprecation`,
//! `Sunset` and `Link` on every v1 response (errors included) and on no v2
//! response; the policy page the links point at; and 410 once the injected
//! clock passes the sunset, with v2 unaffected.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use orderflow_server::store::ManualClock;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::TestServer;

/// A concrete path for a route template: every parameter `x` becomes
/// `missing_x` (so the request reaches the operation and is answered by it).
fn concrete(route: &str) -> String {
    route
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!("missing_{name}"),
                None => seg.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn all(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

fn imf_fixdate(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%a, %d %b %Y %H:%M:%S GMT")
        .ok()
        .map(|t| t.and_utc())
        // The weekday must be the right one, not just well-formed.
        .filter(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string() == s)
}

/// Checks one response's lifecycle headers for `op` requested at `path`;
/// returns every problem found.
fn lifecycle_violations(
    op: &orderflow_server_api::edge::Operation,
    path: &str,
    status: u16,
    headers: &HeaderMap,
) -> Vec<String> {
    let at = format!("{} {} -> {status}", op.method, path);
    let mut bad = Vec::new();
    let deprecation = all(headers, "deprecation");
    let sunset = all(headers, "sunset");
    let links = all(headers, "link").join(", ");
    let Some(l) = op.lifecycle else {
        if !deprecation.is_empty() || !sunset.is_empty() || links.contains("successor-version") {
            bad.push(format!(
                "{at}: a current operation carries lifecycle headers: {deprecation:?} {sunset:?} {links}"
            ));
        }
        return bad;
    };
    let dep_at = match deprecation.as_slice() {
        [one] => one
            .strip_prefix('@')
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|t| DateTime::from_timestamp(t, 0)),
        other => {
            bad.push(format!("{at}: expected one Deprecation, got {other:?}"));
            None
        }
    };
    if dep_at.is_none() {
        bad.push(format!(
            "{at}: Deprecation {deprecation:?} is not @<unix seconds>"
        ));
    }
    if deprecation.first().map(String::as_str) != Some(l.deprecation) {
        bad.push(format!(
            "{at}: Deprecation {deprecation:?}, the spec says {}",
            l.deprecation
        ));
    }
    let sun_at = match sunset.as_slice() {
        [one] => imf_fixdate(one),
        other => {
            bad.push(format!("{at}: expected one Sunset, got {other:?}"));
            None
        }
    };
    match (dep_at, sun_at) {
        (Some(d), Some(s)) if s < d => {
            bad.push(format!("{at}: Sunset {s} is before Deprecation {d}"))
        }
        (_, None) => bad.push(format!("{at}: Sunset {sunset:?} is not an IMF-fixdate")),
        _ => {}
    }
    let (_, successor) = l.successor.expect("v1 operations name a successor");
    let v2_path = orderflow_server_api::edge::pipeline::fill_template(op.route, path, successor)
        .expect("the path has the route's shape");
    for want in [
        format!("<{v2_path}>; rel=\"successor-version\""),
        "</deprecation>; rel=\"deprecation\"".to_string(),
    ] {
        if !links.contains(&want) {
            bad.push(format!("{at}: Link {links:?} lacks {want}"));
        }
    }
    bad
}

#[tokio::test]
async fn every_v1_response_carries_the_lifecycle_headers_and_no_v2_response_does() {
    let server = TestServer::start().await;
    let anon = server.http(None);
    let admin = server.http(Some(&server.admin_key));
    let mut bad = Vec::new();
    let mut v1_checked = 0;
    for op in orderflow_server_api::ops::ALL {
        let path = concrete(op.route);
        let method: reqwest::Method = op.method.parse().expect("a method");
        // Without credentials (401 where secured), then as admin with no
        // body (400/404/415/422, or a success for reads of lists).
        for client in [&anon, &admin] {
            let rsp = client
                .request(method.clone(), format!("{}{path}", server.base))
                .header("Idempotency-Key", format!("k-{}", op.operation_id))
                .send()
                .await
                .expect("an answer");
            bad.extend(lifecycle_violations(
                op,
                &path,
                rsp.status().as_u16(),
                rsp.headers(),
            ));
        }
        if op.lifecycle.is_some() {
            v1_checked += 1;
        }
    }
    assert_eq!(v1_checked, 21, "every v1 operation is deprecated");

    // Answers the front gives for a v1 path: a malformed id, a wrong method.
    let get_order = orderflow_server_api::ops::ALL
        .iter()
        .find(|o| o.operation_id == "getOrder")
        .expect("getOrder");
    for (method, path, status) in [
        ("GET", "/v1/orders/%FF", 400),
        ("PUT", "/v1/orders/ord_x", 405),
    ] {
        let rsp = admin
            .request(
                method.parse().expect("a method"),
                format!("{}{path}", server.base),
            )
            .send()
            .await
            .expect("an answer");
        assert_eq!(rsp.status().as_u16(), status, "{method} {path}");
        bad.extend(lifecycle_violations(get_order, path, status, rsp.headers()));
    }
    let rsp = admin
        .put(format!("{}/v2/orders/ord_x", server.base))
        .send()
        .await
        .expect("an answer");
    assert_eq!(rsp.status().as_u16(), 405);
    assert!(
        rsp.headers().get("deprecation").is_none(),
        "v2's 405 carries none"
    );

    // A replayed v1 creation carries each header once, with this request's
    // values, not a stored copy next to fresh ones.
    let customer: Value = admin
        .post(format!("{}/v1/customers", server.base))
        .json(&json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await
        .expect("created")
        .json()
        .await
        .expect("JSON");
    let create_customer = orderflow_server_api::ops::ALL
        .iter()
        .find(|o| o.operation_id == "createCustomer")
        .expect("createCustomer");
    for attempt in ["first", "replay"] {
        let rsp = admin
            .post(format!("{}/v1/customers", server.base))
            .header("Idempotency-Key", "replayed-once")
            .json(&json!({"name": "Bob", "email": "bob@example.com"}))
            .send()
            .await
            .expect("an answer");
        assert_eq!(rsp.status().as_u16(), 201, "{attempt}");
        bad.extend(lifecycle_violations(
            create_customer,
            "/v1/customers",
            201,
            rsp.headers(),
        ));
        assert_eq!(
            all(rsp.headers(), "link").len(),
            1,
            "{attempt}: one Link field"
        );
    }
    assert!(
        bad.is_empty(),
        "{} problems:\n{}",
        bad.len(),
        bad.join("\n")
    );

    // The successor link is the same resource in v2.
    let id = customer["id"].as_str().expect("an id");
    let rsp = admin
        .get(format!("{}/v1/customers/{id}", server.base))
        .send()
        .await
        .expect("an answer");
    let link = all(rsp.headers(), "link").join(", ");
    assert!(
        link.contains(&format!("</v2/customers/{id}>; rel=\"successor-version\"")),
        "{link}"
    );
    let v2: Value = admin
        .get(format!("{}/v2/customers/{id}", server.base))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(v2["id"], json!(id));

    // The policy page the deprecation links point at.
    let page = anon
        .get(format!("{}/deprecation", server.base))
        .send()
        .await
        .expect("the policy page");
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/html"))
    );
    let html = page.text().await.expect("text");
    assert!(
        html.contains("<code>GET /v1/orders/{order_id}</code>"),
        "lists the operations"
    );
    assert!(
        html.contains("Wed, 30 Jun 2027 00:00:00 GMT"),
        "with their sunset"
    );
    server.running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn after_the_sunset_v1_answers_410_and_v2_keeps_working() {
    let clock = Arc::new(ManualClock::at_default_epoch());
    let server = TestServer::start_with_clock(clock.clone()).await;
    let admin = server.http(Some(&server.admin_key));
    let created: Value = admin
        .post(format!("{}/v1/customers", server.base))
        .json(&json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await
        .expect("created")
        .json()
        .await
        .expect("JSON");
    let id = created["id"].as_str().expect("an id").to_string();
    let sunset_at = orderflow_server_api::ops::ALL
        .iter()
        .find_map(|o| o.lifecycle.and_then(|l| l.sunset_at))
        .expect("v1 has a sunset");
    let sunset = DateTime::from_timestamp(sunset_at, 0).expect("a time");

    // One second before: still served.
    clock.set(sunset - Duration::seconds(1));
    let rsp = admin
        .get(format!("{}/v1/customers/{id}", server.base))
        .send()
        .await
        .expect("an answer");
    assert_eq!(rsp.status().as_u16(), 200, "served until the sunset");

    // At the sunset: every v1 operation is gone, whatever the request.
    clock.set(sunset);
    for op in orderflow_server_api::ops::ALL
        .iter()
        .filter(|o| o.lifecycle.is_some())
    {
        let path = concrete(op.route);
        let rsp = admin
            .request(
                op.method.parse().expect("a method"),
                format!("{}{path}", server.base),
            )
            .json(&json!({}))
            .send()
            .await
            .expect("an answer");
        let status = rsp.status().as_u16();
        assert_eq!(status, 410, "{} {path}", op.method);
        let problems = lifecycle_violations(op, &path, status, rsp.headers());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            rsp.headers()["content-type"].to_str().ok(),
            Some("application/problem+json")
        );
        let body: Value = rsp.json().await.expect("a problem");
        assert_eq!(
            body["type"],
            json!("https://orderflow.dev/problems/version-retired")
        );
        assert_eq!(body["code"], json!("version_retired"));
        assert_eq!(body["status"], json!(410));
        let (_, successor) = op.lifecycle.and_then(|l| l.successor).expect("a successor");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(successor)),
            "the detail names the successor: {body}"
        );
    }
    // v2 serves the same data on.
    let v2: Value = admin
        .get(format!("{}/v2/customers/{id}", server.base))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(v2["id"], json!(id));
    server.running.stop().await.expect("clean shutdown");
}
