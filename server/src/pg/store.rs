//! The store's tables in PostgreSQL: `PgStore` implements every part of
//! the storage port (`crate::store::port`), so it is a `Storage` like the
//! SQLite store, and the one suite (`server/tests/storage.rs`) holds both to
//! the same behaviour.
//!
//! The rules that do not depend on storage (validation, what an update
//! records in the audit log, secret hashing) are the SQLite store's own
//! functions, called from here, so the two backends cannot disagree.
//!
//! The port is synchronous and the client asynchronous: every method
//! blocks its thread on the pool through the runtime's handle. The server
//! calls the port from tokio's blocking pool (`App::db`); see
//! `PgStore::block` for a call from anywhere else.
//!
//! Concurrency: SQLite serialises writers; here several replicas write at
//! once, so each check-then-write locks what it checks (`SELECT ... FOR
//! UPDATE`) and uniqueness is the unique indexes' (a violation is the same
//! `Conflict` the SQLite store reports).

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::idempotency::{BOOT_SILENCE, Boot, PgRecords, complete};
use super::{Pg, PgError};
use crate::domain::{CatalogProduct, RequestedLine};
use crate::store::audit::{Action, Actor, AuditEvent, AuditFilter, Change, changes_from_json};
use crate::store::customers::{
    Customer, CustomerPatch, check_customer_patch, check_new_customer, customer_updated, email_key,
};
use crate::store::keys::{
    ApiKey, Principal, Role, SECRET_PREFIX, check_new_key, hash_secret, presentable,
};
use crate::store::orders::{check_transition, price, status_changed};
use crate::store::principals::PrincipalCache;
use crate::store::products::{
    apply_patch, check_new_product, check_product_patch, new_row, product_created, product_updated,
};
use crate::store::webhooks::{
    Attempt, AttemptOutcome, DeliveryLog, DeliveryState, DueDelivery, ORDER_CREATED,
    ORDER_STATUS_CHANGED, WebhookEndpoint, check_new_endpoint, endpoint_created, event_payload,
    secret_text,
};
use crate::store::{
    AuditLog, Clock, CustomerStore, IdSource, KeyStore, NewProduct, PRINCIPAL_CAPACITY,
    PRINCIPAL_TTL, Page, PageRequest, Product, ProductFilter, ProductPatch, ProductStore,
    RecordStore, StorageBase, StoreError, Unit, check_version, into_page,
};
use crate::store::{
    Begin, IdempotencyKey, Order, OrderEventRow, OrderFilter, OrderItem, OrderStatus, OrderStore,
    Storage, StoredResponse, UnitOfWork, WebhookStore,
};

type Result<T> = std::result::Result<T, StoreError>;

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Unavailable(m) => StoreError::Unavailable(m),
            PgError::Config(m) | PgError::Internal(m) => StoreError::Internal(m),
            PgError::Conflict(m) => StoreError::Conflict {
                code: "conflict",
                detail: m,
            },
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::from(e).into()
    }
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

fn duplicate_email() -> StoreError {
    StoreError::Conflict {
        code: "duplicate_email",
        detail: "another customer already uses this email address".to_owned(),
    }
}

/// A transaction on a pooled connection, begun with `BEGIN` and ended by
/// [`Tx::commit`] or [`Tx::rollback`]. Dropped without either (a panic, a
/// dropped future), its connection is closed instead of going back to the
/// pool, so no request ever finds another one's open transaction.
struct Tx {
    client: Option<deadpool_postgres::Object>,
}

impl Tx {
    async fn begin(pg: &Pg) -> Result<Tx> {
        let client = pg.client().await?;
        let tx = Tx {
            client: Some(client),
        };
        tx.client()?.batch_execute("BEGIN").await?;
        Ok(tx)
    }

    fn client(&self) -> Result<&deadpool_postgres::Object> {
        match &self.client {
            Some(c) => Ok(c),
            None => Err(StoreError::Internal(
                "a finished transaction was used".into(),
            )),
        }
    }

    async fn commit(&mut self) -> Result<()> {
        self.client()?.batch_execute("COMMIT").await?;
        self.client = None;
        Ok(())
    }

    async fn rollback(&mut self) {
        if let Some(c) = &self.client
            && c.batch_execute("ROLLBACK").await.is_ok()
        {
            self.client = None;
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            // Detached from the pool: dropping it closes the connection,
            // and PostgreSQL rolls its transaction back.
            drop(deadpool_postgres::Object::take(c));
        }
    }
}

/// PostgreSQL's state of a [`Unit`]: the unit's transaction once it wrote.
#[derive(Default)]
struct PgUnit(Option<Tx>);

thread_local! {
    /// The unit this thread's store calls join, set only inside
    /// [`RecordStore::run_in_unit`] (the server's calls for one request
    /// run on one blocking-pool thread, and `block_on` polls on it).
    static UNIT: RefCell<Option<PgUnit>> = const { RefCell::new(None) };
}

fn take_unit() -> Option<PgUnit> {
    UNIT.with(|cell| cell.borrow_mut().take())
}

fn put_unit(state: PgUnit) {
    UNIT.with(|cell| *cell.borrow_mut() = Some(state));
}

