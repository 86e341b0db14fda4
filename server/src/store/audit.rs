//! The audit log of admin actions.
//!
//! Every store write an admin makes ([`Actor::admin`]) appends one event
//! through [`append`], on the connection of the write's own transaction:
//! the change and its event commit together or not at all, so a failed
//! write leaves no event and no write goes unrecorded. Events are
//! immutable: this module has no update or delete, and the schema's
//! triggers refuse one from anybody else (a test proves it).
//!
//! What this module deliberately does not do: record reads, record a
//! customer key's own actions (the log is of admin actions), or hold a
//! secret (callers pass only the fields a person may see).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::{
    Page, PageRequest, Result, Store, StoreError, into_page, reset_steps, steps, ts_from_row,
    ts_to_sql,
};

/// Who makes a store write, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The API key's id (`key_...`), or `operator` for the command line.
    pub key_id: String,
    /// Whether the write is an admin action (and so audited).
    pub admin: bool,
    /// The operationId that makes the write.
    pub operation: String,
    /// The request's id (`X-Request-Id`), or what the command line names.
    pub request_id: String,
}

impl Actor {
    /// An operator at the command line (`orderflow-server admin ...`), or
    /// set-up code: audited as `operator`.
    pub fn operator(operation: &str) -> Actor {
        Actor {
            key_id: "operator".to_owned(),
            admin: true,
            operation: operation.to_owned(),
            request_id: "cli".to_owned(),
        }
    }
}

/// One field an action set.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub field: &'static str,
    pub before: Value,
    pub after: Value,
}

impl Change {
    pub fn new(field: &'static str, before: impl Into<Value>, after: impl Into<Value>) -> Change {
        Change {
            field,
            before: before.into(),
            after: after.into(),
        }
    }

    /// A field of a resource the action created.
    pub fn set(field: &'static str, after: impl Into<Value>) -> Change {
        Change::new(field, Value::Null, after)
    }
}

/// Pushes a change when the value differs.
pub(crate) fn diff<T: PartialEq + Into<Value> + Clone>(
    changes: &mut Vec<Change>,
    field: &'static str,
    before: &T,
    after: &T,
) {
    if before != after {
        changes.push(Change::new(field, before.clone(), after.clone()));
    }
}

/// One event of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub operation: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub request_id: String,
    pub changes: Vec<Change>,
}

/// Filters of [`Store::list_audit_events`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub resource_id: Option<String>,
    pub actor: Option<String>,
}

impl AuditFilter {
    /// What a cursor is bound to.
    pub fn fingerprint(&self) -> String {
        serde_json::json!({"resource_id": self.resource_id, "actor": self.actor}).to_string()
    }
}

/// What an action did to which resource.
pub(crate) struct Action<'a> {
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: &'a str,
    pub changes: Vec<Change>,
}

