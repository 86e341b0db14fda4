//! A real server on an ephemeral loopback port with a fresh database.

use std::path::PathBuf;
use std::sync::Arc;

use orderflow_server::run::{self, Config, Running};
use orderflow_server::store::{ManualClock, RandomIds};

pub struct TestServer {
    pub running: Running,
    pub base: String,
    pub admin_key: String,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_in(
            tempfile::tempdir().expect("a temporary directory"),
            None,
            None,
        )
        .await
    }

    /// A server whose clock the test moves (rate windows, key expiry).
    pub async fn start_with_clock(clock: Arc<ManualClock>) -> TestServer {
        Self::start_in(
            tempfile::tempdir().expect("a temporary directory"),
            Some(clock),
            None,
        )
        .await
    }

    /// Starts on `dir`'s database; `admin_key` when it already has one
    /// (a restart).
    pub async fn start_in(
        dir: tempfile::TempDir,
        clock: Option<Arc<ManualClock>>,
        admin_key: Option<String>,
    ) -> TestServer {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        Self::start_logged(dir, clock, admin_key, log).await
    }

    /// [`TestServer::start_in`] logging to `log` (to capture what the
    /// server writes).
    pub async fn start_logged(
        dir: tempfile::TempDir,
        clock: Option<Arc<ManualClock>>,
        admin_key: Option<String>,
        log: slog::Logger,
    ) -> TestServer {
        let config = Config::new(
            "127.0.0.1:0".parse().expect("a loopback address"),
            dir.path().join("orderflow.db"),
        );
        let running = match clock {
            Some(c) => run::start_with(config, log, c, Arc::new(RandomIds)).await,
            None => run::start(config, log).await,
        }
        .expect("the server starts");
        let admin_key = running
            .bootstrap_admin_key
            .clone()
            .or(admin_key)
            .expect("a fresh database bootstraps an admin key");
        let base = format!("http://{}", running.local_addr());
        TestServer {
            running,
            base,
            admin_key,
            _dir: dir,
        }
    }

    /// A server on a fresh database whose configuration `configure` adjusts
    /// first (for instance `max_db_in_flight`).
    #[allow(dead_code)]
    pub async fn start_configured(configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Self::start_configured_in(dir, None, configure).await
    }

    /// [`TestServer::start_configured`] on `dir`'s database; `admin_key`
    /// when it already has one (a restart).
    #[allow(dead_code)]
    pub async fn start_configured_in(
        dir: tempfile::TempDir,
        admin_key: Option<String>,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config::new(
            "127.0.0.1:0".parse().expect("a loopback address"),
            dir.path().join("orderflow.db"),
        );
        configure(&mut config);
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let running = run::start(config, log).await.expect("the server starts");
        let admin_key = running
            .bootstrap_admin_key
            .clone()
            .or(admin_key)
            .expect("a fresh database bootstraps an admin key");
        let base = format!("http://{}", running.local_addr());
        TestServer {
            running,
            base,
            admin_key,
            _dir: dir,
        }
    }

    /// Stops the server and hands back its directory, for a restart.
    pub async fn stop(self) -> (tempfile::TempDir, String) {
        self.running.stop().await.expect("clean shutdown");
        (self._dir, self.admin_key)
    }

    /// [`TestServer::stop`] with a drain of `drain`; also says whether
    /// everything finished within it.
    #[allow(dead_code)]
    pub async fn stop_within(
        self,
        drain: std::time::Duration,
    ) -> (tempfile::TempDir, String, bool) {
        let done = self.running.stop_within(drain).await.expect("shutdown");
        (self._dir, self.admin_key, done)
    }

    #[allow(dead_code)]
    pub fn database(&self) -> PathBuf {
        self._dir.path().join("orderflow.db")
    }

    /// A reqwest client that sends `key` as a bearer token.
    pub fn http(&self, key: Option<&str>) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = key {
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {key}")
                    .parse()
                    .expect("a valid header value"),
            );
        }
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("a reqwest client")
    }

    /// The generated SDK, authenticated with `key`.
    pub fn sdk(&self, key: &str) -> orderflow_client::Client {
        orderflow_client::Client::new_with_client(&self.base, self.http(Some(key)))
    }
}
