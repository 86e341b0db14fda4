//! Requests per second of one replica and of two replicas on one
//! PostgreSQL, next to one process on embedded SQLite, measured side by
//! side in one run.
//!
//!     bash scripts/with-postgres.sh cargo bench -p orderflow-server --bench replicas
//!
//! Needs `ORDERFLOW_TEST_POSTGRES` (the script starts a throw-away cluster);
//! creates its own database beside the one named and drops it at the end.
//! Prints figures and rewrites its section of `docs/benchmarks.md`
//! (`replicas-bench` markers). Every server runs in this process on its own
//! port with its own store, pools, principal cache and limiter; the
//! replicas share the PostgreSQL database (data, Idempotency-Keys, the
//! rate-limit rows), and the load generator sends each request to the next
//! replica in turn, as a round-robin load balancer would. Servers,
//! PostgreSQL and the load generator share the machine's cores, so on a
//! small machine the two-replica rows measure what sharing state costs,
//! not what a second machine would add. `BENCH_SECONDS` (per target and
//! round, default 3), `BENCH_ROUNDS` (default 3), `BENCH_CONCURRENCY`
//! (default 16).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use orderflow_server::run::{self, Config, Running};
use orderflow_server::store::{Actor, Money, NewProduct, Role, Storage};

mod common;
use common::{command_output, percentile, write_section};

/// The allocator of the `orderflow-server` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Admin keys the load rotates over, so that no request exceeds its key's
/// quota (reads 200/s, writes 50/s per key) at the rates seen here.
const API_KEYS: usize = 256;
/// Orders in each database before the run.
const ORDERS: usize = 2_000;

/// What a target sends.
#[derive(Clone)]
enum Request {
    Get(String),
    /// `POST /v1/orders` with this body and a fresh Idempotency-Key each.
    CreateOrder(String),
}

/// One row of the table: a request against a topology.
struct Target {
    request: &'static str,
    topology: &'static str,
    /// Base URLs; request `n` goes to `bases[n % len]`.
    bases: Vec<String>,
    what: Request,
}

/// A seeded database behind one or more servers.
struct Seeded {
    order_id: String,
    order_body: String,
}

/// Keys, a customer, a product and [`ORDERS`] orders, through the store.
async fn seed(store: Arc<dyn Storage>) -> (Vec<String>, Seeded) {
    tokio::task::spawn_blocking(move || {
        let bench = Actor::operator("bench");
        let keys = (0..API_KEYS)
            .map(|n| {
                store
                    .create_key(&bench, Role::Admin, None, &format!("bench-{n}"))
                    .expect("key")
                    .1
            })
            .collect();
        let c = store
            .create_customer(&bench, "Bench", "bench@example.com")
            .expect("customer");
        let p = store
            .create_product(
                &bench,
                &NewProduct {
                    sku: "B-1".into(),
                    name: "Bench".into(),
                    price: Money {
                        amount_minor: 100,
                        currency: "EUR".into(),
                    },
                    active: true,
                },
            )
            .expect("product");
        let mut order_id = String::new();
        for _ in 0..ORDERS {
            order_id = store
                .create_order(&c.id, &[(p.id.clone(), 2), (p.id.clone(), 1)])
                .expect("order")
                .id;
        }
        let order_body = serde_json::json!({
            "customer_id": c.id,
            "items": [{"product_id": p.id, "quantity": 1}],
        })
        .to_string();
        (
            keys,
            Seeded {
                order_id,
                order_body,
            },
        )
    })
    .await
    .expect("seed")
}

struct Round {
    latencies_us: Vec<u64>,
    errors: usize,
    seconds: f64,
}

static IDEMPOTENCY: AtomicU64 = AtomicU64::new(0);