/// The store on PostgreSQL.
pub struct PgStore {
    pg: Pg,
    rt: tokio::runtime::Handle,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    principals: PrincipalCache,
    cursor_secret: OnceLock<[u8; 32]>,
    boot: Boot,
    records: PgRecords,
    /// Keeps this boot alive in `boots` (see `idempotency::BOOT_SILENCE`).
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Drop for PgStore {
    /// A clean close: this boot's claims stop blocking other replicas'
    /// retries at once (a crash skips this; silence then says it).
    fn drop(&mut self) {
        self.heartbeat.abort();
        let boot = self.boot.clone();
        self.rt.spawn(async move {
            let _ = boot.close().await;
        });
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// A store on `pg`, whose schema is brought up to date first. `rt` is
    /// the runtime the pool's connections run on.
    pub async fn open(
        pg: Pg,
        rt: tokio::runtime::Handle,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Result<PgStore> {
        pg.migrate().await?;
        let boot = Boot::register(pg.clone(), clock.clone()).await?;
        let beating = boot.clone();
        let heartbeat = rt.spawn(async move {
            let mut every = tokio::time::interval(BOOT_SILENCE / 3);
            loop {
                every.tick().await;
                // A missed beat is retried at the next tick; three in a row
                // and other replicas take this boot's claims over.
                let _ = beating.beat().await;
            }
        });
        Ok(PgStore {
            records: PgRecords::new(pg.clone(), boot.clone()),
            boot,
            heartbeat,
            pg,
            rt,
            clock,
            ids,
            principals: PrincipalCache::new(PRINCIPAL_CAPACITY, PRINCIPAL_TTL),
            cursor_secret: OnceLock::new(),
        })
    }

    /// Runs `work` to completion on this thread. The server calls the port
    /// from the blocking pool; called on a worker of a multi-thread
    /// runtime instead, the worker first hands its other tasks off
    /// (`block_in_place`), so a stray call stalls no other request.
    fn block<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let on_multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if on_multi_thread {
            tokio::task::block_in_place(|| self.rt.block_on(work))
        } else {
            self.rt.block_on(work)
        }
    }

    /// Runs `f` in a transaction and commits if it returns `Ok`; an error
    /// rolls everything back. Inside a unit ([`RecordStore::run_in_unit`]),
    /// `f` runs in a savepoint of the unit's transaction instead (begun on
    /// the unit's first write), and nothing commits until the unit does.
    async fn write<T>(
        &self,
        f: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T>,
    ) -> Result<T> {
        if let Some(mut state) = take_unit() {
            let result = async {
                if state.0.is_none() {
                    let tx = Tx::begin(&self.pg).await?;
                    state.0 = Some(tx);
                }
                let Some(tx) = state.0.as_ref() else {
                    return Err(StoreError::Internal(
                        "a unit without its transaction".into(),
                    ));
                };
                let client = tx.client()?;
                client.batch_execute("SAVEPOINT unit_call").await?;
                match f(client).await {
                    Ok(v) => {
                        client.batch_execute("RELEASE SAVEPOINT unit_call").await?;
                        Ok(v)
                    }
                    Err(e) => {
                        client
                            .batch_execute("ROLLBACK TO SAVEPOINT unit_call")
                            .await?;
                        Err(e)
                    }
                }
            }
            .await;
            put_unit(state);
            return result;
        }
        let mut tx = Tx::begin(&self.pg).await?;
        let value = f(tx.client()?).await;
        match value {
            Ok(v) => {
                tx.commit().await?;
                Ok(v)
            }
            Err(e) => {
                tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Runs `f` on a pooled connection, or, inside a unit that has written,
    /// on the unit's (so it sees the unit's own writes).
    async fn read<T>(
        &self,
        f: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T>,
    ) -> Result<T> {
        if let Some(state) = take_unit() {
            let result = match state.0.as_ref() {
                Some(tx) => match tx.client() {
                    Ok(client) => f(client).await,
                    Err(e) => Err(e),
                },
                None => match self.pg.client().await {
                    Ok(client) => f(&client).await,
                    Err(e) => Err(e.into()),
                },
            };
            put_unit(state);
            return result;
        }
        let client = self.pg.client().await?;
        f(&client).await
    }

    /// Appends `action` by `actor` inside `tx` when the actor is an admin,
    /// like the SQLite store's audit: the event commits with the change.
    async fn audit(
        &self,
        tx: &tokio_postgres::Client,
        actor: &Actor,
        action: Action<'_>,
    ) -> Result<()> {
        if !actor.admin {
            return Ok(());
        }
        let changes = Value::Array(
            action
                .changes
                .into_iter()
                .map(
                    |c| serde_json::json!({"field": c.field, "before": c.before, "after": c.after}),
                )
                .collect(),
        );
        tx.execute(
            "INSERT INTO audit_events (id, occurred_at, actor, operation, action, resource_type, \
             resource_id, request_id, changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)",
            &[
                &self.ids.new_id("aud"),
                &StorageBase::now(self),
                &actor.key_id,
                &actor.operation,
                &action.action,
                &action.resource_type,
                &action.resource_id,
                &actor.request_id,
                &changes.to_string(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn insert_key(
        &self,
        tx: &tokio_postgres::Client,
        role: Role,
        customer_id: Option<&str>,
        name: &str,
    ) -> Result<(ApiKey, String)> {
        if let Some(customer_id) = customer_id {
            let exists = tx
                .query_opt("SELECT 1 FROM customers WHERE id = $1", &[&customer_id])
                .await?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound {
                    what: "customer",
                    id: customer_id.to_owned(),
                });
            }
        }
        let bytes = self.ids.secret_bytes();
        let secret = format!("{SECRET_PREFIX}{}", hex::encode(&bytes[..16]));
        let now = StorageBase::now(self);
        let key = ApiKey {
            id: self.ids.new_id("key"),
            name: name.to_owned(),
            role,
            customer_id: customer_id.map(str::to_owned),
            created_at: now,
            revoked_at: None,
        };
        tx.execute(
            "INSERT INTO api_keys (id, name, role, customer_id, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &key.id,
                &key.name,
                &key.role.as_str(),
                &key.customer_id,
                &&hash_secret(&secret)[..],
                &now,
            ],
        )
        .await?;
        Ok((key, secret))
    }
}

fn role_of(text: &str) -> Result<Role> {
    Role::parse(text).ok_or_else(|| StoreError::Internal(format!("unknown role '{text}' stored")))
}

fn key_from_row(r: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        role: role_of(r.try_get(2)?)?,
        customer_id: r.try_get(3)?,
        created_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
    })
}

const KEY_COLUMNS: &str = "id, name, role, customer_id, created_at, revoked_at";

fn customer_from_row(r: &Row) -> Result<(i64, Customer)> {
    Ok((
        r.try_get(0)?,
        Customer {
            id: r.try_get(1)?,
            name: r.try_get(2)?,
            email: r.try_get(3)?,
            created_at: r.try_get(4)?,
            updated_at: r.try_get(5)?,
            version: r.try_get(6)?,
        },
    ))
}

const CUSTOMER_COLUMNS: &str = "seq, id, name, email, created_at, updated_at, version";

fn not_found(what: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_owned(),
    }
}

impl StorageBase for PgStore {
    fn now(&self) -> DateTime<Utc> {
        // PostgreSQL keeps microseconds, like the SQLite store's text.
        self.clock.now().trunc_subsecs(6)
    }

    fn cursor_secret(&self) -> Result<[u8; 32]> {
        if let Some(secret) = self.cursor_secret.get() {
            return Ok(*secret);
        }
        let candidate = self.ids.secret_bytes();
        let secret = self.block(self.write(async |tx| {
            // The first secret ever written wins, whichever replica wrote it.
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('cursor_secret', $1) \
                 ON CONFLICT (key) DO NOTHING",
                &[&&candidate[..]],
            )
            .await?;
            let stored: Vec<u8> = tx
                .query_one(
                    "SELECT value FROM settings WHERE key = 'cursor_secret'",
                    &[],
                )
                .await?
                .try_get(0)?;
            <[u8; 32]>::try_from(stored.as_slice()).map_err(|_| {
                StoreError::Internal(format!(
                    "stored cursor secret has {} bytes, expected 32",
                    stored.len()
                ))
            })
        }))?;
        Ok(*self.cursor_secret.get_or_init(|| secret))
    }

    fn ping(&self) -> Result<()> {
        self.block(self.read(async |c| {
            let one: i32 = c.query_one("SELECT 1", &[]).await?.try_get(0)?;
            if one == 1 {
                Ok(())
            } else {
                Err(StoreError::Internal("SELECT 1 did not return 1".to_owned()))
            }
        }))
    }

    /// None: a read is a round trip to the server, so reads want the
    /// blocking pool's width rather than a few threads that queue them.
    fn read_threads(&self) -> usize {
        0
    }
}

impl KeyStore for PgStore {
    fn create_key(
        &self,
        actor: &Actor,
        role: Role,
        customer_id: Option<&str>,
        name: &str,
    ) -> Result<(ApiKey, String)> {
        check_new_key(role, customer_id, name)?;
        self.block(self.write(async |tx| {
            let (key, secret) = self.insert_key(tx, role, customer_id, name).await?;
            self.audit(
                tx,
                actor,
                Action {
                    action: "api_key.created",
                    resource_type: "api_key",
                    resource_id: &key.id,
                    changes: vec![
                        Change::set("name", key.name.clone()),
                        Change::set("role", key.role.as_str()),
                        Change::set("customer_id", key.customer_id.clone()),
                    ],
                },
            )
            .await?;
            Ok((key, secret))
        }))
    }

    fn authenticate(&self, secret: &str) -> Result<Option<Principal>> {
        if !presentable(secret) {
            return Ok(None);
        }
        let hash = hash_secret(secret);
        if let Some(p) = self.principals.get(&hash, StorageBase::now(self)) {
            return Ok(Some(p));
        }
        let epoch = self.principals.epoch();
        let found = self.block(self.read(async |c| {
            let row = c
                .query_opt(
                    "SELECT id, role, customer_id FROM api_keys \
                     WHERE secret_hash = $1 AND revoked_at IS NULL",
                    &[&&hash[..]],
                )
                .await?;
            row.map(|r| {
                Ok(Principal {
                    key_id: r.try_get(0)?,
                    role: role_of(r.try_get(1)?)?,
                    customer_id: r.try_get(2)?,
                })
            })
            .transpose()
        }))?;
        if let Some(p) = &found {
            self.principals
                .fill(epoch, hash, p.clone(), StorageBase::now(self));
        }
        Ok(found)
    }

    fn cached_principal(&self, secret: &str) -> Option<Principal> {
        if !presentable(secret) {
            return None;
        }
        self.principals
            .get(&hash_secret(secret), StorageBase::now(self))
    }

    fn get_key(&self, id: &str) -> Result<ApiKey> {
        self.block(self.read(async |c| {
            let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
            match c.query_opt(&sql, &[&id]).await? {
                Some(r) => key_from_row(&r),
                None => Err(not_found("API key", id)),
            }
        }))
    }

    fn revoke_key(&self, actor: &Actor, id: &str) -> Result<ApiKey> {
        let now = StorageBase::now(self);
        let revoked = self.block(self.write(async |tx| {
            let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE");
            let mut key = match tx.query_opt(&sql, &[&id]).await? {
                Some(r) => key_from_row(&r)?,
                None => return Err(not_found("API key", id)),
            };
            let mut changes = Vec::new();
            if key.revoked_at.is_none() {
                tx.execute(
                    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1",
                    &[&id, &now],
                )
                .await?;
                key.revoked_at = Some(now);
                changes.push(Change::new("revoked", false, true));
            }
            self.audit(
                tx,
                actor,
                Action {
                    action: "api_key.revoked",
                    resource_type: "api_key",
                    resource_id: id,
                    changes,
                },
            )
            .await?;
            Ok(key)
        }));
        // Also on failure: dropping a cache entry is always safe.
        self.principals.invalidate_key(id);
        revoked
    }

    fn bootstrap_admin_key(&self) -> Result<Option<String>> {
        self.block(self.write(async |tx| {
            // Replicas starting together: the lock makes the check and the
            // insert one step, so exactly one of them makes the key.
            tx.execute("LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE", &[])
                .await?;
            let any: bool = tx
                .query_one("SELECT EXISTS (SELECT 1 FROM api_keys)", &[])
                .await?
                .try_get(0)?;
            if any {
                return Ok(None);
            }
            let (_, secret) = self
                .insert_key(tx, Role::Admin, None, "bootstrap admin")
                .await?;
            Ok(Some(secret))
        }))
    }
}

impl CustomerStore for PgStore {
    fn create_customer(&self, actor: &Actor, name: &str, email: &str) -> Result<Customer> {
        check_new_customer(name, email)?;
        let now = StorageBase::now(self);
        let customer = Customer {
            id: self.ids.new_id("cus"),
            name: name.to_owned(),
            email: email.to_owned(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.block(self.write(async |tx| {
            // The unique index on email_key decides between replicas.
            tx.execute(
                "INSERT INTO customers (id, name, email, email_key, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
                &[
                    &customer.id,
                    &customer.name,
                    &customer.email,
                    &email_key(email),
                    &now,
                ],
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    duplicate_email()
                } else {
                    e.into()
                }
            })?;
            self.audit(
                tx,
                actor,
                Action {
                    action: "customer.created",
                    resource_type: "customer",
                    resource_id: &customer.id,
                    changes: vec![
                        Change::set("name", customer.name.clone()),
                        Change::set("email", customer.email.clone()),
                    ],
                },
            )
            .await
        }))?;
        Ok(customer)
    }

    fn get_customer(&self, id: &str) -> Result<Customer> {
        self.block(self.read(async |c| {
            let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1");
            match c.query_opt(&sql, &[&id]).await? {
                Some(r) => Ok(customer_from_row(&r)?.1),
                None => Err(not_found("customer", id)),
            }
        }))
    }

    fn update_customer_if(
        &self,
        actor: &Actor,
        id: &str,
        patch: &CustomerPatch,
        expected: Option<&[i64]>,
    ) -> Result<Customer> {
        check_customer_patch(patch)?;
        let now = StorageBase::now(self);
        self.block(self.write(async |tx| {
            // FOR UPDATE: the version checked is the version replaced, even
            // with another replica writing the same customer.
            let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1 FOR UPDATE");
            let mut customer = match tx.query_opt(&sql, &[&id]).await? {
                Some(r) => customer_from_row(&r)?.1,
                None => return Err(not_found("customer", id)),
            };
            check_version("customer", id, customer.version, expected)?;
            let before = customer.clone();
            if patch.name.is_none() && patch.email.is_none() {
                self.audit(tx, actor, customer_updated(&before, &customer))
                    .await?;
                return Ok(customer);
            }
            if let Some(email) = &patch.email {
                customer.email = email.clone();
            }
            if let Some(name) = &patch.name {
                customer.name = name.clone();
            }
            customer.updated_at = now;
            customer.version += 1;
            tx.execute(
                "UPDATE customers SET name = $2, email = $3, email_key = $4, updated_at = $5, \
                 version = version + 1 WHERE id = $1",
                &[
                    &id,
                    &customer.name,
                    &customer.email,
                    &email_key(&customer.email),
                    &now,
                ],
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    duplicate_email()
                } else {
                    e.into()
                }
            })?;
            self.audit(tx, actor, customer_updated(&before, &customer))
                .await?;
            Ok(customer)
        }))
    }

