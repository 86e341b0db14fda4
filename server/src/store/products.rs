//! Products: the priced catalog that order lines copy from.
//!
//! A SKU is unique (compared exactly, as typed). Prices are integer minor
//! units with an ISO 4217 code; a price change affects new orders only,
//! because order lines keep their own copy. This module deliberately does
//! not delete products (orders refer to them) and does not enforce the
//! contract's upper price bound or SKU pattern, which the generated edge
//! validates; it keeps only the invariants the rest of the store relies on
//! (non-negative prices, a three-letter upper-case currency).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::{Action, Actor, Change, diff};
use super::{
    FieldIssue, Page, PageRequest, Result, Store, StoreError, into_page, reset_steps, steps,
    ts_from_row, ts_to_sql,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Starts at 1; every change adds one (see migration 4).
    pub version: i64,
}

/// An amount in minor units with its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price: Money,
    pub active: bool,
}

/// The fields of a product to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub price: Option<Money>,
    pub active: Option<bool>,
}

/// Which products a list returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub active: Option<bool>,
}

impl ProductFilter {
    /// A canonical string of the filter for binding cursors to it (see
    /// [`super::cursor`]); equal filters give equal strings.
    pub fn fingerprint(&self) -> String {
        serde_json::json!({ "active": self.active }).to_string()
    }
}

// One constant statement per filter shape, so that each seeks its own
// index (`(? IS NULL OR active = ?)` would defeat them). ?1 after, ?2 limit
// + 1, ?3 the active flag.
const LIST_ALL: &str = "SELECT seq, id, sku, name, price_minor, currency, active, created_at, \
     updated_at, version FROM products WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2";
const LIST_BY_ACTIVE: &str = "SELECT seq, id, sku, name, price_minor, currency, active, \
     created_at, updated_at, version FROM products INDEXED BY products_active_seq \
     WHERE active = ?3 AND seq < ?1 ORDER BY seq DESC LIMIT ?2";

/// The audit record of an update: the fields that changed.
pub(crate) fn product_updated<'a>(before: &Product, after: &'a Product) -> Action<'a> {
    let mut changes = Vec::new();
    diff(&mut changes, "name", &before.name, &after.name);
    diff(
        &mut changes,
        "price_minor",
        &before.price_minor,
        &after.price_minor,
    );
    diff(&mut changes, "currency", &before.currency, &after.currency);
    diff(&mut changes, "active", &before.active, &after.active);
    Action {
        action: "product.updated",
        resource_type: "product",
        resource_id: &after.id,
        changes,
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Product)> {
    Ok((
        row.get(0)?,
        Product {
            id: row.get(1)?,
            sku: row.get(2)?,
            name: row.get(3)?,
            price_minor: row.get(4)?,
            currency: row.get(5)?,
            active: row.get(6)?,
            created_at: ts_from_row(row, 7)?,
            updated_at: ts_from_row(row, 8)?,
            version: row.get(9)?,
        },
    ))
}

fn check_price(price: &Money, issues: &mut Vec<FieldIssue>) {
    if price.amount_minor < 0 {
        issues.push(FieldIssue::new(
            "#/price/amount_minor",
            "must not be negative",
        ));
    }
    // Orders compare currencies byte for byte, so only the canonical form
    // may be stored: `eur` and `EUR` must not become two currencies.
    if price.currency.len() != 3 || !price.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        issues.push(FieldIssue::new(
            "#/price/currency",
            "must be a three-letter ISO 4217 code in upper case, such as EUR",
        ));
    }
}

fn check_name(name: &str, issues: &mut Vec<FieldIssue>) {
    if name.trim().is_empty() {
        issues.push(FieldIssue::new("#/name", "must not be empty"));
    }
}

/// The rules of a new product that do not need the database.
pub(crate) fn check_new_product(new: &NewProduct) -> Result<()> {
    let mut issues = Vec::new();
    if new.sku.trim().is_empty() {
        issues.push(FieldIssue::new("#/sku", "must not be empty"));
    }
    check_name(&new.name, &mut issues);
    check_price(&new.price, &mut issues);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(issues))
    }
}

