//! HTTP throughput and latency of the real server, next to a trivial
//! dropshot endpoint on the same machine as the ceiling.
//!
//!     cargo bench -p orderflow-server --bench http
//!
//! Not a test: it prints figures and rewrites its section of
//! `docs/benchmarks.md` (between the `http-bench` markers). Everything runs
//! over loopback in one process: the load generator shares the machine's
//! cores with the server, for every target alike, so the figures compare
//! targets with each other rather than promise absolute capacity.
//! `BENCH_SECONDS` (per target and round, default 2), `BENCH_ROUNDS`
//! (default 7: short rounds, many of them, so the per-round ratios have a
//! median) and `BENCH_CONCURRENCY` (default 16) tune it;
//! `BENCH_ONLY=<a target's name, or part of one>` runs only that target
//! (or the matching ones; to profile one path with `perf record`) and
//! leaves the report alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dropshot::{
    ApiDescription, ConfigDropshot, HttpError, HttpResponseOk, RequestContext, ServerBuilder,
    endpoint,
};
use orderflow_server::run::{self, Config};

mod common;
use common::{command_output, percentile, write_section};

/// The allocator of the `orderflow-server` binary, so the server measured
/// here allocates as the shipped one does. (The ceiling shares it: every
/// row runs in this one process.)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// API keys the load rotates over: each has the spec's `reads` quota, so
/// enough of them keep every request within quota at the rates seen here.
const API_KEYS: usize = 256;

const CEILING: &str = "trivial dropshot endpoint (ceiling)";
const HEALTHZ: &str = "GET /healthz (edge, no auth, no database)";
const GET: &str = "GET /v1/orders/{id}";
const LIST: &str = "GET /v1/orders?limit=20 (first page)";
const BEFORE_GET: &str = "GET /v1/orders/{id}, before (read-path tuning off)";
const BEFORE_LIST: &str = "GET /v1/orders?limit=20, before (read-path tuning off)";
const POOL_GET: &str = "GET /v1/orders/{id}, reads on tokio's blocking pool";
const POOL_LIST: &str = "GET /v1/orders?limit=20, reads on tokio's blocking pool";

#[endpoint { method = GET, path = "/ping" }]
async fn ping(_rqctx: RequestContext<()>) -> Result<HttpResponseOk<String>, HttpError> {
    Ok(HttpResponseOk("ok".to_string()))
}

struct Figures {
    name: String,
    requests: usize,
    errors: usize,
    rps: f64,
    p50_us: u64,
    p99_us: u64,
    /// Process CPU time (server and load generator) per request.
    cpu_us: Option<f64>,
    /// Context switches of the process's threads per request.
    switches: Option<f64>,
}

async fn load(
    client: &reqwest::Client,
    url: String,
    keys: Option<Arc<Vec<String>>>,
    concurrency: usize,
    duration: Duration,
    warm_up: bool,
) -> Round {
    // With `warm_up`, one second of traffic first (connections, caches).
    let run = |for_how_long: Duration| {
        let client = client.clone();
        let url = url.clone();
        let keys = keys.clone();
        async move {
            let mut tasks = Vec::new();
            let deadline = Instant::now() + for_how_long;
            for task in 0..concurrency {
                let client = client.clone();
                let url = url.clone();
                let keys = keys.clone();
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut errors = 0usize;
                    let mut n = task;
                    while Instant::now() < deadline {
                        let mut req = client.get(&url);
                        // Rotate over many API keys so that every request is
                        // within its key's `reads` quota: the limiter runs for
                        // real, and no answer is a 429.
                        if let Some(keys) = &keys {
                            req = req.bearer_auth(&keys[n % keys.len()]);
                            n += concurrency;
                        }
                        let t0 = Instant::now();
                        let ok = match req.send().await {
                            Ok(r) => {
                                let ok = r.status().is_success();
                                let _ = r.bytes().await;
                                ok
                            }
                            Err(_) => false,
                        };
                        lat.push(t0.elapsed().as_micros() as u64);
                        if !ok {
                            errors += 1;
                        }
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
            (all, errors)
        }
    };
    if warm_up {
        run(Duration::from_secs(1)).await;
    }
    let cpu_before = process_cpu_seconds();
    let switches_before = thread_switches();
    let started = Instant::now();
    let (lat, errors) = run(duration).await;
    Round {
        switches: match (switches_before, thread_switches()) {
            (Some(a), Some(b)) => Some(switches_between(&a, &b)),
            _ => None,
        },
        latencies_us: lat,
        errors,
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: match (cpu_before, process_cpu_seconds()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        },
    }
}

/// CPU time (user and system, every thread) this process has used, from
/// `/proc/self/stat` in clock ticks; `None` where that cannot be read.
/// Other work on the machine slows a round down but hardly changes what
/// one request costs, so CPU per request is the steadier figure.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the parenthesised command name; utime and stime are
    // the 14th and 15th of the whole line.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let ticks: f64 = command_output("getconf", &["CLK_TCK"])
        .parse()
        .unwrap_or(100.0);
    Some((utime + stime) / ticks)
}

/// Context switches so far (voluntary and involuntary) of each thread of
/// this process, by thread id, from `/proc/self/task/*/status`; `None`
/// where that cannot be read. A count, so the machine's speed hardly
/// changes it: every hand-off of a request between threads shows here.
fn thread_switches() -> Option<std::collections::HashMap<u64, u64>> {
    let mut by_thread = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let entry = entry.ok()?;
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        // A thread that exited since the listing has no status any more.
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let n: u64 = status
            .lines()
            .filter(|l| {
                l.starts_with("voluntary_ctxt_switches")
                    || l.starts_with("nonvoluntary_ctxt_switches")
            })
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        by_thread.insert(tid, n);
    }
    Some(by_thread)
}

