//! `orderflow-server`: serve the OrderFlow API on embedded SQLite.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Parser;
use dropshot::{ConfigLogging, ConfigLoggingLevel};
use orderflow_server::run::{self, Config};

#[derive(Parser, Debug)]
#[command(
    name = "orderflow-server",
    version,
    about = "The OrderFlow orders API on embedded SQLite"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "ORDERFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// SQLite database file; created (with its schema) when missing.
    #[arg(long, env = "ORDERFLOW_DATABASE", default_value = "orderflow.db")]
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
    /// Log level: trace, debug, info, warn, error, critical.
    #[arg(long, env = "ORDERFLOW_LOG_LEVEL", default_value = "info")]
    log_level: String,
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
        Err(e) => {
            eprintln!("orderflow-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn real_main() -> Result<()> {
    let args = Args::parse();
    let log = ConfigLogging::StderrTerminal {
        level: level(&args.log_level)?,
    }
    .to_logger("orderflow")
    .map_err(|e| anyhow!("setting up logging: {e}"))?;
    let mut config = Config::new(args.listen, args.database);
    config.body_limit = args.body_limit;
    config.guardrails = !args.unsafe_disable_guardrails;
    if !config.guardrails {
        eprintln!(
            "WARNING: --unsafe-disable-guardrails: rate limiting and idempotency are OFF (demonstration only)"
        );
    }
    config.cursor_secret = args
        .cursor_secret
        .as_deref()
        .map(run::parse_secret)
        .transpose()?;
    let running = run::start(config, log.clone()).await?;
    if let Some(key) = &running.bootstrap_admin_key {
        println!("Created the first admin API key. It is shown only this once; store it safely:");
        println!();
        println!("    {key}");
        println!();
    }
    println!("OrderFlow listening on http://{}", running.local_addr());
    shutdown_signal().await;
    slog::info!(log, "shutting down: draining in-flight requests");
    running.stop().await
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