/// The rules of a patch that do not need the database.
pub(crate) fn check_product_patch(patch: &ProductPatch) -> Result<()> {
    let mut issues = Vec::new();
    if let Some(name) = &patch.name {
        check_name(name, &mut issues);
    }
    if let Some(price) = &patch.price {
        check_price(price, &mut issues);
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(issues))
    }
}

/// The row a new product becomes (version 1).
pub(crate) fn new_row(new: &NewProduct, id: String, now: DateTime<Utc>) -> Product {
    Product {
        id,
        sku: new.sku.clone(),
        name: new.name.clone(),
        price_minor: new.price.amount_minor,
        currency: new.price.currency.clone(),
        active: new.active,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// The audit record of a creation.
pub(crate) fn product_created(product: &Product) -> Action<'_> {
    Action {
        action: "product.created",
        resource_type: "product",
        resource_id: &product.id,
        changes: vec![
            Change::set("sku", product.sku.clone()),
            Change::set("name", product.name.clone()),
            Change::set("price_minor", product.price_minor),
            Change::set("currency", product.currency.clone()),
            Change::set("active", product.active),
        ],
    }
}

/// Applies a non-empty patch: the fields it names, a new `updated_at` and
/// the next version.
pub(crate) fn apply_patch(product: &mut Product, patch: &ProductPatch, now: DateTime<Utc>) {
    if let Some(name) = &patch.name {
        product.name = name.clone();
    }
    if let Some(price) = &patch.price {
        product.price_minor = price.amount_minor;
        product.currency = price.currency.clone();
    }
    if let Some(active) = patch.active {
        product.active = active;
    }
    product.updated_at = now;
    product.version += 1;
}

fn load(tx: &Connection, id: &str) -> Result<Product> {
    tx.prepare_cached(
        "SELECT seq, id, sku, name, price_minor, currency, active, created_at, updated_at, \
         version FROM products WHERE id = ?1",
    )?
    .query_row([id], from_row)
    .optional()?
    .map(|(_, p)| p)
    .ok_or_else(|| StoreError::NotFound {
        what: "product",
        id: id.to_owned(),
    })
}

impl Store {
    pub fn create_product(&self, actor: &Actor, new: &NewProduct) -> Result<Product> {
        check_new_product(new)?;
        let product = new_row(new, self.ids.new_id("prd"), self.now());
        self.write(|tx| {
            // Inside the IMMEDIATE transaction, so no one can take the SKU
            // between this check and the insert.
            let taken = tx
                .prepare_cached("SELECT 1 FROM products WHERE sku = ?1")?
                .query_row([&product.sku], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Err(StoreError::Conflict {
                    code: "duplicate_sku",
                    detail: format!("a product with SKU '{}' already exists", product.sku),
                });
            }
            tx.prepare_cached(
                "INSERT INTO products (id, sku, name, price_minor, currency, active, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?
            .execute(params![
                product.id,
                product.sku,
                product.name,
                product.price_minor,
                product.currency,
                product.active,
                ts_to_sql(&product.created_at)
            ])?;
            self.audit(tx, actor, product_created(&product))
        })?;
        Ok(product)
    }

    pub fn get_product(&self, id: &str) -> Result<Product> {
        self.read(|tx| load(tx, id))
    }

    /// Applies `patch`; with nothing to change, returns the product as is.
    pub fn update_product(&self, actor: &Actor, id: &str, patch: &ProductPatch) -> Result<Product> {
        self.update_product_if(actor, id, patch, None)
    }

    /// [`Store::update_product`] only while the product is at version
    /// `expected` (If-Match); otherwise [`StoreError::Stale`] and nothing
    /// changes. The check and the write are one transaction.
    pub fn update_product_if(
        &self,
        actor: &Actor,
        id: &str,
        patch: &ProductPatch,
        expected: Option<&[i64]>,
    ) -> Result<Product> {
        check_product_patch(patch)?;
        let now = self.now();
        self.write(|tx| {
            let mut product = load(tx, id)?;
            super::check_version("product", id, product.version, expected)?;
            let before = product.clone();
            if patch == &ProductPatch::default() {
                self.audit(tx, actor, product_updated(&before, &product))?;
                return Ok(product);
            }
            apply_patch(&mut product, patch, now);
            tx.prepare_cached(
                "UPDATE products SET name = ?2, price_minor = ?3, currency = ?4, active = ?5, \
                 updated_at = ?6, version = version + 1 WHERE id = ?1",
            )?
            .execute(params![
                id,
                product.name,
                product.price_minor,
                product.currency,
                product.active,
                ts_to_sql(&now)
            ])?;
            self.audit(tx, actor, product_updated(&before, &product))?;
            Ok(product)
        })
    }

    /// Products, newest first, optionally only active or inactive ones.
    pub fn list_products(&self, filter: ProductFilter, page: PageRequest) -> Result<Page<Product>> {
        let limit = page.checked_limit()?;
        let after = page.after.unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        self.read(|tx| {
            // One constant statement per filter shape; see LIST_ALL.
            let mut stmt = tx.prepare_cached(match filter.active {
                None => LIST_ALL,
                Some(_) => LIST_BY_ACTIVE,
            })?;
            reset_steps(&stmt);
            let rows = match filter.active {
                None => stmt.query_map(params![after, fetch], from_row)?,
                Some(active) => stmt.query_map(params![after, fetch, active], from_row)?,
            }
            .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(into_page(rows, limit, steps(&stmt)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn new_product(sku: &str) -> NewProduct {
        NewProduct {
            sku: sku.to_owned(),
            name: "Enamel mug".to_owned(),
            price: Money {
                amount_minor: 1250,
                currency: "EUR".to_owned(),
            },
            active: true,
        }
    }

    #[test]
    fn a_conditional_update_checks_the_version_in_its_transaction() {
        let t = TestStore::new();
        let mug = t.product("MUG-1", 1250, "EUR");
        assert_eq!(mug.version, 1);
        let rename = |name: &str| ProductPatch {
            name: Some(name.to_owned()),
            ..ProductPatch::default()
        };
        let stale = t
            .store
            .update_product_if(&op(), &mug.id, &rename("Stale"), Some(&[7]));
        assert!(
            matches!(&stale, Err(StoreError::Stale { current: 1, .. })),
            "{stale:?}"
        );
        assert_eq!(t.store.get_product(&mug.id).expect("kept").name, mug.name);
        let none = t
            .store
            .update_product_if(&op(), &mug.id, &rename("Weak"), Some(&[]));
        assert!(
            matches!(none, Err(StoreError::Stale { .. })),
            "no tag names a version"
        );
        let done = t
            .store
            .update_product_if(&op(), &mug.id, &rename("Big mug"), Some(&[9, 1]))
            .expect("one of the tags is current");
        assert_eq!((done.version, done.name.as_str()), (2, "Big mug"));
        assert_eq!(t.store.get_product(&mug.id).expect("read").version, 2);
        // An empty patch changes nothing, so the version stays.
        let same = t
            .store
            .update_product_if(&op(), &mug.id, &ProductPatch::default(), Some(&[2]))
            .expect("current");
        assert_eq!(same.version, 2);
    }

    #[test]
    fn create_get_update() {
        let t = TestStore::new();
        let mug = t
            .store
            .create_product(&op(), &new_product("MUG-001"))
            .expect("create");
        assert_eq!(t.store.get_product(&mug.id).expect("get"), mug);
        t.clock.advance(chrono::Duration::hours(1));
        let updated = t
            .store
            .update_product(
                &op(),
                &mug.id,
                &ProductPatch {
                    price: Some(Money {
                        amount_minor: 1500,
                        currency: "USD".to_owned(),
                    }),
                    active: Some(false),
                    name: None,
                },
            )
            .expect("update");
        assert_eq!(
            (
                updated.price_minor,
                updated.currency.as_str(),
                updated.active
            ),
            (1500, "USD", false)
        );
        assert_eq!(updated.name, mug.name);
        assert_eq!(
            updated.updated_at - mug.updated_at,
            chrono::Duration::hours(1)
        );
        assert_eq!(t.store.get_product(&mug.id).expect("get"), updated);
        assert_eq!(
            t.store
                .update_product(&op(), &mug.id, &ProductPatch::default())
                .expect("no-op"),
            updated
        );
        assert!(matches!(
            t.store
                .update_product(&op(), "prd_nope", &ProductPatch::default()),
            Err(StoreError::NotFound {
                what: "product",
                ..
            })
        ));
    }

    #[test]
    fn sku_is_unique() {
        let t = TestStore::new();
        t.store
            .create_product(&op(), &new_product("MUG-001"))
            .expect("create");
        let err = t
            .store
            .create_product(&op(), &new_product("MUG-001"))
            .expect_err("duplicate");
        assert!(matches!(
            err,
            StoreError::Conflict {
                code: "duplicate_sku",
                ..
            }
        ));
        assert_eq!(t.count("products"), 1);
    }

    #[test]
    fn invalid_fields_are_all_reported() {
        let cases: Vec<(NewProduct, Vec<&str>)> = vec![
            (
                NewProduct {
                    sku: String::new(),
                    name: " ".to_owned(),
                    price: Money {
                        amount_minor: -1,
                        currency: "eur".to_owned(),
                    },
                    active: true,
                },
                vec![
                    "#/sku",
                    "#/name",
                    "#/price/amount_minor",
                    "#/price/currency",
                ],
            ),
            (
                NewProduct {
                    price: Money {
                        amount_minor: 1,
                        currency: "EURO".to_owned(),
                    },
                    ..new_product("A")
                },
                vec!["#/price/currency"],
            ),
            (
                NewProduct {
                    price: Money {
                        amount_minor: 1,
                        currency: "€€".to_owned(),
                    },
                    ..new_product("A")
                },
                vec!["#/price/currency"],
            ),
        ];
        let t = TestStore::new();
        for (input, pointers) in cases {
            match t.store.create_product(&op(), &input) {
                Err(StoreError::Invalid(issues)) => {
                    let got: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
                    assert_eq!(got, pointers, "{input:?}");
                }
                other => panic!("expected Invalid for {input:?}, got {other:?}"),
            }
        }
        assert_eq!(t.count("products"), 0);
    }

    #[test]
    fn active_filter_pages_are_complete() {
        let t = TestStore::new();
        let mut active = Vec::new();
        let mut inactive = Vec::new();
        for i in 0..23 {
            let p = t
                .store
                .create_product(
                    &op(),
                    &NewProduct {
                        active: i % 3 != 0,
                        ..new_product(&format!("SKU-{i}"))
                    },
                )
                .expect("create");
            if p.active {
                active.push(p.id)
            } else {
                inactive.push(p.id)
            }
        }
        let walk = |filter: ProductFilter| {
            let mut ids = Vec::new();
            let mut page = PageRequest::first(4);
            loop {
                let got = t.store.list_products(filter, page).expect("list");
                ids.extend(got.rows.into_iter().map(|p| p.id));
                match got.next_after {
                    Some(after) => page.after = Some(after),
                    None => return ids,
                }
            }
        };
        let newest_first = |v: &Vec<String>| v.iter().rev().cloned().collect::<Vec<_>>();
        assert_eq!(
            walk(ProductFilter { active: Some(true) }),
            newest_first(&active)
        );
        assert_eq!(
            walk(ProductFilter {
                active: Some(false)
            }),
            newest_first(&inactive)
        );
        assert_eq!(walk(ProductFilter::default()).len(), 23);
    }

    #[test]
    fn list_statements_seek_their_index() {
        let t = TestStore::new();
        let conn = t.store.reader().expect("reader");
        for (sql, index) in [
            (LIST_ALL, "INTEGER PRIMARY KEY (rowid<?)"),
            (LIST_BY_ACTIVE, "products_active_seq (active=? AND seq<?)"),
        ] {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            let zeros = rusqlite::params_from_iter(std::iter::repeat_n(0, stmt.parameter_count()));
            let plan: Vec<String> = stmt
                .query_map(zeros, |r| r.get::<_, String>(3))
                .expect("plan")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            let plan = plan.join(" | ");
            assert!(plan.contains(index) && plan.contains("SEARCH"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }

    #[test]
    fn fingerprints_differ_per_filter() {
        let all = ProductFilter::default().fingerprint();
        let on = ProductFilter { active: Some(true) }.fingerprint();
        let off = ProductFilter {
            active: Some(false),
        }
        .fingerprint();
        assert!(all != on && on != off && all != off);
    }
}