/// The switches between two snapshots: each thread's growth, counting a
/// thread started in between from zero (one that exited in between is
/// lost, which undercounts; tokio keeps idle pool threads for 10 s, longer
/// than a round).
fn switches_between(
    before: &std::collections::HashMap<u64, u64>,
    after: &std::collections::HashMap<u64, u64>,
) -> u64 {
    after
        .iter()
        .map(|(tid, n)| n.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}

/// One target's measured traffic in one round.
struct Round {
    switches: Option<u64>,
    latencies_us: Vec<u64>,
    errors: usize,
    seconds: f64,
    cpu_seconds: Option<f64>,
}

impl Round {
    fn rps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.latencies_us.len() as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// A target's rounds together: requests over the time they took, and the
/// percentiles of every latency seen.
fn combine(name: &str, rounds: Vec<Round>) -> Figures {
    let seconds: f64 = rounds.iter().map(|r| r.seconds).sum();
    let errors = rounds.iter().map(|r| r.errors).sum();
    let cpu: Option<f64> = rounds.iter().map(|r| r.cpu_seconds).sum();
    let served: usize = rounds.iter().map(|r| r.latencies_us.len()).sum();
    let cpu_us = cpu.filter(|_| served > 0).map(|c| c * 1e6 / served as f64);
    let switched: Option<u64> = rounds.iter().map(|r| r.switches).sum();
    let switches = switched
        .filter(|_| served > 0)
        .map(|s| s as f64 / served as f64);
    let mut lat: Vec<u64> = rounds.into_iter().flat_map(|r| r.latencies_us).collect();
    lat.sort_unstable();
    Figures {
        name: name.to_string(),
        requests: lat.len(),
        errors,
        rps: if seconds > 0.0 {
            lat.len() as f64 / seconds
        } else {
            0.0
        },
        p50_us: percentile(&lat, 50.0),
        p99_us: percentile(&lat, 99.0),
        cpu_us,
        switches,
    }
}

/// Median, lowest and highest of a set of per-round figures.
type Spread = (f64, f64, f64);

/// The median of the per-round ratios `of[i] / base[i]`, with their lowest
/// and highest: a round's two targets ran seconds apart, so a change in the
/// machine's load mostly falls on both.
fn round_ratios(of: &[f64], base: &[f64]) -> Option<Spread> {
    let mut r: Vec<f64> = of
        .iter()
        .zip(base)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| a / b)
        .collect();
    if r.is_empty() {
        return None;
    }
    r.sort_by(f64::total_cmp);
    let n = r.len();
    let median = if n % 2 == 1 {
        r[n / 2]
    } else {
        (r[n / 2 - 1] + r[n / 2]) / 2.0
    };
    Some((median, r[0], r[n - 1]))
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(7);
    let duration = Duration::from_secs(seconds);
    let log = slog::Logger::root(slog::Discard, slog::o!());

    // The ceiling: one trivial dropshot endpoint, no edge, no database.
    let mut api = ApiDescription::new();
    api.register(ping).expect("register /ping");
    let trivial = ServerBuilder::new(api, (), log.clone())
        .config(ConfigDropshot {
            bind_address: "127.0.0.1:0".parse().expect("addr"),
            ..Default::default()
        })
        .start()
        .expect("trivial server");

    // The real server on a fresh database, seeded through the store.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("bench.db"),
    );
    let server = run::start(config, log.clone()).await.expect("server");
    let store = server.app.store.clone();
    let key_store = server.app.store.clone();
    let keys: Arc<Vec<String>> = Arc::new(
        tokio::task::spawn_blocking(move || {
            (0..API_KEYS)
                .map(|n| {
                    key_store
                        .create_key(
                            &orderflow_server::store::Actor::operator("bench"),
                            orderflow_server::store::Role::Admin,
                            None,
                            &format!("bench-{n}"),
                        )
                        .expect("key")
                        .1
                })
                .collect()
        })
        .await
        .expect("keys"),
    );
    let orders = 2_000;
    let order_id = tokio::task::spawn_blocking(move || {
        let c = store
            .create_customer(
                &orderflow_server::store::Actor::operator("bench"),
                "Bench",
                "bench@example.com",
            )
            .expect("customer");
        let p = store
            .create_product(
                &orderflow_server::store::Actor::operator("bench"),
                &orderflow_server::store::NewProduct {
                    sku: "B-1".into(),
                    name: "Bench".into(),
                    price: orderflow_server::store::Money {
                        amount_minor: 100,
                        currency: "EUR".into(),
                    },
                    active: true,
                },
            )
            .expect("product");
        let mut last = String::new();
        for _ in 0..orders {
            last = store
                .create_order(&c.id, &[(p.id.clone(), 2), (p.id.clone(), 1)])
                .expect("order")
                .id;
        }
        last
    })
    .await
    .expect("seed");

    // A second server on the same database without the edge's observers
    // (metrics, log line): the difference is what observation costs.
    let mut unobserved = Config::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("bench.db"),
    );
    unobserved.observe = false;
    let unobserved = run::start(unobserved, log.clone())
        .await
        .expect("second server");
    // A third without this project's read-path tuning: no principal cache
    // (every request looks its key up, a second blocking trip) and plans
    // re-made whenever a parameter is rebound. Its rows are the "before".
    let mut untuned = Config::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("bench.db"),
    );
    untuned.store_tuning = orderflow_server::store::Tuning {
        principal_ttl: chrono::Duration::zero(),
        stable_plans: false,
        read_threads: false,
    };
    let untuned = run::start(untuned, log.clone())
        .await
        .expect("third server");
    // A fourth with everything on but the read threads: its reads go to
    // tokio's blocking pool like writes, so its rows measure that lever.
    let mut pooled = Config::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("bench.db"),
    );
    pooled.store_tuning = orderflow_server::store::Tuning {
        read_threads: false,
        ..Default::default()
    };
    let pooled = run::start(pooled, log).await.expect("fourth server");

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let base = format!("http://{}", server.local_addr());
    // The same server reached past the front, straight at dropshot's
    // loopback port: the difference is what the front's hop costs.
    let direct = format!("http://{}", server.dropshot_addr());
    let targets = vec![
        (
            CEILING,
            format!("http://{}/ping", trivial.local_addr()),
            None,
        ),
        (HEALTHZ, format!("{base}/healthz"), None),
        (
            "GET /healthz, past the front (dropshot direct)",
            format!("{direct}/healthz"),
            None,
        ),
        (
            GET,
            format!("{base}/v1/orders/{order_id}"),
            Some(keys.clone()),
        ),
        (
            "GET /v1/orders/{id}, no observers (metrics, log line)",
            format!("http://{}/v1/orders/{order_id}", unobserved.local_addr()),
            Some(keys.clone()),
        ),
        (
            "GET /v1/orders/{id}, past the front (dropshot direct)",
            format!("{direct}/v1/orders/{order_id}"),
            Some(keys.clone()),
        ),
        (
            LIST,
            format!("{base}/v1/orders?limit=20"),
            Some(keys.clone()),
        ),
        (
            POOL_GET,
            format!("http://{}/v1/orders/{order_id}", pooled.local_addr()),
            Some(keys.clone()),
        ),
        (
            POOL_LIST,
            format!("http://{}/v1/orders?limit=20", pooled.local_addr()),
            Some(keys.clone()),
        ),
        (
            BEFORE_GET,
            format!("http://{}/v1/orders/{order_id}", untuned.local_addr()),
            Some(keys.clone()),
        ),
        (
            BEFORE_LIST,
            format!("http://{}/v1/orders?limit=20", untuned.local_addr()),
            Some(keys.clone()),
        ),
    ];
    // `BENCH_ONLY=text` runs only the targets whose name contains it (for
    // profiling one path); the report is then not rewritten.
    let only = std::env::var("BENCH_ONLY").ok();
    // A name given exactly selects that one target (several names share a
    // prefix).
    let exact = only
        .as_deref()
        .is_some_and(|o| targets.iter().any(|(name, _, _)| *name == o));
    let targets: Vec<_> = targets
        .into_iter()
        .filter(|(name, _, _)| {
            only.as_deref()
                .is_none_or(|o| if exact { *name == o } else { name.contains(o) })
        })
        .collect();
    // Round robin: every round runs every target once, so a change in the
    // machine's load during the run falls on all of them alike instead of
    // on whichever ran last.
    let mut measured: Vec<Vec<Round>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (i, (name, url, keys)) in targets.iter().enumerate() {
            let r = load(
                &client,
                url.clone(),
                keys.clone(),
                concurrency,
                duration,
                round == 0,
            )
            .await;
            println!("round {}: {:<58} {:>10.0} req/s", round + 1, name, r.rps());
            measured[i].push(r);
        }
    }
    let per_round = |name: &str| -> Vec<f64> {
        targets
            .iter()
            .position(|(n, _, _)| *n == name)
            .map(|i| measured[i].iter().map(Round::rps).collect())
            .unwrap_or_default()
    };
    let healthz_rounds = per_round(HEALTHZ);
    let ratio_rounds: Vec<(&str, Option<Spread>)> =
        [GET, LIST, POOL_GET, POOL_LIST, BEFORE_GET, BEFORE_LIST]
            .into_iter()
            .map(|name| (name, round_ratios(&per_round(name), &healthz_rounds)))
            .collect();
    // The read threads' lever, each round's two servers seconds apart.
    let lever = |of: &str, base: &str| round_ratios(&per_round(of), &per_round(base));
    let levers = (lever(GET, POOL_GET), lever(LIST, POOL_LIST));
    let figures: Vec<Figures> = targets
        .iter()
        .zip(measured)
        .map(|((name, _, _), rounds)| combine(name, rounds))
        .collect();
    for f in &figures {
        println!(
            "{:<58} {:>8} req {:>6} err {:>10.0} req/s  p50 {:>6} us  p99 {:>6} us  cpu {:>5.0} us/req  {:>4.2} switches/req",
            f.name,
            f.requests,
            f.errors,
            f.rps,
            f.p50_us,
            f.p99_us,
            f.cpu_us.unwrap_or(f64::NAN),
            f.switches.unwrap_or(f64::NAN)
        );
    }
    for (name, r) in &ratio_rounds {
        if let Some((median, lo, hi)) = r {
            println!(
                "{name:<58} of /healthz per round: median {median:.2} (min {lo:.2}, max {hi:.2})"
            );
        }
    }

    // Other work on the machine slows every target alike; say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    // The ratios depend on the host (what a thread hand-off costs against
    // the rest differs between processors), so the report names it.
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "processor unknown".into());
    let mut report = String::new();
    report.push_str("## HTTP: requests per second and latency\n\n");
    report.push_str(&format!(
        "Measured by `cargo bench -p orderflow-server --bench http` on {} ({} cores, {}, {}), release profile, {} concurrent keep-alive clients, {} rounds of {} s per target (round robin over the targets, so load changes during the run fall on every target alike; 1 s of warm-up before a target's first round), load generator in the same process over loopback, rotating over {} admin API keys so that no request exceeds its key's rate limit (the limiter still runs on every request; errors counts any non-2xx, 429 included). Database: {} orders of 2 lines each. Load average (1 min) at the end of the run: {}.\n\n",
        command_output("date", &["-u", "+%Y-%m-%d"]),
        command_output("nproc", &[]),
        cpu,
        command_output("rustc", &["--version"]),
        concurrency,
        rounds,
        seconds,
        API_KEYS,
        orders,
        load
    ));
    report.push_str(
        "Rows: the ceiling is a trivial dropshot endpoint in the same process (no front, no edge, no database); \"past the front\" rows send the same request straight to dropshot's loopback port, so their difference to the row above is the front's hop (routing problems, request ids, HEAD/OPTIONS, CORS); \"no observers\" is a second server on the same database with the edge's observers (metrics and the log line) switched off, so its difference is what observation costs; \"reads on tokio's blocking pool\" rows are a fourth server with only the store's read threads off, so their difference is what running reads on dedicated threads is worth; \"before\" rows are a third server on the same database with the store's read-path tuning off (no principal cache, so every request looks its key up in a second blocking trip; no query planner stability guarantee, so a cached statement is re-parsed and re-planned whenever a parameter is rebound; reads on tokio's blocking pool). \"of ceiling\" and \"of /healthz\" are req/s over that row's req/s in this run. Every server in this process uses mimalloc, like the `orderflow-server` binary.\n\n",
    );
    report.push_str(
        "| target | requests | errors | req/s | of ceiling | of /healthz | p50 | p99 | CPU per request | context switches per request |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let rps_of = |name: &str| {
        figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.rps)
            .unwrap_or(0.0)
    };
    let ratio = |rps: f64, of: f64| if of > 0.0 { rps / of } else { 0.0 };
    let ceiling = rps_of(CEILING);
    let healthz = rps_of(HEALTHZ);
    for f in &figures {
        report.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} ms | {:.2} ms | {} | {} |\n",
            f.name,
            f.requests,
            f.errors,
            f.rps,
            ratio(f.rps, ceiling),
            ratio(f.rps, healthz),
            f.p50_us as f64 / 1000.0,
            f.p99_us as f64 / 1000.0,
            f.cpu_us
                .map(|c| format!("{c:.0} µs"))
                .unwrap_or_else(|| "unknown".into()),
            f.switches
                .map(|s| format!("{s:.2}"))
                .unwrap_or_else(|| "unknown".into())
        ));
    }
    report.push_str(&format!(
        "\nOf `GET /healthz` through the front, in this run: `GET /v1/orders/{{id}}` {:.2} (before: {:.2}; target 0.5), the first list page {:.2} (before: {:.2}; target 0.3).\n\n",
        ratio(rps_of(GET), healthz),
        ratio(rps_of(BEFORE_GET), healthz),
        ratio(rps_of(LIST), healthz),
        ratio(rps_of(BEFORE_LIST), healthz),
    ));
    report.push_str(
        "Per round (each round's ratio of its own two rows, run seconds apart; the median over the rounds, then the lowest to the highest):",
    );
    for (name, r) in &ratio_rounds {
        if let Some((median, lo, hi)) = r {
            report.push_str(&format!(" `{name}` {median:.2} ({lo:.2} to {hi:.2});"));
        }
    }
    report.pop();
    report.push_str(".\n\n");
    if let (Some(g), Some(l)) = levers {
        report.push_str(&format!(
            "Reads on the read threads over reads on tokio's blocking pool, per round (median, lowest to highest): `GET /v1/orders/{{id}}` {:.2} ({:.2} to {:.2}), the first list page {:.2} ({:.2} to {:.2}).\n\n",
            g.0, g.1, g.2, l.0, l.1, l.2
        ));
        println!(
            "read threads over the blocking pool per round: GET median {:.2} ({:.2} to {:.2}), list median {:.2} ({:.2} to {:.2})",
            g.0, g.1, g.2, l.0, l.1, l.2
        );
    }
    report.push_str("CPU per request: this process's CPU time (user and system, every thread: the servers and the load generator) during a target's rounds, over the requests answered in them, from `/proc/self/stat`. Other work on the machine slows a round down but hardly changes it. Context switches per request: the growth of every thread's voluntary and involuntary switches (`/proc/self/task/*/status`) over the same rounds, per request answered; a count, so the machine's speed hardly changes it.\n\n");
    if only.is_some() {
        println!("BENCH_ONLY set: docs/benchmarks.md left as it was");
        let _ = server.stop().await;
        let _ = unobserved.stop().await;
        let _ = untuned.stop().await;
        let _ = pooled.stop().await;
        let _ = trivial.close().await;
        return;
    }
    match write_section("http-bench", &report) {
        Ok(()) => println!("wrote docs/benchmarks.md"),
        Err(e) => eprintln!("could not write docs/benchmarks.md: {e}"),
    }
    let _ = server.stop().await;
    let _ = unobserved.stop().await;
    let _ = untuned.stop().await;
    let _ = pooled.stop().await;
    let _ = trivial.close().await;
}
