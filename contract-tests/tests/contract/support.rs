//! A real server on an ephemeral loopback port with a fresh database.

use orderflow_server::run::{self, Config, Running};

pub struct TestServer {
    pub running: Running,
    pub base: String,
    pub admin_key: String,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = Config::new(
            "127.0.0.1:0".parse().expect("a loopback address"),
            dir.path().join("orderflow.db"),
        );
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let running = run::start(config, log).await.expect("the server starts");
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
        }
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
