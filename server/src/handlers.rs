//! The business logic of every operation: the hand-written half of the
//! generated `OrderFlowHandlers` trait.
//!
//! By the time a method here runs, the generated edge has authenticated the
//! caller and checked every input against the spec's constraints. What is
//! left is who may do what (roles and visibility), mapping between wire types
//! and store rows, and cursors. Handlers never build SQL and never block the
//! async executor: every store call goes through [`App::db`] (or
//! [`App::read`] for one that only reads).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orderflow_server_api::types as t;
use orderflow_server_api::{ApiError, Call, Created, OrderFlowHandlers, Principal, Tagged};
use slog::{Logger, error};
use tokio::sync::Semaphore;

use crate::store::{
    self, CustomerPatch, NewProduct, OrderFilter, OrderStatus, PageRequest, ProductFilter,
    ProductPatch, Role, Storage, StoreError, Unit, cursor,
};
use crate::v2;

/// Default page size when `limit` is absent (the spec says 20).
pub const DEFAULT_LIMIT: u32 = 20;

/// How long a claimed Idempotency-Key blocks retries if its request dies.
pub const IDEMPOTENCY_LEASE: Duration = Duration::from_secs(60);
/// How long a finished Idempotency-Key is kept (the spec says 24 hours).
pub const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Options of [`App::new`].
pub struct AppOptions {
    /// Database calls allowed in flight on the blocking pool at once.
    pub max_db_in_flight: usize,
    /// The cursor key from configuration; `None` for the persisted one.
    pub cursor_secret: Option<[u8; 32]>,
    /// Where the database queue reports (permits in use, waits, refusals).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The internal pricing service that prices orders (`None`: the store
    /// prices from its own catalog rows).
    pub pricing: Option<Arc<orderflow_pricing::PricingClient>>,
    /// The webhook worker's wake-up (`None`: no worker runs).
    pub webhooks: Option<Arc<tokio::sync::Notify>>,
    /// Whether endpoints may be internal addresses.
    pub webhook_allow_private: bool,
}

/// The server's shared state.
pub struct App {
    pub store: Arc<dyn Storage>,
    pub log: Logger,
    cursor_secret: [u8; 32],
    /// Bounds the database work queued on the blocking pool: past it,
    /// callers wait up to `queue_wait` and then get a 503.
    permits: Semaphore,
    queue_wait: Duration,
    metrics: Arc<crate::metrics::Metrics>,
    pricing: Option<Arc<orderflow_pricing::PricingClient>>,
    /// Wakes the webhook worker when an event may be waiting.
    webhooks: Option<Arc<tokio::sync::Notify>>,
    webhook_allow_private: bool,
    /// Runs reads when the store wants dedicated threads for them
    /// (`crate::readers`); `None`: every call goes to the blocking pool.
    readers: Option<crate::readers::ReadThreads>,
}

impl App {
    pub fn new(
        store: Arc<dyn Storage>,
        log: Logger,
        options: AppOptions,
    ) -> Result<App, StoreError> {
        let cursor_secret = match options.cursor_secret {
            Some(s) => s,
            None => store.cursor_secret()?,
        };
        let readers = match store.read_threads() {
            0 => None,
            n => Some(crate::readers::ReadThreads::start(n).map_err(|e| {
                StoreError::Internal(format!("starting {n} threads for store reads: {e}"))
            })?),
        };
        Ok(App {
            readers,
            store,
            log,
            cursor_secret,
            permits: Semaphore::new(options.max_db_in_flight.max(1)),
            queue_wait: Duration::from_secs(2),
            pricing: options.pricing,
            webhooks: options.webhooks,
            webhook_allow_private: options.webhook_allow_private,
            metrics: {
                options
                    .metrics
                    .set_db_capacity(options.max_db_in_flight.max(1));
                options.metrics
            },
        })
    }

