//! Starting and stopping the server: configuration, database, dropshot and
//! the front that owns the public listener (`front.rs`).
//!
//! This module knows how the parts are assembled, not what they do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use dropshot::{
    ApiDescription, Body, ConfigDropshot, HttpError, HttpServer, RequestContext, ServerBuilder,
    endpoint,
};
use orderflow_server_api::{EdgeContext, SPEC_YAML, order_flow_api_mod};
use slog::Logger;

use crate::front::{self, Front};
use crate::handlers::{App, AppOptions};
use crate::metrics::{Metrics, Observers};
use crate::ports::{ApiKeys, Quotas, Records, RequestLog, SharedQuotas};
use crate::ratelimit::Limiter;
use crate::store::{Clock, IdSource, KeyStore, RandomIds, Storage, Store, SystemClock};
use orderflow_edge::Ports;

/// Request bodies above this are refused with 413. An order of 100 lines
/// is about 8 KiB; 64 KiB leaves room without inviting abuse.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How long a shutdown waits for requests in flight (`--drain-timeout`).
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);

/// Parses a cursor secret: exactly 64 hex digits (32 bytes).
pub fn parse_secret(hex_text: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(hex_text.trim())
        .map_err(|e| anyhow!("the cursor secret must be 64 hex digits: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        anyhow!(
            "the cursor secret must be 64 hex digits (32 bytes), got {} bytes",
            bytes.len()
        )
    })
}

/// How the server is configured (flags and environment, see `main.rs`).
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: PathBuf,
    pub body_limit: usize,
    /// Database calls allowed in flight on the blocking pool at once.
    pub max_db_in_flight: usize,
    /// The key that signs pagination cursors. `None`: a random one,
    /// generated on first run and kept in the database. Give one (the same
    /// on every replica) when cursors must survive a database move.
    pub cursor_secret: Option<[u8; 32]>,
    /// Rate limiting and idempotency. Off only for the retry-storm
    /// demonstration's "before" run (`--unsafe-disable-guardrails`).
    pub guardrails: bool,
    /// The edge's observers (metrics and the per-request log line). Off
    /// only to measure what they cost (the HTTP benchmark runs a second
    /// server without them).
    pub observe: bool,
    /// The store's performance settings; only the HTTP benchmark changes
    /// them (to measure what each is worth).
    pub store_tuning: crate::store::Tuning,
    /// Browser origins allowed to call the API (CORS), already checked by
    /// [`front::Cors::parse_origin`]. Empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    /// The internal pricing service that order creation calls over gRPC.
    pub pricing: crate::pricing::PricingSettings,
    /// The webhook worker's retries (`None`: no worker runs in this process;
    /// events wait in the outbox for one that does).
    pub webhooks: Option<crate::webhooks::WebhookSettings>,
    /// Whether an endpoint may be registered at an internal address (the
    /// worker's own setting is in `webhooks`).
    pub webhook_allow_private: bool,
    /// A PostgreSQL URL: the data, Idempotency-Keys and rate limits live
    /// there, shared by every replica on it (`database` is then unused).
    /// `None`: the embedded SQLite file.
    pub postgres: Option<String>,
    /// Whether the shared limiter reads the database's clock (one clock for
    /// every replica, the default) or the injected one (tests that move
    /// time by hand).
    pub limiter_on_db_clock: bool,
    /// How often the shared limiter forgets callers back at a full quota
    /// (one row per key or anonymous client in `rate_limits`; pruning
    /// changes no decision, so any replica may do it).
    pub rate_limit_prune_every: Duration,
}

impl Config {
    pub fn new(listen: SocketAddr, database: PathBuf) -> Config {
        Config {
            listen,
            database,
            body_limit: DEFAULT_BODY_LIMIT,
            max_db_in_flight: 64,
            cursor_secret: None,
            guardrails: true,
            observe: true,
            store_tuning: crate::store::Tuning::default(),
            cors_origins: Vec::new(),
            pricing: crate::pricing::PricingSettings::default(),
            webhooks: Some(crate::webhooks::WebhookSettings::default()),
            webhook_allow_private: false,
            postgres: None,
            limiter_on_db_clock: true,
            rate_limit_prune_every: Duration::from_secs(60),
        }
    }
}

/// A running server: the front on the public address, dropshot behind it
/// on an ephemeral loopback port.
pub struct Running {
    front: Front,
    dropshot: HttpServer<EdgeContext>,
    pub app: Arc<App>,
    /// The admin key created on first run (empty database), shown once.
    pub bootstrap_admin_key: Option<String>,
    purger: tokio::task::JoinHandle<()>,
    /// Prunes the shared limiter's rows, on PostgreSQL with the guardrails.
    limit_pruner: Option<tokio::task::JoinHandle<()>>,
    /// Samples the metrics once a second for the dashboard's history.
    sampler: tokio::task::JoinHandle<()>,
    /// The in-process pricing service (when no `--pricing-url` is given).
    pricing: Option<orderflow_pricing::PricingServer>,
    /// Delivers order events to webhook endpoints.
    webhooks: Option<crate::webhooks::Worker>,
}

