//! Orders and their lines: placement, reads, lists and status transitions.
//!
//! Placement validates everything first and reports every problem at once
//! (unknown customer, unknown or inactive products, mixed currencies,
//! arithmetic overflow), then writes the order and its lines in one
//! transaction; a failed placement writes nothing. Lines copy the SKU, name
//! and unit price from the catalog, so later catalog changes never rewrite
//! history. Status changes follow [`OrderStatus::can_transition_to`].
//!
//! This module deliberately does not decide who may do what: `visible_to`
//! only hides other customers' orders (as NotFound, so ids do not leak), and
//! "customer keys may only cancel" is the caller's rule. It also does not
//! enforce the contract's request bounds (100 lines, quantity 10,000),
//! which the generated edge checks; it only refuses what would break its
//! own arithmetic.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::{Action, Actor, Change};
use super::customers::customer_exists;
use super::{
    Page, PageRequest, Result, Store, StoreError, into_page, reset_steps, steps, ts_from_row,
    ts_to_sql,
};
use crate::domain::{self, CatalogProduct, RequestedLine};

pub use crate::domain::OrderStatus;

impl ToSql for OrderStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for OrderStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        OrderStatus::parse(text)
            .ok_or_else(|| FromSqlError::Other(format!("unknown order status '{text}'").into()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// 1-based position in the order.
    pub line: u32,
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price_minor: i64,
    pub line_total_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub customer_id: String,
    pub status: OrderStatus,
    pub items: Vec<OrderItem>,
    pub total_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Starts at 1; every transition adds one (see migration 4).
    pub version: i64,
}

/// Which orders a list returns. Every combination has its own index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<String>,
}

impl OrderFilter {
    /// A canonical string of the filter for binding cursors to it (see
    /// [`super::cursor`]); equal filters give equal strings. Callers should
    /// fingerprint the filter they actually ran, including a customer id
    /// forced by a customer key.
    pub fn fingerprint(&self) -> String {
        serde_json::json!({
            "customer_id": self.customer_id,
            "status": self.status.map(OrderStatus::as_str),
        })
        .to_string()
    }
}

// The list statements: one constant statement per filter combination, each
// matching an index `(<filters>, seq)`. The equality columns pin the index
// range, `seq < ?1` seeks into it, and walking it backwards yields ORDER BY
// seq DESC without a sort, so a page costs the same at any depth. A single
// statement with `(? IS NULL OR col = ?)` would defeat the indexes, and
// INDEXED BY makes a plan change (say, after ANALYZE) an error instead of a
// silent scan. Parameters: ?1 after, ?2 limit + 1, then the filters.
const LIST_ORDERS_ALL: &str = "SELECT seq, id, customer_id, status, total_minor, currency, \
     created_at, updated_at, version FROM orders \
     WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2";
const LIST_ORDERS_BY_CUSTOMER: &str = "SELECT seq, id, customer_id, status, total_minor, \
     currency, created_at, updated_at, version FROM orders INDEXED BY orders_customer_seq \
     WHERE customer_id = ?3 AND seq < ?1 ORDER BY seq DESC LIMIT ?2";
const LIST_ORDERS_BY_STATUS: &str = "SELECT seq, id, customer_id, status, total_minor, \
     currency, created_at, updated_at, version FROM orders INDEXED BY orders_status_seq \
     WHERE status = ?3 AND seq < ?1 ORDER BY seq DESC LIMIT ?2";
const LIST_ORDERS_BY_CUSTOMER_STATUS: &str = "SELECT seq, id, customer_id, status, \
     total_minor, currency, created_at, updated_at, version FROM orders \
     INDEXED BY orders_customer_status_seq \
     WHERE customer_id = ?3 AND status = ?4 AND seq < ?1 ORDER BY seq DESC LIMIT ?2";

/// The lines of every order on a page, in one statement. ?1 is a JSON array
/// of the orders' seqs: the SQL text stays constant whatever the page size,
/// and each seq is a primary-key seek into order_items.
const PAGE_ITEMS: &str = "SELECT order_seq, line, product_id, sku, name, quantity, \
     unit_price_minor, line_total_minor, currency FROM order_items \
     WHERE order_seq IN (SELECT value FROM json_each(?1)) ORDER BY order_seq, line";

fn order_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Order)> {
    Ok((
        row.get(0)?,
        Order {
            id: row.get(1)?,
            customer_id: row.get(2)?,
            status: row.get(3)?,
            items: Vec::new(),
            total_minor: row.get(4)?,
            currency: row.get(5)?,
            created_at: ts_from_row(row, 6)?,
            updated_at: ts_from_row(row, 7)?,
            version: row.get(8)?,
        },
    ))
}

/// Columns: order_seq, line, product_id, sku, name, quantity,
/// unit_price_minor, line_total_minor, currency.
fn item_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, OrderItem)> {
    item_from_row_at(row, 0)
}

/// [`item_from_row`] for a row whose line columns start at column `at`.
fn item_from_row_at(row: &Row<'_>, at: usize) -> rusqlite::Result<(i64, OrderItem)> {
    Ok((
        row.get(at)?,
        OrderItem {
            line: row.get(at + 1)?,
            product_id: row.get(at + 2)?,
            sku: row.get(at + 3)?,
            name: row.get(at + 4)?,
            quantity: row.get(at + 5)?,
            unit_price_minor: row.get(at + 6)?,
            line_total_minor: row.get(at + 7)?,
            currency: row.get(at + 8)?,
        },
    ))
}

/// One order and its lines in one statement: the order's columns as in
/// [`order_from_row`], then a line's from [`ITEM_AT`] (NULL for an order
/// without lines), in line order.
const GET_ORDER: &str = "SELECT o.seq, o.id, o.customer_id, o.status, o.total_minor, \
     o.currency, o.created_at, o.updated_at, o.version, i.order_seq, i.line, i.product_id, \
     i.sku, i.name, i.quantity, i.unit_price_minor, i.line_total_minor, i.currency \
     FROM orders o LEFT JOIN order_items i ON i.order_seq = o.seq WHERE o.id = ?1 \
     ORDER BY i.line";
const ITEM_AT: usize = 9;

/// The lines of one order, in line order.
const LOAD_ITEMS: &str = "SELECT order_seq, line, product_id, sku, name, quantity, \
     unit_price_minor, line_total_minor, currency FROM order_items WHERE order_seq = ?1 \
     ORDER BY line";

