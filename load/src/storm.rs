//! The retry-storm engine: concurrent clients retrying order creation
//! against one server or several replicas of it, and a count of what the
//! database ended up with.
//!
//! Each logical order has its own Idempotency-Key and is placed by one of
//! a few principals (customer API keys, each with its own rate limit). It
//! is told apart from every other logical order in the database by its
//! principal's customer and the quantity of its first line, because the
//! "before" server keeps no idempotency record to count by. Half of the
//! writer clients hammer (several concurrent copies of each request,
//! retried after a few milliseconds whatever the server said); the other
//! half use the SDK's retry layer, which honours `Retry-After`. Every
//! client then re-sends its order once more with the same key, as a client
//! does whose response was lost, and every `mutate_every`-th order is also
//! re-sent with a different body under its key. Reader tasks meanwhile
//! list orders above the read quota with the admin key.
//!
//! Given several replicas (base URLs of servers sharing one database),
//! every try goes to the next replica in turn: the copies of one request
//! start on different replicas, each retry moves on, and the re-send after
//! success lands on another replica than the try before it, so replays and
//! in-flight conflicts must cross replicas to be right.
//!
//! The engine records every response (status, `Retry-After`,
//! `Idempotent-Replayed`, latency, time) and afterwards counts the orders
//! per key through the API. It judges nothing itself beyond
//! [`StormReport::violations`], the after-run invariants; it never sleeps
//! to wait for the server, and it is bounded by a key count and a deadline.

// The storm drives v1 (`POST /v1/orders`), whose SDK methods are
// deprecated: its figures and evidence are v1's until it moves to v2.
#![allow(deprecated)]

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use orderflow_client::retry::{RetryAfter, RetryPolicy, send_with_retries};
use orderflow_client::types::{self, Problem};
use orderflow_client::{Client, Error, ResponseValue};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use serde_json::{Value, json};

use crate::database::DatabaseCount;

/// How big and how long a storm is.
#[derive(Debug, Clone, PartialEq)]
pub struct StormConfig {
    /// Hard deadline for the storm itself (setup and counting excluded).
    pub duration: Duration,
    /// Concurrent writer clients; even-numbered ones hammer.
    pub clients: usize,
    /// Logical orders, each with its own Idempotency-Key.
    pub keys: usize,
    /// Logical orders start evenly spread over this window (zero: all at
    /// once), so that both runs see the same arrival curve and the chart
    /// shows the server's answer to it rather than a single burst.
    pub arrival: Duration,
    /// Customer API keys that place the orders (each its own rate limit).
    pub principals: usize,
    /// Tasks listing orders with the admin key; even-numbered ones hammer.
    pub readers: usize,
    /// Concurrent copies a hammering client sends of each order.
    pub copies: usize,
    /// Every n-th logical order is also re-sent with a different body.
    pub mutate_every: usize,
    /// How long a hammering client waits before its next try, whatever
    /// the server said.
    pub hammer_pause: Duration,
    /// Per-request timeout; a timed-out request counts as a transport
    /// error and is retried like one.
    pub request_timeout: Duration,
}

