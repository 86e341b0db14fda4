//! PostgreSQL: the state several server replicas share.
//!
//! One process on embedded SQLite ([`crate::store`]) is the default. When
//! replicas run behind a load balancer, what must hold across all of them
//! (one quota per key, one claim per Idempotency-Key, one copy of the data)
//! lives here instead. This module holds the pieces that exist so far:
//!
//! - [`Pg`]: the connection pool (`deadpool-postgres` over `tokio-postgres`:
//!   a well-kept async client and pool, so no thread blocks on the
//!   database) and the migrations, which take an advisory lock so that
//!   replicas starting at once migrate exactly once;
//! - [`ratelimit`]: GCRA in one statement per request;
//! - [`idempotency`]: Idempotency-Key claims with lease and boot id, boots
//!   that are alive while they beat, and completion inside the caller's
//!   transaction.
//!
//! - [`store`]: the store's tables behind the whole storage port.
//!
//! `run.rs` selects all of it for `--database postgres://...`.

pub mod idempotency;
pub mod ratelimit;
pub mod store;

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

/// Connections a replica keeps at most.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long a request waits for a free connection before it is answered
/// 503 (a retry helps: the pool frees up as requests finish).
pub const POOL_WAIT: Duration = Duration::from_secs(2);

/// What went wrong talking to PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgError {
    /// The URL does not parse: the setting is wrong (no retry helps).
    Config(String),
    /// The server cannot be reached, refused us, or no pooled connection
    /// came free in time: retrying later can help.
    Unavailable(String),
    /// A statement failed for another reason (a bug or a schema mismatch).
    Internal(String),
    /// The request lost a race it can retry (an Idempotency-Key claim
    /// taken over before it finished).
    Conflict(String),
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgError::Config(m) => write!(f, "PostgreSQL settings: {m}"),
            PgError::Unavailable(m) => write!(f, "PostgreSQL unavailable: {m}"),
            PgError::Internal(m) => write!(f, "PostgreSQL: {m}"),
            PgError::Conflict(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for PgError {}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        // No SQLSTATE: the connection itself failed (closed, refused, I/O).
        // Class 08 is a connection exception, 53 insufficient resources,
        // 57 operator intervention (shutdown, statement timeout).
        match e.code().map(|c| c.code()) {
            None => PgError::Unavailable(e.to_string()),
            Some(code)
                if code.starts_with("08") || code.starts_with("53") || code.starts_with("57") =>
            {
                PgError::Unavailable(format!("{e} (SQLSTATE {code})"))
            }
            Some(code) => PgError::Internal(format!("{e} (SQLSTATE {code})")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => PgError::Unavailable(format!("no connection: {other}")),
        }
    }
}

/// Is this a PostgreSQL URL (`postgres://` or `postgresql://`) rather than
/// a SQLite file path?
pub fn is_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// The URL with any password replaced, for messages and logs.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct Pg {
    pool: Pool,
}

impl Pg {
    /// A pool for `url` (connections are opened on first use; call
    /// [`Pg::migrate`] to reach the server and bring the schema up to date).
    pub fn connect(url: &str, max_size: usize) -> Result<Pg, PgError> {
        let config = tokio_postgres::Config::from_str(url).map_err(|e| {
            PgError::Config(format!(
                "'{}' is not a PostgreSQL URL ({e}); expected postgres://user[:password]@host[:port]/database",
                redacted(url)
            ))
        })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection returned to the pool is checked with a cheap
                // `is_closed`; a dead one fails its next statement, which
                // reports Unavailable (retryable) and is discarded.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| PgError::Config(format!("building the connection pool: {e}")))?;
        Ok(Pg { pool })
    }

    /// A pooled connection (with its prepared-statement cache).
    pub async fn client(&self) -> Result<deadpool_postgres::Object, PgError> {
        Ok(self.pool.get().await?)
    }

