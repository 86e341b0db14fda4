//! What the server tells its operator: one JSON log line per request with
//! the agreed fields and no secret, and metrics on bounded labels.

use std::io::Write;
use std::sync::{Arc, Mutex};

use orderflow_server::store::ManualClock;
use serde_json::{Value, json};

use crate::support::TestServer;

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_fields_and_never_a_secret() {
    let sink = Captured::default();
    let log = orderflow_server::logging::json(sink.clone(), slog::Level::Info);
    let clock = Arc::new(ManualClock::at_default_epoch());
    let server = TestServer::start_logged(
        tempfile::tempdir().expect("tempdir"),
        Some(clock),
        None,
        log,
    )
    .await;
    let admin = server.http(Some(&server.admin_key));
    let idempotency_key = "idem-7c3f9a1e-only-the-client-knows";
    for name in ["Ada", "Grace"] {
        let rsp = admin
            .post(format!("{}/v1/customers", server.base))
            .header("idempotency-key", format!("{idempotency_key}-{name}"))
            .header("x-request-id", format!("trace-{name}"))
            .json(&json!({"name": name, "email": format!("{name}@example.com")}))
            .send()
            .await
            .expect("create");
        assert_eq!(rsp.status().as_u16(), 201);
    }
    let page: Value = admin
        .get(format!("{}/v1/customers?limit=1", server.base))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("page");
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let second = admin
        .get(format!("{}/v1/customers", server.base))
        .query(&[("limit", "1"), ("cursor", cursor.as_str())])
        .send()
        .await
        .expect("page 2");
    assert_eq!(second.status().as_u16(), 200);
    let wrong_key = "of_sk_0123456789abcdef0123456789abcdef";
    let refused = server
        .http(Some(wrong_key))
        .get(format!("{}/v1/orders", server.base))
        .send()
        .await
        .expect("refused");
    assert_eq!(refused.status().as_u16(), 401);
    let lost = admin
        .get(format!("{}/v1/nowhere", server.base))
        .send()
        .await
        .expect("404");
    assert_eq!(lost.status().as_u16(), 404);
    let cursor_secret = hex_of(&server.running.app.store.cursor_secret().expect("secret"));
    server.running.stop().await.expect("clean shutdown");

    let text = sink.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l.get("status").is_some()).collect();
    assert_eq!(requests.len(), 6, "one line per request:\n{text}");
    for line in &requests {
        for field in [
            "request_id",
            "method",
            "route",
            "status",
            "latency_ms",
            "principal",
            "rate_limit",
            "idempotency",
            "code",
            "msg",
            "level",
            "ts",
        ] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
    }
    let created: Vec<&&Value> = requests
        .iter()
        .filter(|l| l["route"] == json!("/v1/customers") && l["status"] == json!(201))
        .collect();
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["request_id"], json!("trace-Ada"));
    assert_eq!(created[0]["idempotency"], json!("new"));
    assert_eq!(created[0]["method"], json!("POST"));
    assert!(
        created[0]["principal"]
            .as_str()
            .unwrap_or("")
            .starts_with("key_")
    );
    let unauthenticated = requests
        .iter()
        .find(|l| l["status"] == json!(401))
        .expect("the 401 is logged");
    assert_eq!(unauthenticated["code"], json!("unauthenticated"));
    let routed = requests
        .iter()
        .find(|l| l["status"] == json!(404))
        .expect("the 404 is logged");
    assert_eq!(routed["code"], json!("not_found"));

    for secret in [
        server.admin_key.as_str(),
        &server.admin_key["of_sk_".len()..],
        wrong_key,
        idempotency_key,
        cursor.as_str(),
        cursor_secret.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into the log:\n{text}"
        );
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of the sample `name{labels}` in a text exposition.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_use_route_templates_and_count_what_the_alerts_need() {
    let clock = Arc::new(ManualClock::at_default_epoch());
    let server = TestServer::start_with_clock(clock).await;
    let admin = server.http(Some(&server.admin_key));
    let created: Value = admin
        .post(format!("{}/v1/customers", server.base))
        .header("idempotency-key", "m-1")
        .json(&json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("customer");
    let id = created["id"].as_str().expect("id").to_string();
    // The same key again: a replay.
    let replay = admin
        .post(format!("{}/v1/customers", server.base))
        .header("idempotency-key", "m-1")
        .json(&json!({"name": "Ada", "email": "ada@example.com"}))
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status().as_u16(), 201);
    let read = admin
        .get(format!("{}/v1/customers/{id}", server.base))
        .send()
        .await
        .expect("read");
    assert_eq!(read.status().as_u16(), 200);
    // The clock stands still, so the writes quota (50 per second) runs out.
    let mut limited = 0;
    for n in 0..60 {
        let rsp = admin
            .post(format!("{}/v1/customers", server.base))
            .json(&json!({"name": "Bulk", "email": format!("bulk{n}@example.com")}))
            .send()
            .await
            .expect("write");
        if rsp.status().as_u16() == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0, "the quota ran out");

    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("metrics");
    assert_eq!(
        metrics.status().as_u16(),
        200,
        "no credentials, no rate limit"
    );
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("# TYPE http_server_request_duration_seconds histogram"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/v1/customers/{customer_id}",http_response_status_code="200"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains(&id),
        "a raw path never becomes a label:\n{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"orderflow_idempotency_requests_total{outcome="replayed"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"orderflow_rate_limited_requests_total{policy="writes"}"#
        ),
        Some(f64::from(limited)),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"orderflow_problems_total{code="rate_limited"}"#),
        Some(f64::from(limited)),
        "{text}"
    );
    assert!(text.contains("orderflow_db_permits_in_use"), "{text}");
    assert!(
        text.contains("orderflow_db_permit_wait_seconds_bucket"),
        "{text}"
    );
    // The alert rules and the Grafana dashboard query only what is here.
    let ops = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops");
    for file in ["prometheus/orderflow-alerts.yml", "grafana/orderflow.json"] {
        let source = std::fs::read_to_string(ops.join(file)).expect("an ops file");
        let names = referenced_metrics(&source);
        assert!(names.len() >= 4, "{file} queries metrics: {names:?}");
        for name in names {
            // A sample's name, or a family's (a histogram named in prose).
            let exported = text.lines().any(|l| {
                l.strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with(['{', ' ']))
                    || l.starts_with(&format!("# TYPE {name} "))
            });
            assert!(
                exported,
                "{file} queries {name}, which /metrics does not export:\n{text}"
            );
        }
    }
    // Only the scrape itself is in flight.
    assert_eq!(
        sample(
            &text,
            r#"http_server_active_requests{http_request_method="GET"}"#
        ),
        Some(1.0),
        "{text}"
    );
    server.running.stop().await.expect("clean shutdown");
}

