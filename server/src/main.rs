//! `orderflow-server`: serve the OrderFlow API on embedded SQLite.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::{Parser, Subcommand};
use dropshot::{ConfigLogging, ConfigLoggingLevel};
use orderflow_server::run::{self, Config};

/// mimalloc instead of glibc's malloc: allocation was a sixth of the
/// server's CPU in profiles of the read path (ARCHITECTURE.md has the
/// measurement).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "orderflow-server",
    version,
    about = "The OrderFlow orders API on embedded SQLite",
    after_help = "Exit status: 0 after a clean shutdown (or a completed admin command); \
                  2 for a usage error (a flag or environment variable with a bad value; \
                  the message names it); 1 for a failure at run time (the port is taken, \
                  the database cannot be opened)."
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "ORDERFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// SQLite database file, created (with its schema) when missing; or a
    /// PostgreSQL URL (postgres://user[:password]@host[:port]/database)
    /// whose database several replicas share.
    #[arg(
        long,
        env = "ORDERFLOW_DATABASE",
        default_value = "orderflow.db",
        global = true
    )]
    database: PathBuf,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "ORDERFLOW_BODY_LIMIT", default_value_t = run::DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// 64 hex digits signing pagination cursors. Default: a random secret
    /// generated on first run and kept in the database.
    #[arg(long, env = "ORDERFLOW_CURSOR_SECRET", hide_env_values = true)]
    cursor_secret: Option<String>,
    /// Switch off rate limiting and idempotency. Only for the retry-storm
    /// demonstration's "before" run: never in production.
    #[arg(long)]
    unsafe_disable_guardrails: bool,
    /// On SIGTERM or Ctrl-C: how long requests in flight may take to
    /// finish before the connections still open are closed, in seconds
    /// ("10" or "10s").
    #[arg(long, env = "ORDERFLOW_DRAIN_TIMEOUT", default_value = "10s", value_parser = parse_seconds)]
    drain_timeout: std::time::Duration,
    /// A browser origin allowed to call the API (CORS), e.g.
    /// https://shop.example; repeat the flag for several (the environment
    /// variable takes a comma-separated list). None by default; never '*'.
    #[arg(
        long = "cors-origin",
        env = "ORDERFLOW_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// Log format: text (for a terminal) or json (one JSON object per line,
    /// for a log pipeline). One logger serves the whole process, dropshot's
    /// own lines included.
    #[arg(long, env = "ORDERFLOW_LOG_FORMAT", default_value = "text")]
    log_format: String,
    /// Run as if the clock read this instant at start (RFC 3339, e.g.
    /// 2027-07-01T00:00:00Z); time moves on from there. For rehearsing a
    /// sunset in staging: deprecated operations answer 410 from their
    /// sunset on. Every timestamp written is shifted too: never in
    /// production.
    #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
    rehearse_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Log level: trace, debug, info, warn, error, critical.
    #[arg(long, env = "ORDERFLOW_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// The internal pricing service (gRPC) that prices orders, e.g.
    /// http://127.0.0.1:50051 (see `pricing serve`). Default: served
    /// in-process on a loopback port.
    #[arg(long, env = "ORDERFLOW_PRICING_URL")]
    pricing_url: Option<String>,
    /// Deadline of one pricing call, in milliseconds.
    #[arg(long, env = "ORDERFLOW_PRICING_DEADLINE_MS", default_value_t = 500)]
    pricing_deadline_ms: u64,
    /// Consecutive pricing failures that open the circuit breaker.
    #[arg(long, env = "ORDERFLOW_PRICING_FAILURE_THRESHOLD", default_value_t = 5)]
    pricing_failure_threshold: u32,
    /// How long an open breaker refuses calls before a trial ("5" or "5s").
    #[arg(long, env = "ORDERFLOW_PRICING_COOL_DOWN", default_value = "5s", value_parser = parse_seconds)]
    pricing_cool_down: std::time::Duration,
    /// Attempts per webhook delivery (the first included) before it is
    /// dead.
    #[arg(long, env = "ORDERFLOW_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    webhook_max_attempts: u32,
    /// The wait after a webhook delivery's first failed attempt, in
    /// milliseconds; it doubles with every attempt (with jitter), up to an
    /// hour.
    #[arg(long, env = "ORDERFLOW_WEBHOOK_BACKOFF_MS", default_value_t = 1000)]
    webhook_backoff_ms: u64,
    /// How long one webhook attempt may take ("10" or "10s").
    #[arg(long, env = "ORDERFLOW_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_seconds)]
    webhook_timeout: std::time::Duration,
    /// Let webhook endpoints be loopback, private or link-local addresses
    /// (and names that resolve to them). Off by default, so that an admin
    /// key cannot make the server call its own network; for development and
    /// tests with a local receiver.
    #[arg(long, env = "ORDERFLOW_WEBHOOK_ALLOW_PRIVATE_ADDRESSES")]
    webhook_allow_private_addresses: bool,
    /// Do not run the webhook worker in this process (events wait in the
    /// outbox for a process that runs it).
    #[arg(long)]
    no_webhook_worker: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Operator commands on the database file (the server need not run).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// The internal pricing service as its own process.
    Pricing {
        #[command(subcommand)]
        action: PricingAction,
    },
}