impl Store {
    /// Appends `action` by `actor` inside the write transaction `tx`, when
    /// the actor is an admin. Every audited write calls this before it
    /// returns, so the event commits with the change.
    pub(super) fn audit(&self, tx: &Connection, actor: &Actor, action: Action<'_>) -> Result<()> {
        if !actor.admin {
            return Ok(());
        }
        let changes: Vec<Value> = action
            .changes
            .into_iter()
            .map(|c| serde_json::json!({"field": c.field, "before": c.before, "after": c.after}))
            .collect();
        let id = self.ids.new_id("aud");
        tx.prepare_cached(
            "INSERT INTO audit_events (id, occurred_at, actor, operation, action, resource_type, \
             resource_id, request_id, changes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            id,
            ts_to_sql(&self.now()),
            actor.key_id,
            actor.operation,
            action.action,
            action.resource_type,
            action.resource_id,
            actor.request_id,
            Value::Array(changes).to_string(),
        ])?;
        Ok(())
    }

    /// The audit log, newest first, optionally of one resource or one actor.
    pub fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let limit = page.checked_limit()?;
        let after = page.after.unwrap_or(i64::MAX);
        let fetch = i64::from(limit) + 1;
        self.read(|tx| {
            // One constant statement per filter combination, each served by
            // an index ending in seq.
            let (stmt, rows) = match (&filter.resource_id, &filter.actor) {
                (None, None) => {
                    let mut stmt = tx.prepare_cached(
                        "SELECT seq, id, occurred_at, actor, operation, action, resource_type, \
                         resource_id, request_id, changes FROM audit_events \
                         WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
                    )?;
                    reset_steps(&stmt);
                    let rows = stmt
                        .query_map(params![after, fetch], from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    (stmt, rows)
                }
                (Some(resource), None) => {
                    let mut stmt = tx.prepare_cached(
                        "SELECT seq, id, occurred_at, actor, operation, action, resource_type, \
                         resource_id, request_id, changes FROM audit_events \
                         WHERE resource_id = ?3 AND seq < ?1 ORDER BY seq DESC LIMIT ?2",
                    )?;
                    reset_steps(&stmt);
                    let rows = stmt
                        .query_map(params![after, fetch, resource], from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    (stmt, rows)
                }
                (None, Some(actor)) => {
                    let mut stmt = tx.prepare_cached(
                        "SELECT seq, id, occurred_at, actor, operation, action, resource_type, \
                         resource_id, request_id, changes FROM audit_events \
                         WHERE actor = ?3 AND seq < ?1 ORDER BY seq DESC LIMIT ?2",
                    )?;
                    reset_steps(&stmt);
                    let rows = stmt
                        .query_map(params![after, fetch, actor], from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    (stmt, rows)
                }
                (Some(resource), Some(actor)) => {
                    let mut stmt = tx.prepare_cached(
                        "SELECT seq, id, occurred_at, actor, operation, action, resource_type, \
                         resource_id, request_id, changes FROM audit_events \
                         WHERE actor = ?4 AND resource_id = ?3 AND seq < ?1 \
                         ORDER BY seq DESC LIMIT ?2",
                    )?;
                    reset_steps(&stmt);
                    let rows = stmt
                        .query_map(params![after, fetch, resource, actor], from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    (stmt, rows)
                }
            };
            Ok(into_page(rows, limit, steps(&stmt)))
        })
    }

    /// How many audit events the log holds (tests, metrics).
    pub fn audit_event_count(&self) -> Result<i64> {
        self.read(|tx| {
            Ok(tx
                .query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
                .optional()?
                .unwrap_or(0))
        })
    }
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<(i64, AuditEvent)> {
    let changes: String = r.get(9)?;
    Ok((
        r.get(0)?,
        AuditEvent {
            id: r.get(1)?,
            occurred_at: ts_from_row(r, 2)?,
            actor: r.get(3)?,
            operation: r.get(4)?,
            action: r.get(5)?,
            resource_type: r.get(6)?,
            resource_id: r.get(7)?,
            request_id: r.get(8)?,
            changes: parse_changes(&changes).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    9,
                    rusqlite::types::Type::Text,
                    Box::new(std::io::Error::other(e.to_string())),
                )
            })?,
        },
    ))
}

fn parse_changes(text: &str) -> Result<Vec<Change>> {
    let bad = || StoreError::Internal(format!("an audit event's changes are not valid: {text}"));
    changes_from_json(serde_json::from_str::<Value>(text).map_err(|_| bad())?)
}

/// The changes of an event as stored: a JSON array of `{field, before,
/// after}` (SQLite keeps its text, PostgreSQL a `jsonb`).
pub(crate) fn changes_from_json(value: Value) -> Result<Vec<Change>> {
    let bad = || StoreError::Internal(format!("an audit event's changes are not valid: {value}"));
    let Value::Array(items) = value.clone() else {
        return Err(bad());
    };
    items
        .into_iter()
        .map(|mut item| {
            let field = item
                .get("field")
                .and_then(Value::as_str)
                .map(intern_field)
                .ok_or_else(bad)?;
            Ok(Change {
                field,
                before: item.get_mut("before").map(Value::take).unwrap_or_default(),
                after: item.get_mut("after").map(Value::take).unwrap_or_default(),
            })
        })
        .collect()
}