    /// Runs a handler's store work on the blocking pool, bounded by the
    /// permits. When the call holds an Idempotency-Key claim, the work joins
    /// the call's unit of work, so that the edge commits it together with
    /// the recorded response (or rolls it back): handlers need not know.
    pub async fn db<T, F>(&self, call: &Call, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<T, StoreError> + Send + 'static,
    {
        if call.claim.is_none() {
            return self.db_plain(call, f).await;
        }
        let mut unit = call.unit.take::<Unit>().map(|u| *u).unwrap_or_default();
        let (result, unit) = self
            .db_plain(call, move |s| {
                let result = s.in_unit(&mut unit, f);
                Ok((result, unit))
            })
            .await?;
        call.unit.put(Box::new(unit));
        result.map_err(|e| self.store_error(call, e))
    }

    /// [`App::db`] for store work that only reads (a safe method's
    /// handler): on the read threads when the store has them, so that a
    /// read neither waits behind writes nor wakes a pool thread of its own
    /// (`crate::readers`). Inside a unit of work it joins the unit, like
    /// [`App::db`].
    pub async fn read<T, F>(&self, call: &Call, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<T, StoreError> + Send + 'static,
    {
        if call.claim.is_some() {
            return self.db(call, f).await;
        }
        self.on_store(call, f, true).await
    }

    /// [`App::read`] outside any unit of work (authentication).
    pub async fn read_plain<T, F>(&self, call: &Call, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<T, StoreError> + Send + 'static,
    {
        self.on_store(call, f, true).await
    }

    /// [`App::db`] outside any unit of work: for the edge's own ports
    /// (Idempotency-Key records).
    pub async fn db_plain<T, F>(&self, call: &Call, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<T, StoreError> + Send + 'static,
    {
        self.on_store(call, f, false).await
    }

    /// Every store call: admitted by a permit (or refused with a 503 after
    /// `queue_wait`), then run off the executor, on the read threads when
    /// `read` says it only reads and they exist, else on the blocking pool.
    async fn on_store<T, F>(&self, call: &Call, f: F, read: bool) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Storage) -> Result<T, StoreError> + Send + 'static,
    {
        let asked = std::time::Instant::now();
        let permit = match tokio::time::timeout(self.queue_wait, self.permits.acquire()).await {
            Ok(Ok(p)) => {
                self.metrics.db_permit_taken(asked.elapsed());
                p
            }
            _ => {
                self.metrics.db_refused();
                let mut e =
                    ApiError::new("unavailable", "the database queue is full; retry shortly");
                e.headers.insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("1"),
                );
                return Err(e);
            }
        };
        let store = self.store.clone();
        let joined = match (&self.readers, read) {
            (Some(readers), true) => readers
                .run(move || f(&*store))
                .await
                .map_err(|e| e.to_string()),
            _ => tokio::task::spawn_blocking(move || f(&*store))
                .await
                .map_err(|e| e.to_string()),
        };
        drop(permit);
        self.metrics.db_permit_returned();
        match joined {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.store_error(call, e)),
            Err(join) => {
                error!(self.log, "database task failed"; "request_id" => &call.request_id, "cause" => join);
                Err(ApiError::internal())
            }
        }
    }

    /// Tells the webhook worker an event may be due (it also polls, so an
    /// event committed after this is never missed, only found later).
    fn wake_webhooks(&self) {
        if let Some(w) = &self.webhooks {
            w.notify_one();
        }
    }

    fn store_error(&self, call: &Call, e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound { what, id } => ApiError::not_found(what, &id),
            StoreError::Conflict { code, detail } => ApiError::new(code, detail),
            StoreError::Invalid(issues) => ApiError::invalid(
                "validation_failed",
                issues
                    .into_iter()
                    .map(|i| orderflow_edge::FieldError {
                        pointer: i.pointer,
                        detail: i.detail,
                    })
                    .collect(),
            ),
            StoreError::Internal(cause) => {
                error!(self.log, "storage failure"; "request_id" => &call.request_id, "operation" => call.op.operation_id, "cause" => cause);
                ApiError::internal()
            }
            StoreError::Stale { what, id, current } => ApiError::new(
                "precondition_failed",
                format!(
                    "{what} '{id}' is at a newer version ({}) than If-Match names; nothing changed. GET it again and retry with its ETag if the change still makes sense",
                    orderflow_server_api::edge::row_etag(current)
                ),
            ),
            StoreError::Unavailable(cause) => {
                error!(self.log, "database unavailable"; "request_id" => &call.request_id, "operation" => call.op.operation_id, "cause" => cause);
                unavailable()
            }
        }
    }

    fn after(
        &self,
        cursor: &Option<String>,
        kind: &str,
        fingerprint: &str,
    ) -> Result<Option<i64>, ApiError> {
        match cursor {
            None => Ok(None),
            Some(token) => cursor::decode(&self.cursor_secret, token, kind, fingerprint)
                .map(Some)
                .map_err(|e| ApiError::new("invalid_cursor", e.to_string())),
        }
    }

    fn next(&self, next_after: Option<i64>, kind: &str, fingerprint: &str) -> Option<String> {
        next_after.map(|a| cursor::encode(&self.cursor_secret, kind, fingerprint, a))
    }
}

/// A value with the strong ETag of its row version.
fn tagged<T>(version: i64, value: T) -> Tagged<T> {
    Tagged {
        etag: orderflow_server_api::edge::row_etag(version),
        value,
    }
}

/// The ETag of a list page: a digest of its items' ids and versions and of
/// the next cursor, so it changes exactly when the page would.
fn list_etag<'a>(items: impl Iterator<Item = (&'a str, i64)>, next: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (id, version) in items {
        h.update(id.as_bytes());
        h.update(b"\x1f");
        h.update(version.to_le_bytes());
        h.update(b"\x1e");
    }
    h.update(next.unwrap_or("").as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"l{hex}\"")
}

/// Retags a v1 value as its v2 representation (the same row, so the same
/// version).
pub(crate) fn retag<A, B>(t: Tagged<A>, f: impl FnOnce(A) -> B) -> Tagged<B> {
    Tagged {
        etag: t.etag,
        value: f(t.value),
    }
}

fn order_location(id: &str) -> String {
    format!("/v1/orders/{id}")
}

fn admin(call: &Call) -> Result<&Principal, ApiError> {
    let p = call.principal()?;
    if p.admin {
        Ok(p)
    } else {
        Err(ApiError::forbidden(format!(
            "{} needs an admin key",
            call.op.operation_id
        )))
    }
}

/// Who makes the call's writes, for the audit log.
fn actor(call: &Call) -> Result<store::Actor, ApiError> {
    let p = call.principal()?;
    Ok(store::Actor {
        key_id: p.key_id.clone(),
        admin: p.admin,
        operation: call.op.operation_id.to_owned(),
        request_id: call.request_id.clone(),
    })
}

