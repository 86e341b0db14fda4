//! The OrderFlow storage layer: customers, products, orders with their
//! lines, API keys and server settings on embedded SQLite.
//!
//! [`Store`] is synchronous and `Send + Sync`; the HTTP layer shares it
//! behind an `Arc` and calls it from `tokio::task::spawn_blocking`. Writes go
//! through one connection behind a mutex (SQLite allows one writer at a
//! time anyway, and serialising in-process avoids `SQLITE_BUSY` churn); reads
//! check out one of a small pool of read-only connections, which WAL mode
//! lets run beside the writer. Lists are keyset-paginated on an internal,
//! never-reused sequence number, so a page costs the same at any depth.
//!
//! What this module deliberately does not do: it knows nothing about HTTP,
//! the generated API types, roles and permissions (callers pass
//! `visible_to` to hide other customers' orders, and decide who may do
//! what), or contract-level limits such as "at most 100 lines" (the
//! generated edge validates request shapes). Idempotency records hold
//! opaque responses (see `idempotency`). Every SQL string is a constant;
//! input only ever reaches SQLite as a bound parameter.
//!
//! Units of work: a call that holds an Idempotency-Key claim runs its
//! store calls inside one [`Unit`] ([`Store::in_unit`]). The unit takes the
//! writer on its first write and keeps one IMMEDIATE transaction open
//! across the call's store calls (each a savepoint inside it), so that the
//! edge can commit the handler's side effect together with the recorded
//! response ([`Store::commit_unit`]), or roll both back. Handlers do not
//! know units exist; `App::db` joins them.
//!
//! The server sees storage through the [`Storage`] port (`port.rs`);
//! [`Store`] is its SQLite implementation.

pub(crate) mod audit;
mod boots;
mod clock;
pub mod cursor;
pub(crate) mod customers;
mod idempotency;
mod ids;
pub(crate) mod keys;
pub(crate) mod orders;
mod port;
pub(crate) mod principals;
pub(crate) mod products;
mod schema;
#[cfg(test)]
mod testutil;
pub(crate) mod webhooks;

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Statement, StatementStatus, TransactionBehavior};

pub use audit::{Actor, AuditEvent, AuditFilter, Change};
pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use cursor::CursorError;
pub use customers::{Customer, CustomerPatch};
use idempotency::complete_claim;
pub use idempotency::{Begin, IdempotencyKey, StoredResponse};
pub use ids::{IdSource, RandomIds, SequentialIds};
pub use keys::{ApiKey, Principal, Role};
pub use orders::{Order, OrderFilter, OrderItem, OrderStatus};
pub use port::{
    AuditLog, CustomerStore, KeyStore, OrderStore, ProductStore, RecordStore, Storage, StorageBase,
    Unit, UnitOfWork, WebhookStore,
};
pub use principals::{PRINCIPAL_CAPACITY, PRINCIPAL_TTL};
pub use products::{Money, NewProduct, Product, ProductFilter, ProductPatch};
pub use webhooks::{
    Attempt, AttemptOutcome, DeliveryLog, DeliveryState, DueDelivery, EVENT_TYPES, OrderEventRow,
    WebhookEndpoint,
};

/// How many read-only connections the pool holds. Two cores serve the
/// process, so a handful of concurrent readers is plenty; more would only
/// hold file descriptors and page caches.
const READ_CONNECTIONS: usize = 4;
/// How long a statement waits for a lock held by another connection (or
/// another process) before giving up with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a reader waits for a free pooled connection. Bounded, so that
/// an overloaded server reports an error instead of queueing forever.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// A defensive upper bound on page sizes. The contract's own limit (100) is
/// enforced at the edge; this one only keeps a caller bug from loading a
/// whole table into memory.
pub const MAX_PAGE_LIMIT: u32 = 1000;

pub use crate::domain::FieldIssue;

