//! A real server on an ephemeral loopback port with a fresh database: a
//! SQLite file in a temporary directory, or a scratch database on the
//! PostgreSQL server named by `ORDERFLOW_TEST_POSTGRES` (missing, the test
//! fails and says how to start one: no silent skip).

use std::path::PathBuf;
use std::sync::Arc;

use orderflow_server::run::{self, Config, Running};
use orderflow_server::store::{ManualClock, RandomIds};

pub struct TestServer {
    pub running: Running,
    pub base: String,
    pub admin_key: String,
    _dir: tempfile::TempDir,
    _scratch: Option<PgScratch>,
}

/// Where a test server keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const HOW: &str = "ORDERFLOW_TEST_POSTGRES is not set: this test needs a PostgreSQL server. \
Run the tests through `bash scripts/with-postgres.sh cargo test --workspace` (it starts a \
throw-away cluster on a free loopback port and stops it afterwards; it needs PostgreSQL's \
initdb and pg_ctl, `apt-get install -y postgresql` on Debian), or point the variable at a \
server where the tests may create databases, e.g. \
ORDERFLOW_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh database on the test PostgreSQL server, dropped with the value.
pub struct PgScratch {
    admin: String,
    name: String,
    pub url: String,
}

impl PgScratch {
    pub async fn new() -> PgScratch {
        let admin = std::env::var("ORDERFLOW_TEST_POSTGRES").unwrap_or_else(|_| panic!("{HOW}"));
        let (base, _) = admin
            .rsplit_once('/')
            .filter(|(base, _)| base.contains("://") && !base.ends_with('/'))
            .unwrap_or_else(|| {
                panic!(
                    "ORDERFLOW_TEST_POSTGRES={admin}: expected postgres://user@host:port/database"
                )
            });
        let name = format!("orderflow_contract_{}", uuid::Uuid::new_v4().simple());
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting to {admin}: {e}\n{HOW}"));
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating a scratch database on {admin}: {e}"));
        PgScratch {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        // Best effort, on its own thread (Drop cannot await): the cluster
        // the script starts is thrown away anyway.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

impl TestServer {
    /// A fresh server on `backend`, on the real clock or on `clock`.
    pub async fn start_on(backend: Backend, clock: Option<Arc<ManualClock>>) -> TestServer {
        match backend {
            Backend::Sqlite => {
                Self::start_in(
                    tempfile::tempdir().expect("a temporary directory"),
                    clock,
                    None,
                )
                .await
            }
            Backend::Postgres => Self::start_on_postgres(clock, |_| {}).await,
        }
    }

    /// A fresh server on a scratch PostgreSQL database whose configuration
    /// `configure` adjusts first. On a manual clock the shared rate limiter
    /// follows that clock instead of the database's.
    pub async fn start_on_postgres(
        clock: Option<Arc<ManualClock>>,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        let scratch = PgScratch::new().await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::new(
            "127.0.0.1:0".parse().expect("a loopback address"),
            dir.path().join("unused-on-postgres.db"),
        );
        config.postgres = Some(scratch.url.clone());
        config.limiter_on_db_clock = clock.is_none();
        configure(&mut config);
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let running = match clock {
            Some(c) => run::start_with(config, log, c, Arc::new(RandomIds)).await,
            None => run::start(config, log).await,
        }
        .expect("the server starts on PostgreSQL");
        let admin_key = running
            .bootstrap_admin_key
            .clone()
            .expect("a fresh database bootstraps an admin key");
        let base = format!("http://{}", running.local_addr());
        TestServer {
            running,
            base,
            admin_key,
            _dir: dir,
            _scratch: Some(scratch),
        }
    }

    /// A fresh server on `backend` whose configuration `configure`
    /// adjusts first.
    #[allow(dead_code)]
    pub async fn start_configured_on(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        match backend {
            Backend::Sqlite => Self::start_configured(configure).await,
            Backend::Postgres => Self::start_on_postgres(None, configure).await,
        }
    }

    /// The scratch PostgreSQL database's URL, on [`Backend::Postgres`].
    #[allow(dead_code)]
    pub fn postgres_url(&self) -> Option<&str> {
        self._scratch.as_ref().map(|s| s.url.as_str())
    }

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
            _scratch: None,
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
            _scratch: None,
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