/// The metric names a PromQL-bearing file mentions.
fn referenced_metrics(source: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        let starts = (rest.starts_with("orderflow_") || rest.starts_with("http_server_"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if starts {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            names.insert(rest[..len].to_string());
            i += len;
        } else {
            i += 1;
        }
    }
    names
}

#[tokio::test]
async fn the_dashboard_is_served_whole_and_its_history_holds_samples() {
    let server = TestServer::start().await;
    let anonymous = server.http(None);
    for (path, kind) in [
        ("/dashboard", "text/html"),
        ("/dashboard.js", "text/javascript"),
        ("/dashboard.css", "text/css"),
    ] {
        let rsp = anonymous
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .expect("asset");
        assert_eq!(rsp.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            rsp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert!(header("content-type").starts_with(kind), "{path}");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
            "{csp}"
        );
        let body = rsp.text().await.expect("body");
        // Self-contained: nothing is loaded from another origin.
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} loads from elsewhere"
        );
    }
    // The server samples its metrics once a second; wait for two samples.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let history = loop {
        let h: Value = anonymous
            .get(format!("{}/dashboard/history?since=-1", server.base))
            .send()
            .await
            .expect("history")
            .json()
            .await
            .expect("JSON");
        if h.as_array().is_some_and(|a| a.len() >= 2) {
            break h;
        }
        assert!(tokio::time::Instant::now() < deadline, "no samples: {h}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let items = history.as_array().expect("array");
    let (t0, t1) = (
        items[0]["t"].as_f64().expect("t"),
        items[1]["t"].as_f64().expect("t"),
    );
    assert!(t1 > t0, "samples are in time order");
    assert!(
        items[1]["metrics"]
            .as_str()
            .expect("text")
            .contains("orderflow_db_permits ")
    );
    // `since` returns only what is newer.
    let newer: Value = anonymous
        .get(format!("{}/dashboard/history?since={t0}", server.base))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("JSON");
    assert!(
        newer
            .as_array()
            .expect("array")
            .iter()
            .all(|i| i["t"].as_f64() > Some(t0)),
        "{newer}"
    );
    server.running.stop().await.expect("clean shutdown");
}
