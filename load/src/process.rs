//! Starting the real `orderflow-server` binary for a storm.
//!
//! The server gets a fresh SQLite database in a temporary directory, or
//! the PostgreSQL database it is given (replicas share one), and
//! `--listen 127.0.0.1:0`, so two runs never share state or race for a
//! port: the address is read back from the line the server prints
//! (`OrderFlow listening on http://ADDR`), and the admin key from the
//! bootstrap line (`of_sk_` and 32 hex digits), which only the first server on a fresh
//! database prints. Readiness is `/healthz`
//! answering 200, polled until a deadline. This module builds nothing: it
//! runs the binary it is given.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Why the server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("creating a temporary directory for the database: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("starting {bin}: {source} (build it first: cargo build --release -p orderflow-server)")]
    Spawn {
        bin: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{bin} did not become ready: {detail}; its log ends with:\n{log}")]
    NotReady {
        bin: PathBuf,
        detail: String,
        log: String,
    },
}

/// Where a server keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file of its own, in a temporary directory.
    FreshSqlite,
    /// This PostgreSQL database (`postgres://...`), shared by whoever is
    /// given the same URL.
    Postgres(String),
}

/// A running server process, killed when stopped or dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The admin key the server printed: only the first server on a fresh
    /// database prints one.
    pub admin_key: Option<String>,
    /// Its SQLite file (deleted when this is dropped), on [`Backend::FreshSqlite`].
    pub database: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `bin` on `backend`, with the guardrails on or off, and waits
    /// (up to `deadline`) until `/healthz` answers.
    pub async fn start(
        bin: &Path,
        guardrails: bool,
        backend: &Backend,
        deadline: Duration,
    ) -> Result<ServerProcess, ProcessError> {
        let dir = tempfile::tempdir().map_err(ProcessError::TempDir)?;
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).map_err(ProcessError::TempDir)?;
        let database = match backend {
            Backend::FreshSqlite => Some(dir.path().join("orderflow.db")),
            Backend::Postgres(_) => None,
        };
        let mut command = Command::new(bin);
        command.arg("--listen").arg("127.0.0.1:0").arg("--database");
        match backend {
            Backend::Postgres(url) => command.arg(url),
            Backend::FreshSqlite => command.arg(dir.path().join("orderflow.db")),
        };
        command
            // Per-request logs at info level would cost the server more
            // than some of the requests do.
            .arg("--log-level")
            .arg("warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if !guardrails {
            command.arg("--unsafe-disable-guardrails");
        }
        let mut child = command.spawn().map_err(|source| ProcessError::Spawn {
            bin: bin.to_path_buf(),
            source,
        })?;
        let deadline = Instant::now() + deadline;
        let not_ready = |detail: String| ProcessError::NotReady {
            bin: bin.to_path_buf(),
            detail,
            log: tail(&log_path),
        };
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| not_ready("its standard output was not captured".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut admin_key = None;
        let base_url = loop {
            let line = match tokio::time::timeout_at(deadline, lines.next_line()).await {
                Err(_) => return Err(not_ready("no listening line before the deadline".into())),
                Ok(Err(e)) => return Err(not_ready(format!("reading its output: {e}"))),
                Ok(Ok(None)) => return Err(not_ready("it exited before listening".into())),
                Ok(Ok(Some(line))) => line,
            };
            if let Some(key) = find_admin_key(&line) {
                admin_key = Some(key);
            }
            if let Some(url) = line.trim().strip_prefix("OrderFlow listening on ") {
                break url.trim_end_matches('/').to_string();
            }
        };
        if admin_key.is_none() && *backend == Backend::FreshSqlite {
            return Err(not_ready(
                "it printed no admin key on its fresh database".into(),
            ));
        }
        // Keep draining its output so a chatty server never blocks on a
        // full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        wait_healthy(&base_url, deadline).await.map_err(not_ready)?;
        Ok(ServerProcess {
            child,
            base_url,
            admin_key,
            database,
            _dir: dir,
        })
    }

    /// Kills the process and waits for it to exit.
    pub async fn stop(mut self) {
        // A temporary server holds nothing worth draining; its database is
        // deleted with the directory.
        let _ = self.child.kill().await;
    }
}

/// `of_sk_` followed by 32 hex digits, wherever it is on the line.
fn find_admin_key(line: &str) -> Option<String> {
    let start = line.find("of_sk_")?;
    let key: String = line[start..].chars().take(6 + 32).collect();
    let hex = &key[6..];
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(key)
}

/// Polls `/healthz` until it answers 200 or the deadline passes.
async fn wait_healthy(base_url: &str, deadline: Instant) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .map_err(|e| format!("building an HTTP client: {e}"))?;
    let url = format!("{base_url}/healthz");
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("/healthz answered {}", r.status()),
            Err(e) => last = format!("/healthz: {e}"),
        }
        // A poll interval, not a guess at start-up time: the deadline is
        // what bounds the wait.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("not healthy before the deadline ({last})"))
}

/// The last lines of the server's log, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::find_admin_key;

    #[test]
    fn admin_keys_are_found_on_their_line() {
        let key = format!("of_sk_{}", "0123456789abcdef".repeat(2));
        let cases = [
            (format!("    {key}"), Some(key.clone())),
            (format!("{key} trailing"), Some(key.clone())),
            ("of_sk_0123".to_string(), None),
            (format!("of_sk_{}", "z".repeat(32)), None),
            (
                "OrderFlow listening on http://127.0.0.1:1".to_string(),
                None,
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(find_admin_key(&line), expected, "{line:?}");
        }
    }
}