impl Running {
    /// The public address (the front's).
    pub fn local_addr(&self) -> SocketAddr {
        self.front.local_addr()
    }

    /// dropshot's own loopback address, behind the front. Only for
    /// measuring what the front costs (the HTTP benchmark): a request sent
    /// here gets dropshot's routing errors and request id, not the
    /// contract's.
    pub fn dropshot_addr(&self) -> SocketAddr {
        self.dropshot.local_addr()
    }

    /// [`Running::stop_within`] the default drain time.
    pub async fn stop(self) -> Result<()> {
        self.stop_within(DEFAULT_DRAIN).await.map(|_| ())
    }

    /// Stops accepting, lets in-flight requests finish for at most
    /// `drain`, then closes whatever is still open, and returns. The front
    /// goes first, so nothing new reaches dropshot; dropshot's close then
    /// waits for detached handlers (bounded by `drain` too: a handler cannot
    /// hold the process). `Ok(true)` when everything finished in time.
    pub async fn stop_within(self, drain: Duration) -> Result<bool> {
        self.purger.abort();
        if let Some(pruner) = &self.limit_pruner {
            pruner.abort();
        }
        self.sampler.abort();
        let started = std::time::Instant::now();
        let front = self.front.stop(drain).await;
        let left = drain
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(100));
        let dropshot = match tokio::time::timeout(left, self.dropshot.close()).await {
            Ok(closed) => closed
                .map(|()| true)
                .map_err(|e| anyhow!("shutting down: {e}")),
            // Handlers still running are abandoned with the process: their
            // transactions roll back (SQLite), their claims die with the boot.
            Err(_) => Ok(false),
        };
        if let Some(p) = self.pricing {
            p.stop().await;
        }
        // The worker drains within what is left; a delivery cut short stays
        // pending and is sent again by the next start.
        if let Some(w) = self.webhooks {
            let left = drain
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(100));
            w.stop(left).await;
        }
        Ok(front? && dropshot?)
    }
}

/// Serves the source spec itself. Not part of the contract (it *is* the
/// contract), so it is unpublished.
#[endpoint { method = GET, path = "/openapi.yaml", unpublished = true }]
async fn openapi_yaml(
    _rqctx: RequestContext<EdgeContext>,
) -> Result<http::Response<Body>, HttpError> {
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/yaml")
        .body(Body::from(SPEC_YAML))
        .map_err(|e| HttpError::for_internal_error(e.to_string()))
}

/// The API description: every generated endpoint plus `/openapi.yaml`.
pub fn api_description() -> Result<ApiDescription<EdgeContext>> {
    let mut api = order_flow_api_mod::api_description::<orderflow_server_api::OrderFlowEdge>()
        .map_err(|e| anyhow!("building the API description: {e}"))?;
    api.register(openapi_yaml)
        .map_err(|e| anyhow!("registering /openapi.yaml: {e}"))?;
    Ok(api)
}

/// Deletes Idempotency-Key records past their retention: at start, then
/// every ten minutes.
async fn purge_idempotency_keys(app: Arc<App>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        let store = app.store.clone();
        match tokio::task::spawn_blocking(move || store.purge_idempotency()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => slog::info!(app.log, "purged expired idempotency keys"; "count" => n),
            Ok(Err(e)) => {
                slog::warn!(app.log, "purging idempotency keys failed"; "cause" => e.to_string())
            }
            Err(e) => slog::warn!(app.log, "purge task failed"; "cause" => e.to_string()),
        }
    }
}

/// Forgets the shared limiter's callers whose quota is full again, every
/// `every`: without it `rate_limits` keeps a row per key and per anonymous
/// client address ever seen. A failure is logged and tried again next time
/// (nothing depends on a prune).
async fn prune_rate_limits(limiter: crate::pg::ratelimit::PgLimiter, every: Duration, log: Logger) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        match limiter.prune().await {
            Ok(0) => {}
            Ok(n) => slog::debug!(log, "pruned rate-limit rows at a full quota"; "count" => n),
            Err(e) => slog::warn!(log, "pruning rate-limit rows failed"; "cause" => e.to_string()),
        }
    }
}

