//! The real OrderFlow server (in-process, fresh database, `127.0.0.1:0`)
//! against `spec/orderflow.yaml`, with a customer key as the second
//! credential and a second server whose clock is past v1's sunset:
//! everything the spec declares passes.

use std::sync::mpsc;

use contract_verify::Exit;
use orderflow_server::run::{self, Config};

/// Starts the server on its own thread and runtime; returns its base URL,
/// the bootstrap admin key, and the directory holding its database.
fn start(
    rehearse_at: Option<chrono::DateTime<chrono::Utc>>,
) -> (String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("orderflow.db");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        rt.block_on(async move {
            let config = Config::new("127.0.0.1:0".parse().expect("an address"), database);
            let log = slog::Logger::root(slog::Discard, slog::o!());
            let running = match rehearse_at {
                None => run::start(config, log).await,
                Some(at) => {
                    run::start_with(
                        config,
                        log,
                        std::sync::Arc::new(orderflow_server::store::OffsetClock::starting_at(at)),
                        std::sync::Arc::new(orderflow_server::store::RandomIds),
                    )
                    .await
                }
            }
            .expect("the server starts");
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
    let (base, admin, _dir) = start(None);
    let (retired, _, _retired_dir) = start(Some(
        chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z")
            .expect("an instant")
            .with_timezone(&chrono::Utc),
    ));
    let second = customer_key(&base, &admin);
    let spec = format!("{}/../spec/orderflow.yaml", env!("CARGO_MANIFEST_DIR"));
    let primary = format!("Authorization: Bearer {admin}");
    let secondary = format!("Authorization: Bearer {second}");
    // The fixture CI uses: orders with five lines (so listOrderItems has
    // pages), and product updates that keep the product orderable.
    let fixture = format!(
        "{}/../.ci/contract-verify-fixture.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
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
        "--retired-base-url",
        &retired,
        "--max-requests",
        "10000",
    ]);
    assert!(run.violations().is_empty(), "violations: {:#}", run.report);
    assert_eq!(run.exit, Exit::Pass, "{}", run.stderr);
    for (check, op) in [
        ("idempotency.replay", "createOrder"),
        ("idempotency.reuse", "createOrder"),
        ("idempotency.concurrent", "createOrder"),
        ("idempotency.scope", "createOrder"),
        ("idempotency.replay", "createCustomer"),
        // The bursts that must draw a 429 are on the cheapest operation
        // (no database read), so that a loaded machine still answers
        // faster than the quota refills; a slower one reports "not run".
        ("rate-limit.burst", "getCaller"),
        ("rate-limit.burst", "getCallerV2"),
        ("rate-limit.headers", "createOrder"),
        ("rate-limit.recovery", "getCallerV2"),
        ("pagination.walk", "listOrders"),
        ("pagination.cursor", "listCustomers"),
        ("pagination.limit", "listProducts"),
        ("problem.shape", "createOrder"),
        ("idempotency.replay", "createOrderV2"),
        ("lifecycle.headers", "getOrder"),
        ("lifecycle.retired", "getOrder"),
        ("lifecycle.retired", "createOrder"),
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
    // A 429 under a key needs the writes quota spent faster than it
    // refills; an order creation (which prices through the pricing service)
    // can be too slow for that on a loaded machine, and the verifier then
    // says "not run" with its reason. It must never be a violation.
    for op in ["createOrder", "createOrderV2"] {
        let outcome = run.outcome("idempotency.rate-limited", op).map(|o| o.0);
        assert!(
            matches!(outcome.as_deref(), Some("pass" | "not_run")),
            "idempotency.rate-limited on {op}: {outcome:?}"
        );
    }
    // v1 is deprecated: every v1 operation's lifecycle is checked, and no
    // v2 one's.
    let applicability = run.report["applicability"].as_array().expect("a list");
    let lifecycle = applicability
        .iter()
        .find(|a| a["family"] == "lifecycle")
        .expect("every family is listed");
    let deprecated: Vec<&str> = lifecycle["operations"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|o| o.as_str())
        .collect();
    // Counted from the spec's text, independently of the verifier: an
    // operation's `deprecated: true` sits at six spaces.
    let text = std::fs::read_to_string(format!(
        "{}/../spec/orderflow.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("the spec");
    let declared = text.matches("\n      deprecated: true\n").count();
    assert_eq!(declared, 21, "the spec's deprecated operations");
    assert_eq!(deprecated.len(), declared, "{deprecated:?}");
    assert!(
        deprecated.iter().all(|o| !o.ends_with("V2")),
        "{deprecated:?}"
    );
    // Conditional requests: every GET revalidates, every change refuses a
    // stale If-Match, and v2's changes require one.
    for (check, op) in [
        ("conditional.not-modified", "getOrder"),
        ("conditional.not-modified", "listProductsV2"),
        ("conditional.stale", "updateProduct"),
        ("conditional.stale", "transitionOrderV2"),
        ("conditional.required", "updateCustomerV2"),
    ] {
        assert_eq!(
            run.outcome(check, op).map(|o| o.0),
            Some("pass".to_owned()),
            "{check} on {op}: {:#}",
            run.report
        );
    }
    assert_eq!(
        run.outcome("conditional.required", "updateCustomer")
            .map(|o| o.0),
        Some("not_run".to_owned()),
        "v1 does not require If-Match: {:#}",
        run.report
    );
}