/// Everything a store operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No such row, or one the caller may not see (the two are deliberately
    /// indistinguishable so that ids do not leak).
    #[error("no {what} with id '{id}'")]
    NotFound { what: &'static str, id: String },
    /// The request conflicts with stored state: `duplicate_email`,
    /// `duplicate_sku` or `illegal_transition`. Retrying unchanged fails
    /// again.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// The request is well-formed but breaks a domain rule; every bad field
    /// is listed.
    #[error("{} invalid: {}", issue_count(.0), describe_issues(.0))]
    Invalid(Vec<FieldIssue>),
    /// The database failed. The message is for logs only and may name
    /// SQLite's error; it must never be sent to a client.
    #[error("storage failure: {0}")]
    Internal(String),
    /// The database cannot be used right now (its file was removed,
    /// replaced or truncated, it became read-only, the disk is full): a
    /// 503 with `Retry-After`, since an operator can fix it and a retry
    /// may then succeed. The message is for logs.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A conditional change whose precondition failed: the row is no longer
    /// at the version the client named (If-Match). Nothing was written.
    #[error("{what} '{id}' is at version {current}, not the one the request expected")]
    Stale {
        what: &'static str,
        id: String,
        current: i64,
    },
}

fn issue_count(issues: &[FieldIssue]) -> String {
    match issues.len() {
        1 => "1 field is".to_owned(),
        n => format!("{n} fields are"),
    }
}

fn describe_issues(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.pointer, i.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            // The environment, not the request or the code: an operator can
            // fix these, and a retry may then succeed.
            Some(
                C::ReadOnly
                | C::DiskFull
                | C::SystemIoFailure
                | C::CannotOpen
                | C::NotADatabase
                | C::DatabaseCorrupt,
            ) => StoreError::Unavailable(format!("sqlite: {e}")),
            _ => StoreError::Internal(format!("sqlite: {e}")),
        }
    }
}

/// Prepared statements kept per connection. rusqlite's default (16) is
/// fewer than the store's 35 distinct statements, so a connection that ran
/// many kinds evicted some and parsed them again.
const STATEMENT_CACHE: usize = 128;

/// Readiness wants at least this much free space under the database: a
/// page write plus its WAL frame and checkpoint room, with margin.
const MIN_FREE_BYTES: u64 = 1 << 20;

/// Which file a store opened: device and inode, to tell when the path
/// names another file (replaced) or none (removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> std::io::Result<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        Ok(FileIdentity {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which page of a list to read. `after` is the sort key of the last row of
/// the previous page (from [`Page::next_after`], usually carried inside a
/// [`cursor`]); `None` starts at the beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<i64>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        PageRequest { limit, after: None }
    }

    pub(crate) fn checked_limit(&self) -> Result<u32> {
        if self.limit == 0 || self.limit > MAX_PAGE_LIMIT {
            return Err(StoreError::Invalid(vec![FieldIssue::new(
                "limit",
                format!("must be between 1 and {MAX_PAGE_LIMIT}"),
            )]));
        }
        Ok(self.limit)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// The sort key to pass as [`PageRequest::after`] for the next page;
    /// `None` on the last page.
    pub next_after: Option<i64>,
    /// SQLite virtual machine steps spent producing this page, summed over
    /// every statement involved. A cost measure that does not depend on the
    /// machine, for tests and metrics.
    pub vm_steps: u64,
}

/// The store. Cheap to share: wrap it in an `Arc`.
pub struct Store {
    writer: Arc<WriterSlot>,
    readers: ReadPool,
    /// Threads that should run this store's reads (`Tuning::read_threads`).
    read_threads: usize,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    cursor_secret: OnceLock<[u8; 32]>,
    principals: principals::PrincipalCache,
    /// This process's boot (see `boots`): recorded in the claims it takes.
    boot_id: String,
    /// The path opened and the file it named then (see [`Store::check_file`]).
    path: std::path::PathBuf,
    identity: FileIdentity,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Deliberately omits the cursor secret.
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Drop for Store {
    /// A clean close: this boot's claims (none should be left once requests
    /// drained) stop blocking retries. A crash skips this; `boots` then
    /// finds the process gone.
    fn drop(&mut self) {
        let now = ts_to_sql(&self.now());
        if let Ok(mut lease) = self.writer.checkout() {
            let _ = boots::close(lease.conn_mut(), &self.boot_id, &now);
        }
    }
}

/// Performance settings of a [`Store`]. The defaults are what the server
/// runs with; the HTTP benchmark switches them off for its "before" rows,
/// so one run measures what each is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// How long an authenticated key is remembered (see
    /// [`PRINCIPAL_TTL`]); zero: every request looks its key up.
    pub principal_ttl: chrono::Duration,
    /// The query planner stability guarantee on every connection (see
    /// `configure`).
    pub stable_plans: bool,
    /// Reads on dedicated threads, one per read connection
    /// (`crate::readers`), instead of tokio's blocking pool.
    pub read_threads: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            principal_ttl: PRINCIPAL_TTL,
            stable_plans: true,
            read_threads: true,
        }
    }
}