    fn list_customers(&self, page: PageRequest) -> Result<Page<Customer>> {
        let limit = page.checked_limit()?;
        self.block(self.read(async |c| {
            let sql = format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE seq < $1 ORDER BY seq DESC LIMIT $2"
            );
            let rows = c
                .query(
                    &sql,
                    &[&page.after.unwrap_or(i64::MAX), &(i64::from(limit) + 1)],
                )
                .await?;
            let rows = rows
                .iter()
                .map(customer_from_row)
                .collect::<Result<Vec<_>>>()?;
            // No SQLite VM here: the step count is SQLite's cost measure.
            Ok(into_page(rows, limit, 0))
        }))
    }
}

fn audit_from_row(r: &Row) -> Result<(i64, AuditEvent)> {
    let text: &str = r.try_get(9)?;
    let changes = changes_from_json(serde_json::from_str(text).map_err(|e| {
        StoreError::Internal(format!("an audit event's changes are not JSON: {e}"))
    })?)?;
    Ok((
        r.try_get(0)?,
        AuditEvent {
            id: r.try_get(1)?,
            occurred_at: r.try_get(2)?,
            actor: r.try_get(3)?,
            operation: r.try_get(4)?,
            action: r.try_get(5)?,
            resource_type: r.try_get(6)?,
            resource_id: r.try_get(7)?,
            request_id: r.try_get(8)?,
            changes,
        },
    ))
}

