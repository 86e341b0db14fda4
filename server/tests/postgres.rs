//! The PostgreSQL half of the storage tests: they run against a real
//! server, found through `ORDERFLOW_TEST_POSTGRES` (a URL whose database
//! the tests may create databases beside). Each test makes its own
//! database, so they run in parallel without seeing each other.
//!
//! Missing, every test here fails with instructions: there is no silent
//! skip. `bash scripts/with-postgres.sh cargo test --workspace` starts a
//! throw-away cluster, sets the variable, runs the command and removes the
//! cluster (the README's test command).

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use orderflow_edge::RateLimitPolicy;
use orderflow_server::pg::ratelimit::PgLimiter;
use orderflow_server::pg::{Pg, PgError};
use orderflow_server::ratelimit::{Decision, Limiter};
use orderflow_server::store::{ManualClock, SystemClock};

mod common;
use common::{Scratch, connect};

static BURST: RateLimitPolicy = RateLimitPolicy {
    name: "burst",
    quota: 5,
    window_seconds: 1,
};
static SLOW: RateLimitPolicy = RateLimitPolicy {
    name: "slow",
    quota: 3,
    window_seconds: 60,
};
static READS: RateLimitPolicy = RateLimitPolicy {
    name: "reads",
    quota: 100,
    window_seconds: 1,
};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
            .single()
            .expect("time"),
    ))
}

fn allowed(d: &Decision) -> bool {
    matches!(d, Decision::Allow(_))
}