impl Default for StormConfig {
    fn default() -> Self {
        StormConfig {
            duration: Duration::from_secs(10),
            clients: 64,
            keys: 200,
            arrival: Duration::from_secs(4),
            principals: 2,
            readers: 4,
            copies: 3,
            mutate_every: 10,
            hammer_pause: Duration::from_millis(5),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// What one response was, in the categories the report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// 201 without `Idempotent-Replayed`: an order was created.
    Created,
    /// 201 with `Idempotent-Replayed: true`: the stored answer, again.
    Replayed,
    /// 200 (the reads).
    Ok,
    /// 409 (in flight).
    Conflict,
    /// 422 (key reused with another body).
    Unprocessable,
    /// 429.
    TooManyRequests,
    /// Any 5xx.
    ServerError,
    /// Any other status.
    OtherStatus,
    /// No response: connection error or timeout.
    Transport,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 9] = [
        Outcome::Created,
        Outcome::Replayed,
        Outcome::Ok,
        Outcome::Conflict,
        Outcome::Unprocessable,
        Outcome::TooManyRequests,
        Outcome::ServerError,
        Outcome::OtherStatus,
        Outcome::Transport,
    ];

    /// The label used in tables and legends.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Created => "201 created",
            Outcome::Replayed => "201 replayed",
            Outcome::Ok => "200 (reads)",
            Outcome::Conflict => "409",
            Outcome::Unprocessable => "422",
            Outcome::TooManyRequests => "429",
            Outcome::ServerError => "5xx",
            Outcome::OtherStatus => "other status",
            Outcome::Transport => "no response",
        }
    }

    fn of(status: Option<StatusCode>, headers: Option<&HeaderMap>) -> Outcome {
        let Some(status) = status else {
            return Outcome::Transport;
        };
        let replayed = headers
            .and_then(|h| h.get("idempotent-replayed"))
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        match status.as_u16() {
            201 if replayed => Outcome::Replayed,
            201 => Outcome::Created,
            200 => Outcome::Ok,
            409 => Outcome::Conflict,
            422 => Outcome::Unprocessable,
            429 => Outcome::TooManyRequests,
            500..=599 => Outcome::ServerError,
            _ => Outcome::OtherStatus,
        }
    }

    /// Whether a naive client tries again after this.
    fn hammer_retries(self) -> bool {
        matches!(
            self,
            Outcome::Conflict
                | Outcome::TooManyRequests
                | Outcome::ServerError
                | Outcome::Transport
        )
    }
}

/// Which traffic a response belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `POST /v1/orders`.
    Write,
    /// `GET /v1/orders`.
    Read,
}

/// One response, as the client saw it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When the response was complete, from the start of the storm.
    pub at: Duration,
    pub latency: Duration,
    pub op: Op,
    /// Sent by a client that ignores `Retry-After` (rather than one that
    /// honours it).
    pub hammering: bool,
    pub outcome: Outcome,
    /// For a 429: whether it carried `Retry-After` as the contract says,
    /// an integer number of seconds, at least 1.
    pub retry_after_valid: bool,
    /// Whether it carried both `RateLimit-Policy` and `RateLimit`.
    pub ratelimit_headers: bool,
    /// Which replica answered (its index in the base URLs given).
    pub replica: u8,
    /// The logical order a write was for (reads: none).
    pub key: Option<u32>,
}

/// Everything a storm observed.
#[derive(Debug, Clone)]
pub struct StormReport {
    pub config: StormConfig,
    /// How many replicas the storm spread its tries over.
    pub replicas: usize,
    /// From the first request to the last response.
    pub elapsed: Duration,
    pub samples: Vec<Sample>,
    /// Orders found in the database for each logical order, by index.
    pub orders_per_key: Vec<u32>,
    /// Orders found that map to no logical order (there should be none).
    pub unattributed_orders: u32,
    /// Logical orders the deadline cut short before any 201.
    pub unfinished: usize,
    /// Logical orders taken by hammering clients (the rest by honouring
    /// ones).
    pub hammered_orders: usize,
    /// The recount from the database file, when the caller could read it
    /// (the engine itself knows only the API).
    pub database: Option<DatabaseCount>,
}

impl StormReport {
    /// Responses with this outcome, for one kind of traffic or all.
    pub fn count(&self, op: Option<Op>, outcome: Outcome) -> usize {
        self.samples
            .iter()
            .filter(|s| s.outcome == outcome && op.is_none_or(|op| s.op == op))
            .count()
    }

    /// (429s with a valid `Retry-After`, all 429s).
    pub fn retry_after_share(&self) -> (usize, usize) {
        let limited: Vec<_> = self
            .samples
            .iter()
            .filter(|s| s.outcome == Outcome::TooManyRequests)
            .collect();
        let valid = limited.iter().filter(|s| s.retry_after_valid).count();
        (valid, limited.len())
    }

    /// (429s with `RateLimit-Policy` and `RateLimit`, all 429s). Reported,
    /// not an invariant here: the contract tests own the header format.
    pub fn ratelimit_header_share(&self) -> (usize, usize) {
        let limited = self
            .samples
            .iter()
            .filter(|s| s.outcome == Outcome::TooManyRequests);
        let (mut with, mut all) = (0, 0);
        for s in limited {
            all += 1;
            with += usize::from(s.ratelimit_headers);
        }
        (with, all)
    }