async fn load(
    client: &reqwest::Client,
    target: &Target,
    keys: Arc<Vec<String>>,
    concurrency: usize,
    duration: Duration,
) -> Round {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..concurrency {
        let client = client.clone();
        let bases = target.bases.clone();
        let what = target.what.clone();
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut n = task;
            while Instant::now() < deadline {
                let base = &bases[n % bases.len()];
                let key = &keys[n % keys.len()];
                n += concurrency;
                let req = match &what {
                    Request::Get(path) => client.get(format!("{base}{path}")),
                    Request::CreateOrder(body) => client
                        .post(format!("{base}/v1/orders"))
                        .header("content-type", "application/json")
                        .header(
                            "idempotency-key",
                            format!("bench-{}", IDEMPOTENCY.fetch_add(1, Ordering::Relaxed)),
                        )
                        .body(body.clone()),
                };
                let t0 = Instant::now();
                let ok = match req.bearer_auth(key).send().await {
                    Ok(r) => {
                        let ok = r.status().is_success();
                        let _ = r.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                lat.push(t0.elapsed().as_micros() as u64);
                errors += usize::from(!ok);
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    Round {
        latencies_us: all,
        errors,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn sqlite_config(dir: &std::path::Path) -> Config {
    Config::new("127.0.0.1:0".parse().expect("addr"), dir.join("bench.db"))
}

fn postgres_config(url: &str) -> Config {
    let mut c = Config::new(
        "127.0.0.1:0".parse().expect("addr"),
        std::path::PathBuf::from("unused-on-postgres.db"),
    );
    c.postgres = Some(url.to_string());
    c
}

#[tokio::main]
async fn main() {
    let Ok(admin) = std::env::var("ORDERFLOW_TEST_POSTGRES") else {
        eprintln!(
            "ORDERFLOW_TEST_POSTGRES is not set. Run: bash scripts/with-postgres.sh cargo bench -p orderflow-server --bench replicas"
        );
        std::process::exit(1);
    };
    let env = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(default)
    };
    let seconds = env("BENCH_SECONDS", 3);
    let rounds = env("BENCH_ROUNDS", 3) as usize;
    let concurrency = env("BENCH_CONCURRENCY", 16) as usize;
    let duration = Duration::from_secs(seconds);
    let log = slog::Logger::root(slog::Discard, slog::o!());

    // One process on SQLite: the default, and the baseline.
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = run::start(sqlite_config(dir.path()), log.clone())
        .await
        .expect("the SQLite server");
    let (sqlite_keys, sqlite_data) = seed(sqlite.app.store.clone()).await;

    // Two replicas on one fresh PostgreSQL database.
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
    let url = format!("{base}/{name}");
    let first: Running = run::start(postgres_config(&url), log.clone())
        .await
        .expect("the first replica");
    let second: Running = run::start(postgres_config(&url), log.clone())
        .await
        .expect("the second replica");
    let (pg_keys, pg_data) = seed(first.app.store.clone()).await;

    let one = |r: &Running| vec![format!("http://{}", r.local_addr())];
    let both = vec![
        format!("http://{}", first.local_addr()),
        format!("http://{}", second.local_addr()),
    ];
    let mut targets = vec![Target {
        request: "GET /healthz (edge, no database)",
        topology: "SQLite, 1 process",
        bases: one(&sqlite),
        what: Request::Get("/healthz".into()),
    }];
    for (request, sqlite_what, pg_what) in [
        (
            "GET /v1/orders/{id}",
            Request::Get(format!("/v1/orders/{}", sqlite_data.order_id)),
            Request::Get(format!("/v1/orders/{}", pg_data.order_id)),
        ),
        (
            "GET /v1/orders?limit=20",
            Request::Get("/v1/orders?limit=20".into()),
            Request::Get("/v1/orders?limit=20".into()),
        ),
        (
            "POST /v1/orders (a new Idempotency-Key each)",
            Request::CreateOrder(sqlite_data.order_body.clone()),
            Request::CreateOrder(pg_data.order_body.clone()),
        ),
    ] {
        targets.push(Target {
            request,
            topology: "SQLite, 1 process",
            bases: one(&sqlite),
            what: sqlite_what,
        });
        targets.push(Target {
            request,
            topology: "PostgreSQL, 1 replica",
            bases: one(&first),
            what: pg_what.clone(),
        });
        targets.push(Target {
            request,
            topology: "PostgreSQL, 2 replicas",
            bases: both.clone(),
            what: pg_what,
        });
    }

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let sqlite_keys = Arc::new(sqlite_keys);
    let pg_keys = Arc::new(pg_keys);
    let keys_of = |t: &Target| {
        if t.topology.starts_with("SQLite") {
            sqlite_keys.clone()
        } else {
            pg_keys.clone()
        }
    };
    // Warm-up: connections, statement caches, principal caches.
    for t in &targets {
        let _ = load(&http, t, keys_of(t), concurrency, Duration::from_secs(1)).await;
    }
    // Round robin over the targets, so load changes during the run fall on
    // every target alike.
    let mut measured: Vec<Vec<Round>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (i, t) in targets.iter().enumerate() {
            let r = load(&http, t, keys_of(t), concurrency, duration).await;
            println!(
                "round {}: {:<46} {:<24} {:>8.0} req/s",
                round + 1,
                t.request,
                t.topology,
                r.latencies_us.len() as f64 / r.seconds
            );
            measured[i].push(r);
        }
    }

    struct Figures {
        requests: usize,
        errors: usize,
        rps: f64,
        p50_us: u64,
        p99_us: u64,
    }
    let figures: Vec<Figures> = measured
        .into_iter()
        .map(|rounds| {
            let seconds: f64 = rounds.iter().map(|r| r.seconds).sum();
            let errors = rounds.iter().map(|r| r.errors).sum();
            let mut lat: Vec<u64> = rounds.into_iter().flat_map(|r| r.latencies_us).collect();
            lat.sort_unstable();
            Figures {
                requests: lat.len(),
                errors,
                rps: lat.len() as f64 / seconds.max(1e-9),
                p50_us: percentile(&lat, 50.0),
                p99_us: percentile(&lat, 99.0),
            }
        })
        .collect();
    let healthz = figures[0].rps;
    let rps = |request: &str, topology: &str| {
        targets
            .iter()
            .zip(&figures)
            .find(|(t, _)| t.request == request && t.topology == topology)
            .map_or(0.0, |(_, f)| f.rps)
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };

    let load_avg = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let pg_version = client
        .query_one("SHOW server_version", &[])
        .await
        .map(|r| r.get::<_, String>(0))
        .unwrap_or_else(|_| "unknown".into());
    let mut report = String::new();
    report.push_str("## Replicas on PostgreSQL: requests per second\n\n");
    report.push_str(&format!(
        "Measured by `bash scripts/with-postgres.sh cargo bench -p orderflow-server --bench replicas` on {} ({} cores, {}, PostgreSQL {} from `scripts/with-postgres.sh`: fsync off, on the same cores), release profile, {} concurrent keep-alive clients, {} rounds of {} s per target (round robin over the targets; 1 s of warm-up each first), load generator in the same process over loopback, rotating over {} admin API keys per database so that no request exceeds its key's quota (errors counts any non-2xx, 429 included). Each database starts with {} orders of 2 lines. Every server is its own `run::start` in this process (own port, store, pools, principal cache and limiter); the two replicas share one PostgreSQL database, and request n goes to replica n mod 2. On PostgreSQL the guardrails use the shared limiter (one upsert per request) and orders are priced from the store's rows; on SQLite the limiter is in memory and orders are priced by the in-process gRPC pricing service. Load average (1 min) at the end: {}.\n\n",
        command_output("date", &["-u", "+%Y-%m-%d"]),
        command_output("nproc", &[]),
        command_output("rustc", &["--version"]),
        pg_version,
        concurrency,
        rounds,
        seconds,
        API_KEYS,
        ORDERS,
        load_avg,
    ));
    report.push_str(
        "| request | topology | requests | errors | req/s | of /healthz | p50 | p99 |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (t, f) in targets.iter().zip(&figures) {
        report.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} ms | {:.2} ms |\n",
            t.request,
            t.topology,
            f.requests,
            f.errors,
            f.rps,
            ratio(f.rps, healthz),
            f.p50_us as f64 / 1000.0,
            f.p99_us as f64 / 1000.0
        ));
    }
    report.push_str("\nIn this run, PostgreSQL against SQLite, and two replicas against one:\n\n| request | 1 PostgreSQL replica / SQLite process | 2 replicas / 1 replica |\n|---|---:|---:|\n");
    for request in [
        "GET /v1/orders/{id}",
        "GET /v1/orders?limit=20",
        "POST /v1/orders (a new Idempotency-Key each)",
    ] {
        let (s, one, two) = (
            rps(request, "SQLite, 1 process"),
            rps(request, "PostgreSQL, 1 replica"),
            rps(request, "PostgreSQL, 2 replicas"),
        );
        report.push_str(&format!(
            "| {request} | {:.2} | {:.2} |\n",
            ratio(one, s),
            ratio(two, one)
        ));
    }
    report.push('\n');
    for (t, f) in targets.iter().zip(&figures) {
        println!(
            "{:<46} {:<24} {:>8} req {:>6} err {:>8.0} req/s  p50 {:>6} us  p99 {:>6} us",
            t.request, t.topology, f.requests, f.errors, f.rps, f.p50_us, f.p99_us
        );
    }
    match write_section("replicas-bench", &report) {
        Ok(()) => println!("wrote docs/benchmarks.md"),
        Err(e) => eprintln!("could not write docs/benchmarks.md: {e}"),
    }
    let _ = sqlite.stop().await;
    let _ = first.stop().await;
    let _ = second.stop().await;
    let _ = client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
}