#[tokio::test]
async fn migrations_run_once_even_when_replicas_start_together() {
    let db = Scratch::new().await;
    let a = Pg::connect(&db.url, 2).expect("pool a");
    let b = Pg::connect(&db.url, 2).expect("pool b");
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    assert_eq!(ra.expect("a migrates"), rb.expect("b migrates"));
    // Again: nothing to do, same version.
    let again = a.migrate().await.expect("again");
    let client = connect(&db.url).await;
    let rows: i64 = client
        .query_one("SELECT count(*) FROM orderflow_schema", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(
        rows,
        i64::from(again),
        "one row per version, each applied once"
    );
    let table: Option<String> = client
        .query_one("SELECT to_regclass('rate_limits')::text", &[])
        .await
        .expect("regclass")
        .get(0);
    assert_eq!(table.as_deref(), Some("rate_limits"));
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_server_is_refused() {
    let db = Scratch::new().await;
    let pg = db.replica().await;
    connect(&db.url)
        .await
        .batch_execute("INSERT INTO orderflow_schema (version) VALUES (999)")
        .await
        .expect("future version");
    let err = pg.migrate().await.expect_err("newer schema");
    assert!(
        matches!(&err, PgError::Internal(m) if m.contains("999") && m.contains("newer")),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_says_where() {
    // Port 1 on loopback: nothing listens there. No test server needed.
    let pg = Pg::connect("postgres://nobody@127.0.0.1:1/none?connect_timeout=2", 1).expect("pool");
    let err = PgLimiter::new(pg)
        .check(&BURST, "k")
        .await
        .expect_err("no server");
    assert!(matches!(err, PgError::Unavailable(_)), "{err}");
}

/// The same checks at the same instants give the same decisions, headers
/// included, in memory and in PostgreSQL: one algorithm, two homes.
#[tokio::test]
async fn the_shared_limiter_decides_exactly_as_the_in_memory_one() {
    let db = Scratch::new().await;
    let clock = clock();
    let memory = Limiter::new(clock.clone());
    let shared = PgLimiter::with_clock(db.replica().await, clock.clone());
    // (advance by ms, policy, caller)
    let mut script: Vec<(i64, &'static RateLimitPolicy, &str)> = Vec::new();
    script.extend((0..7).map(|_| (0, &BURST, "key_a")));
    script.extend([
        (100, &BURST, "key_a"),
        (0, &BURST, "key_a"),
        (150, &BURST, "key_a"),
    ]);
    script.extend((0..3).map(|_| (0, &BURST, "key_b")));
    script.extend((0..4).map(|_| (0, &SLOW, "key_a")));
    script.extend([
        (1_000, &BURST, "key_a"),
        (19_999, &SLOW, "key_a"),
        (2, &SLOW, "key_a"),
    ]);
    script.extend((0..6).map(|_| (0, &BURST, "key_a")));
    let mut refusals = 0;
    for (i, (advance, policy, caller)) in script.into_iter().enumerate() {
        clock.advance(Duration::milliseconds(advance));
        let want = memory.check(policy, caller);
        let got = shared.check(policy, caller).await.expect("check");
        assert_eq!(got, want, "step {i}: {} for {caller}", policy.name);
        if !allowed(&got) {
            refusals += 1;
        }
    }
    assert!(
        refusals >= 5,
        "the script must exercise refusals, saw {refusals}"
    );
}

/// Two replicas (two pools) on one database: one key's quota is one
/// quota, alternating or all at once.
#[tokio::test]
async fn two_replicas_share_one_quota() {
    let db = Scratch::new().await;
    let clock = clock();
    let one = PgLimiter::with_clock(db.replica().await, clock.clone());
    let two = PgLimiter::with_clock(db.replica().await, clock.clone());
    let mut allowed_by = [0u32; 2];
    for n in 0..400 {
        let replica = if n % 2 == 0 { &one } else { &two };
        if allowed(&replica.check(&READS, "key_shared").await.expect("check")) {
            allowed_by[n % 2] += 1;
        }
    }
    assert_eq!(allowed_by[0] + allowed_by[1], READS.quota, "{allowed_by:?}");
    assert_eq!(allowed_by, [READS.quota / 2, READS.quota / 2]);

    // Half a window later, half the quota is back, for both replicas.
    clock.advance(Duration::milliseconds(500));
    let mut again = 0;
    for n in 0..200 {
        let replica = if n % 2 == 0 { &one } else { &two };
        if allowed(&replica.check(&READS, "key_shared").await.expect("check")) {
            again += 1;
        }
    }
    assert_eq!(again, READS.quota / 2);
}

/// Concurrent checks on one key from both replicas serialise on its row:
/// no update is lost, so exactly the quota is allowed.
#[tokio::test]
async fn concurrent_checks_never_lose_an_update() {
    let db = Scratch::new().await;
    let clock = clock();
    let one = PgLimiter::with_clock(db.replica().await, clock.clone());
    let two = PgLimiter::with_clock(db.replica().await, clock.clone());
    let checks = (0..64).map(|n| {
        let l = if n % 2 == 0 { one.clone() } else { two.clone() };
        async move { l.check(&BURST, "key_hot").await.expect("check") }
    });
    let decisions = futures::future::join_all(checks).await;
    let allowed_count = decisions.iter().filter(|d| allowed(d)).count();
    assert_eq!(allowed_count, BURST.quota as usize);
    // Every refusal reports the same wait: the full quota was spent at once.
    for d in decisions.iter().filter(|d| !allowed(d)) {
        assert!(
            matches!(d, Decision::Deny(s, 1) if s.remaining == 0),
            "{d:?}"
        );
    }
}

#[tokio::test]
async fn the_database_clock_is_the_default() {
    let db = Scratch::new().await;
    let shared = PgLimiter::new(db.replica().await);
    let first = shared.check(&BURST, "key_db_clock").await.expect("check");
    assert!(
        matches!(first, Decision::Allow(s) if s.remaining == BURST.quota - 1),
        "{first:?}"
    );
    let client = connect(&db.url).await;
    let seen: i64 = client
        .query_one(
            "SELECT seen_ns FROM rate_limits WHERE caller = 'key_db_clock'",
            &[],
        )
        .await
        .expect("row")
        .get(0);
    let system = orderflow_server::ratelimit::nanos_now(&SystemClock);
    let skew = (system - i128::from(seen)).abs();
    assert!(
        skew < 60 * 1_000_000_000,
        "database clock {seen} vs system {system}"
    );
}

#[tokio::test]
async fn pruning_forgets_only_callers_back_at_full_quota() {
    let db = Scratch::new().await;
    let clock = clock();
    let shared = PgLimiter::with_clock(db.replica().await, clock.clone());
    shared.check(&BURST, "key_idle").await.expect("idle");
    clock.advance(Duration::seconds(2));
    for _ in 0..5 {
        shared.check(&BURST, "key_busy").await.expect("busy");
    }
    assert_eq!(
        shared.prune().await.expect("prune"),
        1,
        "only the idle caller"
    );
    // The busy caller's state survived: it is still out of quota.
    assert!(!allowed(
        &shared.check(&BURST, "key_busy").await.expect("check")
    ));
}

// --- Idempotency-Key records -------------------------------------------

use orderflow_server::pg::idempotency::{Boot, PgRecords, complete};
use orderflow_server::store::{Begin, IdempotencyKey, StoredResponse};

const LEASE: std::time::Duration = std::time::Duration::from_secs(60);
const RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

fn ikey<'a>(k: &'a str, fingerprint: &'a str) -> IdempotencyKey<'a> {
    IdempotencyKey {
        principal: "key_principal",
        key: k,
        fingerprint,
    }
}

fn created() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![("location".into(), "/v1/orders/ord_1".into())],
        body: br#"{"id":"ord_1"}"#.to_vec(),
    }
}

/// A replica: its own pool and its own boot on the shared database.
async fn records(db: &Scratch, clock: Arc<ManualClock>) -> (PgRecords, Boot) {
    let pg = db.replica().await;
    let boot = Boot::register(pg.clone(), clock).await.expect("boot");
    (PgRecords::new(pg, boot.clone()), boot)
}

#[tokio::test]
async fn one_key_at_two_replicas_at_once_is_claimed_once() {
    let db = Scratch::new().await;
    let clock = clock();
    let (a, _) = records(&db, clock.clone()).await;
    let (b, _) = records(&db, clock.clone()).await;
    let attempts = (0..24).map(|n| {
        let r = if n % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            r.begin(&ikey("idem-1", "fp"), LEASE, RETENTION)
                .await
                .expect("begin")
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let claimed = outcomes.iter().filter(|o| **o == Begin::Claimed).count();
    let in_flight = outcomes.iter().filter(|o| **o == Begin::InFlight).count();
    assert_eq!((claimed, in_flight), (1, 23), "{outcomes:?}");
}

#[tokio::test]
async fn a_response_recorded_on_one_replica_is_replayed_by_the_other() {
    let db = Scratch::new().await;
    let clock = clock();
    let (a, _) = records(&db, clock.clone()).await;
    let (b, _) = records(&db, clock.clone()).await;
    assert_eq!(
        a.begin(&ikey("idem-2", "fp"), LEASE, RETENTION)
            .await
            .expect("a"),
        Begin::Claimed
    );
    assert_eq!(
        b.begin(&ikey("idem-2", "fp"), LEASE, RETENTION)
            .await
            .expect("b"),
        Begin::InFlight
    );
    a.finish(&ikey("idem-2", "fp"), &created())
        .await
        .expect("finish");
    assert_eq!(
        b.begin(&ikey("idem-2", "fp"), LEASE, RETENTION)
            .await
            .expect("replay"),
        Begin::Replay(created())
    );
    // Another request under the same key is refused, on either replica.
    assert_eq!(
        b.begin(&ikey("idem-2", "other"), LEASE, RETENTION)
            .await
            .expect("b"),
        Begin::Mismatch
    );
    assert_eq!(
        a.begin(&ikey("idem-2", "other"), LEASE, RETENTION)
            .await
            .expect("a"),
        Begin::Mismatch
    );
    // Past its retention the key is free again.
    clock.advance(Duration::hours(25));
    assert_eq!(
        b.begin(&ikey("idem-2", "other"), LEASE, RETENTION)
            .await
            .expect("b"),
        Begin::Claimed
    );
    assert_eq!(
        a.purge().await.expect("purge"),
        0,
        "the re-claimed record is not expired"
    );
}

#[tokio::test]
async fn the_side_effect_and_its_record_commit_together_or_not_at_all() {
    let db = Scratch::new().await;
    let clock = clock();
    let (a, _) = records(&db, clock.clone()).await;
    let pg = db.replica().await;
    let mut client = pg.client().await.expect("client");
    client
        .batch_execute("CREATE TABLE side_effects (id text PRIMARY KEY)")
        .await
        .expect("table");
    assert_eq!(
        a.begin(&ikey("idem-3", "fp"), LEASE, RETENTION)
            .await
            .expect("a"),
        Begin::Claimed
    );

    // Rolled back: neither the row nor the record.
    let tx = client.transaction().await.expect("tx");
    tx.execute("INSERT INTO side_effects VALUES ('ord_1')", &[])
        .await
        .expect("insert");
    complete(&tx, &ikey("idem-3", "fp"), &created())
        .await
        .expect("complete");
    tx.rollback().await.expect("rollback");
    assert_eq!(
        a.begin(&ikey("idem-3", "fp"), LEASE, RETENTION)
            .await
            .expect("a"),
        Begin::InFlight
    );

    // Committed: both.
    let tx = client.transaction().await.expect("tx");
    tx.execute("INSERT INTO side_effects VALUES ('ord_1')", &[])
        .await
        .expect("insert");
    complete(&tx, &ikey("idem-3", "fp"), &created())
        .await
        .expect("complete");
    tx.commit().await.expect("commit");
    assert_eq!(
        a.begin(&ikey("idem-3", "fp"), LEASE, RETENTION)
            .await
            .expect("a"),
        Begin::Replay(created())
    );
    let rows: i64 = client
        .query_one("SELECT count(*) FROM side_effects", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, 1);

    // A claim that is no longer this request's refuses to complete, so the
    // caller rolls its side effect back.
    let tx = client.transaction().await.expect("tx");
    let err = complete(&tx, &ikey("idem-never-claimed", "fp"), &created())
        .await
        .expect_err("no claim");
    assert!(matches!(err, PgError::Conflict(_)), "{err}");
}

#[tokio::test]
async fn a_released_claim_runs_again() {
    let db = Scratch::new().await;
    let clock = clock();
    let (a, _) = records(&db, clock.clone()).await;
    let (b, _) = records(&db, clock.clone()).await;
    assert_eq!(
        a.begin(&ikey("idem-4", "fp"), LEASE, RETENTION)
            .await
            .expect("a"),
        Begin::Claimed
    );
    a.release(&ikey("idem-4", "fp")).await.expect("release");
    assert_eq!(
        b.begin(&ikey("idem-4", "fp"), LEASE, RETENTION)
            .await
            .expect("b"),
        Begin::Claimed
    );
}

/// A claim whose replica is gone (closed, or silent past BOOT_SILENCE) is
/// taken over at once; a live replica's claim waits for its lease.
#[tokio::test]
async fn claims_of_gone_replicas_are_taken_over_before_their_lease() {
    let db = Scratch::new().await;
    let clock = clock();
    let (a, boot_a) = records(&db, clock.clone()).await;
    let (b, boot_b) = records(&db, clock.clone()).await;

    // Closed cleanly: its claim is dead at once.
    assert_eq!(
        a.begin(&ikey("idem-5", "fp"), LEASE, RETENTION)
            .await
            .expect("a"),
        Begin::Claimed
    );
    assert_eq!(
        b.begin(&ikey("idem-5", "fp"), LEASE, RETENTION)
            .await
            .expect("b"),
        Begin::InFlight
    );
    boot_a.close().await.expect("close");
    assert_eq!(
        b.begin(&ikey("idem-5", "fp"), LEASE, RETENTION)
            .await
            .expect("b"),
        Begin::Claimed
    );

    // Killed (no close): alive while it beats, gone once silent.
    let (c, boot_c) = records(&db, clock.clone()).await;
    assert_eq!(
        c.begin(&ikey("idem-6", "fp"), LEASE, RETENTION)
            .await
            .expect("c"),
        Begin::Claimed
    );
    clock.advance(Duration::seconds(10));
    boot_c.beat().await.expect("beat");
    boot_b.beat().await.expect("beat");
    clock.advance(Duration::seconds(10));
    assert_eq!(
        b.begin(&ikey("idem-6", "fp"), LEASE, RETENTION)
            .await
            .expect("b"),
        Begin::InFlight,
        "c beat 10 s ago: alive"
    );
    clock.advance(Duration::seconds(10));
    assert_eq!(
        b.begin(&ikey("idem-6", "fp"), LEASE, RETENTION)
            .await
            .expect("b"),
        Begin::Claimed,
        "c silent for 20 s: gone"
    );

    // The lease is the bound whatever the boots say.
    assert_eq!(
        b.begin(&ikey("idem-7", "fp"), LEASE, RETENTION)
            .await
            .expect("b"),
        Begin::Claimed
    );
    boot_b.beat().await.expect("beat");
    let (d, _) = records(&db, clock.clone()).await;
    assert_eq!(
        d.begin(&ikey("idem-7", "fp"), LEASE, RETENTION)
            .await
            .expect("d"),
        Begin::InFlight
    );
    clock.advance(Duration::seconds(61));
    boot_b.beat().await.expect("beat");
    assert_eq!(
        d.begin(&ikey("idem-7", "fp"), LEASE, RETENTION)
            .await
            .expect("d"),
        Begin::Claimed
    );
}

fn call_by(key_id: &str) -> orderflow_edge::Call {
    let uri: http::Uri = "/v1/orders".parse().expect("uri");
    let headers = http::HeaderMap::new();
    let req = orderflow_edge::Request {
        request_id: "req_test",
        uri: &uri,
        headers: &headers,
        remote: std::net::IpAddr::from([127, 0, 0, 1]),
    };
    let mut call = orderflow_edge::Call::new(&orderflow_server_api::ops::LIST_ORDERS, &req);
    call.principal = Some(orderflow_edge::Principal {
        key_id: key_id.into(),
        admin: false,
        customer_id: Some("cus_1".into()),
    });
    call
}

/// The port the edge calls: two replicas' `SharedQuotas` on one database
/// allow one key its quota once, refusals carry `Retry-After`, and with the
/// database gone a check is refused as unavailable (fails closed).
#[tokio::test]
async fn the_rate_limiter_port_shares_one_quota_and_fails_closed() {
    use orderflow_edge::RateLimiter;
    use orderflow_server::ports::SharedQuotas;

    let db = Scratch::new().await;
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let at = clock();
    let replicas = [
        SharedQuotas {
            limiter: PgLimiter::with_clock(db.replica().await, at.clone()),
            log: log.clone(),
        },
        SharedQuotas {
            limiter: PgLimiter::with_clock(db.replica().await, at.clone()),
            log: log.clone(),
        },
    ];
    let call = call_by("key_shared");
    let (mut allowed, mut refused) = (0, 0);
    for i in 0..(2 * READS.quota) {
        match replicas[i as usize % 2].check(&call, &READS).await {
            Ok(_) => allowed += 1,
            Err(e) => {
                assert_eq!(e.status(), 429);
                assert!(e.headers.contains_key(http::header::RETRY_AFTER));
                refused += 1;
            }
        }
    }
    assert_eq!((allowed, refused), (READS.quota, READS.quota));

    // A database nobody listens on: refused, with Retry-After, not allowed.
    let gone = SharedQuotas {
        limiter: PgLimiter::new(
            Pg::connect("postgres://nobody@127.0.0.1:1/none", 1).expect("pool"),
        ),
        log,
    };
    let e = gone
        .check(&call, &READS)
        .await
        .expect_err("no database: fail closed");
    assert_eq!(e.status(), 503);
    assert_eq!(
        e.headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
}