impl AuditLog for PgStore {
    fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let limit = page.checked_limit()?;
        let after = page.after.unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        self.block(self.read(async |c| {
            const COLUMNS: &str = "seq, id, occurred_at, actor, operation, action, \
                 resource_type, resource_id, request_id, changes::text";
            // NULL filters match everything; PostgreSQL plans each call
            // with its values, and the indexes end in seq.
            let sql = format!(
                "SELECT {COLUMNS} FROM audit_events WHERE seq < $1 \
                 AND ($3::text IS NULL OR resource_id = $3) AND ($4::text IS NULL OR actor = $4) \
                 ORDER BY seq DESC LIMIT $2"
            );
            let rows = c
                .query(&sql, &[&after, &fetch, &filter.resource_id, &filter.actor])
                .await?;
            let rows = rows
                .iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>>>()?;
            Ok(into_page(rows, limit, 0))
        }))
    }
}

const PRODUCT_COLUMNS: &str =
    "seq, id, sku, name, price_minor, currency, active, created_at, updated_at, version";

fn product_from_row(r: &Row) -> Result<(i64, Product)> {
    Ok((
        r.try_get(0)?,
        Product {
            id: r.try_get(1)?,
            sku: r.try_get(2)?,
            name: r.try_get(3)?,
            price_minor: r.try_get(4)?,
            currency: r.try_get(5)?,
            active: r.try_get(6)?,
            created_at: r.try_get(7)?,
            updated_at: r.try_get(8)?,
            version: r.try_get(9)?,
        },
    ))
}

impl ProductStore for PgStore {
    fn create_product(&self, actor: &Actor, new: &NewProduct) -> Result<Product> {
        check_new_product(new)?;
        let product = new_row(new, self.ids.new_id("prd"), StorageBase::now(self));
        self.block(self.write(async |tx| {
            // The unique index on sku decides between replicas.
            tx.execute(
                "INSERT INTO products (id, sku, name, price_minor, currency, active, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                &[
                    &product.id,
                    &product.sku,
                    &product.name,
                    &product.price_minor,
                    &product.currency,
                    &product.active,
                    &product.created_at,
                ],
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict {
                        code: "duplicate_sku",
                        detail: format!("a product with SKU '{}' already exists", product.sku),
                    }
                } else {
                    e.into()
                }
            })?;
            self.audit(tx, actor, product_created(&product)).await
        }))?;
        Ok(product)
    }

    fn get_product(&self, id: &str) -> Result<Product> {
        self.block(self.read(async |c| {
            let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1");
            match c.query_opt(&sql, &[&id]).await? {
                Some(r) => Ok(product_from_row(&r)?.1),
                None => Err(not_found("product", id)),
            }
        }))
    }

    fn update_product_if(
        &self,
        actor: &Actor,
        id: &str,
        patch: &ProductPatch,
        expected: Option<&[i64]>,
    ) -> Result<Product> {
        check_product_patch(patch)?;
        let now = StorageBase::now(self);
        self.block(self.write(async |tx| {
            let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1 FOR UPDATE");
            let mut product = match tx.query_opt(&sql, &[&id]).await? {
                Some(r) => product_from_row(&r)?.1,
                None => return Err(not_found("product", id)),
            };
            check_version("product", id, product.version, expected)?;
            let before = product.clone();
            if patch == &ProductPatch::default() {
                self.audit(tx, actor, product_updated(&before, &product))
                    .await?;
                return Ok(product);
            }
            apply_patch(&mut product, patch, now);
            tx.execute(
                "UPDATE products SET name = $2, price_minor = $3, currency = $4, active = $5, \
                 updated_at = $6, version = version + 1 WHERE id = $1",
                &[
                    &id,
                    &product.name,
                    &product.price_minor,
                    &product.currency,
                    &product.active,
                    &now,
                ],
            )
            .await?;
            self.audit(tx, actor, product_updated(&before, &product))
                .await?;
            Ok(product)
        }))
    }

    fn list_products(&self, filter: ProductFilter, page: PageRequest) -> Result<Page<Product>> {
        let limit = page.checked_limit()?;
        let after = page.after.unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        self.block(self.read(async |client| {
            // One statement per filter shape, each served by its index.
            let rows = match filter.active {
                None => {
                    let sql = format!(
                        "SELECT {PRODUCT_COLUMNS} FROM products WHERE seq < $1 \
                         ORDER BY seq DESC LIMIT $2"
                    );
                    client.query(&sql, &[&after, &fetch]).await?
                }
                Some(active) => {
                    let sql = format!(
                        "SELECT {PRODUCT_COLUMNS} FROM products WHERE active = $3 AND seq < $1 \
                         ORDER BY seq DESC LIMIT $2"
                    );
                    client.query(&sql, &[&after, &fetch, &active]).await?
                }
            };
            let rows = rows
                .iter()
                .map(product_from_row)
                .collect::<Result<Vec<_>>>()?;
            Ok(into_page(rows, limit, 0))
        }))
    }
}

