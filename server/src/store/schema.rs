//! The database schema and its migrations.
//!
//! Migrations are an append-only list; `PRAGMA user_version` records how
//! many have been applied. [`migrate`] applies the missing ones in a single
//! IMMEDIATE transaction at open, so a crash mid-migration leaves the old
//! schema intact and two processes opening one file cannot both migrate.
//! This module deliberately has no down-migrations (restore a backup
//! instead) and never edits a released migration: a change is a new entry.
//!
//! Conventions the queries rely on:
//! - Every listable table has `seq INTEGER PRIMARY KEY AUTOINCREMENT`.
//!   AUTOINCREMENT (not plain rowid) guarantees a seq is never reused, even
//!   after the newest row is deleted, so a cursor can never point at a row
//!   that took a deleted row's place.
//! - Every filter a list supports has an index ending in `seq`, so
//!   `WHERE <equalities> AND seq < ? ORDER BY seq DESC` is one index seek.

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, StoreError};

/// Each entry is one migration; its position (1-based) is the
/// `user_version` after it has run.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL
    ) STRICT;

    CREATE TABLE customers (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        name       TEXT NOT NULL,
        email      TEXT NOT NULL,
        -- The lowercased email. Uniqueness is case-insensitive, and a
        -- separate column (lowercased in Rust) covers non-ASCII letters,
        -- which COLLATE NOCASE would not.
        email_key  TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) STRICT;

    CREATE TABLE products (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        sku         TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
        currency    TEXT NOT NULL CHECK (length(currency) = 3),
        active      INTEGER NOT NULL CHECK (active IN (0, 1)),
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    ) STRICT;
    CREATE INDEX products_active_seq ON products (active, seq);

    CREATE TABLE orders (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        customer_id TEXT NOT NULL REFERENCES customers (id),
        status      TEXT NOT NULL CHECK (status IN
                        ('pending', 'processing', 'shipped', 'delivered', 'cancelled')),
        total_minor INTEGER NOT NULL CHECK (total_minor >= 0),
        currency    TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    ) STRICT;
    -- One index per filter combination that list_orders supports; each
    -- ends in seq so that the keyset range and the ORDER BY use it too.
    CREATE INDEX orders_customer_seq ON orders (customer_id, seq);
    CREATE INDEX orders_status_seq ON orders (status, seq);
    CREATE INDEX orders_customer_status_seq ON orders (customer_id, status, seq);

    -- Lines are keyed by their order's seq (not its text id): the key is
    -- smaller, and loading a page's lines is a range of integer seeks.
    -- WITHOUT ROWID clusters each order's lines together in line order.
    CREATE TABLE order_items (
        order_seq        INTEGER NOT NULL REFERENCES orders (seq),
        line             INTEGER NOT NULL CHECK (line >= 1),
        product_id       TEXT NOT NULL REFERENCES products (id),
        sku              TEXT NOT NULL,
        name             TEXT NOT NULL,
        quantity         INTEGER NOT NULL CHECK (quantity >= 1),
        unit_price_minor INTEGER NOT NULL CHECK (unit_price_minor >= 0),
        line_total_minor INTEGER NOT NULL CHECK (line_total_minor >= 0),
        currency         TEXT NOT NULL,
        PRIMARY KEY (order_seq, line)
    ) STRICT, WITHOUT ROWID;
    -- Foreign keys are checked on delete/update of the parent; without this
    -- index SQLite would scan every line to check a product change.
    CREATE INDEX order_items_product ON order_items (product_id);

    CREATE TABLE api_keys (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        role        TEXT NOT NULL CHECK (role IN ('admin', 'customer')),
        customer_id TEXT REFERENCES customers (id),
        -- SHA-256 of the secret; the secret itself is never stored.
        secret_hash BLOB NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
        created_at  TEXT NOT NULL,
        revoked_at  TEXT,
        -- A customer key belongs to exactly one customer; an admin key to none.
        CHECK ((role = 'customer') = (customer_id IS NOT NULL))
    ) STRICT;
    CREATE INDEX api_keys_customer ON api_keys (customer_id);
    "#,
    // 2: Idempotency-Key records. One row per (principal, key): claimed
    // ('in_flight') before the handler runs, completed ('done') with the
    // response in the same transaction as the side effect. A claim whose
    // lease has passed belongs to a request that died; it may be re-claimed.
    r#"
    CREATE TABLE idempotency_keys (
        principal    TEXT NOT NULL,
        key          TEXT NOT NULL,
        fingerprint  TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
        status       INTEGER,
        headers      TEXT,
        body         BLOB,
        created_at   TEXT NOT NULL,
        lease_until  TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        PRIMARY KEY (principal, key)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
    "#,
    // 3: Boots. Every process that opens the database is a boot; a claim
    // records the boot that took it, so a claim whose process is gone
    // (killed, crashed) is known dead at once instead of blocking retries
    // for its lease. A process is identified on its host by pid and start
    // time (SQLite files are local, so every opener shares the host);
    // `closed_at` is set on a clean close.
    r#"
    CREATE TABLE boots (
        boot_id     TEXT PRIMARY KEY,
        pid         INTEGER NOT NULL,
        proc_start  TEXT,
        started_at  TEXT NOT NULL,
        closed_at   TEXT
    ) STRICT;
    ALTER TABLE idempotency_keys ADD COLUMN boot_id TEXT;
    "#,
    // 4: Row versions. Every change to a customer, product or order adds
    // one; the version is the resource's strong ETag (`"r<version>"`), so
    // a client revalidates (If-None-Match) and updates conditionally
    // (If-Match) against the row, not against a hash of one rendering.
    r#"
    ALTER TABLE customers ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
    ALTER TABLE products ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
    ALTER TABLE orders ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
    "#,
    // 5: The audit log of admin actions, and the transactional outbox of
    // order events with their webhook deliveries. An audit event is
    // written in the transaction of the change it records and is never
    // changed or deleted: the triggers refuse it, whatever the caller. An
    // order event is written in the transaction of the order change, with
    // one delivery row per endpoint registered then whose filter takes it;
    // the worker moves deliveries to `delivered` or `dead`, and logs each
    // attempt. A delivery claimed by a worker names its boot, so a claim
    // whose process died is taken again at once (see `boots`).
    r#"
    CREATE TABLE audit_events (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        id            TEXT NOT NULL UNIQUE,
        occurred_at   TEXT NOT NULL,
        actor         TEXT NOT NULL,
        operation     TEXT NOT NULL,
        action        TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_id   TEXT NOT NULL,
        request_id    TEXT NOT NULL,
        -- JSON array of {field, before, after}; never a secret.
        changes       TEXT NOT NULL CHECK (json_valid(changes))
    ) STRICT;
    CREATE INDEX audit_events_resource ON audit_events (resource_id, seq);
    CREATE INDEX audit_events_actor ON audit_events (actor, seq);
    CREATE INDEX audit_events_actor_resource ON audit_events (actor, resource_id, seq);
    CREATE TRIGGER audit_events_are_immutable BEFORE UPDATE ON audit_events
    BEGIN
        SELECT RAISE(ABORT, 'audit events are immutable: no update');
    END;
    CREATE TRIGGER audit_events_are_kept BEFORE DELETE ON audit_events
    BEGIN
        SELECT RAISE(ABORT, 'audit events are immutable: no delete');
    END;

    CREATE TABLE webhook_endpoints (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        url        TEXT NOT NULL,
        -- JSON array of the event types delivered.
        events     TEXT NOT NULL CHECK (json_valid(events)),
        -- The HMAC key. Kept in the clear because signing needs it; it is
        -- shown once at creation and never logged or audited.
        secret     BLOB NOT NULL CHECK (length(secret) = 32),
        created_at TEXT NOT NULL,
        deleted_at TEXT
    ) STRICT;
    CREATE INDEX webhook_endpoints_live ON webhook_endpoints (deleted_at, seq);

    CREATE TABLE order_events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        type       TEXT NOT NULL,
        order_id   TEXT NOT NULL,
        -- The exact JSON body every delivery sends (so a retry is the
        -- same bytes and the signature covers what was stored).
        payload    TEXT NOT NULL CHECK (json_valid(payload)),
        created_at TEXT NOT NULL
    ) STRICT;

    CREATE TABLE webhook_deliveries (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        event_seq       INTEGER NOT NULL REFERENCES order_events (seq),
        endpoint_seq    INTEGER NOT NULL REFERENCES webhook_endpoints (seq),
        state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        -- The boot whose worker is sending it now (NULL when none is).
        claimed_by      TEXT,
        UNIQUE (event_seq, endpoint_seq)
    ) STRICT;
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

    CREATE TABLE webhook_attempts (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_seq INTEGER NOT NULL REFERENCES webhook_deliveries (seq),
        attempt      INTEGER NOT NULL,
        attempted_at TEXT NOT NULL,
        status       INTEGER,
        error        TEXT,
        duration_ms  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_seq, attempt);
    "#,
];