    /// Responses answered by each replica, in the order of the base URLs.
    pub fn per_replica(&self, op: Option<Op>, outcome: Option<Outcome>) -> Vec<usize> {
        let mut n = vec![0; self.replicas.max(1)];
        for s in &self.samples {
            if op.is_none_or(|op| s.op == op)
                && outcome.is_none_or(|o| s.outcome == o)
                && let Some(c) = n.get_mut(usize::from(s.replica))
            {
                *c += 1;
            }
        }
        n
    }

    /// (replayed 201s answered by another replica than the one whose 201
    /// created the order, all replayed 201s of keys whose creating
    /// response was seen).
    pub fn cross_replica_replays(&self) -> (usize, usize) {
        let mut creator = std::collections::HashMap::new();
        for s in &self.samples {
            if let (Outcome::Created, Some(k)) = (s.outcome, s.key) {
                creator.entry(k).or_insert(s.replica);
            }
        }
        let (mut cross, mut all) = (0, 0);
        for s in &self.samples {
            if let (Outcome::Replayed, Some(k)) = (s.outcome, s.key)
                && let Some(&c) = creator.get(&k)
            {
                all += 1;
                cross += usize::from(c != s.replica);
            }
        }
        (cross, all)
    }

    /// Logical orders with more than one order in the database.
    pub fn duplicated_keys(&self) -> usize {
        self.orders_per_key.iter().filter(|&&n| n > 1).count()
    }

    /// Orders beyond the first for each key: the damage a storm did.
    pub fn extra_orders(&self) -> u64 {
        self.orders_per_key
            .iter()
            .map(|&n| u64::from(n.saturating_sub(1)))
            .sum()
    }

    /// Logical orders with no order in the database.
    pub fn missing_keys(&self) -> usize {
        self.orders_per_key.iter().filter(|&&n| n == 0).count()
    }

    /// All orders found.
    pub fn total_orders(&self) -> u64 {
        self.orders_per_key
            .iter()
            .map(|&n| u64::from(n))
            .sum::<u64>()
            + u64::from(self.unattributed_orders)
    }

    /// Responses per second over the storm.
    pub fn throughput(&self, op: Option<Op>) -> f64 {
        let n = self
            .samples
            .iter()
            .filter(|s| op.is_none_or(|op| s.op == op))
            .count();
        n as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at percentile `p` (0 to 100, nearest rank), or zero
    /// without samples.
    pub fn latency(&self, op: Option<Op>, p: f64) -> Duration {
        let mut v: Vec<Duration> = self
            .samples
            .iter()
            .filter(|s| op.is_none_or(|op| s.op == op))
            .map(|s| s.latency)
            .collect();
        if v.is_empty() {
            return Duration::ZERO;
        }
        v.sort_unstable();
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    /// How this run breaks the guarantees the guardrails give, one line
    /// per broken invariant; empty when they all hold.
    pub fn violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.duplicated_keys() > 0 {
            out.push(format!(
                "{} of {} keys have more than one order ({} extra orders)",
                self.duplicated_keys(),
                self.orders_per_key.len(),
                self.extra_orders()
            ));
        }
        if self.missing_keys() > 0 {
            out.push(format!(
                "{} of {} keys have no order ({} cut short by the deadline)",
                self.missing_keys(),
                self.orders_per_key.len(),
                self.unfinished
            ));
        }
        if self.unattributed_orders > 0 {
            out.push(format!(
                "{} orders belong to no logical order",
                self.unattributed_orders
            ));
        }
        if let Some(db) = self.database {
            if db.duplicated_keys > 0 {
                out.push(format!(
                    "the database file has {} keys with more than one order",
                    db.duplicated_keys
                ));
            }
            if db.orders != self.total_orders() {
                out.push(format!(
                    "the database file has {} orders, the API listed {}",
                    db.orders,
                    self.total_orders()
                ));
            }
        }
        let server_errors = self.count(None, Outcome::ServerError);
        if server_errors > 0 {
            out.push(format!("{server_errors} responses were 5xx"));
        }
        let (valid, limited) = self.retry_after_share();
        if valid < limited {
            out.push(format!(
                "{} of {limited} 429 responses lacked a valid Retry-After",
                limited - valid
            ));
        }
        out
    }
}

/// Why a storm could not run (the storm's own findings are not errors).
#[derive(Debug, thiserror::Error)]
pub enum StormError {
    #[error("invalid storm configuration: {0}")]
    Config(String),
    #[error("building an HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error(
        "setting up the storm: {step} failed: {detail} (retrying may help if the server was still starting)"
    )]
    Setup { step: String, detail: String },
    #[error("counting the orders: {0}")]
    Count(String),
}

