//! Webhook endpoints, the transactional outbox of order events, and the
//! delivery log.
//!
//! An order change writes its event through [`Store::record_order_event`]
//! on the connection of its own transaction, together with one `pending`
//! delivery per live endpoint whose filter takes the event type: the order
//! and its event commit together or not at all, so no event is lost and
//! none describes a change that did not happen. The worker
//! (`crate::webhooks`) then claims due deliveries ([`Store::claim_due`]),
//! sends them, and records each attempt ([`Store::record_attempt`]):
//! `delivered` on a 2xx, `dead` after the last attempt or when the endpoint
//! is removed, otherwise `pending` again at the next backoff.
//!
//! A claim names this process's boot and holds the delivery for a lease;
//! a claim left by a process that died is released when the next worker
//! starts ([`Store::release_orphaned_deliveries`]), so a kill between the
//! commit and the delivery delays it by a restart, never loses it.
//!
//! What this module deliberately does not do: speak HTTP or sign (the
//! worker does), or decide the backoff (the worker passes the next time).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use super::audit::{Action, Actor, Change};
use super::boots;
use super::{
    Page, PageRequest, Result, Store, StoreError, into_page, opt_ts_from_row, reset_steps, steps,
    ts_from_row, ts_to_sql,
};
use crate::domain::OrderStatus;

/// The event types, as the spec's `WebhookEventType` names them.
pub const EVENT_TYPES: &[&str] = &[ORDER_CREATED, ORDER_STATUS_CHANGED];
pub const ORDER_CREATED: &str = "order.created";
pub const ORDER_STATUS_CHANGED: &str = "order.status_changed";

/// Prefix of a signing secret (Standard Webhooks' convention).
pub const SECRET_PREFIX: &str = "whsec_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// An event as stored: its exact payload is what every attempt sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEventRow {
    pub id: String,
    pub event_type: String,
    pub payload: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<DeliveryState> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: i64,
    pub attempted_at: DateTime<Utc>,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryLog {
    pub endpoint_id: String,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
    /// When the next attempt is due; `None` once delivered or dead.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A delivery the worker claimed and must now send.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub delivery: i64,
    pub event_id: String,
    pub payload: String,
    pub url: String,
    pub secret: [u8; 32],
    /// The number of this attempt (1 for the first).
    pub attempt: i64,
}

/// What became of one attempt, and what follows.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// `Delivered`, `Dead`, or `Pending` again at `retry_at`.
    pub state: DeliveryState,
    pub retry_at: DateTime<Utc>,
}

/// The signing secret as the client sees it.
pub fn secret_text(secret: &[u8; 32]) -> String {
    use base64::Engine as _;
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(secret)
    )
}

fn endpoint_from_row(r: &Row<'_>) -> rusqlite::Result<(i64, WebhookEndpoint)> {
    let events: String = r.get(3)?;
    Ok((
        r.get(0)?,
        WebhookEndpoint {
            id: r.get(1)?,
            url: r.get(2)?,
            events: serde_json::from_str(&events).unwrap_or_default(),
            created_at: ts_from_row(r, 4)?,
        },
    ))
}

/// The rules of a new endpoint that do not need the database; the event
/// types it takes, in the catalogue's order without duplicates (every type
/// when none is named).
pub(crate) fn check_new_endpoint(url: &str, events: &[String]) -> Result<Vec<String>> {
    let mut issues = Vec::new();
    if let Some(detail) = url_problem(url) {
        issues.push(super::FieldIssue::new("#/url", detail));
    }
    for (i, e) in events.iter().enumerate() {
        if !EVENT_TYPES.contains(&e.as_str()) {
            issues.push(super::FieldIssue::new(
                format!("#/events/{i}"),
                format!("must be one of {}", EVENT_TYPES.join(", ")),
            ));
        }
    }
    if !issues.is_empty() {
        return Err(StoreError::Invalid(issues));
    }
    Ok(EVENT_TYPES
        .iter()
        .filter(|t| events.is_empty() || events.iter().any(|e| e == *t))
        .map(|e| (*e).to_owned())
        .collect())
}

/// The audit record of a new endpoint (never its secret).
pub(crate) fn endpoint_created(endpoint: &WebhookEndpoint) -> Action<'_> {
    Action {
        action: "webhook_endpoint.created",
        resource_type: "webhook_endpoint",
        resource_id: &endpoint.id,
        changes: vec![
            Change::set("url", endpoint.url.clone()),
            Change::set("events", json!(endpoint.events)),
        ],
    }
}