/// The schema version this build writes.
pub(super) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema to [`CURRENT_VERSION`]; does nothing when it is there.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read inside the write transaction, so a concurrent opener that
    // migrated first is seen and not migrated over.
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > CURRENT_VERSION {
        return Err(StoreError::Internal(format!(
            "the database has schema version {found}, newer than this build's \
             {CURRENT_VERSION}; refusing to open it with an older server"
        )));
    }
    let already = usize::try_from(found).map_err(|_| {
        StoreError::Internal(format!(
            "the database has a negative schema version {found}"
        ))
    })?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(already) {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Internal(format!("migration {} failed: {e}", index + 1)))?;
    }
    if found != CURRENT_VERSION {
        tx.pragma_update(None, "user_version", CURRENT_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    fn version_of(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("user_version")
    }

    #[test]
    fn migrations_are_idempotent_across_reopen() {
        let t = TestStore::new();
        let customer = t.customer("Ada", "ada@example.com");
        let (before_schema, before_version) = {
            let conn = t.store.writer_for_tests();
            (schema_of(&conn), version_of(&conn))
        };
        assert_eq!(before_version, CURRENT_VERSION);
        assert!(before_schema.iter().any(|(name, _)| name == "orders"));

        // Close and reopen the same file twice: no migration may run again
        // (it would fail on CREATE TABLE), and the data must survive.
        let path = t.path.clone();
        drop(t.store);
        for _ in 0..2 {
            let store = open_at(&path);
            {
                let conn = store.writer_for_tests();
                assert_eq!(version_of(&conn), CURRENT_VERSION);
                assert_eq!(schema_of(&conn), before_schema);
            }
            assert_eq!(store.get_customer(&customer.id).expect("kept"), customer);
        }
    }

    #[test]
    fn migrating_twice_on_one_connection_is_a_no_op() {
        let t = TestStore::new();
        let mut conn = t.store.writer_for_tests();
        let before = schema_of(&conn);
        migrate(&mut conn).expect("second migrate");
        assert_eq!(schema_of(&conn), before);
    }

    #[test]
    fn refuses_a_database_from_a_newer_build() {
        let t = TestStore::new();
        t.store
            .writer_for_tests()
            .pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .expect("bump");
        let path = t.path.clone();
        drop(t.store);
        let err = super::super::Store::open(&path, test_clock(), test_ids()).expect_err("newer");
        assert!(
            matches!(&err, StoreError::Internal(m) if m.contains("newer")),
            "{err}"
        );
    }

    #[test]
    fn a_failed_migration_changes_nothing() {
        // A database whose `customers` table already exists (made by hand)
        // makes migration 1 fail; the transaction must leave user_version
        // and the other tables untouched.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clash.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch("CREATE TABLE customers (x INTEGER);")
                .expect("clash");
        }
        let err = super::super::Store::open(&path, test_clock(), test_ids()).expect_err("clash");
        assert!(
            matches!(&err, StoreError::Internal(m) if m.contains("migration 1")),
            "{err}"
        );
        let conn = Connection::open(&path).expect("reopen");
        assert_eq!(version_of(&conn), 0);
        let names: Vec<String> = schema_of(&conn).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["customers".to_owned()]);
    }
}
