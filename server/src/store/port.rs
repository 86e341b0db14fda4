//! The storage port: what the server asks of a database, whichever engine
//! holds it. [`Store`] (embedded SQLite) implements it; so will the
//! PostgreSQL backend (`crate::pg`, issue #14). Handlers, the edge's ports
//! and the webhook worker see only `dyn Storage`.
//!
//! The port is synchronous on purpose: the server calls it from tokio's
//! blocking pool behind a semaphore (`App::db`), which is what SQLite
//! needs, and a backend with an asynchronous client blocks its pool thread
//! on the call instead of the executor.
//!
//! A [`Unit`] is one call's writes held open until the edge commits them
//! with the call's Idempotency-Key record ([`Storage::commit_unit`]), or
//! drops them. Its state belongs to the backend that began it.

use std::any::Any;

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{
    Actor, ApiKey, AttemptOutcome, AuditEvent, AuditFilter, Begin, Customer, CustomerPatch,
    DeliveryLog, DueDelivery, IdempotencyKey, NewProduct, Order, OrderEventRow, OrderFilter,
    OrderItem, OrderStatus, Page, PageRequest, Principal, Product, ProductFilter, ProductPatch,
    Result, Role, Store, StoredResponse, WebhookEndpoint,
};
use crate::domain::CatalogProduct;

/// One call's unit of work, opaque outside its backend. The default is a
/// unit that has not written anything.
#[derive(Default)]
pub struct Unit {
    state: Option<Box<dyn Any + Send>>,
}

impl std::fmt::Debug for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unit")
            .field("began", &self.state.is_some())
            .finish()
    }
}

impl Unit {
    /// The backend's state, or a fresh one if the unit has none yet. A
    /// state of another type (a unit handed to the wrong backend, which
    /// `App` never does) is dropped, which rolls it back.
    pub(crate) fn take<T: Default + 'static>(&mut self) -> T {
        match self.state.take().map(|s| s.downcast::<T>()) {
            Some(Ok(state)) => *state,
            _ => T::default(),
        }
    }

    /// Whether the unit has written: it holds an open transaction.
    pub fn began(&self) -> bool {
        self.state.is_some()
    }

    /// Keeps a backend's state; a backend puts one only once the unit
    /// holds an open transaction.
    pub(crate) fn put<T: Send + 'static>(&mut self, state: T) {
        self.state = Some(Box::new(state));
    }
}

/// The database as a whole.
pub trait StorageBase {
    /// The current time as stored (microseconds).
    fn now(&self) -> DateTime<Utc>;
    /// The persisted key that signs pagination cursors.
    fn cursor_secret(&self) -> Result<[u8; 32]>;
    /// Readiness: the database answers and a write could commit.
    fn ping(&self) -> Result<()>;
    /// How many dedicated threads should run this store's reads
    /// (`crate::readers`); 0: reads go to the blocking pool like writes.
    fn read_threads(&self) -> usize;
}

/// API keys.
pub trait KeyStore {
    fn create_key(
        &self,
        actor: &Actor,
        role: Role,
        customer_id: Option<&str>,
        name: &str,
    ) -> Result<(ApiKey, String)>;
    fn authenticate(&self, secret: &str) -> Result<Option<Principal>>;
    /// A principal this process authenticated recently, without a trip to
    /// the database (`None`: ask [`KeyStore::authenticate`]).
    fn cached_principal(&self, secret: &str) -> Option<Principal>;
    fn get_key(&self, id: &str) -> Result<ApiKey>;
    fn revoke_key(&self, actor: &Actor, id: &str) -> Result<ApiKey>;
    /// Creates the first admin key if the database has no key at all.
    fn bootstrap_admin_key(&self) -> Result<Option<String>>;
}

/// Customers.
pub trait CustomerStore {
    fn create_customer(&self, actor: &Actor, name: &str, email: &str) -> Result<Customer>;
    fn get_customer(&self, id: &str) -> Result<Customer>;
    fn update_customer_if(
        &self,
        actor: &Actor,
        id: &str,
        patch: &CustomerPatch,
        expected: Option<&[i64]>,
    ) -> Result<Customer>;
    fn list_customers(&self, page: PageRequest) -> Result<Page<Customer>>;
}

