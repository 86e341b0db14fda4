//! A second count of the orders, straight from the server's database: its
//! SQLite file, or the PostgreSQL database its replicas share.
//!
//! The storm engine counts orders through the API; this reads what the
//! server wrote (the SQLite file read-only; PostgreSQL with `SELECT`s
//! only), so the evidence does not rest on the list endpoint alone. For
//! PostgreSQL it also makes the storm's own throw-away database
//! ([`PgScratch`]), so two runs never share state. It knows just enough of the schema to group orders by
//! customer and first-line quantity, which is how the storm tells its
//! logical orders apart. It never writes, and it is used only against a
//! storm's own fresh database.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// What the database file holds after a storm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseCount {
    /// Rows in `orders`.
    pub orders: u64,
    /// Logical orders (customer, first-line quantity) with more than one
    /// order.
    pub duplicated_keys: u64,
}

const COUNT_ORDERS: &str = "SELECT COUNT(*) FROM orders";

/// Logical orders with more than one order; the same text on both
/// engines (PostgreSQL wants the derived table named).
const COUNT_DUPLICATED: &str = "SELECT COUNT(*) FROM (
         SELECT o.customer_id, i.quantity
         FROM orders o JOIN order_items i ON i.order_seq = o.seq AND i.line = 1
         GROUP BY o.customer_id, i.quantity
         HAVING COUNT(*) > 1
     ) AS duplicated";

fn counted(orders: i64, duplicated_keys: i64) -> DatabaseCount {
    DatabaseCount {
        orders: u64::try_from(orders).unwrap_or(0),
        duplicated_keys: u64::try_from(duplicated_keys).unwrap_or(0),
    }
}

/// Counts orders in the SQLite file at `path`, opened read-only.
pub fn count(path: &Path) -> rusqlite::Result<DatabaseCount> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let orders: i64 = conn.query_row(COUNT_ORDERS, [], |r| r.get(0))?;
    let duplicated_keys: i64 = conn.query_row(COUNT_DUPLICATED, [], |r| r.get(0))?;
    Ok(counted(orders, duplicated_keys))
}

/// Counts orders in the PostgreSQL database at `url`, in one read-only
/// transaction (one snapshot for both figures).
pub async fn count_postgres(url: &str) -> Result<DatabaseCount, PgSetupError> {
    let client = connect(url).await?;
    let failed = |e: tokio_postgres::Error| PgSetupError::Query {
        url: redact(url),
        source: e,
    };
    client
        .batch_execute("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(failed)?;
    let orders: i64 = client
        .query_one(COUNT_ORDERS, &[])
        .await
        .map_err(failed)?
        .get(0);
    let duplicated: i64 = client
        .query_one(COUNT_DUPLICATED, &[])
        .await
        .map_err(failed)?
        .get(0);
    client.batch_execute("COMMIT").await.map_err(failed)?;
    Ok(counted(orders, duplicated))
}

/// Why the storm could not use the PostgreSQL server it was given.
#[derive(Debug, thiserror::Error)]
pub enum PgSetupError {
    #[error(
        "--database {url}: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, a server \
         where the storm may create and drop its own databases"
    )]
    Url { url: String },
    #[error(
        "connecting to {url}: {source} (is the server running? `bash scripts/with-postgres.sh` \
         starts a throw-away one and names it in ORDERFLOW_TEST_POSTGRES)"
    )]
    Connect {
        url: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("on {url}: {source} (the user needs the CREATEDB privilege)")]
    Query {
        url: String,
        #[source]
        source: tokio_postgres::Error,
    },
}

/// `url` with any password replaced by `***`, for messages and reports.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, PgSetupError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|source| PgSetupError::Connect {
            url: redact(url),
            source,
        })?;
    tokio::spawn(connection);
    Ok(client)
}

/// A fresh, empty database for one storm run on the server named by an
/// administrative URL; [`PgScratch::drop_database`] removes it.
pub struct PgScratch {
    admin: String,
    name: String,
    /// The new database's URL, for `--database`.
    pub url: String,
}

impl PgScratch {
    /// Creates `orderflow_storm_<label>_<random>` next to the database
    /// `admin` names.
    pub async fn create(admin: &str, label: &str) -> Result<PgScratch, PgSetupError> {
        let (base, _) = admin
            .rsplit_once('/')
            .filter(|(base, _)| {
                (base.starts_with("postgres://") || base.starts_with("postgresql://"))
                    && !base.ends_with('/')
            })
            .ok_or_else(|| PgSetupError::Url { url: redact(admin) })?;
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!(
            "orderflow_storm_{label}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let client = connect(admin).await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|source| PgSetupError::Query {
                url: redact(admin),
                source,
            })?;
        Ok(PgScratch {
            url: format!("{base}/{name}"),
            admin: admin.to_string(),
            name,
        })
    }

    /// Drops the database, disconnecting whoever is still on it (a killed
    /// server's connections linger until PostgreSQL notices).
    pub async fn drop_database(self) -> Result<(), PgSetupError> {
        let client = connect(&self.admin).await?;
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .map_err(|source| PgSetupError::Query {
                url: redact(&self.admin),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/d"),
            "postgres://u:***@h:5432/d"
        );
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("not a url"), "not a url");
    }
}
