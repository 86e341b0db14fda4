//! Customers: create, read, patch and list.
//!
//! Email addresses are unique case-insensitively (the contract's rule), kept
//! as typed for display and compared through a lowercased key column. This
//! module deliberately does not validate email syntax beyond "non-empty and
//! has an `@`": the generated edge checks the contract's pattern, and
//! whether an address can receive mail is not a storage question. Nor does
//! it decide who may read which customer; that is the caller's job.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::{Action, Actor, Change, diff};
use super::{
    FieldIssue, Page, PageRequest, Result, Store, StoreError, into_page, reset_steps, steps,
    ts_from_row, ts_to_sql,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Starts at 1; every change adds one (see migration 4).
    pub version: i64,
}

/// The fields of a customer to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// The audit record of an update: the fields that changed.
pub(crate) fn customer_updated<'a>(before: &Customer, after: &'a Customer) -> Action<'a> {
    let mut changes = Vec::new();
    diff(&mut changes, "name", &before.name, &after.name);
    diff(&mut changes, "email", &before.email, &after.email);
    Action {
        action: "customer.updated",
        resource_type: "customer",
        resource_id: &after.id,
        changes,
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Customer)> {
    Ok((
        row.get(0)?,
        Customer {
            id: row.get(1)?,
            name: row.get(2)?,
            email: row.get(3)?,
            created_at: ts_from_row(row, 4)?,
            updated_at: ts_from_row(row, 5)?,
            version: row.get(6)?,
        },
    ))
}

/// The comparison key for case-insensitive uniqueness. Full Unicode
/// lowercasing, so `ÄDA@example.com` and `äda@example.com` collide too.
pub(crate) fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// The rules of a new customer that do not need the database.
pub(crate) fn check_new_customer(name: &str, email: &str) -> Result<()> {
    let mut issues = Vec::new();
    check_name(name, &mut issues);
    check_email(email, &mut issues);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(issues))
    }
}

/// The rules of a patch that do not need the database.
pub(crate) fn check_customer_patch(patch: &CustomerPatch) -> Result<()> {
    let mut issues = Vec::new();
    if let Some(name) = &patch.name {
        check_name(name, &mut issues);
    }
    if let Some(email) = &patch.email {
        check_email(email, &mut issues);
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(issues))
    }
}

fn check_name(name: &str, issues: &mut Vec<FieldIssue>) {
    if name.trim().is_empty() {
        issues.push(FieldIssue::new("#/name", "must not be empty"));
    }
}

fn check_email(email: &str, issues: &mut Vec<FieldIssue>) {
    if !email.contains('@') || email.trim() != email || email.is_empty() {
        issues.push(FieldIssue::new(
            "#/email",
            "must be an email address such as ada@example.com",
        ));
    }
}

fn ensure_email_free(tx: &Connection, email: &str, except_id: Option<&str>) -> Result<()> {
    // Checked inside the IMMEDIATE write transaction, so no other writer can
    // take the address between this check and the insert; the UNIQUE index
    // stays as the last line of defence.
    let holder: Option<String> = tx
        .prepare_cached("SELECT id FROM customers WHERE email_key = ?1")?
        .query_row([email_key(email)], |r| r.get(0))
        .optional()?;
    match holder {
        Some(id) if Some(id.as_str()) != except_id => Err(StoreError::Conflict {
            code: "duplicate_email",
            detail: "another customer already uses this email address".to_owned(),
        }),
        _ => Ok(()),
    }
}

