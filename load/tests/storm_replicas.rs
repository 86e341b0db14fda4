//! The retry storm in small against two replicas started in-process on
//! one PostgreSQL database, every try going to the next replica: with the
//! guardrails off the storm creates duplicates (so the test can fail);
//! with them on, one order per key whichever replica a retry reaches,
//! replays answered across replicas, and the recount in PostgreSQL agrees.
//! Needs `ORDERFLOW_TEST_POSTGRES` (missing, the test fails and says how to
//! start a server). Counts only; no assertion depends on the machine's
//! speed.

use std::net::SocketAddr;
use std::time::Duration;

use orderflow_load::database::{self, PgScratch};
use orderflow_load::storm::{Op, Outcome, StormConfig, StormReport, run_storm};
use orderflow_server::run::{self, Config, Running};

const HOW: &str = "ORDERFLOW_TEST_POSTGRES is not set: this test needs a PostgreSQL server. \
Run the tests through `bash scripts/with-postgres.sh cargo test --workspace` (it starts a \
throw-away cluster and stops it afterwards; `apt-get install -y postgresql` on Debian), or \
point the variable at a server where the test may create databases, e.g. \
ORDERFLOW_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres";

fn config() -> StormConfig {
    StormConfig {
        // A bound, not a measurement: the storm ends when its orders are
        // placed.
        duration: Duration::from_secs(60),
        clients: 12,
        keys: 40,
        // All at once through one principal, so the shared quota is
        // exceeded on any machine.
        arrival: Duration::ZERO,
        principals: 1,
        readers: 2,
        copies: 3,
        mutate_every: 5,
        hammer_pause: Duration::from_millis(5),
        request_timeout: Duration::from_secs(10),
    }
}

async fn replica(url: &str, guardrails: bool) -> Running {
    let mut config = Config::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        std::path::PathBuf::from("unused-on-postgres.db"),
    );
    config.postgres = Some(url.to_owned());
    config.guardrails = guardrails;
    config.webhooks = None;
    let log = slog::Logger::root(slog::Discard, slog::o!());
    run::start(config, log)
        .await
        .expect("a replica starts on PostgreSQL")
}

async fn storm(admin_url: &str, guardrails: bool) -> StormReport {
    let scratch = PgScratch::create(admin_url, "test")
        .await
        .expect("a scratch database");
    let first = replica(&scratch.url, guardrails).await;
    let second = replica(&scratch.url, guardrails).await;
    let admin = first
        .bootstrap_admin_key
        .clone()
        .expect("the first replica on a fresh database bootstraps an admin key");
    assert!(
        second.bootstrap_admin_key.is_none(),
        "the second replica finds the key made"
    );
    let bases = [first.local_addr(), second.local_addr()].map(|a| format!("http://{a}"));
    let mut report = run_storm(&config(), &bases, &admin)
        .await
        .expect("the storm runs");
    report.database = Some(
        database::count_postgres(&scratch.url)
            .await
            .expect("the recount in PostgreSQL"),
    );
    first.stop().await.expect("the first replica stops");
    second.stop().await.expect("the second replica stops");
    scratch
        .drop_database()
        .await
        .expect("the scratch database is dropped");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_keep_one_order_per_key_under_a_retry_storm() {
    let admin_url = std::env::var("ORDERFLOW_TEST_POSTGRES").unwrap_or_else(|_| panic!("{HOW}"));

    let before = storm(&admin_url, false).await;
    assert!(
        before.duplicated_keys() > 0,
        "without the guardrails the storm must create duplicates, or this test proves nothing: {:?}",
        before.orders_per_key
    );
    assert!(
        before.database.is_some_and(|d| d.duplicated_keys > 0),
        "PostgreSQL shows the duplicates too: {:?}",
        before.database
    );

    let after = storm(&admin_url, true).await;
    assert_eq!(after.violations(), Vec::<String>::new());
    assert!(
        after.orders_per_key.iter().all(|&n| n == 1),
        "exactly one order per key: {:?}",
        after.orders_per_key
    );
    let answered = after.per_replica(None, None);
    assert!(
        answered.iter().all(|&n| n > 0),
        "both replicas answered: {answered:?}"
    );
    let (cross, replays) = after.cross_replica_replays();
    assert!(
        cross > 0,
        "some replays must be answered by the replica that did not create the order \
         ({cross} of {replays})"
    );
    let (valid, limited) = after.retry_after_share();
    assert!(limited > 0, "the storm must exceed the shared quota");
    assert_eq!(valid, limited, "every 429 carries Retry-After");
    assert!(
        after.count(Some(Op::Write), Outcome::Unprocessable) > 0,
        "a key reused with another body is refused, whichever replica sees it"
    );
}