/// Creates an admin API key on an existing database and returns its
/// secret: the way back in for an operator with access to the file when
/// no admin key is known (the first one was lost, or every one revoked).
/// Refuses to create a database: a typo in the path must not make a new,
/// empty one.
pub fn create_admin_key(database: &std::path::Path, name: &str) -> Result<String> {
    if !database.is_file() {
        return Err(anyhow!(
            "no database at {}: give the --database of the server (an existing file)",
            database.display()
        ));
    }
    let store = Store::open(database, Arc::new(SystemClock), Arc::new(RandomIds))
        .with_context(|| format!("opening the database {}", database.display()))?;
    let (key, secret) = store
        .create_key(
            &crate::store::Actor::operator("admin create-key"),
            crate::store::Role::Admin,
            None,
            name,
        )
        .map_err(|e| anyhow!("creating the key: {e}"))?;
    let _ = key;
    Ok(secret)
}

/// Takes the port, opens the database, bootstraps the first admin key, and
/// starts serving.
pub async fn start(config: Config, log: Logger) -> Result<Running> {
    start_with(config, log, Arc::new(SystemClock), Arc::new(RandomIds)).await
}

/// [`start`] with an injected clock and id source (tests).
pub async fn start_with(
    config: Config,
    log: Logger,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
) -> Result<Running> {
    // The port first: if it is taken, nothing else has happened yet (in
    // particular no admin key was created that nobody will see).
    let listener = Front::bind(config.listen).await?;
    let clock_for_app = clock.clone();
    let (store, bootstrap, shared): (Arc<dyn Storage>, _, _) = match &config.postgres {
        None => {
            let path = config.database.clone();
            let tuning = config.store_tuning;
            let (store, key) = tokio::task::spawn_blocking(move || -> Result<_> {
                let store = Store::open_tuned(&path, clock, ids, tuning)
                    .with_context(|| format!("opening the database {}", path.display()))?;
                let key = store
                    .bootstrap_admin_key()
                    .context("creating the first admin key")?;
                Ok((store, key))
            })
            .await
            .context("database start-up task")??;
            (Arc::new(store), key, None)
        }
        Some(url) => {
            let shown = crate::pg::redacted(url);
            let pg = crate::pg::Pg::connect(url, crate::pg::DEFAULT_POOL_SIZE)
                .map_err(|e| anyhow!("{e}"))?;
            let store = crate::pg::store::PgStore::open(
                pg.clone(),
                tokio::runtime::Handle::current(),
                clock,
                ids,
            )
            .await
            .map_err(|e| anyhow!("opening the PostgreSQL database {shown}: {e}"))?;
            let store = Arc::new(store);
            let for_key = store.clone();
            let key = tokio::task::spawn_blocking(move || for_key.bootstrap_admin_key())
                .await
                .context("database start-up task")?
                .context("creating the first admin key")?;
            (store, key, Some(pg))
        }
    };
    let metrics = Arc::new(Metrics::new());
    // The single-binary default serves pricing in-process on a loopback
    // port, so that order creation takes the same gRPC path (deadline,
    // breaker) as with a separate pricing process.
    let (pricing_url, pricing_server) = match &config.pricing.url {
        Some(url) => (Some(url.clone()), None),
        // The in-process pricing service reads the SQLite catalog; on
        // PostgreSQL without --pricing-url the store prices from its own
        // rows, in the order's transaction.
        None if config.postgres.is_some() => (None, None),
        None => {
            let catalog = orderflow_pricing::SqliteCatalog::open(&config.database, 4)
                .context("opening the catalog for the in-process pricing service")?;
            let server = orderflow_pricing::PricingServer::start(
                Arc::new(catalog),
                orderflow_pricing::ServeOptions {
                    grpc: SocketAddr::from(([127, 0, 0, 1], 0)),
                    rest: None,
                },
            )
            .await?;
            (Some(format!("http://{}", server.grpc_addr())), Some(server))
        }
    };
    let pricing_client = match pricing_url {
        Some(url) => Some(crate::pricing::client(
            &url,
            &config.pricing,
            metrics.pricing.clone(),
            log.new(slog::o!("part" => "pricing")),
        )?),
        None => None,
    };
    let webhooks = match &config.webhooks {
        Some(settings) => Some(crate::webhooks::Worker::start(
            store.clone(),
            settings.clone(),
            metrics.clone(),
            log.new(slog::o!("part" => "webhooks")),
        )?),
        None => None,
    };
    // Read (or made) off the executor: on PostgreSQL it is a round trip.
    let cursor_secret = match config.cursor_secret {
        Some(secret) => secret,
        None => {
            let for_secret = store.clone();
            tokio::task::spawn_blocking(move || for_secret.cursor_secret())
                .await
                .context("database start-up task")?
                .context("reading the cursor secret")?
        }
    };
    let app = Arc::new(
        App::new(
            store,
            log.clone(),
            AppOptions {
                max_db_in_flight: config.max_db_in_flight,
                cursor_secret: Some(cursor_secret),
                metrics: metrics.clone(),
                pricing: pricing_client,
                webhooks: webhooks.as_ref().map(|w| w.notify.clone()),
                webhook_allow_private: config.webhook_allow_private,
            },
        )
        .context("reading the cursor secret")?,
    );
    let shared_limiter = match shared {
        Some(pg) if config.guardrails => Some(if config.limiter_on_db_clock {
            crate::pg::ratelimit::PgLimiter::new(pg)
        } else {
            crate::pg::ratelimit::PgLimiter::with_clock(pg, clock_for_app.clone())
        }),
        _ => None,
    };
    let context = EdgeContext {
        handlers: app.clone(),
        ports: Ports {
            authenticator: Arc::new(ApiKeys { app: app.clone() }),
            clock: Arc::new(crate::ports::EdgeClock(clock_for_app.clone())),
            rate_limiter: match &shared_limiter {
                // One quota per key across replicas, on the database's
                // clock; fails closed (see ports::SharedQuotas).
                Some(limiter) => Arc::new(SharedQuotas {
                    limiter: limiter.clone(),
                    log: log.clone(),
                }),
                _ => Arc::new(Quotas {
                    limiter: Limiter::new(clock_for_app),
                    enforce: config.guardrails,
                }),
            },
            idempotency: Arc::new(Records {
                app: app.clone(),
                enforce: config.guardrails,
            }),
            observer: if config.observe {
                Arc::new(Observers(vec![
                    Arc::new(RequestLog { log: log.clone() }),
                    metrics.clone(),
                ]))
            } else {
                Arc::new(orderflow_edge::ports::Silent)
            },
        },
    };
    // dropshot listens on loopback only, reached through the front. Its own
    // access log would carry its internal request ids, so it logs warnings
    // only; the front logs every request with the id the client sees.
    let token = front::new_token();
    let internal = ConfigDropshot {
        bind_address: SocketAddr::from(([127, 0, 0, 1], 0)),
        default_request_body_max_bytes: config.body_limit,
        ..Default::default()
    };
    let quiet = Logger::root(
        slog::Drain::ignore_res(slog::LevelFilter::new(log.clone(), slog::Level::Warning)),
        slog::o!("part" => "dropshot"),
    );
    let wrapped = front::wrap_endpoints(api_description()?, token.clone(), log.clone())?;
    let dropshot = ServerBuilder::new(wrapped, context, quiet)
        .config(internal)
        .start()
        .map_err(|e| anyhow!("starting the internal HTTP server: {e}"))?;
    let router = api_description()?.into_router();
    let lookup: front::Lookup = Arc::new(move |method, path| {
        // dropshot's router skips empty segments, so it would answer
        // "/v1/orders/" as the list and "/v1/orders//x" as order "x". Each
        // path names one resource (RFC 3986 §3.3), and the spec has none
        // with an empty segment, so those match no operation.
        if path.len() > 1 && (path.ends_with('/') || path.contains("//")) {
            return Err(dropshot::HttpError::for_not_found(
                None,
                format!("no route: {path} has an empty segment"),
            ));
        }
        router
            .lookup_route(method, path.into(), None)
            .map(|found| found.endpoint.operation_id.clone())
    });
    let cors = front::Cors {
        origins: config.cors_origins.iter().cloned().collect(),
        headers: front::Cors::headers_of(orderflow_server_api::ops::ALL),
    };
    let front = match Front::start(
        listener,
        dropshot.local_addr(),
        lookup,
        cors,
        metrics.clone(),
        token,
        log.clone(),
    )
    .await
    {
        Ok(f) => f,
        Err(e) => {
            let _ = dropshot.close().await;
            return Err(e.context(format!("starting the HTTP server on {}", config.listen)));
        }
    };
    let sampler_metrics = metrics.clone();
    let sampler = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            sampler_metrics.sample();
        }
    });
    let purger = tokio::spawn(purge_idempotency_keys(app.clone()));
    let limit_pruner = shared_limiter.map(|limiter| {
        tokio::spawn(prune_rate_limits(
            limiter,
            config.rate_limit_prune_every,
            log.clone(),
        ))
    });
    Ok(Running {
        front,
        dropshot,
        app,
        bootstrap_admin_key: bootstrap,
        purger,
        limit_pruner,
        sampler,
        pricing: pricing_server,
        webhooks,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_secret;

    #[test]
    fn cursor_secrets_are_64_hex_digits() {
        let ok = "00".repeat(31) + "ff";
        assert_eq!(parse_secret(&ok).expect("valid")[31], 0xff);
        for bad in ["", "zz", &"00".repeat(31), &"00".repeat(33)] {
            let e = parse_secret(bad).expect_err(bad).to_string();
            assert!(e.contains("64 hex digits"), "{bad:?}: {e}");
        }
    }
}