impl RecordStore for PgStore {
    fn idempotency_begin(
        &self,
        key: &IdempotencyKey<'_>,
        lease: std::time::Duration,
        retention: std::time::Duration,
    ) -> Result<Begin> {
        self.block(async { Ok(self.records.begin(key, lease, retention).await?) })
    }

    fn idempotency_finish(
        &self,
        key: &IdempotencyKey<'_>,
        response: &StoredResponse,
    ) -> Result<()> {
        self.block(async { Ok(self.records.finish(key, response).await?) })
    }

    fn idempotency_release(&self, key: &IdempotencyKey<'_>) -> Result<()> {
        self.block(async { Ok(self.records.release(key).await?) })
    }

    fn purge_idempotency(&self) -> Result<usize> {
        let purged = self.block(async { Ok(self.records.purge().await?) })?;
        Ok(usize::try_from(purged).unwrap_or(usize::MAX))
    }
}

impl PgStore {
    /// Runs `f` with every store call it makes on this thread joined to
    /// `unit`: the first write begins the unit's transaction, each call is
    /// a savepoint in it, and nothing commits until [`PgStore::commit_unit`].
    /// (`RecordStore::run_in_unit` once every part of the port exists.)
    pub fn in_unit<T>(&self, unit: &mut Unit, f: impl FnOnce(&PgStore) -> T) -> T {
        struct Detach<'u>(&'u mut Unit);
        impl Drop for Detach<'_> {
            fn drop(&mut self) {
                if let Some(state) = take_unit().filter(|u| u.0.is_some()) {
                    self.0.put(state);
                }
            }
        }
        put_unit(unit.take::<PgUnit>());
        let _detach = Detach(unit);
        f(self)
    }

    /// Completes `key`'s claim with `response` and commits it together with
    /// everything `unit` wrote: both or neither.
    pub fn commit_unit(
        &self,
        unit: Unit,
        key: &IdempotencyKey<'_>,
        response: &StoredResponse,
    ) -> Result<()> {
        let mut unit = unit;
        match unit.take::<PgUnit>().0 {
            Some(mut tx) => self.block(async {
                complete(tx.client()?, key, response).await?;
                tx.commit().await
            }),
            None => self.idempotency_finish(key, response),
        }
    }
}

const ORDER_COLUMNS: &str =
    "seq, id, customer_id, status, total_minor, currency, created_at, updated_at, version";
const ITEM_COLUMNS: &str = "order_seq, line, product_id, sku, name, quantity, unit_price_minor, \
     line_total_minor, currency";

fn order_from_row(r: &Row) -> Result<(i64, Order)> {
    let status: &str = r.try_get(3)?;
    Ok((
        r.try_get(0)?,
        Order {
            id: r.try_get(1)?,
            customer_id: r.try_get(2)?,
            status: OrderStatus::parse(status).ok_or_else(|| {
                StoreError::Internal(format!("unknown order status '{status}' stored"))
            })?,
            items: Vec::new(),
            total_minor: r.try_get(4)?,
            currency: r.try_get(5)?,
            created_at: r.try_get(6)?,
            updated_at: r.try_get(7)?,
            version: r.try_get(8)?,
        },
    ))
}

fn item_from_row(r: &Row) -> Result<(i64, OrderItem)> {
    let line: i32 = r.try_get(1)?;
    let quantity: i64 = r.try_get(5)?;
    let out_of_range =
        || StoreError::Internal("an order line's number or quantity is out of range".into());
    Ok((
        r.try_get(0)?,
        OrderItem {
            line: u32::try_from(line).map_err(|_| out_of_range())?,
            product_id: r.try_get(2)?,
            sku: r.try_get(3)?,
            name: r.try_get(4)?,
            quantity: u32::try_from(quantity).map_err(|_| out_of_range())?,
            unit_price_minor: r.try_get(6)?,
            line_total_minor: r.try_get(7)?,
            currency: r.try_get(8)?,
        },
    ))
}

/// An order by id with visibility applied (another customer's order is
/// reported exactly like a missing one); `lock` takes its row for update.
async fn load_order(
    c: &tokio_postgres::Client,
    id: &str,
    visible_to: Option<&str>,
    lock: bool,
) -> Result<(i64, Order)> {
    let sql = if lock {
        format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE")
    } else {
        format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1")
    };
    match c.query_opt(&sql, &[&id]).await? {
        Some(r) => {
            let (seq, order) = order_from_row(&r)?;
            if visible_to.is_none_or(|v| v == order.customer_id) {
                Ok((seq, order))
            } else {
                Err(not_found("order", id))
            }
        }
        None => Err(not_found("order", id)),
    }
}

async fn load_items(c: &tokio_postgres::Client, seq: i64) -> Result<Vec<OrderItem>> {
    let sql = format!("SELECT {ITEM_COLUMNS} FROM order_items WHERE order_seq = $1 ORDER BY line");
    c.query(&sql, &[&seq])
        .await?
        .iter()
        .map(|r| item_from_row(r).map(|(_, item)| item))
        .collect()
}