fn load_items(tx: &Connection, order_seq: i64) -> Result<Vec<OrderItem>> {
    let mut stmt = tx.prepare_cached(LOAD_ITEMS)?;
    let items = stmt
        .query_map([order_seq], item_from_row)?
        .map(|r| r.map(|(_, item)| item))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(items)
}

/// Looks an order up by id and applies visibility: another customer's
/// order is reported exactly like a missing one.
fn load_order(tx: &Connection, id: &str, visible_to: Option<&str>) -> Result<(i64, Order)> {
    let found = tx
        .prepare_cached(
            "SELECT seq, id, customer_id, status, total_minor, currency, created_at, updated_at, \
             version FROM orders WHERE id = ?1",
        )?
        .query_row([id], order_from_row)
        .optional()?;
    match found {
        Some((seq, order)) if visible_to.is_none_or(|c| c == order.customer_id) => Ok((seq, order)),
        _ => Err(StoreError::NotFound {
            what: "order",
            id: id.to_owned(),
        }),
    }
}

fn catalog_entry(tx: &Connection, product_id: &str) -> Result<Option<CatalogProduct>> {
    Ok(tx
        .prepare_cached(
            "SELECT sku, name, price_minor, currency, active FROM products WHERE id = ?1",
        )?
        .query_row([product_id], |r| {
            Ok(CatalogProduct {
                sku: r.get(0)?,
                name: r.get(1)?,
                price_minor: r.get(2)?,
                currency: r.get(3)?,
                active: r.get(4)?,
            })
        })
        .optional()?)
}

impl Store {
    /// Places an order in status `pending` for `customer_id` with lines of
    /// `(product_id, quantity)`. All lines must be active products of one
    /// currency (the first priced line's). Every problem is reported in
    /// one `Invalid`, and nothing is written unless the order is valid.
    pub fn create_order<P: AsRef<str>>(
        &self,
        customer_id: &str,
        items: &[(P, u32)],
    ) -> Result<Order> {
        let now = self.now();
        let order_id = self.ids.new_id("ord");
        self.write(|tx| {
            let order = place_order(tx, now, order_id, customer_id, items)?;
            self.order_created(tx, &order)?;
            Ok(order)
        })
    }

    /// The outbox event of a placed order, in its transaction.
    fn order_created(&self, tx: &Connection, order: &Order) -> Result<()> {
        self.record_order_event(tx, super::webhooks::ORDER_CREATED, order, None)
    }

    /// [`Store::create_order`] at a quote taken before the transaction (by
    /// the pricing service): inside the write transaction, each line's
    /// catalog entry must still be what `quote` says (same existence, price,
    /// currency, active flag, sku and name). `Ok(None)`: the catalog changed
    /// since the quote, and nothing was written (the caller answers a
    /// retryable problem). The order is priced from the rows read in the
    /// transaction, which the check proved equal to the quote.
    pub fn create_order_at_quote<P: AsRef<str>>(
        &self,
        customer_id: &str,
        items: &[(P, u32)],
        quote: &[Option<CatalogProduct>],
    ) -> Result<Option<Order>> {
        let now = self.now();
        let order_id = self.ids.new_id("ord");
        self.write(|tx| {
            if quote.len() != items.len() {
                return Ok(None);
            }
            for ((product_id, _), quoted) in items.iter().zip(quote) {
                if catalog_entry(tx, product_id.as_ref())? != *quoted {
                    return Ok(None);
                }
            }
            let order = place_order(tx, now, order_id, customer_id, items)?;
            self.order_created(tx, &order)?;
            Ok(Some(order))
        })
    }
}

/// Prices an order from the facts loaded in its transaction (the rules
/// are the domain layer's): total, currency and lines, or every problem.
pub(crate) fn price(
    customer_exists: bool,
    requested: Vec<RequestedLine>,
) -> Result<(i64, String, Vec<OrderItem>)> {
    let priced = domain::price_order(customer_exists, requested).map_err(StoreError::Invalid)?;
    let lines = priced
        .lines
        .into_iter()
        .map(|l| OrderItem {
            line: l.line,
            product_id: l.product_id,
            sku: l.sku,
            name: l.name,
            quantity: l.quantity,
            unit_price_minor: l.unit_price_minor,
            line_total_minor: l.line_total_minor,
            currency: l.currency,
        })
        .collect();
    Ok((priced.total_minor, priced.currency, lines))
}

/// May `order` move to `to`, at one of the `expected` versions (If-Match)?
pub(crate) fn check_transition(
    order: &Order,
    to: OrderStatus,
    expected: Option<&[i64]>,
) -> Result<()> {
    super::check_version("order", &order.id, order.version, expected)?;
    let from = order.status;
    if from == to {
        return Err(StoreError::Conflict {
            code: "illegal_transition",
            detail: format!("the order is already '{from}'"),
        });
    }
    if !from.can_transition_to(to) {
        return Err(StoreError::Conflict {
            code: "illegal_transition",
            detail: format!("an order in status '{from}' cannot move to '{to}'"),
        });
    }
    Ok(())
}

/// The audit record of a transition.
pub(crate) fn status_changed(order: &Order, from: OrderStatus) -> Action<'_> {
    Action {
        action: "order.status_changed",
        resource_type: "order",
        resource_id: &order.id,
        changes: vec![Change::new("status", from.as_str(), order.status.as_str())],
    }
}