/// The customer a caller is confined to: `None` for admins.
fn confined_to(call: &Call) -> Result<Option<String>, ApiError> {
    let p = call.principal()?;
    if p.admin {
        Ok(None)
    } else {
        // A customer key without a customer cannot exist (the store refuses
        // it); treat it as seeing nothing rather than everything.
        Ok(Some(p.customer_id.clone().unwrap_or_default()))
    }
}

fn page(limit: Option<u32>, after: Option<i64>) -> PageRequest {
    PageRequest {
        limit: limit.unwrap_or(DEFAULT_LIMIT),
        after,
    }
}

fn money(amount_minor: i64, currency: String) -> t::Money {
    t::Money {
        amount_minor,
        currency,
    }
}

fn customer(c: store::Customer) -> t::Customer {
    t::Customer {
        id: c.id,
        name: c.name,
        email: c.email,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

fn product(p: store::Product) -> t::Product {
    t::Product {
        price: money(p.price_minor, p.currency),
        id: p.id,
        sku: p.sku,
        name: p.name,
        active: p.active,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

fn status_out(s: OrderStatus) -> t::OrderStatus {
    match s {
        OrderStatus::Pending => t::OrderStatus::Pending,
        OrderStatus::Processing => t::OrderStatus::Processing,
        OrderStatus::Shipped => t::OrderStatus::Shipped,
        OrderStatus::Delivered => t::OrderStatus::Delivered,
        OrderStatus::Cancelled => t::OrderStatus::Cancelled,
    }
}

fn status_in(s: t::OrderStatus) -> OrderStatus {
    match s {
        t::OrderStatus::Pending => OrderStatus::Pending,
        t::OrderStatus::Processing => OrderStatus::Processing,
        t::OrderStatus::Shipped => OrderStatus::Shipped,
        t::OrderStatus::Delivered => OrderStatus::Delivered,
        t::OrderStatus::Cancelled => OrderStatus::Cancelled,
    }
}

fn item(i: store::OrderItem) -> t::OrderItem {
    t::OrderItem {
        unit_price: money(i.unit_price_minor, i.currency.clone()),
        line_total: money(i.line_total_minor, i.currency),
        line: i.line,
        product_id: i.product_id,
        sku: i.sku,
        name: i.name,
        quantity: i.quantity,
    }
}

fn order(o: store::Order) -> t::Order {
    t::Order {
        total: money(o.total_minor, o.currency),
        id: o.id,
        customer_id: o.customer_id,
        status: status_out(o.status),
        items: o.items.into_iter().map(item).collect(),
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

/// The database cannot serve: 503, safe to retry after a few seconds. The
/// cause (which names files) stays in the log.
fn audit_event(e: store::AuditEvent) -> t::AuditEvent {
    t::AuditEvent {
        id: e.id,
        occurred_at: e.occurred_at,
        actor: e.actor,
        operation: e.operation,
        action: e.action,
        resource_type: match e.resource_type.as_str() {
            "customer" => t::AuditEventResourceType::Customer,
            "product" => t::AuditEventResourceType::Product,
            "api_key" => t::AuditEventResourceType::ApiKey,
            "order" => t::AuditEventResourceType::Order,
            _ => t::AuditEventResourceType::WebhookEndpoint,
        },
        resource_id: e.resource_id,
        request_id: e.request_id,
        changes: e
            .changes
            .into_iter()
            .map(|c| t::AuditChange {
                field: c.field.to_owned(),
                before: c.before,
                after: c.after,
            })
            .collect(),
    }
}

fn event_type(name: &str) -> t::WebhookEventType {
    if name == store::EVENT_TYPES[0] {
        t::WebhookEventType::OrderCreated
    } else {
        t::WebhookEventType::OrderStatusChanged
    }
}

fn webhook_endpoint(e: store::WebhookEndpoint) -> t::WebhookEndpoint {
    t::WebhookEndpoint {
        id: e.id,
        url: e.url,
        events: e.events.iter().map(|n| event_type(n)).collect(),
        created_at: e.created_at,
    }
}

fn delivery(d: store::DeliveryLog) -> t::EventDelivery {
    t::EventDelivery {
        endpoint_id: d.endpoint_id,
        state: match d.state {
            store::DeliveryState::Pending => t::EventDeliveryState::Pending,
            store::DeliveryState::Delivered => t::EventDeliveryState::Delivered,
            store::DeliveryState::Dead => t::EventDeliveryState::Dead,
        },
        attempts: d
            .attempts
            .into_iter()
            .map(|a| t::DeliveryAttempt {
                attempt: a.attempt,
                attempted_at: a.attempted_at,
                status: a.status,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
        next_attempt_at: d.next_attempt_at,
    }
}

fn unavailable() -> ApiError {
    let mut e = ApiError::new(
        "unavailable",
        "the database is unavailable; nothing was written, and the request can be retried",
    );
    e.headers.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("5"),
    );
    e
}

#[async_trait]
impl OrderFlowHandlers for App {
    async fn get_health(&self, _call: &Call) -> Result<t::HealthStatus, ApiError> {
        Ok(t::HealthStatus {
            status: "ok".into(),
        })
    }

    async fn get_readiness(&self, call: &Call) -> Result<t::HealthStatus, ApiError> {
        match self.db(call, |s| s.ping()).await {
            Ok(()) => {}
            Err(e) if e.status() == 503 => return Err(e),
            Err(_) => return Err(unavailable()),
        }
        if let Some(p) = &self.pricing {
            p.ready().await.map_err(|e| {
                crate::pricing::unavailable(&self.log, &call.request_id, &e, p.cool_down())
            })?;
        }
        Ok(t::HealthStatus {
            status: "ok".into(),
        })
    }

    async fn get_caller(&self, call: &Call) -> Result<t::Caller, ApiError> {
        let p = call.principal()?;
        Ok(t::Caller {
            key_id: p.key_id.clone(),
            role: if p.admin {
                t::CallerRole::Admin
            } else {
                t::CallerRole::Customer
            },
            customer_id: p.customer_id.clone(),
        })
    }

    async fn list_customers(
        &self,
        call: &Call,
        query: t::ListCustomersQuery,
    ) -> Result<Tagged<t::CustomerPage>, ApiError> {
        admin(call)?;
        let fp = "{}";
        let after = self.after(&query.cursor, "customers", fp)?;
        let req = page(query.limit, after);
        let p = self.read(call, move |s| s.list_customers(req)).await?;
        let next_cursor = self.next(p.next_after, "customers", fp);
        let etag = list_etag(
            p.rows.iter().map(|c| (c.id.as_str(), c.version)),
            next_cursor.as_deref(),
        );
        Ok(Tagged {
            etag,
            value: t::CustomerPage {
                next_cursor,
                data: p.rows.into_iter().map(customer).collect(),
            },
        })
    }

    async fn create_customer(
        &self,
        call: &Call,
        body: t::CustomerCreate,
    ) -> Result<Created<t::Customer>, ApiError> {
        admin(call)?;
        let actor = actor(call)?;
        let c = self
            .db(call, move |s| {
                s.create_customer(&actor, body.name.trim(), body.email.trim())
            })
            .await?;
        Ok(Created {
            location: format!("/v1/customers/{}", c.id),
            body: customer(c),
        })
    }

    async fn get_customer(
        &self,
        call: &Call,
        path: t::GetCustomerPath,
    ) -> Result<Tagged<t::Customer>, ApiError> {
        if let Some(own) = confined_to(call)?
            && own != path.customer_id
        {
            return Err(ApiError::not_found("customer", &path.customer_id));
        }
        let id = path.customer_id;
        let c = self.read(call, move |s| s.get_customer(&id)).await?;
        Ok(tagged(c.version, customer(c)))
    }

    async fn update_customer(
        &self,
        call: &Call,
        path: t::UpdateCustomerPath,
        body: t::CustomerUpdate,
    ) -> Result<Tagged<t::Customer>, ApiError> {
        admin(call)?;
        let patch = CustomerPatch {
            name: body.name.map(|n| n.trim().to_string()),
            email: body.email.map(|e| e.trim().to_string()),
        };
        let id = path.customer_id;
        let expected = call.expected_versions()?;
        let actor = actor(call)?;
        let c = self
            .db(call, move |s| {
                s.update_customer_if(&actor, &id, &patch, expected.as_deref())
            })
            .await?;
        Ok(tagged(c.version, customer(c)))
    }

    async fn create_api_key(
        &self,
        call: &Call,
        path: t::CreateApiKeyPath,
        body: t::ApiKeyCreate,
    ) -> Result<Created<t::ApiKeyIssued>, ApiError> {
        admin(call)?;
        let customer_id = path.customer_id;
        let actor = actor(call)?;
        let (key, secret) = self
            .db(call, move |s| {
                // Resolve the customer first so an unknown id is a 404, not
                // a validation failure.
                s.get_customer(&customer_id)?;
                s.create_key(&actor, Role::Customer, Some(&customer_id), body.name.trim())
            })
            .await?;
        Ok(Created {
            location: format!("/v1/api-keys/{}", key.id),
            body: t::ApiKeyIssued {
                id: key.id,
                name: key.name,
                role: match key.role {
                    Role::Admin => t::ApiKeyIssuedRole::Admin,
                    Role::Customer => t::ApiKeyIssuedRole::Customer,
                },
                customer_id: key.customer_id,
                secret,
                created_at: key.created_at,
            },
        })
    }

    async fn revoke_api_key(&self, call: &Call, path: t::RevokeApiKeyPath) -> Result<(), ApiError> {
        let me = admin(call)?;
        if me.key_id == path.key_id {
            return Err(ApiError::new(
                "self_revocation",
                "an admin cannot revoke the key it is using; use another admin key",
            ));
        }
        let id = path.key_id;
        let actor = actor(call)?;
        self.db(call, move |s| s.revoke_key(&actor, &id)).await?;
        Ok(())
    }

    async fn list_products(
        &self,
        call: &Call,
        query: t::ListProductsQuery,
    ) -> Result<Tagged<t::ProductPage>, ApiError> {
        let filter = ProductFilter {
            active: query.active,
        };
        let fp = filter.fingerprint();
        let after = self.after(&query.cursor, "products", &fp)?;
        let req = page(query.limit, after);
        let p = self
            .read(call, move |s| s.list_products(filter, req))
            .await?;
        let next_cursor = self.next(p.next_after, "products", &fp);
        let etag = list_etag(
            p.rows.iter().map(|r| (r.id.as_str(), r.version)),
            next_cursor.as_deref(),
        );
        Ok(Tagged {
            etag,
            value: t::ProductPage {
                next_cursor,
                data: p.rows.into_iter().map(product).collect(),
            },
        })
    }

    async fn create_product(
        &self,
        call: &Call,
        body: t::ProductCreate,
    ) -> Result<Created<t::Product>, ApiError> {
        admin(call)?;
        let new = NewProduct {
            sku: body.sku,
            name: body.name.trim().to_string(),
            price: store::Money {
                amount_minor: body.price.amount_minor,
                currency: body.price.currency,
            },
            active: body.active.unwrap_or(true),
        };
        let actor = actor(call)?;
        let p = self
            .db(call, move |s| s.create_product(&actor, &new))
            .await?;
        Ok(Created {
            location: format!("/v1/products/{}", p.id),
            body: product(p),
        })
    }

    async fn get_product(
        &self,
        call: &Call,
        path: t::GetProductPath,
    ) -> Result<Tagged<t::Product>, ApiError> {
        let id = path.product_id;
        let p = self.read(call, move |s| s.get_product(&id)).await?;
        Ok(tagged(p.version, product(p)))
    }

    async fn update_product(
        &self,
        call: &Call,
        path: t::UpdateProductPath,
        body: t::ProductUpdate,
    ) -> Result<Tagged<t::Product>, ApiError> {
        admin(call)?;
        let patch = ProductPatch {
            name: body.name.map(|n| n.trim().to_string()),
            price: body.price.map(|m| store::Money {
                amount_minor: m.amount_minor,
                currency: m.currency,
            }),
            active: body.active,
        };
        let id = path.product_id;
        let expected = call.expected_versions()?;
        let actor = actor(call)?;
        let p = self
            .db(call, move |s| {
                s.update_product_if(&actor, &id, &patch, expected.as_deref())
            })
            .await?;
        Ok(tagged(p.version, product(p)))
    }

    async fn list_orders(
        &self,
        call: &Call,
        query: t::ListOrdersQuery,
    ) -> Result<Tagged<t::OrderPage>, ApiError> {
        let customer_id = match (confined_to(call)?, query.customer_id) {
            (None, filter) => filter,
            (Some(own), None) => Some(own),
            (Some(own), Some(asked)) if asked == own => Some(own),
            (Some(_), Some(_)) => {
                return Err(ApiError::forbidden(
                    "a customer key can list only its own orders; omit customer_id",
                ));
            }
        };
        let filter = OrderFilter {
            status: query.status.map(status_in),
            customer_id,
        };
        let fp = filter.fingerprint();
        let after = self.after(&query.cursor, "orders", &fp)?;
        let req = page(query.limit, after);
        let f = filter.clone();
        let p = self.read(call, move |s| s.list_orders(&f, req)).await?;
        let next_cursor = self.next(p.next_after, "orders", &fp);
        let etag = list_etag(
            p.rows.iter().map(|o| (o.id.as_str(), o.version)),
            next_cursor.as_deref(),
        );
        Ok(Tagged {
            etag,
            value: t::OrderPage {
                next_cursor,
                data: p.rows.into_iter().map(order).collect(),
            },
        })
    }

    async fn create_order(
        &self,
        call: &Call,
        body: t::OrderCreate,
    ) -> Result<Created<t::Order>, ApiError> {
        let customer_id = match (confined_to(call)?, body.customer_id) {
            (None, Some(id)) => id,
            (None, None) => {
                return Err(ApiError::invalid(
                    "validation_failed",
                    vec![orderflow_edge::FieldError {
                        pointer: "#/customer_id".into(),
                        detail: "is required when an admin key places an order".into(),
                    }],
                ));
            }
            (Some(own), None) => own,
            (Some(own), Some(asked)) if asked == own => own,
            (Some(_), Some(_)) => {
                return Err(ApiError::forbidden(
                    "a customer key can place orders only for its own customer",
                ));
            }
        };
        let lines: Vec<(String, u32)> = body
            .items
            .into_iter()
            .map(|i| (i.product_id, i.quantity))
            .collect();
        let o = match &self.pricing {
            None => {
                self.db(call, move |s| s.create_order(&customer_id, &lines))
                    .await?
            }
            Some(p) => {
                let quote = crate::pricing::quote(p, &lines).await.map_err(|e| {
                    crate::pricing::unavailable(&self.log, &call.request_id, &e, p.cool_down())
                })?;
                self.db(call, move |s| {
                    s.create_order_at_quote(&customer_id, &lines, &quote)
                })
                .await?
                .ok_or_else(crate::pricing::quote_stale)?
            }
        };
        self.wake_webhooks();
        Ok(Created {
            location: order_location(&o.id),
            body: order(o),
        })
    }

    async fn get_order(
        &self,
        call: &Call,
        path: t::GetOrderPath,
    ) -> Result<Tagged<t::Order>, ApiError> {
        let visible_to = confined_to(call)?;
        let id = path.order_id;
        let o = self
            .read(call, move |s| s.get_order(&id, visible_to.as_deref()))
            .await?;
        Ok(tagged(o.version, order(o)))
    }

    async fn list_order_items(
        &self,
        call: &Call,
        path: t::ListOrderItemsPath,
        query: t::ListOrderItemsQuery,
    ) -> Result<Tagged<t::OrderItemPage>, ApiError> {
        let visible_to = confined_to(call)?;
        let kind = format!("order_items:{}", path.order_id);
        let after = self.after(&query.cursor, &kind, "{}")?;
        let req = page(query.limit, after);
        let id = path.order_id;
        let p = self
            .read(call, move |s| {
                s.list_order_items(&id, visible_to.as_deref(), req)
            })
            .await?;
        let next_cursor = self.next(p.next_after, &kind, "{}");
        // An order's lines never change after it is placed: the page is
        // named by its order and line numbers.
        let etag = list_etag(
            p.rows.iter().map(|i| (kind.as_str(), i64::from(i.line))),
            next_cursor.as_deref(),
        );
        Ok(Tagged {
            etag,
            value: t::OrderItemPage {
                next_cursor,
                data: p.rows.into_iter().map(item).collect(),
            },
        })
    }

    async fn transition_order(
        &self,
        call: &Call,
        path: t::TransitionOrderPath,
        body: t::OrderTransition,
    ) -> Result<Tagged<t::Order>, ApiError> {
        let visible_to = confined_to(call)?;
        let to = status_in(body.to);
        if visible_to.is_some() && to != OrderStatus::Cancelled {
            return Err(ApiError::forbidden(
                "a customer key may only cancel its orders; other moves need an admin key",
            ));
        }
        let id = path.order_id;
        let expected = call.expected_versions()?;
        let actor = actor(call)?;
        let o = self
            .db(call, move |s| {
                s.transition_order_if(&actor, &id, to, visible_to.as_deref(), expected.as_deref())
            })
            .await?;
        self.wake_webhooks();
        Ok(tagged(o.version, order(o)))
    }

    async fn list_audit_events(
        &self,
        call: &Call,
        q: t::ListAuditEventsQuery,
    ) -> Result<t::AuditEventPage, ApiError> {
        admin(call)?;
        let filter = store::AuditFilter {
            resource_id: q.resource_id,
            actor: q.actor,
        };
        let fp = filter.fingerprint();
        let after = self.after(&q.cursor, "audit_events", &fp)?;
        let req = page(q.limit, after);
        let f = filter.clone();
        let p = self
            .read(call, move |s| s.list_audit_events(&f, req))
            .await?;
        Ok(t::AuditEventPage {
            next_cursor: self.next(p.next_after, "audit_events", &fp),
            data: p.rows.into_iter().map(audit_event).collect(),
        })
    }

    async fn list_webhook_endpoints(
        &self,
        call: &Call,
        q: t::ListWebhookEndpointsQuery,
    ) -> Result<t::WebhookEndpointPage, ApiError> {
        admin(call)?;
        let fp = "{}";
        let after = self.after(&q.cursor, "webhook_endpoints", fp)?;
        let req = page(q.limit, after);
        let p = self
            .read(call, move |s| s.list_webhook_endpoints(req))
            .await?;
        Ok(t::WebhookEndpointPage {
            next_cursor: self.next(p.next_after, "webhook_endpoints", fp),
            data: p.rows.into_iter().map(webhook_endpoint).collect(),
        })
    }

    async fn create_webhook_endpoint(
        &self,
        call: &Call,
        body: t::WebhookEndpointCreate,
    ) -> Result<Created<t::WebhookEndpointCreated>, ApiError> {
        admin(call)?;
        let actor = actor(call)?;
        if !self.webhook_allow_private
            && let Some(detail) = crate::webhooks::host_problem(&body.url)
        {
            return Err(ApiError::invalid(
                "validation_failed",
                vec![orderflow_edge::FieldError {
                    pointer: "#/url".to_owned(),
                    detail,
                }],
            ));
        }
        let events: Vec<String> = body.events.iter().map(ToString::to_string).collect();
        let url = body.url;
        let (e, secret) = self
            .db(call, move |s| {
                s.create_webhook_endpoint(&actor, &url, &events)
            })
            .await?;
        let shown = webhook_endpoint(e);
        Ok(Created {
            location: format!("/v1/webhook-endpoints/{}", shown.id),
            body: t::WebhookEndpointCreated {
                id: shown.id,
                url: shown.url,
                events: shown.events,
                secret,
                created_at: shown.created_at,
            },
        })
    }

    async fn delete_webhook_endpoint(
        &self,
        call: &Call,
        path: t::DeleteWebhookEndpointPath,
    ) -> Result<(), ApiError> {
        admin(call)?;
        let actor = actor(call)?;
        let id = path.endpoint_id;
        self.db(call, move |s| s.delete_webhook_endpoint(&actor, &id))
            .await
    }

    async fn list_event_deliveries(
        &self,
        call: &Call,
        path: t::ListEventDeliveriesPath,
    ) -> Result<t::EventDeliveries, ApiError> {
        admin(call)?;
        let id = path.event_id;
        let (event, logs) = self.read(call, move |s| s.event_deliveries(&id)).await?;
        let event: t::OrderEvent = serde_json::from_str(&event.payload).map_err(|e| {
            error!(self.log, "a stored event does not read as the spec's OrderEvent"; "request_id" => &call.request_id, "event" => &event.id, "cause" => e.to_string());
            ApiError::internal()
        })?;
        Ok(t::EventDeliveries {
            event,
            data: logs.into_iter().map(delivery).collect(),
        })
    }

    // ---- /v2: each operation is its v1 twin with money as a decimal
    // string (see `crate::v2`). ----

    async fn list_customers_v2(
        &self,
        call: &Call,
        q: t::ListCustomersV2Query,
    ) -> Result<Tagged<t::CustomerPage>, ApiError> {
        let q = t::ListCustomersQuery {
            cursor: q.cursor,
            limit: q.limit,
        };
        self.list_customers(call, q).await
    }

    async fn create_customer_v2(
        &self,
        call: &Call,
        body: t::CustomerCreate,
    ) -> Result<Created<t::Customer>, ApiError> {
        let c = self.create_customer(call, body).await?;
        Ok(Created {
            location: v2::location(&c.location),
            body: c.body,
        })
    }

    async fn get_customer_v2(
        &self,
        call: &Call,
        path: t::GetCustomerV2Path,
    ) -> Result<Tagged<t::Customer>, ApiError> {
        let path = t::GetCustomerPath {
            customer_id: path.customer_id,
        };
        self.get_customer(call, path).await
    }

    async fn update_customer_v2(
        &self,
        call: &Call,
        path: t::UpdateCustomerV2Path,
        body: t::CustomerUpdate,
    ) -> Result<Tagged<t::Customer>, ApiError> {
        let path = t::UpdateCustomerPath {
            customer_id: path.customer_id,
        };
        self.update_customer(call, path, body).await
    }

    async fn create_api_key_v2(
        &self,
        call: &Call,
        path: t::CreateApiKeyV2Path,
        body: t::ApiKeyCreate,
    ) -> Result<Created<t::ApiKeyIssued>, ApiError> {
        let path = t::CreateApiKeyPath {
            customer_id: path.customer_id,
        };
        let k = self.create_api_key(call, path, body).await?;
        Ok(Created {
            location: v2::location(&k.location),
            body: k.body,
        })
    }

    async fn revoke_api_key_v2(
        &self,
        call: &Call,
        path: t::RevokeApiKeyV2Path,
    ) -> Result<(), ApiError> {
        let path = t::RevokeApiKeyPath {
            key_id: path.key_id,
        };
        self.revoke_api_key(call, path).await
    }

    async fn get_caller_v2(&self, call: &Call) -> Result<t::Caller, ApiError> {
        self.get_caller(call).await
    }

    async fn list_products_v2(
        &self,
        call: &Call,
        q: t::ListProductsV2Query,
    ) -> Result<Tagged<t::ProductPageV2>, ApiError> {
        let q = t::ListProductsQuery {
            active: q.active,
            cursor: q.cursor,
            limit: q.limit,
        };
        let p = self.list_products(call, q).await?;
        Ok(retag(p, |p| t::ProductPageV2 {
            data: p.data.into_iter().map(v2::product).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    async fn create_product_v2(
        &self,
        call: &Call,
        body: t::ProductCreateV2,
    ) -> Result<Created<t::ProductV2>, ApiError> {
        let body = t::ProductCreate {
            price: v2::money_in(body.price, "#/price")?,
            active: body.active,
            name: body.name,
            sku: body.sku,
        };
        let p = self.create_product(call, body).await?;
        Ok(Created {
            location: v2::location(&p.location),
            body: v2::product(p.body),
        })
    }

    async fn get_product_v2(
        &self,
        call: &Call,
        path: t::GetProductV2Path,
    ) -> Result<Tagged<t::ProductV2>, ApiError> {
        let path = t::GetProductPath {
            product_id: path.product_id,
        };
        Ok(retag(self.get_product(call, path).await?, v2::product))
    }

    async fn update_product_v2(
        &self,
        call: &Call,
        path: t::UpdateProductV2Path,
        body: t::ProductUpdateV2,
    ) -> Result<Tagged<t::ProductV2>, ApiError> {
        let path = t::UpdateProductPath {
            product_id: path.product_id,
        };
        let body = t::ProductUpdate {
            price: body.price.map(|m| v2::money_in(m, "#/price")).transpose()?,
            active: body.active,
            name: body.name,
        };
        Ok(retag(
            self.update_product(call, path, body).await?,
            v2::product,
        ))
    }

    async fn list_orders_v2(
        &self,
        call: &Call,
        q: t::ListOrdersV2Query,
    ) -> Result<Tagged<t::OrderPageV2>, ApiError> {
        let q = t::ListOrdersQuery {
            cursor: q.cursor,
            customer_id: q.customer_id,
            limit: q.limit,
            status: q.status,
        };
        let p = self.list_orders(call, q).await?;
        Ok(retag(p, |p| t::OrderPageV2 {
            data: p.data.into_iter().map(v2::order).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    async fn create_order_v2(
        &self,
        call: &Call,
        body: t::OrderCreate,
    ) -> Result<Created<t::OrderV2>, ApiError> {
        let o = self.create_order(call, body).await?;
        Ok(Created {
            location: v2::location(&o.location),
            body: v2::order(o.body),
        })
    }

    async fn get_order_v2(
        &self,
        call: &Call,
        path: t::GetOrderV2Path,
    ) -> Result<Tagged<t::OrderV2>, ApiError> {
        let path = t::GetOrderPath {
            order_id: path.order_id,
        };
        Ok(retag(self.get_order(call, path).await?, v2::order))
    }

    async fn list_order_items_v2(
        &self,
        call: &Call,
        path: t::ListOrderItemsV2Path,
        q: t::ListOrderItemsV2Query,
    ) -> Result<Tagged<t::OrderItemPageV2>, ApiError> {
        let path = t::ListOrderItemsPath {
            order_id: path.order_id,
        };
        let q = t::ListOrderItemsQuery {
            cursor: q.cursor,
            limit: q.limit,
        };
        let p = self.list_order_items(call, path, q).await?;
        Ok(retag(p, |p| t::OrderItemPageV2 {
            data: p.data.into_iter().map(v2::item).collect(),
            next_cursor: p.next_cursor,
        }))
    }

    async fn transition_order_v2(
        &self,
        call: &Call,
        path: t::TransitionOrderV2Path,
        body: t::OrderTransition,
    ) -> Result<Tagged<t::OrderV2>, ApiError> {
        let path = t::TransitionOrderPath {
            order_id: path.order_id,
        };
        Ok(retag(
            self.transition_order(call, path, body).await?,
            v2::order,
        ))
    }

    async fn list_audit_events_v2(
        &self,
        call: &Call,
        q: t::ListAuditEventsV2Query,
    ) -> Result<t::AuditEventPage, ApiError> {
        let q = t::ListAuditEventsQuery {
            actor: q.actor,
            cursor: q.cursor,
            limit: q.limit,
            resource_id: q.resource_id,
        };
        self.list_audit_events(call, q).await
    }

    async fn list_webhook_endpoints_v2(
        &self,
        call: &Call,
        q: t::ListWebhookEndpointsV2Query,
    ) -> Result<t::WebhookEndpointPage, ApiError> {
        let q = t::ListWebhookEndpointsQuery {
            cursor: q.cursor,
            limit: q.limit,
        };
        self.list_webhook_endpoints(call, q).await
    }

    async fn create_webhook_endpoint_v2(
        &self,
        call: &Call,
        body: t::WebhookEndpointCreate,
    ) -> Result<Created<t::WebhookEndpointCreated>, ApiError> {
        let e = self.create_webhook_endpoint(call, body).await?;
        Ok(Created {
            location: v2::location(&e.location),
            body: e.body,
        })
    }

    async fn delete_webhook_endpoint_v2(
        &self,
        call: &Call,
        path: t::DeleteWebhookEndpointV2Path,
    ) -> Result<(), ApiError> {
        let path = t::DeleteWebhookEndpointPath {
            endpoint_id: path.endpoint_id,
        };
        self.delete_webhook_endpoint(call, path).await
    }

    async fn list_event_deliveries_v2(
        &self,
        call: &Call,
        path: t::ListEventDeliveriesV2Path,
    ) -> Result<t::EventDeliveries, ApiError> {
        let path = t::ListEventDeliveriesPath {
            event_id: path.event_id,
        };
        self.list_event_deliveries(call, path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ManualClock, RandomIds, Store, Tuning};

    fn app_on(path: &std::path::Path, tuning: Tuning) -> App {
        let store = Store::open_tuned(
            path,
            Arc::new(ManualClock::at_default_epoch()),
            Arc::new(RandomIds),
            tuning,
        )
        .expect("store");
        App::new(
            Arc::new(store),
            Logger::root(slog::Discard, slog::o!()),
            AppOptions {
                max_db_in_flight: 8,
                cursor_secret: Some([7; 32]),
                metrics: Arc::new(crate::metrics::Metrics::new()),
                pricing: None,
                webhooks: None,
                webhook_allow_private: false,
            },
        )
        .expect("app")
    }

    fn a_call() -> Call {
        let uri: http::Uri = "/v1/orders".parse().expect("uri");
        let headers = http::HeaderMap::new();
        let req = orderflow_edge::Request {
            request_id: "req_test",
            uri: &uri,
            headers: &headers,
            remote: std::net::IpAddr::from([127, 0, 0, 1]),
        };
        Call::new(&orderflow_server_api::ops::LIST_ORDERS, &req)
    }

    fn thread_name(_: &dyn Storage) -> Result<String, StoreError> {
        Ok(std::thread::current().name().unwrap_or("").to_string())
    }

    /// Reads run on the store's read threads, everything else (writes, the
    /// readiness probe) on tokio's blocking pool; with the read threads
    /// tuned off, reads go to the pool too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_run_on_the_read_threads_and_writes_on_the_blocking_pool() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = app_on(&dir.path().join("a.db"), Tuning::default());
        let call = a_call();
        let read = app.read(&call, thread_name).await.expect("read");
        assert!(read.starts_with("store-read-"), "a read ran on {read:?}");
        let plain = app.read_plain(&call, thread_name).await.expect("read");
        assert!(plain.starts_with("store-read-"), "a read ran on {plain:?}");
        let other = app.db(&call, thread_name).await.expect("db");
        assert!(
            !other.starts_with("store-read-"),
            "other work ran on {other:?}"
        );
        // A store call's failure is still the caller's error, on either path.
        let missing = app
            .read(&call, |s| s.get_order("ord_missing", None))
            .await
            .expect_err("no such order");
        assert_eq!(missing.status(), 404);

        let pooled = app_on(
            &dir.path().join("b.db"),
            Tuning {
                read_threads: false,
                ..Tuning::default()
            },
        );
        let read = pooled.read(&call, thread_name).await.expect("read");
        assert!(!read.starts_with("store-read-"), "a read ran on {read:?}");
    }
}