/// Products.
pub trait ProductStore {
    fn create_product(&self, actor: &Actor, new: &NewProduct) -> Result<Product>;
    fn get_product(&self, id: &str) -> Result<Product>;
    fn update_product_if(
        &self,
        actor: &Actor,
        id: &str,
        patch: &ProductPatch,
        expected: Option<&[i64]>,
    ) -> Result<Product>;
    fn list_products(&self, filter: ProductFilter, page: PageRequest) -> Result<Page<Product>>;
}

/// Orders and their lines.
pub trait OrderStore {
    fn create_order(&self, customer_id: &str, items: &[(String, u32)]) -> Result<Order>;
    /// Places an order at the prices of `quote`; `None` when the catalog
    /// changed under the quote (the caller asks again).
    fn create_order_at_quote(
        &self,
        customer_id: &str,
        items: &[(String, u32)],
        quote: &[Option<CatalogProduct>],
    ) -> Result<Option<Order>>;
    fn get_order(&self, id: &str, visible_to: Option<&str>) -> Result<Order>;
    fn list_orders(&self, filter: &OrderFilter, page: PageRequest) -> Result<Page<Order>>;
    fn list_order_items(
        &self,
        order_id: &str,
        visible_to: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<OrderItem>>;
    fn transition_order_if(
        &self,
        actor: &Actor,
        order_id: &str,
        to: OrderStatus,
        visible_to: Option<&str>,
        expected: Option<&[i64]>,
    ) -> Result<Order>;
}

/// The audit log (every audited write appends to it in its own transaction).
pub trait AuditLog {
    fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>>;
}

/// Webhook endpoints, the outbox and its deliveries.
pub trait WebhookStore {
    fn create_webhook_endpoint(
        &self,
        actor: &Actor,
        url: &str,
        events: &[String],
    ) -> Result<(WebhookEndpoint, String)>;
    fn list_webhook_endpoints(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>>;
    fn delete_webhook_endpoint(&self, actor: &Actor, id: &str) -> Result<()>;
    fn release_orphaned_deliveries(&self) -> Result<usize>;
    fn claim_due(&self, limit: u32, lease_until: DateTime<Utc>) -> Result<Vec<DueDelivery>>;
    fn record_attempt(&self, delivery: &DueDelivery, outcome: &AttemptOutcome) -> Result<()>;
    fn event_deliveries(&self, event_id: &str) -> Result<(OrderEventRow, Vec<DeliveryLog>)>;
    fn order_events(&self, order_id: &str) -> Result<Vec<OrderEventRow>>;
}

/// Idempotency-Key records.
pub trait RecordStore {
    fn idempotency_begin(
        &self,
        key: &IdempotencyKey<'_>,
        lease: Duration,
        retention: Duration,
    ) -> Result<Begin>;
    fn idempotency_finish(&self, key: &IdempotencyKey<'_>, response: &StoredResponse)
    -> Result<()>;
    fn idempotency_release(&self, key: &IdempotencyKey<'_>) -> Result<()>;
    fn purge_idempotency(&self) -> Result<usize>;
}

/// Units of work: one call's writes committed with its Idempotency-Key
/// record, or not at all.
pub trait UnitOfWork {
    /// Runs `f` with every call it makes on this storage joined to `unit`.
    /// Use [`dyn Storage::in_unit`](Storage) instead.
    fn run_in_unit(&self, unit: &mut Unit, f: &mut dyn FnMut(&dyn Storage));
    /// Completes `key`'s claim with `response` and commits it together with
    /// everything `unit` wrote: both or neither.
    fn commit_unit(
        &self,
        unit: Unit,
        key: &IdempotencyKey<'_>,
        response: &StoredResponse,
    ) -> Result<()>;
}

/// Everything the server stores: one backend implements every part. Each
/// method is one transaction (or, inside a unit, one savepoint of the
/// unit's transaction); every error is a [`super::StoreError`] whose
/// variant tells the caller what to answer.
pub trait Storage:
    StorageBase
    + KeyStore
    + CustomerStore
    + ProductStore
    + OrderStore
    + AuditLog
    + WebhookStore
    + RecordStore
    + UnitOfWork
    + Send
    + Sync
    + std::fmt::Debug
{
}

impl<T> Storage for T where
    T: StorageBase
        + KeyStore
        + CustomerStore
        + ProductStore
        + OrderStore
        + AuditLog
        + WebhookStore
        + RecordStore
        + UnitOfWork
        + UnitOfWork
        + Send
        + Sync
        + std::fmt::Debug
{
}

impl<'s> dyn Storage + 's {
    /// Runs `f` with every store call it makes joined to `unit`, and
    /// returns its result.
    pub fn in_unit<T>(&self, unit: &mut Unit, f: impl FnOnce(&dyn Storage) -> T) -> T {
        let mut f = Some(f);
        let mut out = None;
        self.run_in_unit(unit, &mut |s| {
            if let Some(f) = f.take() {
                out = Some(f(s));
            }
        });
        match out {
            Some(v) => v,
            // Every backend calls `f` exactly once; a backend that did not
            // is a bug in it, not a request to answer.
            None => unreachable!("Storage::run_in_unit did not run its closure"),
        }
    }
}

impl StorageBase for Store {
    fn now(&self) -> DateTime<Utc> {
        Store::now(self)
    }
    fn cursor_secret(&self) -> Result<[u8; 32]> {
        Store::cursor_secret(self)
    }
    fn ping(&self) -> Result<()> {
        Store::ping(self)
    }
    fn read_threads(&self) -> usize {
        self.read_threads
    }
}

impl KeyStore for Store {
    fn create_key(
        &self,
        actor: &Actor,
        role: Role,
        customer_id: Option<&str>,
        name: &str,
    ) -> Result<(ApiKey, String)> {
        Store::create_key(self, actor, role, customer_id, name)
    }
    fn authenticate(&self, secret: &str) -> Result<Option<Principal>> {
        Store::authenticate(self, secret)
    }
    fn cached_principal(&self, secret: &str) -> Option<Principal> {
        Store::cached_principal(self, secret)
    }
    fn get_key(&self, id: &str) -> Result<ApiKey> {
        Store::get_key(self, id)
    }
    fn revoke_key(&self, actor: &Actor, id: &str) -> Result<ApiKey> {
        Store::revoke_key(self, actor, id)
    }
    fn bootstrap_admin_key(&self) -> Result<Option<String>> {
        Store::bootstrap_admin_key(self)
    }
}

impl CustomerStore for Store {
    fn create_customer(&self, actor: &Actor, name: &str, email: &str) -> Result<Customer> {
        Store::create_customer(self, actor, name, email)
    }
    fn get_customer(&self, id: &str) -> Result<Customer> {
        Store::get_customer(self, id)
    }
    fn update_customer_if(
        &self,
        actor: &Actor,
        id: &str,
        patch: &CustomerPatch,
        expected: Option<&[i64]>,
    ) -> Result<Customer> {
        Store::update_customer_if(self, actor, id, patch, expected)
    }
    fn list_customers(&self, page: PageRequest) -> Result<Page<Customer>> {
        Store::list_customers(self, page)
    }
}

impl ProductStore for Store {
    fn create_product(&self, actor: &Actor, new: &NewProduct) -> Result<Product> {
        Store::create_product(self, actor, new)
    }
    fn get_product(&self, id: &str) -> Result<Product> {
        Store::get_product(self, id)
    }
    fn update_product_if(
        &self,
        actor: &Actor,
        id: &str,
        patch: &ProductPatch,
        expected: Option<&[i64]>,
    ) -> Result<Product> {
        Store::update_product_if(self, actor, id, patch, expected)
    }
    fn list_products(&self, filter: ProductFilter, page: PageRequest) -> Result<Page<Product>> {
        Store::list_products(self, filter, page)
    }
}

impl OrderStore for Store {
    fn create_order(&self, customer_id: &str, items: &[(String, u32)]) -> Result<Order> {
        Store::create_order(self, customer_id, items)
    }
    fn create_order_at_quote(
        &self,
        customer_id: &str,
        items: &[(String, u32)],
        quote: &[Option<CatalogProduct>],
    ) -> Result<Option<Order>> {
        Store::create_order_at_quote(self, customer_id, items, quote)
    }
    fn get_order(&self, id: &str, visible_to: Option<&str>) -> Result<Order> {
        Store::get_order(self, id, visible_to)
    }
    fn list_orders(&self, filter: &OrderFilter, page: PageRequest) -> Result<Page<Order>> {
        Store::list_orders(self, filter, page)
    }
    fn list_order_items(
        &self,
        order_id: &str,
        visible_to: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<OrderItem>> {
        Store::list_order_items(self, order_id, visible_to, page)
    }
    fn transition_order_if(
        &self,
        actor: &Actor,
        order_id: &str,
        to: OrderStatus,
        visible_to: Option<&str>,
        expected: Option<&[i64]>,
    ) -> Result<Order> {
        Store::transition_order_if(self, actor, order_id, to, visible_to, expected)
    }
}

impl AuditLog for Store {
    fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        Store::list_audit_events(self, filter, page)
    }
}

impl WebhookStore for Store {
    fn create_webhook_endpoint(
        &self,
        actor: &Actor,
        url: &str,
        events: &[String],
    ) -> Result<(WebhookEndpoint, String)> {
        Store::create_webhook_endpoint(self, actor, url, events)
    }
    fn list_webhook_endpoints(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>> {
        Store::list_webhook_endpoints(self, page)
    }
    fn delete_webhook_endpoint(&self, actor: &Actor, id: &str) -> Result<()> {
        Store::delete_webhook_endpoint(self, actor, id)
    }
    fn release_orphaned_deliveries(&self) -> Result<usize> {
        Store::release_orphaned_deliveries(self)
    }
    fn claim_due(&self, limit: u32, lease_until: DateTime<Utc>) -> Result<Vec<DueDelivery>> {
        Store::claim_due(self, limit, lease_until)
    }
    fn record_attempt(&self, delivery: &DueDelivery, outcome: &AttemptOutcome) -> Result<()> {
        Store::record_attempt(self, delivery, outcome)
    }
    fn event_deliveries(&self, event_id: &str) -> Result<(OrderEventRow, Vec<DeliveryLog>)> {
        Store::event_deliveries(self, event_id)
    }
    fn order_events(&self, order_id: &str) -> Result<Vec<OrderEventRow>> {
        Store::order_events(self, order_id)
    }
}

impl RecordStore for Store {
    fn idempotency_begin(
        &self,
        key: &IdempotencyKey<'_>,
        lease: Duration,
        retention: Duration,
    ) -> Result<Begin> {
        Store::idempotency_begin(self, key, lease, retention)
    }
    fn idempotency_finish(
        &self,
        key: &IdempotencyKey<'_>,
        response: &StoredResponse,
    ) -> Result<()> {
        Store::idempotency_finish(self, key, response)
    }
    fn idempotency_release(&self, key: &IdempotencyKey<'_>) -> Result<()> {
        Store::idempotency_release(self, key)
    }
    fn purge_idempotency(&self) -> Result<usize> {
        Store::purge_idempotency(self)
    }
}

impl UnitOfWork for Store {
    fn run_in_unit(&self, unit: &mut Unit, f: &mut dyn FnMut(&dyn Storage)) {
        Store::in_unit(self, unit, |s| f(s))
    }
    fn commit_unit(
        &self,
        unit: Unit,
        key: &IdempotencyKey<'_>,
        response: &StoredResponse,
    ) -> Result<()> {
        Store::commit_unit(self, unit, key, response)
    }
}