pub(super) fn customer_exists(tx: &Connection, id: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM customers WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

fn load(tx: &Connection, id: &str) -> Result<Customer> {
    tx.prepare_cached(
        "SELECT seq, id, name, email, created_at, updated_at, version FROM customers WHERE id = ?1",
    )?
    .query_row([id], from_row)
    .optional()?
    .map(|(_, c)| c)
    .ok_or_else(|| StoreError::NotFound {
        what: "customer",
        id: id.to_owned(),
    })
}

impl Store {
    pub fn create_customer(&self, actor: &Actor, name: &str, email: &str) -> Result<Customer> {
        check_new_customer(name, email)?;
        let now = self.now();
        let customer = Customer {
            id: self.ids.new_id("cus"),
            name: name.to_owned(),
            email: email.to_owned(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.write(|tx| {
            ensure_email_free(tx, email, None)?;
            tx.prepare_cached(
                "INSERT INTO customers (id, name, email, email_key, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![
                customer.id,
                customer.name,
                customer.email,
                email_key(email),
                ts_to_sql(&now)
            ])?;
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
        })?;
        Ok(customer)
    }

    pub fn get_customer(&self, id: &str) -> Result<Customer> {
        self.read(|tx| load(tx, id))
    }

    /// Applies `patch`; with nothing to change, returns the customer as is
    /// (and leaves `updated_at` alone, since nothing was updated).
    pub fn update_customer(
        &self,
        actor: &Actor,
        id: &str,
        patch: &CustomerPatch,
    ) -> Result<Customer> {
        self.update_customer_if(actor, id, patch, None)
    }

    /// [`Store::update_customer`] only while the customer is at version
    /// `expected` (If-Match); otherwise [`StoreError::Stale`] and nothing
    /// changes. The check and the write are one transaction.
    pub fn update_customer_if(
        &self,
        actor: &Actor,
        id: &str,
        patch: &CustomerPatch,
        expected: Option<&[i64]>,
    ) -> Result<Customer> {
        check_customer_patch(patch)?;
        let now = self.now();
        self.write(|tx| {
            let mut customer = load(tx, id)?;
            super::check_version("customer", id, customer.version, expected)?;
            let before = customer.clone();
            if patch.name.is_none() && patch.email.is_none() {
                self.audit(tx, actor, customer_updated(&before, &customer))?;
                return Ok(customer);
            }
            if let Some(email) = &patch.email {
                ensure_email_free(tx, email, Some(id))?;
                customer.email = email.clone();
            }
            if let Some(name) = &patch.name {
                customer.name = name.clone();
            }
            customer.updated_at = now;
            customer.version += 1;
            tx.prepare_cached(
                "UPDATE customers SET name = ?2, email = ?3, email_key = ?4, updated_at = ?5, \
                 version = version + 1 WHERE id = ?1",
            )?
            .execute(params![
                id,
                customer.name,
                customer.email,
                email_key(&customer.email),
                ts_to_sql(&now)
            ])?;
            self.audit(tx, actor, customer_updated(&before, &customer))?;
            Ok(customer)
        })
    }

    /// Customers, newest first.
    pub fn list_customers(&self, page: PageRequest) -> Result<Page<Customer>> {
        let limit = page.checked_limit()?;
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT seq, id, name, email, created_at, updated_at, version FROM customers \
                 WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            reset_steps(&stmt);
            let rows = stmt
                .query_map(
                    params![page.after.unwrap_or(i64::MAX), i64::from(limit) + 1],
                    from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(into_page(rows, limit, steps(&stmt)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn create_get_and_list() {
        let t = TestStore::new();
        let ada = t.customer("Ada", "ada@example.com");
        assert_eq!(ada.id, "cus_00000000000000000001");
        assert_eq!(ada.created_at.to_rfc3339(), "2026-11-21T10:00:00+00:00");
        assert_eq!(t.store.get_customer(&ada.id).expect("get"), ada);
        let bob = t.customer("Bob", "bob@example.com");
        let page = t
            .store
            .list_customers(PageRequest::first(10))
            .expect("list");
        assert_eq!(page.rows, vec![bob, ada]);
        assert_eq!(page.next_after, None);
        assert!(page.vm_steps > 0);
    }

    #[test]
    fn unknown_customer_is_not_found() {
        let t = TestStore::new();
        assert_eq!(
            t.store.get_customer("cus_nope"),
            Err(StoreError::NotFound {
                what: "customer",
                id: "cus_nope".to_owned()
            })
        );
        assert!(matches!(
            t.store
                .update_customer(&op(), "cus_nope", &CustomerPatch::default()),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn email_is_unique_case_insensitively() {
        let t = TestStore::new();
        let ada = t.customer("Ada", "Ada@Example.com");
        for email in ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com"] {
            let err = t
                .store
                .create_customer(&op(), "Other", email)
                .expect_err(email);
            assert!(
                matches!(
                    &err,
                    StoreError::Conflict {
                        code: "duplicate_email",
                        ..
                    }
                ),
                "{err:?}"
            );
        }
        // Non-ASCII letters fold too.
        t.customer("Ä", "ÄDA@example.com");
        assert!(
            t.store
                .create_customer(&op(), "ä", "äda@example.com")
                .is_err()
        );

        // Taking someone else's address by update is a conflict; changing
        // the case of one's own is not.
        let bob = t.customer("Bob", "bob@example.com");
        let err = t
            .store
            .update_customer(
                &op(),
                &bob.id,
                &CustomerPatch {
                    email: Some("ADA@example.com".to_owned()),
                    ..Default::default()
                },
            )
            .expect_err("taken");
        assert!(matches!(
            err,
            StoreError::Conflict {
                code: "duplicate_email",
                ..
            }
        ));
        let renamed = t
            .store
            .update_customer(
                &op(),
                &ada.id,
                &CustomerPatch {
                    email: Some("ADA@EXAMPLE.COM".to_owned()),
                    ..Default::default()
                },
            )
            .expect("own address");
        assert_eq!(renamed.email, "ADA@EXAMPLE.COM");
        assert_eq!(t.count("customers"), 3);
    }

    #[test]
    fn update_changes_only_given_fields_and_bumps_updated_at() {
        let t = TestStore::new();
        let ada = t.customer("Ada", "ada@example.com");
        t.clock.advance(chrono::Duration::minutes(5));
        let same = t
            .store
            .update_customer(&op(), &ada.id, &CustomerPatch::default())
            .expect("no-op");
        assert_eq!(same, ada, "an empty patch changes nothing");
        let updated = t
            .store
            .update_customer(
                &op(),
                &ada.id,
                &CustomerPatch {
                    name: Some("Augusta Ada King".to_owned()),
                    email: None,
                },
            )
            .expect("update");
        assert_eq!(updated.name, "Augusta Ada King");
        assert_eq!(updated.email, ada.email);
        assert_eq!(updated.created_at, ada.created_at);
        assert_eq!(
            updated.updated_at - ada.updated_at,
            chrono::Duration::minutes(5)
        );
        assert_eq!(t.store.get_customer(&ada.id).expect("get"), updated);
    }

    #[test]
    fn invalid_fields_are_all_reported() {
        let t = TestStore::new();
        let err = t
            .store
            .create_customer(&op(), " ", "no-at-sign")
            .expect_err("invalid");
        assert_eq!(
            err,
            StoreError::Invalid(vec![
                FieldIssue::new("#/name", "must not be empty"),
                FieldIssue::new(
                    "#/email",
                    "must be an email address such as ada@example.com"
                ),
            ])
        );
        assert_eq!(t.count("customers"), 0);
    }

    #[test]
    fn hostile_input_is_stored_verbatim() {
        // Parameters only: quotes and SQL fragments are just text.
        let t = TestStore::new();
        let name = "Robert'); DROP TABLE customers;--";
        let c = t.customer(name, "bobby@tables.example");
        assert_eq!(t.store.get_customer(&c.id).expect("get").name, name);
        assert!(matches!(
            t.store.get_customer("' OR '1'='1"),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn pages_walk_newest_first_without_gaps() {
        let t = TestStore::new();
        let made: Vec<Customer> = (0..10)
            .map(|i| t.customer(&format!("C{i}"), &format!("c{i}@example.com")))
            .collect();
        let mut seen = Vec::new();
        let mut page = PageRequest::first(3);
        loop {
            let got = t.store.list_customers(page).expect("page");
            assert!(got.rows.len() <= 3);
            seen.extend(got.rows);
            match got.next_after {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
        let expected: Vec<Customer> = made.into_iter().rev().collect();
        assert_eq!(seen, expected);
    }
}
