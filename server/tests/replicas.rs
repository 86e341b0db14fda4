//! Two server replicas on one PostgreSQL database, driven over HTTP as a
//! load balancer would: one key's quota is one quota whichever replica
//! serves it, and an order placed through one replica is replayed by the
//! other for the same Idempotency-Key. Needs `ORDERFLOW_TEST_POSTGRES`
//! (see `common`; missing, the tests fail with instructions).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use orderflow_server::run::{self, Config, Running};
use orderflow_server::store::{ManualClock, RandomIds};

mod common;
use common::Scratch;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 exchange on its own connection (`Connection: close`).
fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// A replica on `url` whose clock is `clock`, the shared limiter's too, so
/// time stands still unless the test moves it.
async fn replica(url: &str, clock: Arc<ManualClock>) -> Running {
    replica_with(url, clock, |_| {}).await
}

async fn replica_with(
    url: &str,
    clock: Arc<ManualClock>,
    configure: impl FnOnce(&mut Config),
) -> Running {
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let mut config = Config::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        std::path::PathBuf::from("unused.db"),
    );
    config.postgres = Some(url.to_owned());
    config.webhooks = None;
    config.limiter_on_db_clock = false;
    configure(&mut config);
    run::start_with(config, log, clock, Arc::new(RandomIds))
        .await
        .expect("replica starts on PostgreSQL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_quota_and_replay_each_others_orders() {
    let db = Scratch::new().await;
    // Now: the v1 routes answer until their sunset.
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let a = replica(&db.url, clock.clone()).await;
    let b = replica(&db.url, clock.clone()).await;
    let admin = a
        .bootstrap_admin_key
        .clone()
        .expect("the first replica makes the admin key");
    assert!(b.bootstrap_admin_key.is_none(), "exactly one admin key");
    let (addr_a, addr_b) = (a.local_addr(), b.local_addr());
    let bearer = format!("Bearer {admin}");

    // Data written through one replica is read through the other.
    let made = tokio::task::spawn_blocking({
        let bearer = bearer.clone();
        move || {
            let auth = [("Authorization", bearer.as_str())];
            let product = send(
                addr_a,
                "POST",
                "/v1/products",
                &auth,
                r#"{"sku":"MUG-1","name":"Enamel mug","price":{"amount_minor":1250,"currency":"EUR"}}"#,
            );
            assert_eq!(product.status, 201, "{}", product.body);
            let customer = send(
                addr_b,
                "POST",
                "/v1/customers",
                &auth,
                r#"{"name":"Ada","email":"ada@example.com"}"#,
            );
            assert_eq!(customer.status, 201, "{}", customer.body);
            let id = |r: &Reply| -> String {
                let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
                v["id"].as_str().expect("id").to_owned()
            };
            (id(&product), id(&customer))
        }
    })
    .await
    .expect("setup");
    let (product, customer) = made;

    // The same Idempotency-Key at both replicas: one order, replayed.
    let order = format!(
        r#"{{"customer_id":"{customer}","items":[{{"product_id":"{product}","quantity":2}}]}}"#
    );
    let (first, replay, listed) = tokio::task::spawn_blocking({
        let bearer = bearer.clone();
        move || {
            let headers = [
                ("Authorization", bearer.as_str()),
                ("Idempotency-Key", "order-across-replicas-1"),
            ];
            let first = send(addr_a, "POST", "/v1/orders", &headers, &order);
            let replay = send(addr_b, "POST", "/v1/orders", &headers, &order);
            let listed = send(
                addr_b,
                "GET",
                "/v1/orders?limit=100",
                &[("Authorization", bearer.as_str())],
                "",
            );
            (first, replay, listed)
        }
    })
    .await
    .expect("orders");
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(replay.status, 201, "{}", replay.body);
    assert_eq!(replay.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(
        replay.body, first.body,
        "the replay is the first response's bytes"
    );
    assert!(first.header("Idempotent-Replayed").is_none());
    let page: serde_json::Value = serde_json::from_str(&listed.body).expect("json");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1), "one order");

    // A burst of 400 reads with one key, alternating between the replicas,
    // from 32 clients at once: the key's quota (200 per second) is spent
    // once, not once per replica.
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let (bearer, next) = (bearer.clone(), next.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n >= 400 {
                        break seen;
                    }
                    let addr = if n % 2 == 0 { addr_a } else { addr_b };
                    let r = send(
                        addr,
                        "GET",
                        "/v1/products?limit=1",
                        &[("Authorization", bearer.as_str())],
                        "",
                    );
                    seen.push((r.status, r.header("Retry-After").is_some()));
                }
            })
        })
        .collect();
    let results: Vec<(u16, bool)> = clients
        .into_iter()
        .flat_map(|t| t.join().expect("client"))
        .collect();
    let allowed = results.iter().filter(|(s, _)| *s == 200).count();
    let refused = results.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!(allowed + refused, 400, "only 200s and 429s: {results:?}");
    assert!(
        results.iter().filter(|(s, _)| *s == 429).all(|(_, ra)| *ra),
        "every 429 carries Retry-After"
    );
    // The clock stands still, so nothing refills: one quota of 200, less
    // the one read this key made above (the order list), allows exactly 199
    // of the 400; two quotas, one per replica, would allow all 400.
    println!(
        "burst: {allowed} allowed, {refused} refused in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!((allowed, refused), (199, 201));
    // Time moves on for both replicas alike: half a window refills half
    // the quota, whichever replica serves it.
    clock.advance(chrono::Duration::milliseconds(500));
    let after = tokio::task::spawn_blocking(move || {
        (0..150)
            .map(|n| {
                let addr = if n % 2 == 0 { addr_b } else { addr_a };
                send(
                    addr,
                    "GET",
                    "/v1/products?limit=1",
                    &[("Authorization", bearer.as_str())],
                    "",
                )
                .status
            })
            .filter(|s| *s == 200)
            .count()
    })
    .await
    .expect("refill");
    assert_eq!(after, 100, "half a window refills half the quota, once");
    a.stop().await.expect("stop a");
    b.stop().await.expect("stop b");
}

/// A replica forgets, on its own schedule, the rate-limit rows of callers
/// whose quota is full again, and keeps those still drawing on theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_prunes_rate_limit_rows_back_at_full_quota() {
    let db = Scratch::new().await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let a = replica_with(&db.url, clock.clone(), |c| {
        c.rate_limit_prune_every = std::time::Duration::from_millis(20);
    })
    .await;
    let bearer = format!(
        "Bearer {}",
        a.bootstrap_admin_key.clone().expect("an admin key")
    );
    let addr = a.local_addr();
    let read = tokio::task::spawn_blocking(move || {
        send(addr, "GET", "/v1/orders", &[("Authorization", &bearer)], "").status
    })
    .await
    .expect("the read");
    assert_eq!(read, 200);
    let client = common::connect(&db.url).await;
    let rows = || async {
        client
            .query_one("SELECT count(*) FROM rate_limits", &[])
            .await
            .expect("count the rows")
            .get::<_, i64>(0)
    };
    // The clock stands still, so the caller is still drawing on its quota
    // whenever the pruner looks: its row stays.
    assert!(rows().await >= 1, "the read drew on a quota");
    clock.advance(chrono::Duration::hours(1));
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while rows().await > 0 {
        assert!(
            Instant::now() < deadline,
            "the rows of callers back at a full quota were never pruned"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    a.stop().await.expect("the replica stops");
}