/// Validates and inserts one order inside the caller's transaction.
fn place_order<P: AsRef<str>>(
    tx: &Connection,
    now: DateTime<Utc>,
    order_id: String,
    customer_id: &str,
    items: &[(P, u32)],
) -> Result<Order> {
    {
        {
            // The facts, loaded here; the rules, in the domain layer.
            let customer = customer_exists(tx, customer_id)?;
            let mut requested = Vec::with_capacity(items.len());
            for (product_id, quantity) in items {
                let product_id = product_id.as_ref();
                requested.push(RequestedLine {
                    product_id: product_id.to_owned(),
                    quantity: *quantity,
                    product: catalog_entry(tx, product_id)?,
                });
            }
            // Returning before any INSERT; the transaction rolls back on
            // drop anyway, so even a later bug could not half-write.
            let (total, currency, lines) = price(customer, requested)?;

            tx.prepare_cached(
                "INSERT INTO orders (id, customer_id, status, total_minor, currency, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?
            .execute(params![
                order_id,
                customer_id,
                OrderStatus::Pending,
                total,
                currency,
                ts_to_sql(&now)
            ])?;
            let order_seq = tx.last_insert_rowid();
            let mut insert_item = tx.prepare_cached(
                "INSERT INTO order_items (order_seq, line, product_id, sku, name, quantity, \
                 unit_price_minor, line_total_minor, currency) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for item in &lines {
                insert_item.execute(params![
                    order_seq,
                    item.line,
                    item.product_id,
                    item.sku,
                    item.name,
                    item.quantity,
                    item.unit_price_minor,
                    item.line_total_minor,
                    item.currency
                ])?;
            }
            Ok(Order {
                id: order_id.clone(),
                customer_id: customer_id.to_owned(),
                status: OrderStatus::Pending,
                items: lines,
                total_minor: total,
                currency,
                created_at: now,
                updated_at: now,
                version: 1,
            })
        }
    }
}

impl Store {
    /// One order with its lines. With `visible_to = Some(customer)`, other
    /// customers' orders are NotFound.
    pub fn get_order(&self, id: &str, visible_to: Option<&str>) -> Result<Order> {
        // One statement is its own snapshot: one statement stepped instead
        // of four (BEGIN, the order, its lines, COMMIT).
        self.read_statement(|conn| {
            let mut stmt = conn.prepare_cached(GET_ORDER)?;
            let mut rows = stmt.query([id])?;
            let mut order: Option<Order> = None;
            // Every row repeats the order's columns; its line's follow from
            // ITEM_AT, all NULL when the order has none (the LEFT JOIN).
            while let Some(row) = rows.next()? {
                let order = match &mut order {
                    Some(o) => o,
                    None => order.insert(order_from_row(row)?.1),
                };
                if row.get_ref(ITEM_AT)? != rusqlite::types::ValueRef::Null {
                    order.items.push(item_from_row_at(row, ITEM_AT)?.1);
                }
            }
            match order {
                Some(o) if visible_to.is_none_or(|c| c == o.customer_id) => Ok(o),
                _ => Err(StoreError::NotFound {
                    what: "order",
                    id: id.to_owned(),
                }),
            }
        })
    }

    /// Orders with their lines, newest first.
    pub fn list_orders(&self, filter: &OrderFilter, page: PageRequest) -> Result<Page<Order>> {
        let limit = page.checked_limit()?;
        let after = page.after.unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        self.read(|tx| {
            // One constant statement per filter combination; see
            // LIST_ORDERS_ALL for why.
            let (sql, filter_params): (&str, Vec<&dyn ToSql>) =
                match (&filter.customer_id, &filter.status) {
                    (None, None) => (LIST_ORDERS_ALL, vec![]),
                    (Some(customer), None) => (LIST_ORDERS_BY_CUSTOMER, vec![customer]),
                    (None, Some(status)) => (LIST_ORDERS_BY_STATUS, vec![status]),
                    (Some(customer), Some(status)) => {
                        (LIST_ORDERS_BY_CUSTOMER_STATUS, vec![customer, status])
                    }
                };
            let mut bound: Vec<&dyn ToSql> = vec![&after, &fetch];
            bound.extend(filter_params);

            let mut stmt = tx.prepare_cached(sql)?;
            reset_steps(&stmt);
            let rows = stmt
                .query_map(bound.as_slice(), order_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let vm_steps = steps(&stmt);
            drop(stmt);
            finish_order_page(tx, rows, limit, vm_steps)
        })
    }

    /// One order's lines in line order; `after` is the last line number
    /// seen. Visibility follows the order.
    pub fn list_order_items(
        &self,
        order_id: &str,
        visible_to: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<OrderItem>> {
        let limit = page.checked_limit()?;
        self.read(|tx| {
            let mut find =
                tx.prepare_cached("SELECT seq, customer_id FROM orders WHERE id = ?1")?;
            reset_steps(&find);
            let found: Option<(i64, String)> = find
                .query_row([order_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let mut vm_steps = steps(&find);
            let order_seq = match found {
                Some((seq, owner)) if visible_to.is_none_or(|c| c == owner) => seq,
                _ => {
                    return Err(StoreError::NotFound {
                        what: "order",
                        id: order_id.to_owned(),
                    });
                }
            };
            let mut stmt = tx.prepare_cached(
                "SELECT order_seq, line, product_id, sku, name, quantity, unit_price_minor, \
                 line_total_minor, currency FROM order_items \
                 WHERE order_seq = ?1 AND line > ?2 ORDER BY line LIMIT ?3",
            )?;
            reset_steps(&stmt);
            let rows = stmt
                .query_map(
                    params![order_seq, page.after.unwrap_or(0), i64::from(limit) + 1],
                    item_from_row,
                )?
                .map(|r| r.map(|(_, item)| (i64::from(item.line), item)))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            vm_steps += steps(&stmt);
            Ok(into_page(rows, limit, vm_steps))
        })
    }

    /// Moves an order to `to` if the lifecycle allows it. Moving to the
    /// current status is also a conflict. Nothing is written on error.
    pub fn transition_order(
        &self,
        actor: &Actor,
        order_id: &str,
        to: OrderStatus,
        visible_to: Option<&str>,
    ) -> Result<Order> {
        self.transition_order_if(actor, order_id, to, visible_to, None)
    }

    /// [`Store::transition_order`] only while the order is at version
    /// `expected` (If-Match); otherwise [`StoreError::Stale`] and nothing
    /// changes.
    pub fn transition_order_if(
        &self,
        actor: &Actor,
        order_id: &str,
        to: OrderStatus,
        visible_to: Option<&str>,
        expected: Option<&[i64]>,
    ) -> Result<Order> {
        let now = self.now();
        self.write(|tx| {
            let (seq, mut order) = load_order(tx, order_id, visible_to)?;
            check_transition(&order, to, expected)?;
            let from = order.status;
            // The IMMEDIATE transaction already excludes other writers; the
            // status guard in the WHERE clause keeps the update correct even
            // if that ever changes.
            let changed = tx
                .prepare_cached(
                    "UPDATE orders SET status = ?2, updated_at = ?3, version = version + 1 \
                     WHERE seq = ?1 AND status = ?4",
                )?
                .execute(params![seq, to, ts_to_sql(&now), from])?;
            if changed != 1 {
                return Err(StoreError::Conflict {
                    code: "illegal_transition",
                    detail: "the order changed status concurrently; read it again".to_owned(),
                });
            }
            order.status = to;
            order.updated_at = now;
            order.version += 1;
            order.items = load_items(tx, seq)?;
            self.record_order_event(
                tx,
                super::webhooks::ORDER_STATUS_CHANGED,
                &order,
                Some(from),
            )?;
            self.audit(tx, actor, status_changed(&order, from))?;
            Ok(order)
        })
    }
}

/// Drops the look-ahead row, loads the lines of every order left on the
/// page with one statement, and assembles the page.
fn finish_order_page(
    tx: &Connection,
    mut rows: Vec<(i64, Order)>,
    limit: u32,
    mut vm_steps: u64,
) -> Result<Page<Order>> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next_after = if has_more {
        rows.last().map(|(seq, _)| *seq)
    } else {
        None
    };
    if !rows.is_empty() {
        let seqs: Vec<i64> = rows.iter().map(|(seq, _)| *seq).collect();
        let seqs = serde_json::to_string(&seqs)
            .map_err(|e| StoreError::Internal(format!("encoding page seqs: {e}")))?;
        let mut stmt = tx.prepare_cached(PAGE_ITEMS)?;
        reset_steps(&stmt);
        // The lines arrive grouped by order (ORDER BY order_seq, line), so
        // each order's run of lines is collected once into its own vector.
        let mut by_order: HashMap<i64, Vec<OrderItem>> = HashMap::with_capacity(rows.len());
        let mut run: Option<(i64, Vec<OrderItem>)> = None;
        for item in stmt.query_map([seqs], item_from_row)? {
            let (seq, item) = item?;
            match &mut run {
                Some((current, items)) if *current == seq => items.push(item),
                _ => {
                    if let Some((done, items)) = run.replace((seq, vec![item])) {
                        by_order.insert(done, items);
                    }
                }
            }
        }
        if let Some((done, items)) = run {
            by_order.insert(done, items);
        }
        vm_steps += steps(&stmt);
        for (seq, order) in &mut rows {
            order.items = by_order.remove(seq).unwrap_or_default();
        }
    }
    Ok(Page {
        rows: rows.into_iter().map(|(_, order)| order).collect(),
        next_after,
        vm_steps,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::super::FieldIssue;
    use super::super::testutil::*;
    use super::super::{Customer, Money, Product, ProductPatch, cursor};
    use super::*;
    use rusqlite::StatementStatus;

    /// Walks a filtered order list to its end and returns the ids and the
    /// cost of every page.
    fn walk(t: &TestStore, filter: &OrderFilter, limit: u32) -> (Vec<String>, Vec<u64>) {
        let mut ids = Vec::new();
        let mut costs = Vec::new();
        let mut page = PageRequest::first(limit);
        loop {
            let got = t.store.list_orders(filter, page).expect("list");
            costs.push(got.vm_steps);
            ids.extend(got.rows.into_iter().map(|o| o.id));
            match got.next_after {
                Some(after) => page.after = Some(after),
                None => return (ids, costs),
            }
        }
    }

    fn assert_no_duplicates(ids: &[String]) {
        let mut seen = HashSet::new();
        for id in ids {
            assert!(seen.insert(id), "{id} returned twice");
        }
    }

    fn within_ten_percent(value: u64, reference: u64) -> bool {
        value.abs_diff(reference) * 10 <= reference
    }

    fn catalog(t: &TestStore) -> (Customer, Customer, Product) {
        let a = t.customer("Ada", "ada@example.com");
        let b = t.customer("Bob", "bob@example.com");
        let p = t.product("MUG-001", 1250, "EUR");
        (a, b, p)
    }

    #[test]
    fn pages_never_shift_or_repeat_while_orders_are_inserted() {
        let t = TestStore::new();
        let (a, b, p) = catalog(&t);
        let initial: Vec<String> = (0..50)
            .map(|i| {
                t.order(if i % 2 == 0 { &a.id } else { &b.id }, &[(&p.id, 1)])
                    .id
            })
            .collect();
        let newest_first: Vec<String> = initial.iter().rev().cloned().collect();

        // Insert three orders between every page fetch. New orders sort
        // before the first page, so a keyset walk sees exactly the rows
        // that existed when it started, each once, in order.
        let mut ids = Vec::new();
        let mut page = PageRequest::first(7);
        let mut pages = 0;
        loop {
            let got = t
                .store
                .list_orders(&OrderFilter::default(), page)
                .expect("list");
            pages += 1;
            ids.extend(got.rows.into_iter().map(|o| o.id));
            for _ in 0..3 {
                t.order(&a.id, &[(&p.id, 1)]);
            }
            match got.next_after {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
        assert_eq!(pages, 8);
        assert_no_duplicates(&ids);
        assert_eq!(ids, newest_first);

        // The same walk with OFFSET paging repeats rows under the same
        // inserts. This is the failure the assertion above exists to catch.
        let mut offset_ids: Vec<String> = Vec::new();
        let mut offset = 0i64;
        loop {
            let batch: Vec<String> = {
                let conn = t.store.reader().expect("reader");
                let mut stmt = conn
                    .prepare("SELECT id FROM orders ORDER BY seq DESC LIMIT 7 OFFSET ?1")
                    .expect("prepare");
                stmt.query_map([offset], |r| r.get(0))
                    .expect("query")
                    .collect::<rusqlite::Result<_>>()
                    .expect("rows")
            };
            if batch.is_empty() || offset > 1000 {
                break;
            }
            offset += 7;
            offset_ids.extend(batch);
            for _ in 0..3 {
                t.order(&a.id, &[(&p.id, 1)]);
            }
        }
        let unique: HashSet<&String> = offset_ids.iter().collect();
        assert!(
            unique.len() < offset_ids.len(),
            "OFFSET paging should repeat rows"
        );
    }

    #[test]
    fn pages_stay_consistent_with_a_concurrent_writer_thread() {
        let t = TestStore::new();
        let (a, b, p) = catalog(&t);
        let initial: Vec<String> = (0..60).map(|_| t.order(&b.id, &[(&p.id, 2)]).id).collect();
        let stop = AtomicBool::new(false);
        let made = AtomicUsize::new(0);
        let store = &t.store;
        // Waits until the writer thread has committed more orders, so that
        // the walk really overlaps with inserts on every page.
        let wait_for_writes = |seen: usize| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while made.load(Ordering::SeqCst) <= seen && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
            made.load(Ordering::SeqCst)
        };
        let (walked, pages, inserted) = std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) && made.load(Ordering::SeqCst) < 5000 {
                    store
                        .create_order(&a.id, &[(p.id.as_str(), 1)])
                        .expect("insert");
                    made.fetch_add(1, Ordering::SeqCst);
                }
            });
            let mut seen = wait_for_writes(0);
            let mut ids = Vec::new();
            let mut pages = 0;
            let mut page = PageRequest::first(7);
            loop {
                let got = store
                    .list_orders(&OrderFilter::default(), page)
                    .expect("list");
                pages += 1;
                // Every order on a page comes with its lines, even while the
                // writer commits new orders between the two statements.
                assert!(got.rows.iter().all(|o| o.items.len() == 1));
                ids.extend(got.rows.into_iter().map(|o| o.id));
                match got.next_after {
                    Some(after) => page.after = Some(after),
                    None => break,
                }
                seen = wait_for_writes(seen);
            }
            stop.store(true, Ordering::SeqCst);
            writer.join().expect("writer thread");
            (ids, pages, made.load(Ordering::SeqCst))
        });
        assert!(inserted >= pages, "{inserted} inserts over {pages} pages");
        assert_no_duplicates(&walked);
        // Rows committed before the walk began may be first; after them come
        // exactly the initial rows, newest first.
        let tail: Vec<String> = walked
            .iter()
            .skip_while(|id| !initial.contains(id))
            .cloned()
            .collect();
        let expected: Vec<String> = initial.iter().rev().cloned().collect();
        assert_eq!(tail, expected);
        // Sequential ids grow with creation, so newest first means strictly
        // decreasing ids across the whole walk.
        assert!(walked.windows(2).all(|w| w[0] > w[1]), "out of order");
    }

    #[test]
    fn deep_pages_cost_the_same_as_the_first() {
        const N: usize = 100_000;
        const DEPTH: i64 = 50_000;
        const LIMIT: u32 = 20;
        let t = TestStore::new();
        let customers: Vec<Customer> = (0..4)
            .map(|i| t.customer(&format!("C{i}"), &format!("c{i}@example.com")))
            .collect();
        let refs: Vec<&Customer> = customers.iter().collect();
        let p = t.product("MUG-001", 1250, "EUR");
        let ids = t.bulk_orders(N, &refs, &OrderStatus::ALL, &p);
        let secret = t.store.cursor_secret().expect("secret");

        let filters = [
            OrderFilter::default(),
            OrderFilter {
                status: Some(OrderStatus::Shipped),
                customer_id: None,
            },
            OrderFilter {
                status: None,
                customer_id: Some(customers[1].id.clone()),
            },
            OrderFilter {
                status: Some(OrderStatus::Delivered),
                customer_id: Some(customers[3].id.clone()),
            },
        ];
        for filter in &filters {
            let matching = i64::try_from(
                ids.iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        filter.status.is_none_or(|s| OrderStatus::ALL[i % 5] == s)
                            && filter
                                .customer_id
                                .as_ref()
                                .is_none_or(|c| *c == customers[i % 4].id)
                    })
                    .count(),
            )
            .expect("count");
            let depth = DEPTH.min(matching / 2);
            let first = t
                .store
                .list_orders(filter, PageRequest::first(LIMIT))
                .expect("first page");

            // The cursor for the page that starts `depth` rows down: the
            // seq of the row just above it, carried through the real codec.
            let (offset_sql, params): (&str, Vec<&dyn ToSql>) = match (
                &filter.customer_id,
                &filter.status,
            ) {
                (None, None) => (
                    "SELECT seq FROM orders ORDER BY seq DESC LIMIT 1 OFFSET ?1",
                    vec![],
                ),
                (None, Some(s)) => (
                    "SELECT seq FROM orders WHERE status = ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?1",
                    vec![s],
                ),
                (Some(c), None) => (
                    "SELECT seq FROM orders WHERE customer_id = ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?1",
                    vec![c],
                ),
                (Some(c), Some(s)) => (
                    "SELECT seq FROM orders WHERE customer_id = ?2 AND status = ?3 \
                         ORDER BY seq DESC LIMIT 1 OFFSET ?1",
                    vec![c, s],
                ),
            };
            let above = depth - 1;
            let mut bound: Vec<&dyn ToSql> = vec![&above];
            bound.extend(params.iter().copied());
            let after: i64 = t
                .store
                .reader()
                .expect("reader")
                .query_row(offset_sql, bound.as_slice(), |r| r.get(0))
                .expect("seq at depth");
            let token = cursor::encode(&secret, cursor::KIND_ORDERS, &filter.fingerprint(), after);
            let after = cursor::decode(&secret, &token, cursor::KIND_ORDERS, &filter.fingerprint())
                .expect("own cursor");
            let deep = t
                .store
                .list_orders(
                    filter,
                    PageRequest {
                        limit: LIMIT,
                        after: Some(after),
                    },
                )
                .expect("deep page");
            assert_eq!(deep.rows.len(), LIMIT as usize);
            assert!(deep.rows.iter().all(|o| o.items.len() == 1));

            // The same page the OFFSET way: same statement, same filters,
            // same limit, but skipping `depth` rows instead of seeking.
            let offset_with_limit = match (&filter.customer_id, &filter.status) {
                (None, None) => format!("{LIST_ORDERS_ALL} OFFSET ?3"),
                (Some(_), None) | (None, Some(_)) => format!(
                    "{} OFFSET ?4",
                    match filter.status {
                        Some(_) => LIST_ORDERS_BY_STATUS,
                        None => LIST_ORDERS_BY_CUSTOMER,
                    }
                ),
                (Some(_), Some(_)) => format!("{LIST_ORDERS_BY_CUSTOMER_STATUS} OFFSET ?5"),
            };
            let (offset_rows, offset_steps) = {
                let conn = t.store.reader().expect("reader");
                let mut stmt = conn.prepare(&offset_with_limit).expect("prepare offset");
                let max = i64::MAX;
                let fetch = i64::from(LIMIT) + 1;
                let mut bound: Vec<&dyn ToSql> = vec![&max, &fetch];
                bound.extend(params.iter().copied());
                bound.push(&depth);
                let rows: Vec<String> = stmt
                    .query_map(bound.as_slice(), |r| r.get(1))
                    .expect("query")
                    .collect::<rusqlite::Result<_>>()
                    .expect("rows");
                (rows, steps(&stmt))
            };
            // Both ways reach the same rows, so the comparison is fair.
            let deep_ids: Vec<&String> = deep.rows.iter().map(|o| &o.id).collect();
            assert_eq!(
                offset_rows.iter().take(LIMIT as usize).collect::<Vec<_>>(),
                deep_ids
            );

            println!(
                "filter {}: first page {} steps, page at depth {depth} {} steps, OFFSET {depth} {} steps",
                filter.fingerprint(),
                first.vm_steps,
                deep.vm_steps,
                offset_steps
            );
            assert!(
                within_ten_percent(deep.vm_steps, first.vm_steps),
                "deep page {} vs first page {} steps for {filter:?}",
                deep.vm_steps,
                first.vm_steps
            );
            // OFFSET pays for every skipped row. At depth 50,000 that is
            // over a hundred keyset pages; the filtered lists are shallower
            // (half their rows), so they are held to a proportional bound.
            let factor = if depth >= DEPTH { 100 } else { 10 };
            assert!(
                offset_steps >= factor * deep.vm_steps && offset_steps >= depth as u64,
                "OFFSET {offset_steps} steps vs keyset {} for {filter:?}",
                deep.vm_steps
            );
        }
        // The unfiltered deep page starts exactly DEPTH rows down.
        let secret_after = {
            let conn = t.store.reader().expect("reader");
            conn.query_row(
                "SELECT seq FROM orders ORDER BY seq DESC LIMIT 1 OFFSET ?1",
                [DEPTH - 1],
                |r| r.get::<_, i64>(0),
            )
            .expect("seq")
        };
        let deep = t
            .store
            .list_orders(
                &OrderFilter::default(),
                PageRequest {
                    limit: 1,
                    after: Some(secret_after),
                },
            )
            .expect("page");
        assert_eq!(deep.rows[0].id, ids[N - 1 - DEPTH as usize]);
    }

    #[test]
    fn filtered_pages_are_complete_and_use_their_index() {
        let t = TestStore::new();
        let (a, b, p) = catalog(&t);
        // Skewed on purpose: A's orders (all statuses) are old, and 3,000
        // newer orders of B are all delivered. A scan instead of an index
        // would have to step over B's rows to reach A's or any pending
        // order, making some pages far dearer than others.
        let old = t.bulk_orders(300, &[&a], &OrderStatus::ALL, &p);
        let new = t.bulk_orders(3000, &[&b], &[OrderStatus::Delivered], &p);
        let mut all: Vec<(String, &str, OrderStatus)> = Vec::new();
        for (i, id) in old.iter().enumerate() {
            all.push((id.clone(), &a.id, OrderStatus::ALL[i % 5]));
        }
        for id in &new {
            all.push((id.clone(), &b.id, OrderStatus::Delivered));
        }

        let mut customer_choices = vec![None, Some(a.id.clone()), Some(b.id.clone())];
        customer_choices.push(Some("cus_nobody".to_owned()));
        let mut status_choices = vec![None];
        status_choices.extend(OrderStatus::ALL.map(Some));
        for customer_id in &customer_choices {
            for status in &status_choices {
                let filter = OrderFilter {
                    status: *status,
                    customer_id: customer_id.clone(),
                };
                let expected: Vec<String> = all
                    .iter()
                    .rev()
                    .filter(|(_, c, s)| {
                        customer_id.as_deref().is_none_or(|want| want == *c)
                            && status.is_none_or(|want| want == *s)
                    })
                    .map(|(id, _, _)| id.clone())
                    .collect();
                let (ids, costs) = walk(&t, &filter, 7);
                assert_no_duplicates(&ids);
                assert_eq!(ids, expected, "{filter:?}");
                // Every full page costs what the first one did, whether it
                // lies among B's rows or past them.
                let full_pages = expected.len() / 7;
                if full_pages > 0 {
                    for (n, cost) in costs.iter().take(full_pages).enumerate() {
                        assert!(
                            within_ten_percent(*cost, costs[0]),
                            "page {n} costs {cost} steps, the first {} ({filter:?})",
                            costs[0]
                        );
                    }
                }
            }
        }

        // And the plans say so: each filter's statement seeks its own index
        // and never sorts.
        let conn = t.store.reader().expect("reader");
        for (sql, index) in [
            (LIST_ORDERS_ALL, "INTEGER PRIMARY KEY"),
            (LIST_ORDERS_BY_CUSTOMER, "orders_customer_seq"),
            (LIST_ORDERS_BY_STATUS, "orders_status_seq"),
            (LIST_ORDERS_BY_CUSTOMER_STATUS, "orders_customer_status_seq"),
            (PAGE_ITEMS, "PRIMARY KEY (order_seq=?)"),
        ] {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            // The plan does not depend on the values, only on their
            // presence.
            let zeros = rusqlite::params_from_iter(std::iter::repeat_n(0, stmt.parameter_count()));
            let plan: Vec<String> = stmt
                .query_map(zeros, |r| r.get::<_, String>(3))
                .expect("plan")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            let plan = plan.join(" | ");
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(plan.contains("SEARCH"), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
    }

    #[test]
    fn placement_copies_the_catalog_and_computes_totals() {
        let t = TestStore::new();
        let (a, _, mug) = catalog(&t);
        let tea = t.product("TEA-001", 499, "EUR");
        let order = t.order(&a.id, &[(&mug.id, 2), (&tea.id, 3), (&mug.id, 1)]);
        assert_eq!(order.status, OrderStatus::Pending);
        assert_eq!(order.currency, "EUR");
        assert_eq!(order.total_minor, 2 * 1250 + 3 * 499 + 1250);
        let lines: Vec<(u32, &str, u32, i64, i64)> = order
            .items
            .iter()
            .map(|i| {
                (
                    i.line,
                    i.sku.as_str(),
                    i.quantity,
                    i.unit_price_minor,
                    i.line_total_minor,
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (1, "MUG-001", 2, 1250, 2500),
                (2, "TEA-001", 3, 499, 1497),
                (3, "MUG-001", 1, 1250, 1250)
            ]
        );
        assert_eq!(t.store.get_order(&order.id, None).expect("get"), order);

        // A later price change leaves placed orders alone.
        t.store
            .update_product(
                &op(),
                &mug.id,
                &ProductPatch {
                    price: Some(Money {
                        amount_minor: 9999,
                        currency: "EUR".to_owned(),
                    }),
                    name: Some("Renamed".to_owned()),
                    active: None,
                },
            )
            .expect("reprice");
        assert_eq!(t.store.get_order(&order.id, None).expect("get"), order);
    }

    /// One place that calls `create_order` for the rejection table, and
    /// checks that nothing was written.
    fn check_rejected(
        t: &TestStore,
        customer_id: &str,
        items: &[(&str, u32)],
        expected: &[(&str, &str)],
    ) {
        let before = (t.count("orders"), t.count("order_items"));
        let got = t.store.create_order(customer_id, items);
        let expected: Vec<FieldIssue> = expected
            .iter()
            .map(|(pointer, detail)| FieldIssue::new(*pointer, *detail))
            .collect();
        assert_eq!(
            got,
            Err(StoreError::Invalid(expected)),
            "{customer_id} {items:?}"
        );
        assert_eq!(
            (t.count("orders"), t.count("order_items")),
            before,
            "wrote rows"
        );
    }

    #[test]
    fn placement_reports_every_problem_at_once_and_writes_nothing() {
        let t = TestStore::new();
        let (a, _, eur) = catalog(&t);
        let usd = t.product("USD-001", 500, "USD");
        let off = t.product("OFF-001", 100, "EUR");
        t.store
            .update_product(
                &op(),
                &off.id,
                &ProductPatch {
                    active: Some(false),
                    ..Default::default()
                },
            )
            .expect("deactivate");
        let pricey = t.product("BIG-001", 60_000_000_000, "EUR");
        let dear = t.product("DEAR-001", 100_000_000_000, "EUR");
        t.order(&a.id, &[(&eur.id, 1)]);

        let unknown = "no product with this id";
        let inactive = "the product is inactive and cannot be ordered";
        let usd_vs_eur = "the product is priced in USD, but #/items/0 is priced in EUR; an order has one currency";
        type Case<'a> = (&'a str, Vec<(&'a str, u32)>, Vec<(&'a str, &'a str)>);
        let cases: Vec<Case<'_>> = vec![
            (
                "cus_nope",
                vec![(&eur.id, 2), ("prd_nope", 1), (&off.id, 1), (&usd.id, 0)],
                vec![
                    ("#/customer_id", "no customer with this id"),
                    ("#/items/1/product_id", unknown),
                    ("#/items/2/product_id", inactive),
                    ("#/items/3/quantity", "must be at least 1"),
                    ("#/items/3/product_id", usd_vs_eur),
                ],
            ),
            (
                &a.id,
                vec![],
                vec![("#/items", "must contain at least one line")],
            ),
            (
                "cus_nope",
                vec![],
                vec![
                    ("#/customer_id", "no customer with this id"),
                    ("#/items", "must contain at least one line"),
                ],
            ),
            // The reference currency is the first line that names a real
            // product, so an unknown first line does not hide a mismatch.
            (
                &a.id,
                vec![("prd_nope", 1), (&usd.id, 1), (&eur.id, 1)],
                vec![
                    ("#/items/0/product_id", unknown),
                    (
                        "#/items/2/product_id",
                        "the product is priced in EUR, but #/items/1 is priced in USD; an order has one currency",
                    ),
                ],
            ),
            // Overflow is a validation error, per line and for the total.
            (
                &a.id,
                vec![(&dear.id, u32::MAX)],
                vec![(
                    "#/items/0/quantity",
                    "the line total exceeds the largest amount an order can carry (100000000000 minor units); order fewer",
                )],
            ),
            (
                &a.id,
                vec![(&pricey.id, 1), (&pricey.id, 1)],
                vec![(
                    "#/items",
                    "the order total exceeds the largest amount an order can carry (100000000000 minor units); split the order",
                )],
            ),
            (
                &a.id,
                vec![(&pricey.id, 2), (&eur.id, 0)],
                vec![
                    (
                        "#/items/0/quantity",
                        "the line total exceeds the largest amount an order can carry (100000000000 minor units); order fewer",
                    ),
                    ("#/items/1/quantity", "must be at least 1"),
                ],
            ),
            // Ids are data, never SQL.
            (
                "' OR 1=1 --",
                vec![("x'); DELETE FROM orders; --", 1)],
                vec![
                    ("#/customer_id", "no customer with this id"),
                    ("#/items/0/product_id", unknown),
                ],
            ),
        ];
        for (customer, items, expected) in &cases {
            check_rejected(&t, customer, items, expected);
        }
        assert_eq!(t.count("orders"), 1);
    }

    fn path_to(status: OrderStatus) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match status {
            Pending => &[],
            Processing => &[Processing],
            Shipped => &[Processing, Shipped],
            Delivered => &[Processing, Shipped, Delivered],
            Cancelled => &[Cancelled],
        }
    }

    #[test]
    fn transitions_follow_the_lifecycle() {
        use OrderStatus::*;
        // Written out by hand from the contract, not derived from
        // `can_transition_to`, so that the two check each other.
        let legal: HashSet<(OrderStatus, OrderStatus)> = [
            (Pending, Processing),
            (Pending, Cancelled),
            (Processing, Shipped),
            (Processing, Cancelled),
            (Shipped, Delivered),
        ]
        .into_iter()
        .collect();

        let t = TestStore::new();
        let (a, _, p) = catalog(&t);
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let expected_legal = legal.contains(&(from, to));
                assert_eq!(from.can_transition_to(to), expected_legal, "{from} -> {to}");

                let order = t.order(&a.id, &[(&p.id, 1)]);
                for step in path_to(from) {
                    t.store
                        .transition_order(&op(), &order.id, *step, None)
                        .expect("setup");
                }
                let before = t.store.get_order(&order.id, None).expect("before");
                assert_eq!(before.status, from);
                t.clock.advance(chrono::Duration::seconds(1));

                match t.store.transition_order(&op(), &order.id, to, None) {
                    Ok(after) => {
                        assert!(expected_legal, "{from} -> {to} was allowed");
                        assert_eq!(after.status, to);
                        assert_eq!(after.items, before.items);
                        assert_eq!(
                            after.updated_at - before.updated_at,
                            chrono::Duration::seconds(1)
                        );
                        assert_eq!(t.store.get_order(&order.id, None).expect("after"), after);
                    }
                    Err(StoreError::Conflict { code, detail }) => {
                        assert!(!expected_legal, "{from} -> {to} was refused: {detail}");
                        assert_eq!(code, "illegal_transition");
                        assert!(detail.contains(from.as_str()), "{detail}");
                        assert_eq!(
                            t.store.get_order(&order.id, None).expect("after"),
                            before,
                            "a refused move changed the order"
                        );
                    }
                    Err(other) => panic!("{from} -> {to}: {other:?}"),
                }
            }
        }
        assert!(matches!(
            t.store
                .transition_order(&op(), "ord_nope", Processing, None),
            Err(StoreError::NotFound { what: "order", .. })
        ));
    }

    #[test]
    fn status_names_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        for bad in ["", "Pending", "PENDING", "canceled", "pending "] {
            assert_eq!(OrderStatus::parse(bad), None, "{bad}");
        }
    }

    /// A cached statement is parsed and planned once per connection, not
    /// once per run: rebinding a parameter must not expire it (see
    /// `configure` in the store). Counted by SQLite itself, so the machine's
    /// speed cannot change the figure.
    #[test]
    fn cached_read_statements_are_not_reprepared() {
        let t = TestStore::new();
        let (a, _, p) = catalog(&t);
        let orders: Vec<Order> = (1..=5)
            .map(|n| t.order(&a.id, &[(&p.id, n), (&p.id, 1)]))
            .collect();
        // Single-threaded, the pool hands out the same reader every time
        // (it is a stack), so this is the connection that runs the reads.
        let begun = || {
            let reader = t.store.reader().expect("reader");
            let begin = reader.prepare_cached("BEGIN DEFERRED").expect("cached");
            begin.get_status(StatementStatus::Run)
        };
        let begun_before = begun();
        for order in &orders {
            assert_eq!(t.store.get_order(&order.id, None).expect("read"), *order);
        }
        let reader = t.store.reader().expect("reader");
        let stmt = reader.prepare_cached(GET_ORDER).expect("cached");
        assert_eq!(
            stmt.get_status(StatementStatus::Run),
            5,
            "the cached statement is the one the reads ran"
        );
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
        drop(stmt);
        drop(reader);
        assert_eq!(
            begun(),
            begun_before,
            "a point read is one statement, its own snapshot: no BEGIN around it"
        );
    }

    #[test]
    fn customers_cannot_see_each_others_orders() {
        let t = TestStore::new();
        let (a, b, p) = catalog(&t);
        let order = t.order(&a.id, &[(&p.id, 1), (&p.id, 2)]);
        let missing = |id: &str| StoreError::NotFound {
            what: "order",
            id: id.to_owned(),
        };

        assert_eq!(
            t.store.get_order(&order.id, Some(&a.id)).expect("own"),
            order
        );
        assert_eq!(t.store.get_order(&order.id, None).expect("admin"), order);
        // B gets exactly what a nonexistent id gets.
        assert_eq!(
            t.store.get_order(&order.id, Some(&b.id)),
            Err(missing(&order.id))
        );
        assert_eq!(
            t.store.get_order("ord_nope", Some(&b.id)),
            Err(missing("ord_nope"))
        );
        assert_eq!(
            t.store
                .list_order_items(&order.id, Some(&b.id), PageRequest::first(10)),
            Err(missing(&order.id))
        );
        assert_eq!(
            t.store
                .transition_order(&op(), &order.id, OrderStatus::Cancelled, Some(&b.id)),
            Err(missing(&order.id))
        );
        assert_eq!(
            t.store.get_order(&order.id, None).expect("unchanged"),
            order
        );
        let cancelled = t
            .store
            .transition_order(&op(), &order.id, OrderStatus::Cancelled, Some(&a.id))
            .expect("own cancel");
        assert_eq!(cancelled.status, OrderStatus::Cancelled);

        // A customer-scoped list shows only that customer's orders.
        t.order(&b.id, &[(&p.id, 1)]);
        let (ids, _) = walk(
            &t,
            &OrderFilter {
                status: None,
                customer_id: Some(a.id.clone()),
            },
            10,
        );
        assert_eq!(ids, vec![order.id.clone()]);
    }

    #[test]
    fn order_lines_page_in_line_order() {
        let t = TestStore::new();
        let (a, _, p) = catalog(&t);
        let items: Vec<(&str, u32)> = (1..=5).map(|q| (p.id.as_str(), q)).collect();
        let order = t.order(&a.id, &items);
        let mut lines = Vec::new();
        let mut page = PageRequest::first(2);
        let mut sizes = Vec::new();
        loop {
            let got = t
                .store
                .list_order_items(&order.id, Some(&a.id), page)
                .expect("items");
            assert!(got.vm_steps > 0);
            sizes.push(got.rows.len());
            lines.extend(got.rows);
            match got.next_after {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
        assert_eq!(sizes, vec![2, 2, 1]);
        assert_eq!(lines, order.items);
        assert!(matches!(
            t.store
                .list_order_items("ord_nope", None, PageRequest::first(2)),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn listed_orders_carry_all_their_lines() {
        let t = TestStore::new();
        let (a, b, p) = catalog(&t);
        let tea = t.product("TEA-001", 499, "EUR");
        let made: Vec<Order> = (1..=9u32)
            .map(|n| {
                let items: Vec<(&str, u32)> = (0..n)
                    .map(|i| {
                        (
                            if i % 2 == 0 {
                                p.id.as_str()
                            } else {
                                tea.id.as_str()
                            },
                            i + 1,
                        )
                    })
                    .collect();
                t.order(if n % 2 == 0 { &a.id } else { &b.id }, &items)
            })
            .collect();
        let mut listed = Vec::new();
        let mut page = PageRequest::first(4);
        loop {
            let got = t
                .store
                .list_orders(&OrderFilter::default(), page)
                .expect("list");
            listed.extend(got.rows);
            match got.next_after {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
        let expected: Vec<Order> = made.into_iter().rev().collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn fingerprints_distinguish_filters() {
        let filters = [
            OrderFilter::default(),
            OrderFilter {
                status: Some(OrderStatus::Pending),
                customer_id: None,
            },
            OrderFilter {
                status: None,
                customer_id: Some("pending".to_owned()),
            },
            OrderFilter {
                status: Some(OrderStatus::Pending),
                customer_id: Some("cus_1".to_owned()),
            },
            OrderFilter {
                status: None,
                customer_id: Some("cus_1".to_owned()),
            },
        ];
        let prints: HashSet<String> = filters.iter().map(OrderFilter::fingerprint).collect();
        assert_eq!(prints.len(), filters.len());
        assert_eq!(filters[3].fingerprint(), filters[3].clone().fingerprint());
    }
}