#[derive(Subcommand, Debug)]
enum PricingAction {
    /// Serve the internal pricing service (gRPC, and optionally its REST
    /// twin) over the catalog of --database, read-only, until SIGTERM.
    Serve {
        /// gRPC address.
        #[arg(
            long,
            env = "ORDERFLOW_PRICING_LISTEN",
            default_value = "127.0.0.1:50051"
        )]
        listen: SocketAddr,
        /// Address of the internal REST twin (POST /internal/quote,
        /// HTTP/1.1 and h2c); not served when absent.
        #[arg(long, env = "ORDERFLOW_PRICING_REST_LISTEN")]
        rest_listen: Option<SocketAddr>,
    },
}

#[derive(Subcommand, Debug)]
enum AdminAction {
    /// Create an admin API key on an existing database and print it once:
    /// the way back in when no admin key is known.
    CreateKey {
        /// A name for the key, to recognise it in listings.
        #[arg(long, default_value = "operator")]
        name: String,
    },
}

/// Why the process stops: the exit status tells a usage error (2) from a
/// failure at run time (1).
enum Failure {
    Usage(anyhow::Error),
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

/// Whole seconds, with or without an `s`: "10", "10s".
fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 instant like 2027-07-01T00:00:00Z: {e}"))
}

fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let digits = s.trim().strip_suffix('s').unwrap_or(s.trim());
    digits
        .parse::<u64>()
        .map(std::time::Duration::from_secs)
        .map_err(|_| format!("expected whole seconds such as 10 or 10s, got {s:?}"))
}

/// The slog level of an already checked `--log-level`.
fn slog_level(s: &str) -> slog::Level {
    match s {
        "trace" => slog::Level::Trace,
        "debug" => slog::Level::Debug,
        "warn" => slog::Level::Warning,
        "error" => slog::Level::Error,
        "critical" => slog::Level::Critical,
        _ => slog::Level::Info,
    }
}

