//! What the PostgreSQL tests share: a scratch database per test on the
//! server named by `ORDERFLOW_TEST_POSTGRES`, and the message that says how
//! to start one when it is missing (no silent skip).
#![allow(dead_code)]

use orderflow_server::pg::Pg;

pub const HOW: &str = "ORDERFLOW_TEST_POSTGRES is not set: these tests need a PostgreSQL server. \
Run the tests through `bash scripts/with-postgres.sh cargo test --workspace` (it starts a \
throw-away cluster on a free loopback port and stops it afterwards; it needs PostgreSQL's \
initdb and pg_ctl, `apt-get install -y postgresql` on Debian), or point the variable at a \
server where these tests may create databases, e.g. \
ORDERFLOW_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh, empty database on the test server; dropped when the value is.
pub struct Scratch {
    admin: String,
    name: String,
    pub url: String,
}

impl Scratch {
    pub async fn new() -> Scratch {
        let admin = std::env::var("ORDERFLOW_TEST_POSTGRES").unwrap_or_else(|_| panic!("{HOW}"));
        let (base, _) = admin
            .rsplit_once('/')
            .filter(|(base, _)| base.contains("://") && !base.ends_with('/'))
            .unwrap_or_else(|| {
                panic!(
                    "ORDERFLOW_TEST_POSTGRES={admin}: expected postgres://user@host:port/database"
                )
            });
        let name = format!("orderflow_test_{}", uuid::Uuid::new_v4().simple());
        let client = connect(&admin).await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating a scratch database on {admin}: {e}"));
        Scratch {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    /// A pool on the scratch database, migrated: one replica.
    pub async fn replica(&self) -> Pg {
        let pg = Pg::connect(&self.url, 8).expect("pool");
        pg.migrate().await.expect("migrate");
        pg
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort, on its own thread (Drop cannot await): the cluster
        // the script starts is thrown away anyway.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
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

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}\n{HOW}"));
    tokio::spawn(conn);
    client
}