    /// Brings the schema up to date. Safe to call from many replicas at
    /// once: an advisory lock serialises them, and each migration runs in
    /// the transaction that records it. A database migrated by a newer
    /// version of the server is refused rather than used.
    pub async fn migrate(&self) -> Result<u32, PgError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS orderflow_schema (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
        let current: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM orderflow_schema",
                &[],
            )
            .await?
            .get(0);
        let known = MIGRATIONS.len() as i32;
        if current > known {
            return Err(PgError::Internal(format!(
                "the database is at schema version {current}, newer than this server knows \
                 ({known}): run a newer orderflow-server, or restore a matching backup"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO orderflow_schema (version) VALUES ($1)",
                &[&(i as i32 + 1)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(known as u32)
    }
}

/// The advisory lock key the migrations hold ("OrderFlw" in ASCII).
const MIGRATION_LOCK: i64 = 0x4f72_6465_7246_6c77;

/// Each entry is one schema version; never edit one that has shipped, add
/// the next.
const MIGRATIONS: &[&str] = &[
    // 1: GCRA state, one row per (policy, caller). `tat_ns` is the
    // theoretical arrival time in nanoseconds since the Unix epoch;
    // `allowed` and `seen_ns` are the last check's decision and time, so
    // that one statement can both update and report (see ratelimit.rs).
    "CREATE TABLE rate_limits (
         policy  text    NOT NULL,
         caller  text    NOT NULL,
         tat_ns  bigint  NOT NULL,
         allowed boolean NOT NULL,
         seen_ns bigint  NOT NULL,
         PRIMARY KEY (policy, caller)
     )",
    // 2: Boots and Idempotency-Key records (see idempotency.rs). A boot is
    // alive while it beats; `headers` is the stored response's header list
    // as JSON text, `body` its exact bytes.
    "CREATE TABLE boots (
         boot_id      text PRIMARY KEY,
         started_at   timestamptz NOT NULL,
         heartbeat_at timestamptz NOT NULL,
         closed_at    timestamptz
     );
     CREATE TABLE idempotency_keys (
         principal   text NOT NULL,
         key         text NOT NULL,
         fingerprint text NOT NULL,
         state       text NOT NULL CHECK (state IN ('in_flight', 'done')),
         status      integer,
         headers     text,
         body        bytea,
         created_at  timestamptz NOT NULL,
         lease_until timestamptz NOT NULL,
         expires_at  timestamptz NOT NULL,
         boot_id     text,
         PRIMARY KEY (principal, key)
     );
     CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at)",
    // 3: The store's first tables (see store.rs): settings, customers, API
    // keys and the audit log, the SQLite store's columns with PostgreSQL's
    // types. `seq` orders lists (keyset pagination, newest first).
    "CREATE TABLE settings (
         key   text PRIMARY KEY,
         value bytea NOT NULL
     );
     CREATE TABLE customers (
         seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         id         text NOT NULL UNIQUE,
         name       text NOT NULL,
         email      text NOT NULL,
         email_key  text NOT NULL UNIQUE,
         created_at timestamptz NOT NULL,
         updated_at timestamptz NOT NULL,
         version    bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
     );
     CREATE TABLE api_keys (
         seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         id          text NOT NULL UNIQUE,
         name        text NOT NULL,
         role        text NOT NULL CHECK (role IN ('admin', 'customer')),
         customer_id text REFERENCES customers (id),
         secret_hash bytea NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
         created_at  timestamptz NOT NULL,
         revoked_at  timestamptz,
         CHECK ((role = 'customer') = (customer_id IS NOT NULL))
     );
     CREATE INDEX api_keys_customer ON api_keys (customer_id);
     CREATE TABLE audit_events (
         seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         id            text NOT NULL UNIQUE,
         occurred_at   timestamptz NOT NULL,
         actor         text NOT NULL,
         operation     text NOT NULL,
         action        text NOT NULL,
         resource_type text NOT NULL,
         resource_id   text NOT NULL,
         request_id    text NOT NULL,
         changes       jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'array')
     );
     CREATE INDEX audit_events_resource ON audit_events (resource_id, seq);
     CREATE INDEX audit_events_actor ON audit_events (actor, seq);
     CREATE INDEX audit_events_actor_resource ON audit_events (actor, resource_id, seq);
     CREATE FUNCTION audit_events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         RAISE EXCEPTION 'audit events are immutable: no %', lower(TG_OP);
     END $$;
     CREATE TRIGGER audit_events_are_immutable BEFORE UPDATE OR DELETE ON audit_events
         FOR EACH ROW EXECUTE FUNCTION audit_events_are_immutable()",
    // 4: Products, the priced catalog order lines copy from.
    "CREATE TABLE products (
         seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         id          text NOT NULL UNIQUE,
         sku         text NOT NULL UNIQUE,
         name        text NOT NULL,
         price_minor bigint NOT NULL CHECK (price_minor >= 0),
         currency    text NOT NULL CHECK (length(currency) = 3),
         active      boolean NOT NULL,
         created_at  timestamptz NOT NULL,
         updated_at  timestamptz NOT NULL,
         version     bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
     );
     CREATE INDEX products_active_seq ON products (active, seq)",
    // 5: Orders and their lines, and the webhook outbox an order change
    // writes in its own transaction (endpoints, events, deliveries,
    // attempts).
    "CREATE TABLE orders (
         seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         id          text NOT NULL UNIQUE,
         customer_id text NOT NULL REFERENCES customers (id),
         status      text NOT NULL CHECK (status IN
                         ('pending', 'processing', 'shipped', 'delivered', 'cancelled')),
         total_minor bigint NOT NULL CHECK (total_minor >= 0),
         currency    text NOT NULL,
         created_at  timestamptz NOT NULL,
         updated_at  timestamptz NOT NULL,
         version     bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
     );
     CREATE INDEX orders_customer_seq ON orders (customer_id, seq);
     CREATE INDEX orders_status_seq ON orders (status, seq);
     CREATE INDEX orders_customer_status_seq ON orders (customer_id, status, seq);
     CREATE TABLE order_items (
         order_seq        bigint NOT NULL REFERENCES orders (seq),
         line             integer NOT NULL CHECK (line >= 1),
         product_id       text NOT NULL REFERENCES products (id),
         sku              text NOT NULL,
         name             text NOT NULL,
         quantity         bigint NOT NULL CHECK (quantity >= 1),
         unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
         line_total_minor bigint NOT NULL CHECK (line_total_minor >= 0),
         currency         text NOT NULL,
         PRIMARY KEY (order_seq, line)
     );
     CREATE INDEX order_items_product ON order_items (product_id);
     CREATE TABLE webhook_endpoints (
         seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         id         text NOT NULL UNIQUE,
         url        text NOT NULL,
         events     text[] NOT NULL,
         secret     bytea NOT NULL CHECK (length(secret) = 32),
         created_at timestamptz NOT NULL,
         deleted_at timestamptz
     );
     CREATE INDEX webhook_endpoints_live ON webhook_endpoints (seq) WHERE deleted_at IS NULL;
     CREATE TABLE order_events (
         seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         id         text NOT NULL UNIQUE,
         type       text NOT NULL,
         order_id   text NOT NULL,
         payload    text NOT NULL,
         created_at timestamptz NOT NULL
     );
     CREATE INDEX order_events_order ON order_events (order_id, seq);
     CREATE TABLE webhook_deliveries (
         seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         event_seq       bigint NOT NULL REFERENCES order_events (seq),
         endpoint_seq    bigint NOT NULL REFERENCES webhook_endpoints (seq),
         state           text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
         attempts        integer NOT NULL DEFAULT 0,
         next_attempt_at timestamptz NOT NULL,
         claimed_by      text,
         UNIQUE (event_seq, endpoint_seq)
     );
     CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
     CREATE TABLE webhook_attempts (
         seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         delivery_seq bigint NOT NULL REFERENCES webhook_deliveries (seq),
         attempt      integer NOT NULL,
         attempted_at timestamptz NOT NULL,
         status       integer,
         error        text,
         duration_ms  bigint NOT NULL
     );
     CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_seq, attempt)",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("postgres://u@h/db"));
        assert!(is_url("postgresql://u@h/db"));
        assert!(!is_url("orderflow.db"));
        assert!(!is_url("/var/lib/postgres/orderflow.db"));
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/orders"),
            "postgres://app:***@db:5432/orders"
        );
        assert_eq!(
            redacted("postgres://app@db/orders"),
            "postgres://app@db/orders"
        );
        let err = match Pg::connect("postgres://app:s3cret@db:notaport/orders", 1) {
            Err(e) => e,
            Ok(_) => panic!("a bad port must be refused"),
        };
        let shown = err.to_string();
        assert!(matches!(err, PgError::Config(_)), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("expected postgres://"), "{shown}");
    }
}
