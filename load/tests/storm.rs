//! The retry storm in small, against the server started in-process on
//! `127.0.0.1:0`: once with the guardrails off, to prove the storm does
//! create duplicates (so the test can fail), and once with them on, where
//! every guarantee of the retry contract must hold. Counts only; no
//! assertion depends on how fast the machine is, and the deadline is far
//! above what the storm needs.

use std::time::Duration;

use orderflow_load::storm::{Op, Outcome, StormConfig, StormReport, run_storm};
use orderflow_load::{database, report};
use orderflow_server::run::{self, Config};

fn config() -> StormConfig {
    StormConfig {
        // A bound, not a measurement: the storm ends when its 40 orders are
        // placed, which takes about two seconds with the guardrails on.
        duration: Duration::from_secs(60),
        clients: 12,
        keys: 40,
        // All at once through one principal: about 125 writes against a
        // burst of 50, so the storm exceeds the quota on any machine.
        arrival: Duration::ZERO,
        principals: 1,
        readers: 2,
        copies: 3,
        mutate_every: 5,
        hammer_pause: Duration::from_millis(5),
        request_timeout: Duration::from_secs(10),
    }
}

async fn storm(guardrails: bool) -> StormReport {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server_config = Config::new(
        "127.0.0.1:0".parse().expect("a loopback address"),
        dir.path().join("orderflow.db"),
    );
    server_config.guardrails = guardrails;
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let running = run::start(server_config, log)
        .await
        .expect("the server starts");
    let admin = running
        .bootstrap_admin_key
        .clone()
        .expect("a fresh database bootstraps an admin key");
    let base = format!("http://{}", running.local_addr());
    let mut report = run_storm(&config(), &[base], &admin)
        .await
        .expect("the storm runs");
    // The recount from the file joins the invariants (violations() checks
    // that it agrees with the API).
    report.database =
        Some(database::count(&dir.path().join("orderflow.db")).expect("the file is readable"));
    running.stop().await.expect("the server stops");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guardrails_turn_a_retry_storm_into_one_order_per_key() {
    let before = storm(false).await;
    assert!(
        before.duplicated_keys() > 0,
        "without the guardrails the storm must create duplicates, or this test proves nothing: {:?}",
        before.orders_per_key
    );
    assert!(
        before.database.is_some_and(|d| d.duplicated_keys > 0),
        "the database file shows the duplicates too: {:?}",
        before.database
    );
    assert_eq!(
        before.count(None, Outcome::Replayed),
        0,
        "nothing replays without idempotency"
    );

    let after = storm(true).await;
    assert_eq!(after.violations(), Vec::<String>::new());
    assert!(
        after.orders_per_key.iter().all(|&n| n == 1),
        "exactly one order per key: {:?}",
        after.orders_per_key
    );
    assert_eq!(after.count(None, Outcome::ServerError), 0);
    let (valid, limited) = after.retry_after_share();
    assert_eq!(valid, limited, "every 429 carries Retry-After");
    assert!(
        limited > 0,
        "the storm must exceed a quota to test rate limiting"
    );
    assert!(
        after.count(Some(Op::Write), Outcome::Replayed) > 0,
        "re-sent orders must be replayed"
    );
    assert!(
        after.count(Some(Op::Write), Outcome::Unprocessable) > 0,
        "a key reused with another body must be refused"
    );

    // The evidence renders from real reports: both runs, every outcome.
    let page = report::markdown(
        &report::Provenance {
            command: "retry-storm (test)",
            when: "test",
            before_svg: "b.svg",
            after_svg: "a.svg",
            topology: report::Provenance::SQLITE_TOPOLOGY,
            database: report::Provenance::SQLITE_DATABASE,
            recount: report::Provenance::SQLITE_RECOUNT,
        },
        &before,
        &after,
    );
    assert!(page.contains("**After: pass.**"), "{page}");
    for o in Outcome::ALL {
        assert!(
            page.contains(&format!("| {} |", o.label())),
            "{o:?} row in\n{page}"
        );
    }
    let svg = report::timeline_svg(&after, "after", before.elapsed);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("429 ("), "{svg}");
}