/// The field names the store writes, as `'static` strings; an unknown one
/// (written by a newer build) reads as `unknown`.
fn intern_field(name: &str) -> &'static str {
    const FIELDS: &[&str] = &[
        "name",
        "email",
        "sku",
        "price_minor",
        "currency",
        "active",
        "role",
        "customer_id",
        "revoked",
        "status",
        "url",
        "events",
        "deleted",
    ];
    FIELDS
        .iter()
        .find(|f| **f == name)
        .copied()
        .unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::store::{CustomerPatch, NewProduct, ProductPatch};

    fn admin() -> Actor {
        Actor {
            key_id: "key_admin".into(),
            admin: true,
            operation: "test".into(),
            request_id: "req-1".into(),
        }
    }

    #[test]
    fn every_admin_write_appends_one_event_with_its_changes() {
        let t = TestStore::new();
        let s = &t.store;
        let c = s
            .create_customer(&admin(), "Ada", "ada@example.com")
            .expect("customer");
        s.update_customer_if(
            &admin(),
            &c.id,
            &CustomerPatch {
                name: Some("Ada L".into()),
                email: None,
            },
            None,
        )
        .expect("update");
        let p = s
            .create_product(
                &admin(),
                &NewProduct {
                    sku: "SKU-1".into(),
                    name: "Mug".into(),
                    price: crate::store::Money {
                        amount_minor: 1250,
                        currency: "EUR".into(),
                    },
                    active: true,
                },
            )
            .expect("product");
        s.update_product_if(
            &admin(),
            &p.id,
            &ProductPatch {
                name: None,
                price: Some(crate::store::Money {
                    amount_minor: 1300,
                    currency: "EUR".into(),
                }),
                active: None,
            },
            None,
        )
        .expect("price");
        let (key, secret) = s
            .create_key(&admin(), crate::store::Role::Customer, Some(&c.id), "shop")
            .expect("key");
        s.revoke_key(&admin(), &key.id).expect("revoke");

        let page = s
            .list_audit_events(&AuditFilter::default(), PageRequest::first(100))
            .expect("list");
        let actions: Vec<&str> = page.rows.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "api_key.revoked",
                "api_key.created",
                "product.updated",
                "product.created",
                "customer.updated",
                "customer.created"
            ]
        );
        let price = &page.rows[2];
        assert_eq!(price.resource_id, p.id);
        assert_eq!(
            price.changes,
            [Change::new("price_minor", 1250, 1300)],
            "only what changed, before and after"
        );
        assert!(
            page.rows
                .iter()
                .all(|e| e.actor == "key_admin" && e.request_id == "req-1")
        );
        let all = serde_json::to_string(
            &page
                .rows
                .iter()
                .flat_map(|e| {
                    e.changes
                        .iter()
                        .map(|c| (c.before.clone(), c.after.clone()))
                })
                .collect::<Vec<_>>(),
        )
        .expect("json");
        assert!(!all.contains(&secret), "never a secret");

        let of_product = s
            .list_audit_events(
                &AuditFilter {
                    resource_id: Some(p.id.clone()),
                    actor: None,
                },
                PageRequest::first(100),
            )
            .expect("by resource");
        assert_eq!(of_product.rows.len(), 2);
        let nobody = s
            .list_audit_events(
                &AuditFilter {
                    resource_id: None,
                    actor: Some("key_other".into()),
                },
                PageRequest::first(100),
            )
            .expect("by actor");
        assert!(nobody.rows.is_empty());
    }

    #[test]
    fn a_failed_write_leaves_no_event_and_a_customer_action_none() {
        let t = TestStore::new();
        let s = &t.store;
        s.create_customer(&admin(), "Ada", "ada@example.com")
            .expect("customer");
        let before = s.audit_event_count().expect("count");
        let dup = s.create_customer(&admin(), "Ada again", "ADA@example.com");
        assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
        let stale = s.update_customer_if(
            &admin(),
            "cus_missing",
            &CustomerPatch {
                name: Some("x".into()),
                email: None,
            },
            None,
        );
        assert!(matches!(stale, Err(StoreError::NotFound { .. })));
        assert_eq!(s.audit_event_count().expect("count"), before);
        let customer = Actor {
            admin: false,
            ..admin()
        };
        s.create_customer(&customer, "Bob", "bob@example.com")
            .expect("written");
        assert_eq!(s.audit_event_count().expect("count"), before);
    }

    #[test]
    fn the_storage_refuses_to_change_or_delete_an_event() {
        let t = TestStore::new();
        t.store
            .create_customer(&admin(), "Ada", "ada@example.com")
            .expect("customer");
        let conn = t.store.writer_for_tests();
        let update = conn.execute("UPDATE audit_events SET actor = 'me'", []);
        let delete = conn.execute("DELETE FROM audit_events", []);
        for (what, r) in [("update", update), ("delete", delete)] {
            let e = r.expect_err(what).to_string();
            assert!(e.contains("audit events are immutable"), "{what}: {e}");
        }
        assert_eq!(t.store.audit_event_count().expect("count"), 1);
    }
}