/// What every connection gets, the writer and each reader.
fn configure(conn: &Connection, tuning: Tuning) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The query planner stability guarantee: a statement's plan does not
    // depend on the values bound to it. Without it, the bundled SQLite
    // (built with SQLITE_ENABLE_STAT4) marks a cached statement expired
    // whenever a parameter the planner looked at is rebound, and re-parses
    // and re-plans it on the next step: measured, every run of the order
    // lines statement was a re-prepare (15% of a `GET /v1/orders/{id}`
    // profile). The plans here do not want to vary anyway: the list
    // statements pin their index with INDEXED BY, and there is no ANALYZE.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, tuning.stable_plans)?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Result<Store> {
        Store::open_tuned(path, clock, ids, Tuning::default())
    }

    /// [`Store::open`] with other [`Tuning`] than the default.
    pub fn open_tuned(
        path: &Path,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
        tuning: Tuning,
    ) -> Result<Store> {
        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(path, e))?;
        configure(&writer, tuning)?;
        // WAL lets the read pool run beside the writer; NORMAL synchronous
        // is durable across application crashes and loses at most the last
        // transactions on power loss, the usual trade-off with WAL.
        let mode: String = writer.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Internal(format!(
                "could not switch {} to WAL mode (got '{mode}')",
                path.display()
            )));
        }
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        writer.pragma_update(None, "foreign_keys", true)?;
        schema::migrate(&mut writer).map_err(|e| match e {
            StoreError::Unavailable(cause) if cause.contains("readonly") => {
                StoreError::Unavailable(format!(
                    "{} is read-only (file permissions, a read-only mount or directory): \
                     the server writes to it and to its journal beside it ({cause})",
                    path.display()
                ))
            }
            other => other,
        })?;
        let identity = FileIdentity::of(path)
            .map_err(|e| StoreError::Internal(format!("cannot read {}: {e}", path.display())))?;
        let boot_id = format!("boot_{}", uuid::Uuid::new_v4().simple());
        {
            let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
            boots::register(&tx, &boot_id, &ts_to_sql(&clock.now().trunc_subsecs(6)))?;
            tx.commit()?;
        }

        // Readers are opened after migrating so they never see a half-made
        // schema, and read-only so that no code path can write through them.
        let mut readers = Vec::with_capacity(READ_CONNECTIONS);
        for _ in 0..READ_CONNECTIONS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| open_error(path, e))?;
            configure(&reader, tuning)?;
            readers.push(reader);
        }

        Ok(Store {
            writer: Arc::new(WriterSlot {
                conn: Mutex::new(Some(writer)),
                returned: Condvar::new(),
            }),
            readers: ReadPool {
                idle: Mutex::new(Idle {
                    conns: readers,
                    waiting: 0,
                }),
                returned: Condvar::new(),
            },
            clock,
            ids,
            cursor_secret: OnceLock::new(),
            read_threads: if tuning.read_threads {
                READ_CONNECTIONS
            } else {
                0
            },
            principals: principals::PrincipalCache::new(PRINCIPAL_CAPACITY, tuning.principal_ttl),
            boot_id,
            path: path.to_path_buf(),
            identity,
        })
    }

    /// Is the file at the path still the database this store opened?
    /// Removed, replaced (another inode), truncated or overwritten, it is
    /// not: writing on would go to an unlinked file or corrupt one, so
    /// every write and the readiness probe check this first (one `stat`,
    /// plus a 16-byte read).
    pub fn check_file(&self) -> Result<()> {
        let shown = self.path.display();
        let now = match FileIdentity::of(&self.path) {
            Ok(id) => id,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Unavailable(format!(
                    "the database file {shown} was removed while the server ran"
                )));
            }
            Err(e) => {
                return Err(StoreError::Unavailable(format!("cannot read {shown}: {e}")));
            }
        };
        if now != self.identity {
            return Err(StoreError::Unavailable(format!(
                "{shown} was replaced by another file while the server ran"
            )));
        }
        let mut header = [0u8; 16];
        let read = std::fs::File::open(&self.path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header));
        if read.is_err() || &header != b"SQLite format 3\0" {
            return Err(StoreError::Unavailable(format!(
                "{shown} was truncated or overwritten: it no longer starts with a SQLite header"
            )));
        }
        Ok(())
    }

    /// Readiness: the file is still the one opened, a pooled connection can
    /// run a query, and a write could commit (writable file, room on the
    /// disk), so a read-only file or a full disk shows here before a
    /// client's write finds it.
    pub fn ping(&self) -> Result<()> {
        self.check_file()?;
        let conn = self.reader()?;
        let one: i64 = conn.query_row("SELECT 1", [], |r| r.get(0))?;
        if one != 1 {
            return Err(StoreError::Internal("SELECT 1 did not return 1".to_owned()));
        }
        drop(conn);
        self.check_writable()
    }

    /// Could a write commit? The file must open for writing (a read-only
    /// mount or file says no) and its file system must have room. Checked
    /// without taking SQLite's write lock, so a probe never waits behind a
    /// long write, nor makes writers wait behind it.
    fn check_writable(&self) -> Result<()> {
        let shown = self.path.display();
        if let Err(e) = std::fs::OpenOptions::new().append(true).open(&self.path) {
            return Err(StoreError::Unavailable(format!(
                "{shown} cannot be opened for writing: {e}"
            )));
        }
        match rustix::fs::statvfs(&self.path) {
            Ok(fs) => {
                let free = fs.f_bavail.saturating_mul(fs.f_frsize);
                if free < MIN_FREE_BYTES {
                    return Err(StoreError::Unavailable(format!(
                        "the file system holding {shown} is full ({free} bytes left)"
                    )));
                }
                Ok(())
            }
            Err(e) => Err(StoreError::Unavailable(format!(
                "cannot read the free space under {shown}: {e}"
            ))),
        }
    }

    /// The key that signs pagination cursors. Created on first use and
    /// persisted, so cursors stay valid across restarts.
    pub fn cursor_secret(&self) -> Result<[u8; 32]> {
        if let Some(secret) = self.cursor_secret.get() {
            return Ok(*secret);
        }
        let candidate = self.ids.secret_bytes();
        let secret = self.write(|tx| {
            // INSERT OR IGNORE keeps the first secret ever written, even if
            // two processes race to create one.
            tx.execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES ('cursor_secret', ?1)",
                [&candidate[..]],
            )?;
            let stored: Vec<u8> = tx.query_row(
                "SELECT value FROM settings WHERE key = 'cursor_secret'",
                [],
                |r| r.get(0),
            )?;
            <[u8; 32]>::try_from(stored.as_slice()).map_err(|_| {
                StoreError::Internal(format!(
                    "stored cursor secret has {} bytes, expected 32",
                    stored.len()
                ))
            })
        })?;
        Ok(*self.cursor_secret.get_or_init(|| secret))
    }

    /// The current time, cut to the microseconds that the database stores,
    /// so that a row returned by a write equals the same row read back.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Runs `f` in an IMMEDIATE transaction on the writer and commits if it
    /// returns `Ok`. IMMEDIATE takes the write lock up front, so the checks
    /// `f` makes (does the email exist? is the transition legal?) cannot be
    /// invalidated by another writer before `f` writes. Inside a [`Unit`],
    /// `f` runs in a savepoint of the unit's transaction instead: its
    /// failure undoes only its own writes, and nothing is committed until
    /// the unit is.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.check_file()?;
        if unit_active() {
            return UNIT.with(|cell| {
                let mut slot = cell.try_borrow_mut().map_err(|_| nested())?;
                let unit = slot.as_mut().ok_or_else(nested)?;
                let conn = unit.begin(&self.writer)?;
                let sp = conn.savepoint()?;
                let value = f(&sp)?;
                sp.commit()?;
                Ok(value)
            });
        }
        let mut lease = self.writer.checkout()?;
        let tx = lease
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` in a read transaction on a pooled connection, so that all of
    /// its statements see one snapshot (an order page and its lines agree).
    /// Inside a [`Unit`] that has written, `f` reads through the unit's
    /// transaction, so it sees the unit's own writes.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if unit_began() {
            return UNIT.with(|cell| {
                let mut slot = cell.try_borrow_mut().map_err(|_| nested())?;
                let lease = slot
                    .as_mut()
                    .and_then(|u| u.lease.as_mut())
                    .ok_or_else(nested)?;
                f(lease.conn_mut())
            });
        }
        let conn = self.reader()?;
        // A transaction gives `f` one snapshot across its statements. BEGIN
        // and COMMIT go through the statement cache like every other
        // statement (rusqlite's `transaction()` parses them on every call,
        // which showed in profiles of the read path).
        if !conn.is_autocommit() {
            // Left open by a read that panicked: end it first.
            conn.prepare_cached("ROLLBACK")?.execute([])?;
        }
        conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
        let value = f(&conn);
        // Nothing was written: committing only releases the snapshot, on
        // success and failure alike.
        conn.prepare_cached("COMMIT")?.execute([])?;
        value
    }

    /// [`Store::read`] for `f` that runs one statement: in autocommit mode
    /// that statement is its own snapshot, so no BEGIN and COMMIT are
    /// stepped around it. Inside a unit of work it reads like any read.
    fn read_statement<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if unit_began() {
            return self.read(f);
        }
        let conn = self.reader()?;
        if !conn.is_autocommit() {
            // Left open by a read that panicked: end it first.
            conn.prepare_cached("ROLLBACK")?.execute([])?;
        }
        f(&conn)
    }

    fn reader(&self) -> Result<PooledConnection<'_>> {
        self.readers.checkout()
    }

    /// Runs `f` with every store call it makes on this thread joined to
    /// `unit` (see [`Unit`]). A panic in `f` leaves the unit rolled back,
    /// never attached to the thread.
    pub fn in_unit<T>(&self, unit: &mut Unit, f: impl FnOnce(&Store) -> T) -> T {
        struct Detach<'u>(&'u mut Unit);
        impl Drop for Detach<'_> {
            fn drop(&mut self) {
                let state = UNIT.with(|cell| cell.borrow_mut().take());
                if let Some(state) = state.filter(SqliteUnit::began) {
                    self.0.put(state);
                }
            }
        }
        let state = unit.take::<SqliteUnit>();
        UNIT.with(|cell| *cell.borrow_mut() = Some(state));
        let _detach = Detach(unit);
        f(self)
    }

    /// Completes `key`'s claim with `response` and commits it together with
    /// everything `unit` wrote, in one transaction: both or neither. A unit
    /// that wrote nothing just records the response.
    pub fn commit_unit(
        &self,
        unit: Unit,
        key: &IdempotencyKey<'_>,
        response: &StoredResponse,
    ) -> Result<()> {
        let mut unit = unit;
        match unit.take::<SqliteUnit>().lease {
            Some(mut lease) => {
                complete_claim(lease.conn_mut(), key, response)?;
                lease.commit()
            }
            None => self.write(|tx| complete_claim(tx, key, response)),
        }
    }

    #[cfg(test)]
    fn writer_for_tests(&self) -> WriterLease {
        self.writer
            .checkout()
            .unwrap_or_else(|e| unreachable!("the writer is free in tests: {e}"))
    }
}

thread_local! {
    /// The unit of work this blocking-pool thread's store calls join, set
    /// only inside [`Store::in_unit`].
    static UNIT: RefCell<Option<SqliteUnit>> = const { RefCell::new(None) };
}

/// Whether this thread's unit of work holds an open transaction (its reads
/// then go through the unit's connection, to see its own writes).
fn unit_began() -> bool {
    UNIT.with(|cell| {
        cell.try_borrow()
            .map(|u| u.as_ref().is_some_and(SqliteUnit::began))
            .unwrap_or(false)
    })
}

fn unit_active() -> bool {
    UNIT.with(|cell| cell.try_borrow().map(|u| u.is_some()).unwrap_or(true))
}

fn nested() -> StoreError {
    StoreError::Internal("a store call was nested inside another one in a unit of work".into())
}

/// SQLite's state of a [`Unit`]: one call's writes, kept in one open
/// transaction until the edge commits them with the call's recorded
/// response ([`Store::commit_unit`]) or drops the unit, which rolls them
/// back. It holds the writer from its first write on, so other writers
/// wait for it: a unit is for one request's few statements, never for
/// long work.
#[derive(Default)]
struct SqliteUnit {
    lease: Option<WriterLease>,
}

impl SqliteUnit {
    /// Whether the unit has written (holds the writer and a transaction).
    pub fn began(&self) -> bool {
        self.lease.is_some()
    }

    fn begin(&mut self, writer: &Arc<WriterSlot>) -> Result<&mut Connection> {
        if self.lease.is_none() {
            let mut lease = writer.checkout()?;
            lease.conn_mut().execute_batch("BEGIN IMMEDIATE")?;
            lease.in_transaction = true;
            self.lease = Some(lease);
        }
        match self.lease.as_mut() {
            Some(lease) => Ok(lease.conn_mut()),
            None => Err(StoreError::Internal("unit without a writer".into())),
        }
    }
}

/// The one writer connection, lent to one user at a time (a plain write or
/// a [`Unit`]). A slot rather than a mutex guard so that a unit can hold it
/// across the blocking-pool calls of one request.
struct WriterSlot {
    conn: Mutex<Option<Connection>>,
    returned: Condvar,
}

impl WriterSlot {
    fn checkout(self: &Arc<Self>) -> Result<WriterLease> {
        // The slot only holds or lacks the connection, so it is never left
        // broken by a panic; recovering from poisoning is safe.
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            if let Some(conn) = slot.take() {
                return Ok(WriterLease {
                    slot: self.clone(),
                    conn: Some(conn),
                    in_transaction: false,
                });
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(StoreError::Internal(format!(
                    "the writer did not become free within {BUSY_TIMEOUT:?}"
                )));
            }
            slot = self
                .returned
                .wait_timeout(slot, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The writer on loan. Dropping it rolls back a transaction it left open
/// and gives the connection back.
struct WriterLease {
    slot: Arc<WriterSlot>,
    conn: Option<Connection>,
    /// A unit's transaction is open on the connection.
    in_transaction: bool,
}

impl WriterLease {
    fn conn_mut(&mut self) -> &mut Connection {
        match &mut self.conn {
            Some(conn) => conn,
            None => unreachable!("a writer lease gives its connection back only in drop"),
        }
    }

    fn commit(mut self) -> Result<()> {
        self.conn_mut().execute_batch("COMMIT")?;
        self.in_transaction = false;
        Ok(())
    }
}

impl std::ops::Deref for WriterLease {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a writer lease gives its connection back only in drop"),
        }
    }
}

impl std::ops::DerefMut for WriterLease {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn_mut()
    }
}

impl Drop for WriterLease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.in_transaction {
                // Nothing to report to: the unit's caller already answered
                // with the failure that made it drop the unit.
                let _ = conn.execute_batch("ROLLBACK");
            }
            *self.slot.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn);
            self.slot.returned.notify_one();
        }
    }
}

fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Internal(format!("cannot open database {}: {e}", path.display()))
}

/// A fixed set of read-only connections. `rusqlite::Connection` is `Send`
/// but not `Sync`, so each is used by one thread at a time.
///
/// Hand-written rather than `r2d2`: `r2d2_sqlite` (0.35) needs rusqlite
/// 0.40, and two rusqlite versions cannot link one bundled SQLite; the pool
/// is a vector under a mutex, and a return wakes a waiter only when there
/// is one (the standard library's `Condvar::notify_one` makes a futex call
/// even with nobody waiting, which measured one system call per read).
struct ReadPool {
    idle: Mutex<Idle>,
    returned: Condvar,
}

struct Idle {
    conns: Vec<Connection>,
    /// Threads in `checkout` waiting for a connection.
    waiting: usize,
}

impl ReadPool {
    fn checkout(&self) -> Result<PooledConnection<'_>> {
        // The state is only pushed, popped and counted under the lock, so it
        // is never left broken by a panic; recovering from poisoning is safe.
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = std::time::Instant::now() + POOL_WAIT;
        loop {
            if let Some(conn) = idle.conns.pop() {
                return Ok(PooledConnection {
                    pool: self,
                    conn: Some(conn),
                });
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(StoreError::Internal(format!(
                    "no read connection became free within {POOL_WAIT:?}"
                )));
            }
            idle.waiting += 1;
            idle = self
                .returned
                .wait_timeout(idle, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            idle.waiting -= 1;
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.conns.push(conn);
        let wake = idle.waiting > 0;
        drop(idle);
        if wake {
            self.returned.notify_one();
        }
    }
}

struct PooledConnection<'a> {
    pool: &'a ReadPool,
    // An Option only so that Drop can move the connection back.
    conn: Option<Connection>,
}

impl std::ops::Deref for PooledConnection<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a pooled connection is only taken in drop"),
        }
    }
}

impl std::ops::DerefMut for PooledConnection<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        match &mut self.conn {
            Some(conn) => conn,
            None => unreachable!("a pooled connection is only taken in drop"),
        }
    }
}

impl Drop for PooledConnection<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}

/// Timestamps are stored as RFC 3339 text with microseconds and `Z`, which
/// sorts lexically and stays readable in the `sqlite3` shell.
fn ts_to_sql(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn ts_from_row(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    // Borrowed from SQLite's row buffer: no String per timestamp.
    ts_from_text(row.get_ref(idx)?.as_str()?, idx)
}

fn opt_ts_from_row(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    row.get_ref(idx)?
        .as_str_or_null()?
        .map(|text| ts_from_text(text, idx))
        .transpose()
}

fn ts_from_text(text: &str, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
        })
}

/// Clears a (possibly cached) statement's VM step counter before it runs.
fn reset_steps(stmt: &Statement<'_>) {
    stmt.reset_status(StatementStatus::VmStep);
}

/// Reads a statement's VM step counter after it ran.
fn steps(stmt: &Statement<'_>) -> u64 {
    u64::try_from(stmt.get_status(StatementStatus::VmStep)).unwrap_or(0)
}

/// Turns "limit + 1 rows fetched" into a page: the extra row only proves
/// that a next page exists and is dropped.
/// A conditional change's precondition (If-Match): the row must be at one
/// of the `expected` versions, if any are named.
pub(crate) fn check_version(
    what: &'static str,
    id: &str,
    current: i64,
    expected: Option<&[i64]>,
) -> Result<()> {
    match expected {
        Some(versions) if !versions.contains(&current) => Err(StoreError::Stale {
            what,
            id: id.to_owned(),
            current,
        }),
        _ => Ok(()),
    }
}

pub(crate) fn into_page<T>(mut rows: Vec<(i64, T)>, limit: u32, vm_steps: u64) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_after = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|(key, _)| *key)
    } else {
        None
    };
    Page {
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        next_after,
        vm_steps,
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    fn assert_unavailable<T: std::fmt::Debug>(r: Result<T>, says: &str) {
        match r {
            Err(StoreError::Unavailable(cause)) => {
                assert!(cause.contains(says), "{cause:?} should say {says:?}")
            }
            other => panic!("expected Unavailable ({says}), got {other:?}"),
        }
    }

    #[test]
    fn a_removed_database_file_is_unavailable_and_takes_no_write() {
        let t = TestStore::new();
        t.customer("Ada", "ada@example.com");
        t.store.ping().expect("ready while the file is there");
        std::fs::remove_file(&t.path).expect("remove");
        assert_unavailable(t.store.ping(), "was removed");
        assert_unavailable(
            t.store.create_customer(&op(), "Bob", "bob@example.com"),
            "was removed",
        );
        // Put the file back (same inode is gone for good): still refused,
        // since writes would go elsewhere than the connections' file.
        std::fs::write(&t.path, b"SQLite format 3\0").expect("recreate");
        assert_unavailable(t.store.ping(), "replaced");
    }

    #[test]
    fn a_replaced_database_file_is_unavailable() {
        let t = TestStore::new();
        let other = t.path.with_file_name("other.db");
        drop(open_at(&other));
        std::fs::rename(&other, &t.path).expect("replace");
        assert_unavailable(t.store.ping(), "replaced");
        assert_unavailable(
            t.store.create_customer(&op(), "Bob", "bob@example.com"),
            "replaced",
        );
    }

    #[test]
    fn a_truncated_database_file_is_unavailable() {
        let t = TestStore::new();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&t.path)
            .and_then(|f| f.set_len(0))
            .expect("truncate");
        assert_unavailable(t.store.ping(), "truncated");
        assert_unavailable(
            t.store.create_customer(&op(), "Bob", "bob@example.com"),
            "truncated",
        );
    }

    #[test]
    fn environment_failures_of_sqlite_are_unavailable_not_internal() {
        for code in [
            rusqlite::ffi::SQLITE_READONLY,
            rusqlite::ffi::SQLITE_FULL,
            rusqlite::ffi::SQLITE_IOERR,
            rusqlite::ffi::SQLITE_NOTADB,
        ] {
            let e = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
            assert!(
                matches!(StoreError::from(e), StoreError::Unavailable(_)),
                "{code}"
            );
        }
        let e = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            None,
        );
        assert!(matches!(StoreError::from(e), StoreError::Internal(_)));
    }

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
        assert_send_sync::<Arc<Store>>();
    }

    #[test]
    fn opens_in_wal_mode_with_foreign_keys() {
        let t = TestStore::new();
        t.store.ping().expect("ping");
        let conn = t.store.writer_for_tests();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("journal_mode");
        assert_eq!(mode, "wal");
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("foreign_keys");
        assert_eq!(fk, 1);
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("synchronous");
        assert_eq!(sync, 1, "NORMAL");
    }

    #[test]
    fn readers_cannot_write() {
        let t = TestStore::new();
        let reader = t.store.reader().expect("reader");
        let err = reader
            .execute("DELETE FROM settings", [])
            .expect_err("read-only");
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[test]
    fn pool_hands_out_at_most_its_size_and_reuses_returned_connections() {
        let t = TestStore::new();
        let held: Vec<_> = (0..READ_CONNECTIONS)
            .map(|_| t.store.reader().expect("reader"))
            .collect();
        assert!(t.store.readers.idle.lock().expect("lock").conns.is_empty());
        drop(held);
        assert_eq!(
            t.store.readers.idle.lock().expect("lock").conns.len(),
            READ_CONNECTIONS
        );
        t.store.ping().expect("ping after return");
    }

    #[test]
    fn a_returned_connection_wakes_a_waiting_reader() {
        let t = TestStore::new();
        let mut held: Vec<_> = (0..READ_CONNECTIONS)
            .map(|_| t.store.reader().expect("reader"))
            .collect();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                let asked = std::time::Instant::now();
                let conn = t.store.reader().map(|_| ());
                (conn, asked.elapsed())
            });
            // Until the waiter is counted, a return would not wake it. A
            // checkout that does not wait at all fails the test here
            // instead of leaving it spinning.
            let deadline = std::time::Instant::now() + POOL_WAIT;
            while t.store.readers.idle.lock().expect("lock").waiting == 0 {
                assert!(
                    !waiter.is_finished() && std::time::Instant::now() < deadline,
                    "the checkout did not wait for a connection with all of them held"
                );
                std::thread::yield_now();
            }
            drop(held.pop());
            let (conn, waited) = waiter.join().expect("waiter");
            conn.expect("the waiter got the returned connection");
            assert!(
                waited < POOL_WAIT,
                "woken after {waited:?}, not by the return"
            );
        });
        assert_eq!(t.store.readers.idle.lock().expect("lock").waiting, 0);
    }

    #[test]
    fn cursor_secret_is_created_once_and_survives_reopen() {
        let t = TestStore::new();
        let first = t.store.cursor_secret().expect("secret");
        assert_eq!(t.store.cursor_secret().expect("again"), first);
        let reopened = t.reopen();
        assert_eq!(reopened.cursor_secret().expect("reopened"), first);
        assert_ne!(first, [0u8; 32]);
    }

    #[test]
    fn page_limits_are_checked() {
        let t = TestStore::new();
        for limit in [0, MAX_PAGE_LIMIT + 1, u32::MAX] {
            let err = t
                .store
                .list_customers(PageRequest::first(limit))
                .expect_err("bad limit");
            assert!(matches!(&err, StoreError::Invalid(i) if i[0].pointer == "limit"));
        }
        t.store
            .list_customers(PageRequest::first(MAX_PAGE_LIMIT))
            .expect("max limit is fine");
    }

    #[test]
    fn error_messages_are_readable() {
        let cases = [
            (
                StoreError::NotFound {
                    what: "order",
                    id: "ord_x".to_owned(),
                },
                "no order with id 'ord_x'",
            ),
            (
                StoreError::Invalid(vec![
                    FieldIssue::new("#/customer_id", "no customer with this id"),
                    FieldIssue::new("#/items/0/quantity", "must be at least 1"),
                ]),
                "2 fields are invalid: #/customer_id: no customer with this id; \
                 #/items/0/quantity: must be at least 1",
            ),
            (
                StoreError::Invalid(vec![FieldIssue::new("#/name", "must not be empty")]),
                "1 field is invalid: #/name: must not be empty",
            ),
        ];
        for (err, expected) in cases {
            assert_eq!(err.to_string(), expected);
        }
    }
}
