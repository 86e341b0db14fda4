//! Shared fixtures for the store's unit tests: a store on a temporary file
//! with a manual clock and sequential ids, and shortcuts that create rows.
//! Test-only; it deliberately offers no way around the store's own API
//! except [`TestStore::bulk_orders`], which exists because creating 100,000
//! orders one transaction at a time would make the pagination tests slow.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::params;

use super::*;

/// The actor of set-up writes in tests (audited as the operator).
pub(super) fn op() -> super::Actor {
    super::Actor::operator("test")
}

pub(super) fn test_clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::at_default_epoch())
}

pub(super) fn test_ids() -> Arc<dyn IdSource> {
    Arc::new(SequentialIds::new())
}

pub(super) fn open_at(path: &Path) -> Store {
    Store::open(path, test_clock(), Arc::new(RandomIds)).expect("open store")
}

pub(super) struct TestStore {
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub path: PathBuf,
    // Kept last so the store's connections close before the directory is
    // removed.
    pub _dir: tempfile::TempDir,
}

impl TestStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("orderflow.db");
        let clock = Arc::new(ManualClock::at_default_epoch());
        let store = Store::open(&path, clock.clone(), test_ids()).expect("open store");
        TestStore {
            store,
            clock,
            path,
            _dir: dir,
        }
    }

    /// What the store's clock says now.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// A second store on the same file, as after a restart.
    pub fn reopen(&self) -> Store {
        Store::open(&self.path, self.clock.clone(), test_ids()).expect("reopen")
    }

    pub fn customer(&self, name: &str, email: &str) -> Customer {
        self.store
            .create_customer(&op(), name, email)
            .expect("customer")
    }

    pub fn product(&self, sku: &str, price_minor: i64, currency: &str) -> Product {
        self.store
            .create_product(
                &op(),
                &NewProduct {
                    sku: sku.to_owned(),
                    name: format!("Product {sku}"),
                    price: Money {
                        amount_minor: price_minor,
                        currency: currency.to_owned(),
                    },
                    active: true,
                },
            )
            .expect("product")
    }

    pub fn order(&self, customer_id: &str, items: &[(&str, u32)]) -> Order {
        self.store.create_order(customer_id, items).expect("order")
    }

    pub fn count(&self, table: &str) -> i64 {
        // Table names come from the tests themselves, never from input.
        let sql = match table {
            "customers" => "SELECT count(*) FROM customers",
            "products" => "SELECT count(*) FROM products",
            "orders" => "SELECT count(*) FROM orders",
            "order_items" => "SELECT count(*) FROM order_items",
            "api_keys" => "SELECT count(*) FROM api_keys",
            "idempotency_keys" => "SELECT count(*) FROM idempotency_keys",
            other => panic!("no counter for table {other}"),
        };
        self.store
            .writer_for_tests()
            .query_row(sql, [], |r| r.get(0))
            .expect("count")
    }

    /// Inserts `n` orders with one line each in one transaction, cycling
    /// through `customers` and `statuses`, and returns their ids in
    /// creation order. Bypasses validation for speed; the rows are shaped
    /// exactly like those `create_order` writes.
    pub fn bulk_orders(
        &self,
        n: usize,
        customers: &[&Customer],
        statuses: &[OrderStatus],
        product: &Product,
    ) -> Vec<String> {
        let now = ts_to_sql(&self.clock.now());
        let mut conn = self.store.writer_for_tests();
        let tx = conn.transaction().expect("tx");
        let base: usize = tx
            .query_row("SELECT count(*) FROM orders", [], |r| r.get::<_, i64>(0))
            .map(|n| usize::try_from(n).unwrap_or(0))
            .expect("count");
        let mut ids = Vec::with_capacity(n);
        {
            let mut order = tx
                .prepare(
                    "INSERT INTO orders (id, customer_id, status, total_minor, currency, \
                     created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                )
                .expect("prepare order");
            let mut item = tx
                .prepare(
                    "INSERT INTO order_items (order_seq, line, product_id, sku, name, quantity, \
                     unit_price_minor, line_total_minor, currency) \
                     VALUES (?1, 1, ?2, ?3, ?4, 1, ?5, ?5, ?6)",
                )
                .expect("prepare item");
            for i in 0..n {
                // Unique across calls: the running row count is part of it.
                let id = format!("ord_bulk{:016}", base + i);
                let customer = customers[i % customers.len()];
                let status = statuses[i % statuses.len()];
                order
                    .execute(params![
                        id,
                        customer.id,
                        status.as_str(),
                        product.price_minor,
                        product.currency,
                        now
                    ])
                    .expect("insert order");
                let seq = tx.last_insert_rowid();
                item.execute(params![
                    seq,
                    product.id,
                    product.sku,
                    product.name,
                    product.price_minor,
                    product.currency
                ])
                .expect("insert item");
                ids.push(id);
            }
        }
        tx.commit().expect("commit");
        ids
    }
}