fn setup_error(step: impl Into<String>, e: impl std::fmt::Display) -> StormError {
    StormError::Setup {
        step: step.into(),
        detail: e.to_string(),
    }
}

/// A customer API key that places orders, and its customer.
struct Principal {
    /// An SDK client per replica.
    sdk: Vec<Client>,
    http: reqwest::Client,
}

/// One logical order: its key and the two bodies it may be sent with.
struct LogicalOrder {
    index: usize,
    principal: usize,
    key: String,
    body: types::OrderCreate,
    mutated: types::OrderCreate,
}

fn http_client(key: &str, timeout: Duration) -> Result<reqwest::Client, StormError> {
    let mut auth = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|e| StormError::Config(format!("an API key is not a header value: {e}")))?;
    auth.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, auth);
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(timeout)
        .build()
        .map_err(StormError::Client)
}

/// The retry policy for setup and counting: patient, since those must
/// succeed for the storm to mean anything.
fn patient() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 30,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(1),
        max_total_delay: Duration::from_secs(60),
    }
}

/// The part of the run shared by every task.
struct Shared {
    config: StormConfig,
    start: Instant,
    deadline: Instant,
    samples: Mutex<Vec<Sample>>,
    next: AtomicUsize,
    unfinished: AtomicUsize,
    hammered: AtomicUsize,
    /// `POST /v1/orders` of each replica.
    orders_urls: Vec<String>,
}

impl Shared {
    /// The replica for the next try counted by `tries`.
    fn replica(&self, tries: &AtomicUsize) -> usize {
        tries.fetch_add(1, Ordering::Relaxed) % self.orders_urls.len()
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        op: Op,
        hammering: bool,
        sent: Instant,
        to: Target,
        status: Option<StatusCode>,
        headers: Option<&HeaderMap>,
    ) -> Outcome {
        let outcome = Outcome::of(status, headers);
        let retry_after_valid = headers
            .and_then(|h| h.get(RETRY_AFTER))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1);
        let ratelimit_headers = headers
            .is_some_and(|h| h.contains_key("ratelimit-policy") && h.contains_key("ratelimit"));
        let now = Instant::now();
        let sample = Sample {
            at: now - self.start,
            latency: now - sent,
            op,
            hammering,
            outcome,
            retry_after_valid,
            ratelimit_headers,
            replica: u8::try_from(to.replica).unwrap_or(u8::MAX),
            key: to.key,
        };
        self.samples.lock().expect("not poisoned").push(sample);
        outcome
    }

    /// Records what the SDK returned.
    fn record_sdk<T>(
        &self,
        op: Op,
        sent: Instant,
        to: Target,
        result: &Result<ResponseValue<T>, Error<Problem>>,
    ) -> Outcome {
        let (status, headers) = match result {
            Ok(rv) => (Some(rv.status()), Some(rv.headers())),
            Err(Error::ErrorResponse(rv)) => (Some(rv.status()), Some(rv.headers())),
            Err(Error::UnexpectedResponse(r)) => (Some(r.status()), Some(r.headers())),
            Err(e) => (e.status(), None),
        };
        self.record(op, false, sent, to, status, headers)
    }

    /// Sends one raw request and records it. The body is read so that the
    /// latency covers the whole response and the connection is reused.
    async fn send_raw(
        &self,
        op: Op,
        hammering: bool,
        to: Target,
        request: reqwest::RequestBuilder,
    ) -> (Outcome, Option<u64>) {
        let sent = Instant::now();
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                let read = response.bytes().await;
                let outcome = match read {
                    Ok(_) => self.record(op, hammering, sent, to, Some(status), Some(&headers)),
                    Err(_) => self.record(op, hammering, sent, to, None, None),
                };
                let hint = RetryAfter::from_headers(&headers)
                    .map(|ra| ra.delay(std::time::SystemTime::now()).as_secs());
                (outcome, hint)
            }
            Err(_) => (self.record(op, hammering, sent, to, None, None), None),
        }
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Where one try went: the replica, and the logical order (for writes).
#[derive(Debug, Clone, Copy)]
struct Target {
    replica: usize,
    key: Option<u32>,
}