/// A product as an order line would copy it; the row is locked against
/// updates (FOR SHARE) until the order's transaction ends, so a price
/// change on another replica cannot slip between pricing and insert.
async fn catalog_entry(
    c: &tokio_postgres::Client,
    product_id: &str,
) -> Result<Option<CatalogProduct>> {
    let row = c
        .query_opt(
            "SELECT sku, name, price_minor, currency, active FROM products WHERE id = $1 FOR SHARE",
            &[&product_id],
        )
        .await?;
    row.map(|r| {
        Ok(CatalogProduct {
            sku: r.try_get(0)?,
            name: r.try_get(1)?,
            price_minor: r.try_get(2)?,
            currency: r.try_get(3)?,
            active: r.try_get(4)?,
        })
    })
    .transpose()
}

impl PgStore {
    /// Validates, prices and inserts one order inside `c`'s transaction,
    /// with its outbox event.
    async fn place_order(
        &self,
        c: &tokio_postgres::Client,
        customer_id: &str,
        items: &[(String, u32)],
    ) -> Result<Order> {
        let customer = c
            .query_opt(
                "SELECT 1 FROM customers WHERE id = $1 FOR SHARE",
                &[&customer_id],
            )
            .await?
            .is_some();
        let mut requested = Vec::with_capacity(items.len());
        for (product_id, quantity) in items {
            requested.push(RequestedLine {
                product_id: product_id.clone(),
                quantity: *quantity,
                product: catalog_entry(c, product_id).await?,
            });
        }
        let (total, currency, lines) = price(customer, requested)?;
        let now = StorageBase::now(self);
        let order = Order {
            id: self.ids.new_id("ord"),
            customer_id: customer_id.to_owned(),
            status: OrderStatus::Pending,
            items: lines,
            total_minor: total,
            currency,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let seq: i64 = c
            .query_one(
                "INSERT INTO orders (id, customer_id, status, total_minor, currency, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING seq",
                &[
                    &order.id,
                    &order.customer_id,
                    &order.status.as_str(),
                    &order.total_minor,
                    &order.currency,
                    &now,
                ],
            )
            .await?
            .try_get(0)?;
        let insert = c
            .prepare(
                "INSERT INTO order_items (order_seq, line, product_id, sku, name, quantity, \
                 unit_price_minor, line_total_minor, currency) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .await?;
        for item in &order.items {
            let line = i32::try_from(item.line)
                .map_err(|_| StoreError::Internal("an order line number overflows".into()))?;
            c.execute(
                &insert,
                &[
                    &seq,
                    &line,
                    &item.product_id,
                    &item.sku,
                    &item.name,
                    &i64::from(item.quantity),
                    &item.unit_price_minor,
                    &item.line_total_minor,
                    &item.currency,
                ],
            )
            .await?;
        }
        self.record_order_event(c, ORDER_CREATED, &order, None)
            .await?;
        Ok(order)
    }

    /// Writes an order event, and a pending delivery for every live
    /// endpoint that takes its type, inside `c`'s transaction (the outbox).
    async fn record_order_event(
        &self,
        c: &tokio_postgres::Client,
        event_type: &'static str,
        order: &Order,
        previous: Option<OrderStatus>,
    ) -> Result<()> {
        let id = self.ids.new_id("evt");
        let now = StorageBase::now(self);
        let payload = event_payload(&id, event_type, now, order, previous);
        let event_seq: i64 = c
            .query_one(
                "INSERT INTO order_events (id, type, order_id, payload, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING seq",
                &[&id, &event_type, &order.id, &payload, &now],
            )
            .await?
            .try_get(0)?;
        c.execute(
            "INSERT INTO webhook_deliveries (event_seq, endpoint_seq, state, next_attempt_at) \
             SELECT $1, e.seq, 'pending', $2 FROM webhook_endpoints e \
             WHERE e.deleted_at IS NULL AND $3 = ANY (e.events)",
            &[&event_seq, &now, &event_type],
        )
        .await?;
        Ok(())
    }

    /// The outbox events of one order, oldest first (the port's
    /// `WebhookStore::order_events`, with the rest of that part).
    pub fn order_events(&self, order_id: &str) -> Result<Vec<OrderEventRow>> {
        self.block(self.read(async |c| {
            c.query(
                "SELECT id, type, payload, created_at FROM order_events WHERE order_id = $1 \
                 ORDER BY seq",
                &[&order_id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(OrderEventRow {
                    id: r.try_get(0)?,
                    event_type: r.try_get(1)?,
                    payload: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect()
        }))
    }
}

impl OrderStore for PgStore {
    fn create_order(&self, customer_id: &str, items: &[(String, u32)]) -> Result<Order> {
        self.block(self.write(async |c| self.place_order(c, customer_id, items).await))
    }

    fn create_order_at_quote(
        &self,
        customer_id: &str,
        items: &[(String, u32)],
        quote: &[Option<CatalogProduct>],
    ) -> Result<Option<Order>> {
        self.block(self.write(async |c| {
            if quote.len() != items.len() {
                return Ok(None);
            }
            // The rows read here are locked until commit, so what is
            // compared to the quote is what the order is priced from.
            for ((product_id, _), quoted) in items.iter().zip(quote) {
                if catalog_entry(c, product_id).await? != *quoted {
                    return Ok(None);
                }
            }
            Ok(Some(self.place_order(c, customer_id, items).await?))
        }))
    }

    fn get_order(&self, id: &str, visible_to: Option<&str>) -> Result<Order> {
        self.block(self.read(async |c| {
            let (seq, mut order) = load_order(c, id, visible_to, false).await?;
            // Lines never change once written, so a second statement reads
            // the same lines the order had.
            order.items = load_items(c, seq).await?;
            Ok(order)
        }))
    }

    fn list_orders(&self, filter: &OrderFilter, page: PageRequest) -> Result<Page<Order>> {
        let limit = page.checked_limit()?;
        let after = page.after.unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        self.block(self.read(async |c| {
            // One statement per filter combination, each on its index.
            let head = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE seq < $1");
            let tail = "ORDER BY seq DESC LIMIT $2";
            let status = filter.status.map(OrderStatus::as_str);
            let rows = match (&filter.customer_id, status) {
                (None, None) => {
                    c.query(&format!("{head} {tail}"), &[&after, &fetch])
                        .await?
                }
                (Some(customer), None) => {
                    c.query(
                        &format!("{head} AND customer_id = $3 {tail}"),
                        &[&after, &fetch, customer],
                    )
                    .await?
                }
                (None, Some(status)) => {
                    c.query(
                        &format!("{head} AND status = $3 {tail}"),
                        &[&after, &fetch, &status],
                    )
                    .await?
                }
                (Some(customer), Some(status)) => {
                    c.query(
                        &format!("{head} AND customer_id = $3 AND status = $4 {tail}"),
                        &[&after, &fetch, customer, &status],
                    )
                    .await?
                }
            };
            let rows = rows
                .iter()
                .map(order_from_row)
                .collect::<Result<Vec<_>>>()?;
            // The lines of every order on the page, in one statement.
            let mut page = into_page(rows, limit, 0);
            page_with_items(c, &mut page).await?;
            Ok(page)
        }))
    }

    fn list_order_items(
        &self,
        order_id: &str,
        visible_to: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<OrderItem>> {
        let limit = page.checked_limit()?;
        self.block(self.read(async |c| {
            let (seq, _) = load_order(c, order_id, visible_to, false).await?;
            let after = i32::try_from(page.after.unwrap_or(0)).unwrap_or(i32::MAX);
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM order_items WHERE order_seq = $1 AND line > $2 \
                 ORDER BY line LIMIT $3"
            );
            let rows = c
                .query(&sql, &[&seq, &after, &(i64::from(limit) + 1)])
                .await?
                .iter()
                .map(|r| item_from_row(r).map(|(_, item)| (i64::from(item.line), item)))
                .collect::<Result<Vec<_>>>()?;
            Ok(into_page(rows, limit, 0))
        }))
    }

    fn transition_order_if(
        &self,
        actor: &Actor,
        order_id: &str,
        to: OrderStatus,
        visible_to: Option<&str>,
        expected: Option<&[i64]>,
    ) -> Result<Order> {
        let now = StorageBase::now(self);
        self.block(self.write(async |c| {
            // FOR UPDATE: of two replicas moving one order, the second
            // waits and then checks the status the first left.
            let (seq, mut order) = load_order(c, order_id, visible_to, true).await?;
            check_transition(&order, to, expected)?;
            let from = order.status;
            c.execute(
                "UPDATE orders SET status = $2, updated_at = $3, version = version + 1 \
                 WHERE seq = $1",
                &[&seq, &to.as_str(), &now],
            )
            .await?;
            order.status = to;
            order.updated_at = now;
            order.version += 1;
            order.items = load_items(c, seq).await?;
            self.record_order_event(c, ORDER_STATUS_CHANGED, &order, Some(from))
                .await?;
            self.audit(c, actor, status_changed(&order, from)).await?;
            Ok(order)
        }))
    }
}

/// Fills in the lines of every order on `page` with one statement.
async fn page_with_items(c: &tokio_postgres::Client, page: &mut Page<Order>) -> Result<()> {
    let ids: Vec<&str> = page.rows.iter().map(|o| o.id.as_str()).collect();
    let sql = "SELECT i.order_seq, i.line, i.product_id, i.sku, i.name, i.quantity, \
         i.unit_price_minor, i.line_total_minor, i.currency, o.id FROM order_items i \
         JOIN orders o ON o.seq = i.order_seq WHERE o.id = ANY ($1) ORDER BY i.order_seq, i.line";
    let mut by_order: std::collections::HashMap<String, Vec<OrderItem>> =
        std::collections::HashMap::with_capacity(page.rows.len());
    if !ids.is_empty() {
        for r in c.query(sql, &[&ids]).await? {
            let (_, item) = item_from_row(&r)?;
            let id: String = r.try_get(9)?;
            by_order.entry(id).or_default().push(item);
        }
    }
    for order in &mut page.rows {
        order.items = by_order.remove(&order.id).unwrap_or_default();
    }
    Ok(())
}

impl WebhookStore for PgStore {
    fn create_webhook_endpoint(
        &self,
        actor: &Actor,
        url: &str,
        events: &[String],
    ) -> Result<(WebhookEndpoint, String)> {
        let events = check_new_endpoint(url, events)?;
        let secret = self.ids.secret_bytes();
        let now = StorageBase::now(self);
        let endpoint = WebhookEndpoint {
            id: self.ids.new_id("whe"),
            url: url.to_owned(),
            events,
            created_at: now,
        };
        self.block(self.write(async |c| {
            c.execute(
                "INSERT INTO webhook_endpoints (id, url, events, secret, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &endpoint.id,
                    &endpoint.url,
                    &endpoint.events,
                    &&secret[..],
                    &now,
                ],
            )
            .await?;
            self.audit(c, actor, endpoint_created(&endpoint)).await
        }))?;
        Ok((endpoint, secret_text(&secret)))
    }

    fn list_webhook_endpoints(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>> {
        let limit = page.checked_limit()?;
        self.block(self.read(async |c| {
            let rows = c
                .query(
                    "SELECT seq, id, url, events, created_at FROM webhook_endpoints \
                     WHERE deleted_at IS NULL AND seq < $1 ORDER BY seq DESC LIMIT $2",
                    &[&page.after.unwrap_or(i64::MAX), &(i64::from(limit) + 1)],
                )
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get(0)?,
                        WebhookEndpoint {
                            id: r.try_get(1)?,
                            url: r.try_get(2)?,
                            events: r.try_get(3)?,
                            created_at: r.try_get(4)?,
                        },
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(into_page(rows, limit, 0))
        }))
    }

    fn delete_webhook_endpoint(&self, actor: &Actor, id: &str) -> Result<()> {
        let now = StorageBase::now(self);
        self.block(self.write(async |c| {
            let seq: i64 = match c
                .query_opt(
                    "SELECT seq FROM webhook_endpoints WHERE id = $1 AND deleted_at IS NULL \
                     FOR UPDATE",
                    &[&id],
                )
                .await?
            {
                Some(r) => r.try_get(0)?,
                None => return Err(not_found("webhook endpoint", id)),
            };
            c.execute(
                "UPDATE webhook_endpoints SET deleted_at = $2 WHERE seq = $1",
                &[&seq, &now],
            )
            .await?;
            c.execute(
                "UPDATE webhook_deliveries SET state = 'dead', claimed_by = NULL \
                 WHERE endpoint_seq = $1 AND state = 'pending'",
                &[&seq],
            )
            .await?;
            self.audit(
                c,
                actor,
                Action {
                    action: "webhook_endpoint.deleted",
                    resource_type: "webhook_endpoint",
                    resource_id: id,
                    changes: vec![Change::new("deleted", false, true)],
                },
            )
            .await
        }))
    }

    fn release_orphaned_deliveries(&self) -> Result<usize> {
        let now = StorageBase::now(self);
        let silent_since =
            now - chrono::Duration::from_std(BOOT_SILENCE).unwrap_or(chrono::Duration::seconds(15));
        self.block(self.write(async |c| {
            // A claimer is gone when its boot closed or stopped beating
            // (a pid says nothing across machines; see pg::idempotency).
            let released = c
                .execute(
                    "UPDATE webhook_deliveries d SET claimed_by = NULL, next_attempt_at = $2 \
                     WHERE d.state = 'pending' AND d.claimed_by IS NOT NULL \
                       AND d.claimed_by <> $1 \
                       AND NOT EXISTS (SELECT 1 FROM boots b WHERE b.boot_id = d.claimed_by \
                                       AND b.closed_at IS NULL AND b.heartbeat_at > $3)",
                    &[&self.boot.id(), &now, &silent_since],
                )
                .await?;
            Ok(usize::try_from(released).unwrap_or(usize::MAX))
        }))
    }

    fn claim_due(&self, limit: u32, lease_until: DateTime<Utc>) -> Result<Vec<DueDelivery>> {
        let now = StorageBase::now(self);
        self.block(self.write(async |c| {
            // SKIP LOCKED: workers on other replicas claiming at the same
            // moment take other deliveries instead of waiting for these.
            let rows = c
                .query(
                    "SELECT d.seq, ev.id, ev.payload, e.url, e.secret, d.attempts + 1 \
                     FROM webhook_deliveries d \
                     JOIN order_events ev ON ev.seq = d.event_seq \
                     JOIN webhook_endpoints e ON e.seq = d.endpoint_seq \
                     WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                     ORDER BY d.next_attempt_at, d.seq LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
                    &[&now, &i64::from(limit)],
                )
                .await?;
            let mut due = Vec::with_capacity(rows.len());
            for r in &rows {
                let secret: Vec<u8> = r.try_get(4)?;
                let attempt: i32 = r.try_get(5)?;
                due.push(DueDelivery {
                    delivery: r.try_get(0)?,
                    event_id: r.try_get(1)?,
                    payload: r.try_get(2)?,
                    url: r.try_get(3)?,
                    // Never a stand-in key (the schema forbids other sizes).
                    secret: <[u8; 32]>::try_from(secret.as_slice()).map_err(|_| {
                        StoreError::Internal(format!(
                            "a webhook secret of {} bytes, expected 32",
                            secret.len()
                        ))
                    })?,
                    attempt: i64::from(attempt),
                });
            }
            for d in &due {
                c.execute(
                    "UPDATE webhook_deliveries SET claimed_by = $2, next_attempt_at = $3 \
                     WHERE seq = $1",
                    &[&d.delivery, &self.boot.id(), &lease_until],
                )
                .await?;
            }
            Ok(due)
        }))
    }

    fn record_attempt(&self, delivery: &DueDelivery, outcome: &AttemptOutcome) -> Result<()> {
        let now = StorageBase::now(self);
        let attempt = i32::try_from(delivery.attempt)
            .map_err(|_| StoreError::Internal("an attempt number overflows".into()))?;
        self.block(self.write(async |c| {
            c.execute(
                "INSERT INTO webhook_attempts (delivery_seq, attempt, attempted_at, status, \
                 error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &delivery.delivery,
                    &attempt,
                    &now,
                    &outcome.status.map(i32::from),
                    &outcome.error,
                    &outcome.duration_ms,
                ],
            )
            .await?;
            c.execute(
                "UPDATE webhook_deliveries SET attempts = $2, state = $3, next_attempt_at = $4, \
                 claimed_by = NULL WHERE seq = $1 AND state = 'pending'",
                &[
                    &delivery.delivery,
                    &attempt,
                    &outcome.state.as_str(),
                    &outcome.retry_at,
                ],
            )
            .await?;
            Ok(())
        }))
    }

    fn event_deliveries(&self, event_id: &str) -> Result<(OrderEventRow, Vec<DeliveryLog>)> {
        self.block(self.read(async |c| {
            let Some(r) = c
                .query_opt(
                    "SELECT seq, id, type, payload, created_at FROM order_events WHERE id = $1",
                    &[&event_id],
                )
                .await?
            else {
                return Err(not_found("event", event_id));
            };
            let event_seq: i64 = r.try_get(0)?;
            let event = OrderEventRow {
                id: r.try_get(1)?,
                event_type: r.try_get(2)?,
                payload: r.try_get(3)?,
                created_at: r.try_get(4)?,
            };
            let deliveries = c
                .query(
                    "SELECT d.seq, e.id, d.state, d.next_attempt_at FROM webhook_deliveries d \
                     JOIN webhook_endpoints e ON e.seq = d.endpoint_seq \
                     WHERE d.event_seq = $1 ORDER BY d.seq",
                    &[&event_seq],
                )
                .await?;
            let mut logs = Vec::with_capacity(deliveries.len());
            for d in &deliveries {
                let seq: i64 = d.try_get(0)?;
                let state_text: &str = d.try_get(2)?;
                let state = DeliveryState::parse(state_text).ok_or_else(|| {
                    StoreError::Internal(format!("unknown delivery state '{state_text}'"))
                })?;
                let next: Option<DateTime<Utc>> = d.try_get(3)?;
                let attempts = c
                    .query(
                        "SELECT attempt, attempted_at, status, error, duration_ms \
                         FROM webhook_attempts WHERE delivery_seq = $1 ORDER BY attempt, seq",
                        &[&seq],
                    )
                    .await?
                    .iter()
                    .map(|a| {
                        let attempt: i32 = a.try_get(0)?;
                        let status: Option<i32> = a.try_get(2)?;
                        Ok(Attempt {
                            attempt: i64::from(attempt),
                            attempted_at: a.try_get(1)?,
                            status: status.map(i64::from),
                            error: a.try_get(3)?,
                            duration_ms: a.try_get(4)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                logs.push(DeliveryLog {
                    endpoint_id: d.try_get(1)?,
                    state,
                    attempts,
                    next_attempt_at: (state == DeliveryState::Pending).then_some(next).flatten(),
                });
            }
            Ok((event, logs))
        }))
    }

    fn order_events(&self, order_id: &str) -> Result<Vec<OrderEventRow>> {
        PgStore::order_events(self, order_id)
    }
}

impl UnitOfWork for PgStore {
    fn run_in_unit(&self, unit: &mut Unit, f: &mut dyn FnMut(&dyn Storage)) {
        PgStore::in_unit(self, unit, |s| f(s))
    }

    fn commit_unit(
        &self,
        unit: Unit,
        key: &IdempotencyKey<'_>,
        response: &StoredResponse,
    ) -> Result<()> {
        PgStore::commit_unit(self, unit, key, response)
    }
}