fn level(s: &str) -> Result<ConfigLoggingLevel> {
    Ok(match s {
        "trace" => ConfigLoggingLevel::Trace,
        "debug" => ConfigLoggingLevel::Debug,
        "info" => ConfigLoggingLevel::Info,
        "warn" => ConfigLoggingLevel::Warn,
        "error" => ConfigLoggingLevel::Error,
        "critical" => ConfigLoggingLevel::Critical,
        other => {
            return Err(anyhow!(
                "unknown log level {other:?}; use trace, debug, info, warn, error or critical"
            ));
        }
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match real_main().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("orderflow-server: {e:#}");
            eprintln!("Run 'orderflow-server --help' for the settings and what they accept.");
            std::process::ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("orderflow-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Checks every setting before anything starts, so that a mistake is one
/// message naming the setting, the value and what is expected.
fn config_from(args: &Args) -> Result<(Config, ConfigLoggingLevel), Failure> {
    let log_level = level(&args.log_level)
        .map_err(|e| Failure::Usage(e.context("--log-level (ORDERFLOW_LOG_LEVEL)")))?;
    let mut config = Config::new(args.listen, args.database.clone());
    if args.body_limit == 0 {
        return Err(Failure::Usage(anyhow!(
            "--body-limit (ORDERFLOW_BODY_LIMIT): 0 would refuse every body; give a size in bytes, e.g. {}",
            run::DEFAULT_BODY_LIMIT
        )));
    }
    config.body_limit = args.body_limit;
    config.guardrails = !args.unsafe_disable_guardrails;
    if args.pricing_deadline_ms == 0 {
        return Err(Failure::Usage(anyhow!(
            "--pricing-deadline-ms (ORDERFLOW_PRICING_DEADLINE_MS): 0 would fail every call; give milliseconds, e.g. 500"
        )));
    }
    if args.pricing_failure_threshold == 0 {
        return Err(Failure::Usage(anyhow!(
            "--pricing-failure-threshold (ORDERFLOW_PRICING_FAILURE_THRESHOLD): give at least 1"
        )));
    }
    config.pricing = orderflow_server::pricing::PricingSettings {
        url: args.pricing_url.clone(),
        deadline: std::time::Duration::from_millis(args.pricing_deadline_ms),
        breaker: orderflow_pricing::BreakerConfig {
            failure_threshold: args.pricing_failure_threshold,
            cool_down: args.pricing_cool_down,
        },
    };
    if args.webhook_max_attempts == 0 {
        return Err(Failure::Usage(anyhow!(
            "--webhook-max-attempts (ORDERFLOW_WEBHOOK_MAX_ATTEMPTS): give at least 1"
        )));
    }
    if args.webhook_backoff_ms == 0 || args.webhook_backoff_ms > 3_600_000 {
        return Err(Failure::Usage(anyhow!(
            "--webhook-backoff-ms (ORDERFLOW_WEBHOOK_BACKOFF_MS): give 1 to 3600000 milliseconds, got {}",
            args.webhook_backoff_ms
        )));
    }
    if args.webhook_timeout.is_zero() {
        return Err(Failure::Usage(anyhow!(
            "--webhook-timeout (ORDERFLOW_WEBHOOK_TIMEOUT): give at least 1 second"
        )));
    }
    config.webhooks =
        (!args.no_webhook_worker).then(|| orderflow_server::webhooks::WebhookSettings {
            max_attempts: args.webhook_max_attempts,
            backoff_base: std::time::Duration::from_millis(args.webhook_backoff_ms),
            timeout: args.webhook_timeout,
            allow_private: args.webhook_allow_private_addresses,
            ..orderflow_server::webhooks::WebhookSettings::default()
        });
    config.webhook_allow_private = args.webhook_allow_private_addresses;
    config.cursor_secret = args
        .cursor_secret
        .as_deref()
        .map(run::parse_secret)
        .transpose()
        .map_err(|e| Failure::Usage(e.context("--cursor-secret (ORDERFLOW_CURSOR_SECRET)")))?;
    let text = args.database.to_string_lossy();
    if orderflow_server::pg::is_url(&text) {
        // Parsed now, so a malformed URL is a usage error naming the
        // setting (the password redacted); reaching the server is checked
        // at start, a runtime failure.
        orderflow_server::pg::Pg::connect(&text, 1)
            .map_err(|e| Failure::Usage(anyhow!("--database (ORDERFLOW_DATABASE): {e}")))?;
        config.postgres = Some(text.into_owned());
    } else {
        check_database_path(&args.database).map_err(Failure::Usage)?;
    }
    for raw in &args.cors_origins {
        let origin = orderflow_server::front::Cors::parse_origin(raw)
            .map_err(|e| Failure::Usage(e.context("--cors-origin (ORDERFLOW_CORS_ORIGINS)")))?;
        config.cors_origins.push(origin);
    }
    Ok((config, log_level))
}

/// The database's directory must exist and be writable (SQLite creates
/// the file and its WAL beside it); an existing database must be a file.
fn check_database_path(path: &std::path::Path) -> Result<()> {
    let setting = "--database (ORDERFLOW_DATABASE)";
    if path.is_dir() {
        return Err(anyhow!(
            "{setting}: {} is a directory; give a file path such as {}/orderflow.db",
            path.display(),
            path.display()
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let meta = std::fs::metadata(&dir).map_err(|e| {
        anyhow!(
            "{setting}: the directory {} of {} cannot be used: {e}",
            dir.display(),
            path.display()
        )
    })?;
    if !meta.is_dir() {
        return Err(anyhow!("{setting}: {} is not a directory", dir.display()));
    }
    // Creating and removing a probe file is the only honest test of
    // writability (permissions, read-only mounts, ACLs alike).
    let probe = dir.join(format!(".orderflow-write-probe-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(anyhow!(
            "{setting}: cannot write in {} ({e}); the database and its journal live there, so it must be writable",
            dir.display()
        )),
    }
}

async fn real_main() -> Result<(), Failure> {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // --help and --version are not errors; clap exits 2 on usage
            // errors itself, with its own message.
            e.exit()
        }
    };
    if let Some(Command::Admin {
        action: AdminAction::CreateKey { name },
    }) = &args.command
    {
        let text = args.database.to_string_lossy();
        if orderflow_server::pg::is_url(&text) {
            return Err(Failure::Usage(anyhow!(
                "--database (ORDERFLOW_DATABASE): {} is a PostgreSQL URL; admin create-key works on a SQLite file (on PostgreSQL, a server's first start prints the first admin key)",
                orderflow_server::pg::redacted(&text)
            )));
        }
        if !args.database.is_file() {
            return Err(Failure::Usage(anyhow!(
                "--database (ORDERFLOW_DATABASE): no database at {}; admin commands work on the file of an existing installation",
                args.database.display()
            )));
        }
        let secret = run::create_admin_key(&args.database, name)?;
        println!("Created an admin API key. It is shown only this once; store it safely:");
        println!();
        println!("    {secret}");
        println!();
        return Ok(());
    }
    if let Some(Command::Pricing {
        action: PricingAction::Serve {
            listen,
            rest_listen,
        },
    }) = &args.command
    {
        return serve_pricing(&args.database, *listen, *rest_listen).await;
    }
    let (config, log_level) = config_from(&args)?;
    let log = match args.log_format.as_str() {
        "text" => ConfigLogging::StderrTerminal { level: log_level }
            .to_logger("orderflow")
            .map_err(|e| anyhow!("setting up logging: {e}"))?,
        "json" => orderflow_server::logging::json(std::io::stderr(), slog_level(&args.log_level)),
        other => {
            return Err(Failure::Usage(anyhow!(
                "--log-format (ORDERFLOW_LOG_FORMAT): unknown format {other:?}; use text or json"
            )));
        }
    };
    if !config.guardrails {
        eprintln!(
            "WARNING: --unsafe-disable-guardrails: rate limiting and idempotency are OFF (demonstration only)"
        );
    }
    let running = match args.rehearse_at {
        None => run::start(config, log.clone()).await?,
        Some(at) => {
            eprintln!(
                "WARNING: --rehearse-at {at}: the clock is shifted; every timestamp written is too (rehearsal only)"
            );
            run::start_with(
                config,
                log.clone(),
                std::sync::Arc::new(orderflow_server::store::OffsetClock::starting_at(at)),
                std::sync::Arc::new(orderflow_server::store::RandomIds),
            )
            .await?
        }
    };
    if let Some(key) = &running.bootstrap_admin_key {
        println!("Created the first admin API key. It is shown only this once; store it safely:");
        println!();
        println!("    {key}");
        println!();
    }
    println!("OrderFlow listening on http://{}", running.local_addr());
    shutdown_signal().await;
    slog::info!(log, "shutting down: draining in-flight requests";
        "drain_timeout_s" => args.drain_timeout.as_secs());
    if !running.stop_within(args.drain_timeout).await? {
        slog::warn!(
            log,
            "the drain time ran out: connections still open were closed"
        );
    }
    Ok(())
}

/// `orderflow-server pricing serve`: the pricing service alone, so that it
/// can fail (and be restarted) on its own.
async fn serve_pricing(
    database: &std::path::Path,
    listen: SocketAddr,
    rest: Option<SocketAddr>,
) -> Result<(), Failure> {
    let text = database.to_string_lossy();
    if orderflow_server::pg::is_url(&text) {
        return Err(Failure::Usage(anyhow!(
            "--database (ORDERFLOW_DATABASE): {} is a PostgreSQL URL; the pricing service reads the catalog of a SQLite file (servers on PostgreSQL price orders from their own catalog rows)",
            orderflow_server::pg::redacted(&text)
        )));
    }
    if !database.is_file() {
        return Err(Failure::Usage(anyhow!(
            "--database (ORDERFLOW_DATABASE): no database at {}; the pricing service reads the catalog of an existing one",
            database.display()
        )));
    }
    let catalog = orderflow_pricing::SqliteCatalog::open(database, 4)
        .map_err(|e| anyhow!("opening the catalog: {e}"))?;
    let server = orderflow_pricing::PricingServer::start(
        std::sync::Arc::new(catalog),
        orderflow_pricing::ServeOptions { grpc: listen, rest },
    )
    .await?;
    println!(
        "OrderFlow pricing (gRPC) listening on http://{}",
        server.grpc_addr()
    );
    if let Some(a) = server.rest_addr() {
        println!("OrderFlow pricing (internal REST) listening on http://{a}/internal/quote");
    }
    shutdown_signal().await;
    server.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
