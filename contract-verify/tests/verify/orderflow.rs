//! The real OrderFlow server (in-process, fresh database, `127.0.0.1:0`)
//! against `spec/orderflow.yaml`, with a customer key as the second
//! credential: everything the spec declares passes, and the families it
//! declares nothing for say so.

use std::sync::mpsc;

use contract_verify::Exit;
use orderflow_server::run::{self, Config};

/// Starts the server on its own thread and runtime; returns its base URL,
/// the bootstrap admin key, and the directory holding its database.
fn start() -> (String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("orderflow.db");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        rt.block_on(async move {
            let config = Config::new("127.0.0.1:0".parse().expect("an address"), database);
            let log = slog::Logger::root(slog::Discard, slog::o!());
            let running = run::start(config, log).await.expect("the server starts");
            let key = running
                .bootstrap_admin_key
                .clone()
                .expect("a fresh database bootstraps an admin key");
            tx.send((format!("http://{}", running.local_addr()), key))
                .expect("the test waits");
            // Serve until the test process ends.
            std::future::pending::<()>().await;
            drop(running);
        });
    });
    let (base, key) = rx.recv().expect("the server reports its address");
    (base, key, dir)
}

/// A customer and a customer-role API key, through the API.
fn customer_key(base: &str, admin: &str) -> String {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let http = reqwest::Client::new();
        let customer: serde_json::Value = http
            .post(format!("{base}/v1/customers"))
            .bearer_auth(admin)
            .json(&serde_json::json!({"name": "Second", "email": "second@example.com"}))
            .send()
            .await
            .expect("customer created")
            .json()
            .await
            .expect("a customer body");
        let id = customer["id"].as_str().expect("an id").to_owned();
        let key: serde_json::Value = http
            .post(format!("{base}/v1/customers/{id}/api-keys"))
            .bearer_auth(admin)
            .json(&serde_json::json!({"name": "second"}))
            .send()
            .await
            .expect("key issued")
            .json()
            .await
            .expect("a key body");
        key["secret"].as_str().expect("a secret").to_owned()
    })
}

#[test]
fn orderflow_passes_what_its_spec_declares() {
    let (base, admin, _dir) = start();
    let second = customer_key(&base, &admin);
    let spec = format!("{}/../spec/orderflow.yaml", env!("CARGO_MANIFEST_DIR"));
    let primary = format!("Authorization: Bearer {admin}");
    let secondary = format!("Authorization: Bearer {second}");
    // The fixture gives orders five lines, so listOrderItems has pages.
    let fixture_dir = tempfile::tempdir().expect("a temporary directory");
    let fixture = fixture_dir.path().join("fixture.yaml");
    let lines: String = (1..=5)
        .map(|q| format!("    - {{product_id: '{{{{id:product_id}}}}', quantity: {q}}}\n"))
        .collect();
    std::fs::write(
        &fixture,
        format!("createOrder:\n  customer_id: '{{{{id:customer_id}}}}'\n  items:\n{lines}"),
    )
    .expect("written");
    let fixture = fixture.to_string_lossy().into_owned();
    let run = crate::verify(&[
        "--spec",
        &spec,
        "--base-url",
        &base,
        "--header",
        &primary,
        "--second-header",
        &secondary,
        "--fixture",
        &fixture,
    ]);
    assert!(run.violations().is_empty(), "violations: {:#}", run.report);
    assert_eq!(run.exit, Exit::Pass, "{}", run.stderr);
    for (check, op) in [
        ("idempotency.replay", "createOrder"),
        ("idempotency.reuse", "createOrder"),
        ("idempotency.concurrent", "createOrder"),
        ("idempotency.rate-limited", "createOrder"),
        ("idempotency.scope", "createOrder"),
        ("idempotency.replay", "createCustomer"),
        ("rate-limit.burst", "listOrders"),
        ("rate-limit.headers", "createOrder"),
        ("rate-limit.recovery", "getProduct"),
        ("pagination.walk", "listOrders"),
        ("pagination.cursor", "listCustomers"),
        ("pagination.limit", "listProducts"),
        ("problem.shape", "createOrder"),
    ] {
        assert_eq!(
            run.outcome(check, op).map(|o| o.0),
            Some("pass".to_owned()),
            "{check} on {op}: {:#}",
            run.report
        );
    }
    let walked = run.report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["check"] == "pagination.walk" && r["operation"] == "listOrderItems")
        .map(|r| r["notes"].to_string())
        .unwrap_or_default();
    assert!(
        walked.contains("walked 2 pages of listOrderItems with limit=3: 5 items"),
        "{walked}"
    );
    // Declared nothing, checked nothing, and said so.
    let applicability = run.report["applicability"].as_array().expect("a list");
    for family in ["lifecycle", "conditional"] {
        let entry = applicability
            .iter()
            .find(|a| a["family"] == family)
            .expect("every family is listed");
        assert_eq!(entry["operations"], serde_json::json!([]), "{family}");
    }
    let results = run.report["results"].as_array().expect("results");
    assert!(
        !results.iter().any(|r| r["check"]
            .as_str()
            .is_some_and(|c| c.starts_with("lifecycle.") || c.starts_with("conditional."))),
        "no lifecycle or conditional result may be reported as run"
    );
}