/// The exact body every delivery of an order event sends.
pub(crate) fn event_payload(
    id: &str,
    event_type: &str,
    now: DateTime<Utc>,
    order: &super::Order,
    previous: Option<OrderStatus>,
) -> String {
    json!({
        "id": id,
        "type": event_type,
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": {
            "order_id": order.id,
            "customer_id": order.customer_id,
            "status": order.status.as_str(),
            "previous_status": previous.map(OrderStatus::as_str),
            "order_version": order.version,
        }
    })
    .to_string()
}

impl Store {
    /// Registers an endpoint for `events` (every type when empty) and
    /// returns it with its signing secret, which is never shown again.
    pub fn create_webhook_endpoint(
        &self,
        actor: &Actor,
        url: &str,
        events: &[String],
    ) -> Result<(WebhookEndpoint, String)> {
        let events = check_new_endpoint(url, events)?;
        let secret = self.ids.secret_bytes();
        let now = self.now();
        let endpoint = WebhookEndpoint {
            id: self.ids.new_id("whe"),
            url: url.to_owned(),
            events,
            created_at: now,
        };
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO webhook_endpoints (id, url, events, secret, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                endpoint.id,
                endpoint.url,
                json!(endpoint.events).to_string(),
                &secret[..],
                ts_to_sql(&now)
            ])?;
            self.audit(tx, actor, endpoint_created(&endpoint))
        })?;
        Ok((endpoint, secret_text(&secret)))
    }

    /// Live endpoints, newest first.
    pub fn list_webhook_endpoints(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>> {
        let limit = page.checked_limit()?;
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT seq, id, url, events, created_at FROM webhook_endpoints \
                 WHERE deleted_at IS NULL AND seq < ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            reset_steps(&stmt);
            let rows = stmt
                .query_map(
                    params![page.after.unwrap_or(i64::MAX), i64::from(limit) + 1],
                    endpoint_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(into_page(rows, limit, steps(&stmt)))
        })
    }

    /// Removes an endpoint: no new event is for it, and its pending
    /// deliveries end `dead`. A removed or unknown id is NotFound.
    pub fn delete_webhook_endpoint(&self, actor: &Actor, id: &str) -> Result<()> {
        let now = ts_to_sql(&self.now());
        self.write(|tx| {
            let seq: Option<i64> = tx
                .prepare_cached(
                    "SELECT seq FROM webhook_endpoints WHERE id = ?1 AND deleted_at IS NULL",
                )?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let Some(seq) = seq else {
                return Err(StoreError::NotFound {
                    what: "webhook endpoint",
                    id: id.to_owned(),
                });
            };
            tx.prepare_cached("UPDATE webhook_endpoints SET deleted_at = ?2 WHERE seq = ?1")?
                .execute(params![seq, now])?;
            tx.prepare_cached(
                "UPDATE webhook_deliveries SET state = 'dead', claimed_by = NULL \
                 WHERE endpoint_seq = ?1 AND state = 'pending'",
            )?
            .execute([seq])?;
            self.audit(
                tx,
                actor,
                Action {
                    action: "webhook_endpoint.deleted",
                    resource_type: "webhook_endpoint",
                    resource_id: id,
                    changes: vec![Change::new("deleted", false, true)],
                },
            )
        })
    }

    /// Writes an order event, and a delivery for every live endpoint that
    /// takes its type, inside the caller's write transaction `tx`.
    pub(super) fn record_order_event(
        &self,
        tx: &Connection,
        event_type: &'static str,
        order: &super::Order,
        previous: Option<OrderStatus>,
    ) -> Result<()> {
        let id = self.ids.new_id("evt");
        let now = self.now();
        let payload = event_payload(&id, event_type, now, order, previous);
        let order_id = &order.id;
        let now_sql = ts_to_sql(&now);
        tx.prepare_cached(
            "INSERT INTO order_events (id, type, order_id, payload, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id, event_type, order_id, payload, now_sql])?;
        let event_seq = tx.last_insert_rowid();
        tx.prepare_cached(
            "INSERT INTO webhook_deliveries (event_seq, endpoint_seq, state, next_attempt_at) \
             SELECT ?1, e.seq, 'pending', ?2 FROM webhook_endpoints e \
             WHERE e.deleted_at IS NULL \
               AND EXISTS (SELECT 1 FROM json_each(e.events) WHERE json_each.value = ?3)",
        )?
        .execute(params![event_seq, now_sql, event_type])?;
        Ok(())
    }

    /// Releases deliveries claimed by processes that are gone (killed,
    /// crashed, or closed), so they are due at once. Called when a worker
    /// starts; returns how many were released.
    pub fn release_orphaned_deliveries(&self) -> Result<usize> {
        let now = ts_to_sql(&self.now());
        self.write(|tx| {
            let claimers: Vec<String> = tx
                .prepare_cached(
                    "SELECT DISTINCT claimed_by FROM webhook_deliveries \
                     WHERE state = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> ?1",
                )?
                .query_map([&self.boot_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut released = 0;
            for boot in claimers {
                if boots::claim_is_orphaned(tx, Some(&boot))? {
                    released += tx
                        .prepare_cached(
                            "UPDATE webhook_deliveries SET claimed_by = NULL, next_attempt_at = ?2 \
                             WHERE claimed_by = ?1 AND state = 'pending'",
                        )?
                        .execute(params![boot, now])?;
                }
            }
            Ok(released)
        })
    }

    /// Claims up to `limit` due deliveries for this process until `lease_until`
    /// (past it, another worker may take them: the attempt is then
    /// repeated, which at-least-once allows).
    pub fn claim_due(&self, limit: u32, lease_until: DateTime<Utc>) -> Result<Vec<DueDelivery>> {
        let now = ts_to_sql(&self.now());
        let lease = ts_to_sql(&lease_until);
        self.write(|tx| {
            let due: Vec<DueDelivery> = tx
                .prepare_cached(
                    "SELECT d.seq, ev.id, ev.payload, e.url, e.secret, d.attempts + 1 \
                     FROM webhook_deliveries d \
                     JOIN order_events ev ON ev.seq = d.event_seq \
                     JOIN webhook_endpoints e ON e.seq = d.endpoint_seq \
                     WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 \
                     ORDER BY d.next_attempt_at, d.seq LIMIT ?2",
                )?
                .query_map(params![now, i64::from(limit)], |r| {
                    let secret: Vec<u8> = r.get(4)?;
                    Ok(DueDelivery {
                        delivery: r.get(0)?,
                        event_id: r.get(1)?,
                        payload: r.get(2)?,
                        url: r.get(3)?,
                        // Never a stand-in key: a secret that is not 32
                        // bytes (the schema forbids it) fails the claim.
                        secret: <[u8; 32]>::try_from(secret.as_slice()).map_err(|_| {
                            rusqlite::Error::FromSqlConversionFailure(
                                4,
                                rusqlite::types::Type::Blob,
                                format!("a webhook secret of {} bytes, expected 32", secret.len())
                                    .into(),
                            )
                        })?,
                        attempt: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut claim = tx.prepare_cached(
                "UPDATE webhook_deliveries SET claimed_by = ?2, next_attempt_at = ?3 WHERE seq = ?1",
            )?;
            for d in &due {
                claim.execute(params![d.delivery, self.boot_id, lease])?;
            }
            Ok(due)
        })
    }

    /// Logs one attempt and moves the delivery on. A delivery that was
    /// meanwhile ended (its endpoint removed) stays as it is; the attempt
    /// is logged all the same.
    pub fn record_attempt(&self, delivery: &DueDelivery, outcome: &AttemptOutcome) -> Result<()> {
        let now = ts_to_sql(&self.now());
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO webhook_attempts (delivery_seq, attempt, attempted_at, status, error, \
                 duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                delivery.delivery,
                delivery.attempt,
                now,
                outcome.status.map(i64::from),
                outcome.error,
                outcome.duration_ms
            ])?;
            tx.prepare_cached(
                "UPDATE webhook_deliveries SET attempts = ?2, state = ?3, next_attempt_at = ?4, \
                 claimed_by = NULL WHERE seq = ?1 AND state = 'pending'",
            )?
            .execute(params![
                delivery.delivery,
                delivery.attempt,
                outcome.state.as_str(),
                ts_to_sql(&outcome.retry_at)
            ])?;
            Ok(())
        })
    }

    /// An event and the log of its deliveries, one per endpoint.
    pub fn event_deliveries(&self, event_id: &str) -> Result<(OrderEventRow, Vec<DeliveryLog>)> {
        self.read(|tx| {
            let event: Option<(i64, OrderEventRow)> = tx
                .prepare_cached(
                    "SELECT seq, id, type, payload, created_at FROM order_events WHERE id = ?1",
                )?
                .query_row([event_id], |r| {
                    Ok((
                        r.get(0)?,
                        OrderEventRow {
                            id: r.get(1)?,
                            event_type: r.get(2)?,
                            payload: r.get(3)?,
                            created_at: ts_from_row(r, 4)?,
                        },
                    ))
                })
                .optional()?;
            let Some((event_seq, event)) = event else {
                return Err(StoreError::NotFound {
                    what: "event",
                    id: event_id.to_owned(),
                });
            };
            let deliveries: Vec<(i64, String, String, Option<DateTime<Utc>>)> = tx
                .prepare_cached(
                    "SELECT d.seq, e.id, d.state, d.next_attempt_at FROM webhook_deliveries d \
                     JOIN webhook_endpoints e ON e.seq = d.endpoint_seq \
                     WHERE d.event_seq = ?1 ORDER BY d.seq",
                )?
                .query_map([event_seq], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, opt_ts_from_row(r, 3)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut attempts_of = tx.prepare_cached(
                "SELECT attempt, attempted_at, status, error, duration_ms FROM webhook_attempts \
                 WHERE delivery_seq = ?1 ORDER BY attempt, seq",
            )?;
            let mut logs = Vec::with_capacity(deliveries.len());
            for (seq, endpoint_id, state, next) in deliveries {
                let state = DeliveryState::parse(&state).ok_or_else(|| {
                    StoreError::Internal(format!("unknown delivery state '{state}'"))
                })?;
                let attempts = attempts_of
                    .query_map([seq], |r| {
                        Ok(Attempt {
                            attempt: r.get(0)?,
                            attempted_at: ts_from_row(r, 1)?,
                            status: r.get(2)?,
                            error: r.get(3)?,
                            duration_ms: r.get(4)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                logs.push(DeliveryLog {
                    endpoint_id,
                    state,
                    attempts,
                    next_attempt_at: (state == DeliveryState::Pending).then_some(next).flatten(),
                });
            }
            Ok((event, logs))
        })
    }

    /// Every event of an order, oldest first (tests, operators).
    pub fn order_events(&self, order_id: &str) -> Result<Vec<OrderEventRow>> {
        self.read(|tx| {
            tx.prepare_cached(
                "SELECT id, type, payload, created_at FROM order_events WHERE order_id = ?1 \
                 ORDER BY seq",
            )?
            .query_map([order_id], |r| {
                Ok(OrderEventRow {
                    id: r.get(0)?,
                    event_type: r.get(1)?,
                    payload: r.get(2)?,
                    created_at: ts_from_row(r, 3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()
            .map_err(StoreError::from)
        })
    }
}

/// Why `url` cannot be an endpoint, or `None`. The edge already checked the
/// spec's pattern; this is the store's own guard for other callers.
pub fn url_problem(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Some("must be an absolute http:// or https:// URL".to_owned());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Some("must name a host".to_owned());
    }
    if authority.contains('@') {
        return Some("must not hold user information (put credentials in the path or verify the signature instead)".to_owned());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("must not contain white space or control characters".to_owned());
    }
    match url.parse::<http::Uri>() {
        Ok(_) => None,
        Err(e) => Some(format!("is not a valid URL: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use chrono::Duration;

    fn admin() -> Actor {
        Actor::operator("test")
    }

    fn placed(t: &TestStore) -> crate::store::Order {
        let c = t.customer("Ada", "ada@example.com");
        let p = t.product("SKU-1", 1250, "EUR");
        t.order(&c.id, &[(p.id.as_str(), 1)])
    }

    #[test]
    fn an_order_and_its_event_and_deliveries_commit_together() {
        let t = TestStore::new();
        let s = &t.store;
        let (all, secret) = s
            .create_webhook_endpoint(&admin(), "http://127.0.0.1:9/all", &[])
            .expect("endpoint");
        assert!(secret.starts_with(SECRET_PREFIX));
        let (only_changes, _) = s
            .create_webhook_endpoint(
                &admin(),
                "http://127.0.0.1:9/changes",
                &[ORDER_STATUS_CHANGED.to_owned()],
            )
            .expect("endpoint");
        let order = placed(&t);
        let events = s.order_events(&order.id).expect("events");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, ORDER_CREATED);
        let (_, logs) = s.event_deliveries(&events[0].id).expect("log");
        assert_eq!(
            logs.iter()
                .map(|l| l.endpoint_id.as_str())
                .collect::<Vec<_>>(),
            [all.id.as_str()],
            "only the endpoint that takes order.created"
        );
        s.transition_order_if(&admin(), &order.id, OrderStatus::Processing, None, None)
            .expect("move");
        let events = s.order_events(&order.id).expect("events");
        assert_eq!(events.len(), 2);
        let payload: serde_json::Value = serde_json::from_str(&events[1].payload).expect("json");
        assert_eq!(payload["data"]["previous_status"], "pending");
        assert_eq!(payload["data"]["status"], "processing");
        assert_eq!(payload["data"]["order_version"], 2);
        let (_, logs) = s.event_deliveries(&events[1].id).expect("log");
        assert_eq!(logs.len(), 2, "{only_changes:?}");

        // A refused transition writes no event.
        let refused = s.transition_order_if(&admin(), &order.id, OrderStatus::Pending, None, None);
        assert!(refused.is_err());
        assert_eq!(s.order_events(&order.id).expect("events").len(), 2);
    }

    #[test]
    fn attempts_move_a_delivery_to_delivered_or_dead_and_claims_expire() {
        let t = TestStore::new();
        let s = &t.store;
        s.create_webhook_endpoint(&admin(), "http://127.0.0.1:9/", &[])
            .expect("endpoint");
        let order = placed(&t);
        let lease = t.clock_now() + Duration::seconds(30);
        let due = s.claim_due(10, lease).expect("claim");
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].attempt, 1);
        assert!(
            s.claim_due(10, lease).expect("claim").is_empty(),
            "claimed once"
        );
        let retry_at = t.clock_now() + Duration::seconds(2);
        s.record_attempt(
            &due[0],
            &AttemptOutcome {
                status: Some(503),
                error: Some("503 Service Unavailable".into()),
                duration_ms: 3,
                state: DeliveryState::Pending,
                retry_at,
            },
        )
        .expect("record");
        assert!(
            s.claim_due(10, lease).expect("claim").is_empty(),
            "not due yet"
        );
        t.clock.advance(Duration::seconds(3));
        let again = s.claim_due(10, lease).expect("claim");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempt, 2);
        s.record_attempt(
            &again[0],
            &AttemptOutcome {
                status: Some(200),
                error: None,
                duration_ms: 1,
                state: DeliveryState::Delivered,
                retry_at,
            },
        )
        .expect("record");
        let event = &s.order_events(&order.id).expect("events")[0];
        let (_, logs) = s.event_deliveries(&event.id).expect("log");
        assert_eq!(logs[0].state, DeliveryState::Delivered);
        assert_eq!(logs[0].next_attempt_at, None);
        assert_eq!(
            logs[0]
                .attempts
                .iter()
                .map(|a| a.status)
                .collect::<Vec<_>>(),
            [Some(503), Some(200)]
        );
    }

    #[test]
    fn removing_an_endpoint_ends_its_pending_deliveries() {
        let t = TestStore::new();
        let s = &t.store;
        let (e, _) = s
            .create_webhook_endpoint(&admin(), "https://hooks.example.com/x", &[])
            .expect("endpoint");
        let order = placed(&t);
        s.delete_webhook_endpoint(&admin(), &e.id).expect("delete");
        let again = s.delete_webhook_endpoint(&admin(), &e.id);
        assert!(
            matches!(again, Err(StoreError::NotFound { .. })),
            "{again:?}"
        );
        let event = &s.order_events(&order.id).expect("events")[0];
        let (_, logs) = s.event_deliveries(&event.id).expect("log");
        assert_eq!(logs[0].state, DeliveryState::Dead);
        assert!(
            s.claim_due(10, t.clock_now() + Duration::seconds(30))
                .expect("claim")
                .is_empty()
        );
        assert!(
            s.list_webhook_endpoints(PageRequest::first(10))
                .expect("list")
                .rows
                .is_empty()
        );
    }

    #[test]
    fn bad_urls_are_refused_with_a_pointer() {
        let t = TestStore::new();
        for url in ["ftp://x/", "http://", "http://user:pw@host/", "http://a b/"] {
            let r = t.store.create_webhook_endpoint(&admin(), url, &[]);
            match r {
                Err(StoreError::Invalid(issues)) => assert_eq!(issues[0].pointer, "#/url", "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