/// Runs a storm against the servers at `base_urls` (e.g.
/// `http://127.0.0.1:8080`; several when they are replicas sharing one
/// database), setting up its customers, keys and products with
/// `admin_key` through the first, and counts the orders afterwards
/// through the last.
pub async fn run_storm(
    config: &StormConfig,
    base_urls: &[String],
    admin_key: &str,
) -> Result<StormReport, StormError> {
    if config.keys == 0 || config.clients == 0 || config.principals == 0 || config.copies == 0 {
        return Err(StormError::Config(
            "keys, clients, principals and copies must be at least 1".into(),
        ));
    }
    let bases: Vec<&str> = base_urls.iter().map(|b| b.trim_end_matches('/')).collect();
    let Some(&base_url) = bases.first() else {
        return Err(StormError::Config("at least one base URL is needed".into()));
    };
    if bases.len() > usize::from(u8::MAX) {
        return Err(StormError::Config(format!(
            "at most {} replicas; {} given",
            u8::MAX,
            bases.len()
        )));
    }
    if config.keys.div_ceil(config.principals) > 10_000 {
        // The first line's quantity (1 to 10000) tells a principal's
        // orders apart.
        return Err(StormError::Config(format!(
            "at most 10000 keys per principal; {} keys over {} principals is too many",
            config.keys, config.principals
        )));
    }
    let admin_http = http_client(admin_key, config.request_timeout)?;
    let admin = Client::new_with_client(base_url, admin_http.clone());
    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..8];

    let (product, other_product) = (
        create_product(&admin, &format!("STORM-{run_id}-A")).await?,
        create_product(&admin, &format!("STORM-{run_id}-B")).await?,
    );
    let mut principals = Vec::with_capacity(config.principals);
    for p in 0..config.principals {
        let secret = create_principal(&admin, run_id, p).await?;
        let http = http_client(&secret, config.request_timeout)?;
        principals.push(Principal {
            sdk: bases
                .iter()
                .map(|b| Client::new_with_client(b, http.clone()))
                .collect(),
            http,
        });
    }
    let orders: Vec<LogicalOrder> = (0..config.keys)
        .map(|index| {
            let principal = index % config.principals;
            let quantity = quantity_of(index, config.principals);
            let line = |product_id: &str, quantity: NonZeroU32| types::OrderItemCreate {
                product_id: product_id.to_string(),
                quantity,
            };
            LogicalOrder {
                index,
                principal,
                key: format!("storm-{run_id}-{index:05}"),
                body: types::OrderCreate {
                    customer_id: None,
                    items: vec![line(&product, quantity)],
                },
                mutated: types::OrderCreate {
                    customer_id: None,
                    items: vec![
                        line(&product, quantity),
                        line(&other_product, NonZeroU32::MIN),
                    ],
                },
            }
        })
        .collect();

    let start = Instant::now();
    let shared = Shared {
        config: config.clone(),
        start,
        deadline: start + config.duration,
        samples: Mutex::new(Vec::new()),
        next: AtomicUsize::new(0),
        unfinished: AtomicUsize::new(0),
        hammered: AtomicUsize::new(0),
        orders_urls: bases.iter().map(|b| format!("{b}/v1/orders")).collect(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let writers = join_all((0..config.clients).map(|w| writer(&shared, &principals, &orders, w)));
    let readers = join_all(
        (0..config.readers).map(|r| reader(&shared, &admin_http, r % 2 == 1, stop_rx.clone())),
    );
    let writers = async {
        writers.await;
        // Reads are background noise: they end with the writes.
        let _ = stop_tx.send(true);
    };
    tokio::join!(writers, readers);
    let elapsed = start.elapsed();

    let counting = bases.len() - 1;
    let (orders_per_key, unattributed_orders) = count_orders(config, &principals, counting).await?;
    Ok(StormReport {
        config: config.clone(),
        replicas: bases.len(),
        elapsed,
        samples: shared.samples.into_inner().expect("not poisoned"),
        orders_per_key,
        unattributed_orders,
        unfinished: shared.unfinished.into_inner(),
        hammered_orders: shared.hammered.into_inner(),
        database: None,
    })
}

/// The first line's quantity of logical order `index`: unique within its
/// principal, so the database tells logical orders apart.
fn quantity_of(index: usize, principals: usize) -> NonZeroU32 {
    let q = u32::try_from(index / principals + 1).unwrap_or(u32::MAX);
    NonZeroU32::new(q).unwrap_or(NonZeroU32::MIN)
}

async fn create_product(admin: &Client, sku: &str) -> Result<String, StormError> {
    let body = types::ProductCreate::builder()
        .sku(sku)
        .name("Storm mug")
        .price(types::Money {
            amount_minor: 1250,
            currency: "EUR"
                .parse()
                .map_err(|e| setup_error("the product's currency", e))?,
        });
    let body = types::ProductCreate::try_from(body).map_err(|e| setup_error("a product", e))?;
    send_with_retries(&patient(), None, |_| {
        admin.create_product().body(body.clone()).send()
    })
    .await
    .map(|p| p.into_inner().id)
    .map_err(|e| setup_error(format!("creating product {sku}"), e))
}

/// Creates customer `p` and issues its API key; returns the secret.
async fn create_principal(admin: &Client, run_id: &str, p: usize) -> Result<String, StormError> {
    let body = types::CustomerCreate::builder()
        .name(format!("Storm principal {p}").as_str())
        .email(format!("storm-{run_id}-{p}@example.com").as_str());
    let body = types::CustomerCreate::try_from(body).map_err(|e| setup_error("a customer", e))?;
    let customer = send_with_retries(&patient(), None, |_| {
        admin.create_customer().body(body.clone()).send()
    })
    .await
    .map_err(|e| setup_error(format!("creating customer {p}"), e))?
    .into_inner();
    let key = types::ApiKeyCreate::builder().name("storm");
    let key = types::ApiKeyCreate::try_from(key).map_err(|e| setup_error("an API key", e))?;
    let issued = send_with_retries(&patient(), None, |_| {
        admin
            .create_api_key()
            .customer_id(customer.id.as_str())
            .body(key.clone())
            .send()
    })
    .await
    .map_err(|e| setup_error(format!("issuing the API key of customer {p}"), e))?;
    Ok(issued.into_inner().secret)
}

/// One writer client: takes logical orders until none is left or the
/// deadline passes.
async fn writer(shared: &Shared, principals: &[Principal], orders: &[LogicalOrder], w: usize) {
    let hammer = w.is_multiple_of(2);
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(order) = orders.get(i) else { return };
        // Pacing the arrivals, not waiting for the server.
        let offset = shared
            .config
            .arrival
            .mul_f64(i as f64 / orders.len() as f64);
        tokio::time::sleep_until((shared.start + offset).into()).await;
        if shared.remaining().is_zero() {
            shared.unfinished.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if hammer {
            shared.hammered.fetch_add(1, Ordering::Relaxed);
        }
        let principal = &principals[order.principal];
        // Every try of this order goes to the next replica, starting from
        // one that depends on the order, so the replicas share the load.
        let tries = AtomicUsize::new(order.index);
        let placed = if hammer {
            // Several copies at once: a client that timed out on its own
            // and sent the request again while the first was running.
            let copies = (0..shared.config.copies)
                .map(|_| hammer_send(shared, principal, order, &order.body, &tries));
            let results = join_all(copies).await;
            results.into_iter().any(|o| o.is_some_and(is_placed))
        } else {
            honour_send(shared, principal, order, &order.body, &tries)
                .await
                .is_some_and(is_placed)
        };
        if !placed {
            shared.unfinished.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        // The response was "lost": the client sends the same request again.
        // Then, for some orders, a buggy client reuses the key for another
        // body. Both must leave the order count at one.
        let mutate =
            shared.config.mutate_every > 0 && order.index % shared.config.mutate_every == 0;
        if hammer {
            hammer_send(shared, principal, order, &order.body, &tries).await;
            if mutate {
                hammer_send(shared, principal, order, &order.mutated, &tries).await;
            }
        } else {
            honour_send(shared, principal, order, &order.body, &tries).await;
            if mutate {
                honour_send(shared, principal, order, &order.mutated, &tries).await;
            }
        }
    }
}

fn is_placed(o: Outcome) -> bool {
    matches!(o, Outcome::Created | Outcome::Replayed)
}

/// A client that ignores `Retry-After`: it tries again after a few
/// milliseconds on anything that looks transient, until the deadline.
async fn hammer_send(
    shared: &Shared,
    principal: &Principal,
    order: &LogicalOrder,
    body: &types::OrderCreate,
    tries: &AtomicUsize,
) -> Option<Outcome> {
    let body: Value = json!(body);
    while !shared.remaining().is_zero() {
        let to = Target {
            replica: shared.replica(tries),
            key: u32::try_from(order.index).ok(),
        };
        let request = principal
            .http
            .post(&shared.orders_urls[to.replica])
            .header("Idempotency-Key", &order.key)
            .json(&body);
        let (outcome, _) = shared.send_raw(Op::Write, true, to, request).await;
        if !outcome.hammer_retries() {
            return Some(outcome);
        }
        tokio::time::sleep(shared.config.hammer_pause.min(shared.remaining())).await;
    }
    None
}

/// A client on the SDK's retry layer: honours `Retry-After`, backs off
/// with jitter, stops at the deadline.
async fn honour_send(
    shared: &Shared,
    principal: &Principal,
    order: &LogicalOrder,
    body: &types::OrderCreate,
    tries: &AtomicUsize,
) -> Option<Outcome> {
    let policy = RetryPolicy {
        max_attempts: 50,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(1),
        max_total_delay: shared.remaining(),
    };
    let last = Mutex::new(None);
    let _ = send_with_retries(&policy, Some(order.key.clone()), |k| {
        let to = Target {
            replica: shared.replica(tries),
            key: u32::try_from(order.index).ok(),
        };
        let send = principal.sdk[to.replica]
            .create_order()
            .idempotency_key(k)
            .body(body.clone())
            .send();
        let last = &last;
        async move {
            let sent = Instant::now();
            let result = send.await;
            let outcome = shared.record_sdk(Op::Write, sent, to, &result);
            *last.lock().expect("not poisoned") = Some(outcome);
            result
        }
    })
    .await;
    last.into_inner().expect("not poisoned")
}

/// Lists orders over and over with the admin key until the writers are
/// done. Hammering readers ignore `Retry-After`; the others honour it.
async fn reader(
    shared: &Shared,
    admin: &reqwest::Client,
    honour: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let urls: Vec<String> = shared
        .orders_urls
        .iter()
        .map(|u| format!("{u}?limit=10"))
        .collect();
    let tries = AtomicUsize::new(usize::from(honour));
    while !*stop.borrow() && !shared.remaining().is_zero() {
        let to = Target {
            replica: shared.replica(&tries),
            key: None,
        };
        let request = admin.get(&urls[to.replica]);
        let (outcome, hint) = shared.send_raw(Op::Read, !honour, to, request).await;
        let pause = match hint {
            Some(seconds) if honour && outcome == Outcome::TooManyRequests => {
                Duration::from_secs(seconds)
            }
            _ => shared.config.hammer_pause,
        };
        tokio::select! {
            _ = tokio::time::sleep(pause.min(shared.remaining())) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Counts each logical order's orders through the API, with each
/// principal's own key (which lists only its customer's orders).
async fn count_orders(
    config: &StormConfig,
    principals: &[Principal],
    replica: usize,
) -> Result<(Vec<u32>, u32), StormError> {
    let mut per_key = vec![0u32; config.keys];
    let mut unattributed = 0u32;
    let limit = NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN);
    for (p, principal) in principals.iter().enumerate() {
        let mut cursor: Option<String> = None;
        let mut seen = BTreeSet::new();
        loop {
            let page = send_with_retries(&patient(), None, |_| {
                let mut list = principal.sdk[replica].list_orders().limit(limit);
                if let Some(c) = &cursor {
                    list = list.cursor(c.as_str());
                }
                list.send()
            })
            .await
            .map_err(|e| StormError::Count(format!("listing principal {p}'s orders: {e}")))?
            .into_inner();
            for order in page.data {
                if !seen.insert(order.id.clone()) {
                    return Err(StormError::Count(format!(
                        "order {} was listed twice while paging",
                        order.id
                    )));
                }
                let index = order
                    .items
                    .first()
                    .and_then(|line| usize::try_from(line.quantity).ok())
                    .and_then(|q| q.checked_sub(1))
                    .map(|q| q * config.principals + p);
                match index.and_then(|i| per_key.get_mut(i)) {
                    Some(n) => *n += 1,
                    None => unattributed += 1,
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok((per_key, unattributed))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Op, Outcome, Sample, StormConfig, StormReport, quantity_of};

    fn report(samples: Vec<Sample>, orders_per_key: Vec<u32>) -> StormReport {
        StormReport {
            config: StormConfig::default(),
            replicas: 2,
            elapsed: Duration::from_secs(2),
            samples,
            orders_per_key,
            unattributed_orders: 0,
            unfinished: 0,
            hammered_orders: 0,
            database: None,
        }
    }

    fn sample(outcome: Outcome, ms: u64, retry_after_valid: bool) -> Sample {
        Sample {
            at: Duration::from_millis(ms),
            latency: Duration::from_millis(ms),
            op: Op::Write,
            hammering: false,
            outcome,
            retry_after_valid,
            ratelimit_headers: false,
            replica: 0,
            key: None,
        }
    }

    #[test]
    fn quantities_tell_a_principals_orders_apart() {
        // Index i of principal i % 4 gets quantity i / 4 + 1: distinct
        // within a principal, and invertible as count_orders does.
        for i in 0..40 {
            let q = quantity_of(i, 4).get() as usize;
            assert_eq!((q - 1) * 4 + i % 4, i);
        }
    }

    #[test]
    fn violations_name_each_broken_invariant() {
        let clean = report(
            vec![
                sample(Outcome::Created, 1, false),
                sample(Outcome::TooManyRequests, 2, true),
            ],
            vec![1, 1],
        );
        assert_eq!(clean.violations(), Vec::<String>::new());
        let broken = report(
            vec![
                sample(Outcome::ServerError, 1, false),
                sample(Outcome::TooManyRequests, 2, false),
            ],
            vec![3, 0],
        );
        let v = broken.violations().join("\n");
        for needle in [
            "more than one order (2 extra",
            "no order",
            "5xx",
            "lacked a valid Retry-After",
        ] {
            assert!(v.contains(needle), "{needle:?} in {v}");
        }
    }

    #[test]
    fn replays_are_attributed_to_the_replica_that_answered() {
        let on = |outcome, replica, key| Sample {
            replica,
            key: Some(key),
            ..sample(outcome, 1, false)
        };
        let r = report(
            vec![
                on(Outcome::Created, 0, 7),
                on(Outcome::Replayed, 1, 7),
                on(Outcome::Replayed, 0, 7),
                on(Outcome::Conflict, 1, 8),
                on(Outcome::Created, 1, 8),
                on(Outcome::Replayed, 0, 8),
                // A replay of a key whose 201 was never seen counts in
                // neither figure.
                on(Outcome::Replayed, 1, 9),
            ],
            vec![1, 1],
        );
        assert_eq!(r.cross_replica_replays(), (2, 3));
        assert_eq!(r.per_replica(None, None), vec![3, 4]);
        assert_eq!(
            r.per_replica(Some(Op::Write), Some(Outcome::Replayed)),
            vec![2, 2]
        );
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let r = report(
            (1..=100)
                .map(|ms| sample(Outcome::Created, ms, false))
                .collect(),
            vec![],
        );
        assert_eq!(r.latency(None, 50.0), Duration::from_millis(50));
        assert_eq!(r.latency(None, 99.0), Duration::from_millis(99));
        assert_eq!(r.latency(Some(Op::Read), 99.0), Duration::ZERO);
        assert_eq!(r.throughput(None), 50.0);
    }
}
