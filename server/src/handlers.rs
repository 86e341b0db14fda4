//! The business logic of every operation: the hand-written half of the
//! generated `OrderFlowHandlers` trait.
//!
//! By the time a method here runs, the generated edge has authenticated the
//! caller and checked every input against the spec's constraints. What is
//! left is who may do what (roles and visibility), mapping between wire types
//! and store rows, and cursors. Handlers never build SQL and never block the
//! async executor: every store call goes through [`App::db`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orderflow_server_api::types as t;
use orderflow_server_api::{ApiError, Call, Created, OrderFlowHandlers, Principal};
use slog::{Logger, error};
use tokio::sync::Semaphore;

use crate::store::{
    self, CustomerPatch, NewProduct, OrderFilter, OrderStatus, PageRequest, ProductFilter,
    ProductPatch, Role, Store, StoreError, Unit, cursor,
};

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
}

/// The server's shared state.
pub struct App {
    pub store: Arc<Store>,
    pub log: Logger,
    cursor_secret: [u8; 32],
    /// Bounds the database work queued on the blocking pool: past it,
    /// callers wait up to `queue_wait` and then get a 503.
    permits: Semaphore,
    queue_wait: Duration,
    metrics: Arc<crate::metrics::Metrics>,
    pricing: Option<Arc<orderflow_pricing::PricingClient>>,
}

