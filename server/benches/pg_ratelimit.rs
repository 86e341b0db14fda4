//! What a rate-limit check costs in memory (the SQLite default) and in
//! PostgreSQL (shared by replicas), measured side by side in one run.
//!
//!     bash scripts/with-postgres.sh cargo bench -p orderflow-server --bench pg_ratelimit
//!
//! Needs `ORDERFLOW_TEST_POSTGRES` (the script starts a throw-away cluster);
//! creates its own database beside the one named and drops it at the end.
//! Prints figures and rewrites its section of `docs/benchmarks.md`.
//! `BENCH_SECONDS` (per row, default 3) and `BENCH_CONCURRENCY` (default 16).

use std::sync::Arc;
use std::time::{Duration, Instant};

use orderflow_edge::RateLimitPolicy;
use orderflow_server::pg::Pg;
use orderflow_server::pg::ratelimit::PgLimiter;
use orderflow_server::ratelimit::{Decision, Limiter};
use orderflow_server::store::SystemClock;

mod common;
use common::{command_output, write_section};

/// A quota no row reaches, so every check is an allowed one (the common
/// case) and the figures are not about refusals.
static WIDE: RateLimitPolicy = RateLimitPolicy {
    name: "bench",
    quota: 1_000_000,
    window_seconds: 1,
};

struct Row {
    name: String,
    checks: u64,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
}

/// `tasks` concurrent loops of checks for `duration`; task `i` checks the
/// caller `key(i)`.
async fn run_pg(
    name: &str,
    limiter: &PgLimiter,
    tasks: usize,
    key: impl Fn(usize) -> String,
    duration: Duration,
) -> Row {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut handles = Vec::new();
    for i in 0..tasks {
        let limiter = limiter.clone();
        let caller = key(i);
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let d = limiter.check(&WIDE, &caller).await.expect("check");
                assert!(matches!(d, Decision::Allow(_)), "{d:?}");
                lat.push(t0.elapsed().as_nanos() as u64);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("task"));
    }
    let seconds = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    Row {
        name: name.to_string(),
        checks: lat.len() as u64,
        seconds,
        p50_us: common::percentile(&lat, 50.0) as f64 / 1000.0,
        p99_us: common::percentile(&lat, 99.0) as f64 / 1000.0,
    }
}

#[tokio::main]
async fn main() {
    let Ok(admin) = std::env::var("ORDERFLOW_TEST_POSTGRES") else {
        eprintln!(
            "ORDERFLOW_TEST_POSTGRES is not set. Run: bash scripts/with-postgres.sh cargo bench -p orderflow-server --bench pg_ratelimit"
        );
        std::process::exit(1);
    };
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let duration = Duration::from_secs(seconds);

    let (base, _) = admin.rsplit_once('/').expect("postgres://.../database");
    let name = format!("orderflow_bench_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let pg = Pg::connect(&format!("{base}/{name}"), concurrency).expect("pool");
    pg.migrate().await.expect("migrate");
    let shared = PgLimiter::new(pg);

    let mut rows = Vec::new();

    // The in-memory limiter: one thread, a tight loop (it takes a mutex
    // and a map entry per check).
    let memory = Limiter::new(Arc::new(SystemClock));
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < duration {
        for i in 0..1000 {
            let caller = format!("key_{}", i % 256);
            let d = memory.check(&WIDE, &caller);
            assert!(matches!(d, Decision::Allow(_)));
        }
        n += 1000;
    }
    let s = started.elapsed().as_secs_f64();
    let per = s / n as f64 * 1e6;
    rows.push(Row {
        name: "in memory (SQLite default), 1 thread, 256 keys".into(),
        checks: n,
        seconds: s,
        p50_us: per,
        p99_us: per,
    });

    // Warm the pool and the statement caches.
    let _ = run_pg(
        "warm-up",
        &shared,
        concurrency,
        |i| format!("key_{i}"),
        Duration::from_secs(1),
    )
    .await;
    rows.push(
        run_pg(
            "PostgreSQL, 1 client, one key",
            &shared,
            1,
            |_| "key_one".into(),
            duration,
        )
        .await,
    );
    rows.push(
        run_pg(
            &format!("PostgreSQL, {concurrency} clients, a key each"),
            &shared,
            concurrency,
            |i| format!("key_{i}"),
            duration,
        )
        .await,
    );
    rows.push(
        run_pg(
            &format!(
                "PostgreSQL, {concurrency} clients, one hot key (its row lock serialises them)"
            ),
            &shared,
            concurrency,
            |_| "key_hot".into(),
            duration,
        )
        .await,
    );

    let mut report = String::from("## Rate limiting: a check in memory and in PostgreSQL\n\n");
    report.push_str(&format!(
        "Measured by `bash scripts/with-postgres.sh cargo bench -p orderflow-server --bench pg_ratelimit` on {} ({} cores), release profile; PostgreSQL {} on loopback in the throw-away cluster the script starts (fsync off, so commit cost here is below a durable server's), on the same 2 cores as the client. Each PostgreSQL check is the one upsert of `server/src/pg/ratelimit.rs` in its own transaction, on the database's clock; every check is allowed (a quota no row reaches). The in-memory row's p50 and p99 are the mean cost of a check in a tight loop.\n\n",
        command_output("date", &["-u", "+%Y-%m-%d"]),
        command_output("nproc", &[]),
        client
            .query_one("SHOW server_version", &[])
            .await
            .map(|r| r.get::<_, String>(0))
            .unwrap_or_else(|_| "unknown".into()),
    ));
    report.push_str("| checks by | checks | checks/s | p50 | p99 |\n|---|---:|---:|---:|---:|\n");
    for r in &rows {
        println!(
            "{:<75} {:>9} checks {:>10.0}/s  p50 {:>8.2} us  p99 {:>8.2} us",
            r.name,
            r.checks,
            r.checks as f64 / r.seconds,
            r.p50_us,
            r.p99_us
        );
        report.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} µs | {:.2} µs |\n",
            r.name,
            r.checks,
            r.checks as f64 / r.seconds,
            r.p50_us,
            r.p99_us
        ));
    }
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    report.push_str(&format!(
        "\nLoad average (1 min) at the end of the run: {load}. A request on the replicated topology pays one such round trip before its own work.\n\n"
    ));
    drop(shared);
    let _ = client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    match write_section("pg-ratelimit-bench", &report) {
        Ok(()) => println!("wrote docs/benchmarks.md"),
        Err(e) => eprintln!("could not write docs/benchmarks.md: {e}"),
    }
}