impl App {
    pub fn new(store: Arc<Store>, log: Logger, options: AppOptions) -> Result<App, StoreError> {
        let cursor_secret = match options.cursor_secret {
            Some(s) => s,
            None => store.cursor_secret()?,
        };
        Ok(App {
            store,
            log,
            cursor_secret,
            permits: Semaphore::new(options.max_db_in_flight.max(1)),
            queue_wait: Duration::from_secs(2),
            pricing: options.pricing,
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
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
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

    /// [`App::db`] outside any unit of work: for the edge's own ports
    /// (authentication, Idempotency-Key records).
    pub async fn db_plain<T, F>(&self, call: &Call, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
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
        let joined = tokio::task::spawn_blocking(move || f(&store)).await;
        drop(permit);
        self.metrics.db_permit_returned();
        match joined {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.store_error(call, e)),
            Err(join) => {
                error!(self.log, "database task failed"; "request_id" => &call.request_id, "cause" => join.to_string());
                Err(ApiError::internal())
            }
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

fn money(amount_minor: i64, currency: &str) -> t::Money {
    t::Money {
        amount_minor,
        currency: currency.to_string(),
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
        price: money(p.price_minor, &p.currency),
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
        unit_price: money(i.unit_price_minor, &i.currency),
        line_total: money(i.line_total_minor, &i.currency),
        line: i.line,
        product_id: i.product_id,
        sku: i.sku,
        name: i.name,
        quantity: i.quantity,
    }
}

fn order(o: store::Order) -> t::Order {
    t::Order {
        total: money(o.total_minor, &o.currency),
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

    async fn list_customers(
        &self,
        call: &Call,
        query: t::ListCustomersQuery,
    ) -> Result<t::CustomerPage, ApiError> {
        admin(call)?;
        let fp = "{}";
        let after = self.after(&query.cursor, "customers", fp)?;
        let req = page(query.limit, after);
        let p = self.db(call, move |s| s.list_customers(req)).await?;
        Ok(t::CustomerPage {
            next_cursor: self.next(p.next_after, "customers", fp),
            data: p.rows.into_iter().map(customer).collect(),
        })
    }

    async fn create_customer(
        &self,
        call: &Call,
        body: t::CustomerCreate,
    ) -> Result<Created<t::Customer>, ApiError> {
        admin(call)?;
        let c = self
            .db(call, move |s| {
                s.create_customer(body.name.trim(), body.email.trim())
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
    ) -> Result<t::Customer, ApiError> {
        if let Some(own) = confined_to(call)?
            && own != path.customer_id
        {
            return Err(ApiError::not_found("customer", &path.customer_id));
        }
        let id = path.customer_id;
        Ok(customer(self.db(call, move |s| s.get_customer(&id)).await?))
    }

    async fn update_customer(
        &self,
        call: &Call,
        path: t::UpdateCustomerPath,
        body: t::CustomerUpdate,
    ) -> Result<t::Customer, ApiError> {
        admin(call)?;
        let patch = CustomerPatch {
            name: body.name.map(|n| n.trim().to_string()),
            email: body.email.map(|e| e.trim().to_string()),
        };
        let id = path.customer_id;
        Ok(customer(
            self.db(call, move |s| s.update_customer(&id, &patch))
                .await?,
        ))
    }

    async fn create_api_key(
        &self,
        call: &Call,
        path: t::CreateApiKeyPath,
        body: t::ApiKeyCreate,
    ) -> Result<Created<t::ApiKeyIssued>, ApiError> {
        admin(call)?;
        let customer_id = path.customer_id;
        let (key, secret) = self
            .db(call, move |s| {
                // Resolve the customer first so an unknown id is a 404, not
                // a validation failure.
                s.get_customer(&customer_id)?;
                s.create_key(Role::Customer, Some(&customer_id), body.name.trim())
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
        self.db(call, move |s| s.revoke_key(&id)).await?;
        Ok(())
    }

    async fn list_products(
        &self,
        call: &Call,
        query: t::ListProductsQuery,
    ) -> Result<t::ProductPage, ApiError> {
        let filter = ProductFilter {
            active: query.active,
        };
        let fp = filter.fingerprint();
        let after = self.after(&query.cursor, "products", &fp)?;
        let req = page(query.limit, after);
        let p = self.db(call, move |s| s.list_products(filter, req)).await?;
        Ok(t::ProductPage {
            next_cursor: self.next(p.next_after, "products", &fp),
            data: p.rows.into_iter().map(product).collect(),
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
        let p = self.db(call, move |s| s.create_product(&new)).await?;
        Ok(Created {
            location: format!("/v1/products/{}", p.id),
            body: product(p),
        })
    }

    async fn get_product(
        &self,
        call: &Call,
        path: t::GetProductPath,
    ) -> Result<t::Product, ApiError> {
        let id = path.product_id;
        Ok(product(self.db(call, move |s| s.get_product(&id)).await?))
    }

    async fn update_product(
        &self,
        call: &Call,
        path: t::UpdateProductPath,
        body: t::ProductUpdate,
    ) -> Result<t::Product, ApiError> {
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
        Ok(product(
            self.db(call, move |s| s.update_product(&id, &patch))
                .await?,
        ))
    }

    async fn list_orders(
        &self,
        call: &Call,
        query: t::ListOrdersQuery,
    ) -> Result<t::OrderPage, ApiError> {
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
        let p = self.db(call, move |s| s.list_orders(&f, req)).await?;
        Ok(t::OrderPage {
            next_cursor: self.next(p.next_after, "orders", &fp),
            data: p.rows.into_iter().map(order).collect(),
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
        Ok(Created {
            location: order_location(&o.id),
            body: order(o),
        })
    }

    async fn get_order(&self, call: &Call, path: t::GetOrderPath) -> Result<t::Order, ApiError> {
        let visible_to = confined_to(call)?;
        let id = path.order_id;
        Ok(order(
            self.db(call, move |s| s.get_order(&id, visible_to.as_deref()))
                .await?,
        ))
    }

    async fn list_order_items(
        &self,
        call: &Call,
        path: t::ListOrderItemsPath,
        query: t::ListOrderItemsQuery,
    ) -> Result<t::OrderItemPage, ApiError> {
        let visible_to = confined_to(call)?;
        let kind = format!("order_items:{}", path.order_id);
        let after = self.after(&query.cursor, &kind, "{}")?;
        let req = page(query.limit, after);
        let id = path.order_id;
        let p = self
            .db(call, move |s| {
                s.list_order_items(&id, visible_to.as_deref(), req)
            })
            .await?;
        Ok(t::OrderItemPage {
            next_cursor: self.next(p.next_after, &kind, "{}"),
            data: p.rows.into_iter().map(item).collect(),
        })
    }

    async fn transition_order(
        &self,
        call: &Call,
        path: t::TransitionOrderPath,
        body: t::OrderTransition,
    ) -> Result<t::Order, ApiError> {
        let visible_to = confined_to(call)?;
        let to = status_in(body.to);
        if visible_to.is_some() && to != OrderStatus::Cancelled {
            return Err(ApiError::forbidden(
                "a customer key may only cancel its orders; other moves need an admin key",
            ));
        }
        let id = path.order_id;
        Ok(order(
            self.db(call, move |s| {
                s.transition_order(&id, to, visible_to.as_deref())
            })
            .await?,
        ))
    }
}
