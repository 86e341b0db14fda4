//! Idempotency-Key records (draft-ietf-httpapi-idempotency-key-header).
//!
//! A record is keyed by (principal, key), so one client can never replay
//! another's response. [`Store::idempotency_begin`] claims a key before the
//! handler runs; the handler's writes run in a [`super::Unit`], and
//! [`Store::commit_unit`] completes the claim with the response in the
//! unit's transaction, so the side effect and its record commit together. A failed request's response is stored on its
//! own (nothing else was written), a request that failed on the server side
//! releases its claim so that a retry can run again, and a claim whose lease
//! has passed (its request died) may be re-claimed.
//!
//! This module stores opaque responses (status, headers, body bytes); it
//! knows nothing about HTTP semantics beyond that.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, StoreError, ts_to_sql};

/// Which request a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyKey<'a> {
    /// The API key's id (never its secret).
    pub principal: &'a str,
    pub key: &'a str,
    /// A hash of method, route and canonical body.
    pub fingerprint: &'a str,
}

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A record as read: fingerprint, state, status, headers (JSON), body,
/// lease end, expiry.
type Row = (
    String,
    String,
    Option<u16>,
    Option<String>,
    Option<Vec<u8>>,
    String,
    String,
    Option<String>,
);

/// What [`Store::idempotency_begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The key is now claimed by this request: run it.
    Claimed,
    /// The key finished earlier with the same fingerprint: replay this.
    Replay(StoredResponse),
    /// Another request with this key (and fingerprint) is still running.
    InFlight,
    /// The key was used with a different request.
    Mismatch,
}

fn later(now: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX)
}

/// Completes a claim inside the caller's transaction. Fails (rolling the
/// caller's side effect back) if the claim is no longer this request's.
pub(super) fn complete_claim(
    tx: &Connection,
    key: &IdempotencyKey<'_>,
    response: &StoredResponse,
) -> Result<()> {
    let headers = serde_json::to_string(&response.headers)
        .map_err(|e| StoreError::Internal(format!("encoding stored headers: {e}")))?;
    let changed = tx
        .prepare_cached(
            "UPDATE idempotency_keys SET state = 'done', status = ?4, headers = ?5, body = ?6 \
             WHERE principal = ?1 AND key = ?2 AND fingerprint = ?3 AND state = 'in_flight'",
        )?
        .execute(params![
            key.principal,
            key.key,
            key.fingerprint,
            response.status,
            headers,
            response.body
        ])?;
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            code: "idempotency_key_in_flight",
            detail: "the Idempotency-Key's claim was lost before the request finished; retry"
                .to_owned(),
        })
    }
}

impl Store {
    /// Claims `key` for a request, or says why not. `lease` bounds how long
    /// a claim blocks retries if its request dies; `retention` is how long
    /// the finished record is kept.
    pub fn idempotency_begin(
        &self,
        key: &IdempotencyKey<'_>,
        lease: Duration,
        retention: Duration,
    ) -> Result<Begin> {
        let now = self.now();
        self.write(|tx| {
            let found: Option<Row> = tx
                .prepare_cached(
                    "SELECT fingerprint, state, status, headers, body, lease_until, expires_at, \
                     boot_id FROM idempotency_keys WHERE principal = ?1 AND key = ?2",
                )?
                .query_row(params![key.principal, key.key], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                })
                .optional()?;
            let now_sql = ts_to_sql(&now);
            let claim = |tx: &Connection| -> Result<Begin> {
                tx.prepare_cached(
                    "INSERT INTO idempotency_keys \
                     (principal, key, fingerprint, state, created_at, lease_until, expires_at, \
                      boot_id) \
                     VALUES (?1, ?2, ?3, 'in_flight', ?4, ?5, ?6, ?7) \
                     ON CONFLICT (principal, key) DO UPDATE SET fingerprint = ?3, \
                     state = 'in_flight', status = NULL, headers = NULL, body = NULL, \
                     created_at = ?4, lease_until = ?5, expires_at = ?6, boot_id = ?7",
                )?
                .execute(params![
                    key.principal,
                    key.key,
                    key.fingerprint,
                    now_sql,
                    ts_to_sql(&later(now, lease)),
                    ts_to_sql(&later(now, retention)),
                    self.boot_id,
                ])?;
                Ok(Begin::Claimed)
            };
            let Some((fingerprint, state, status, headers, body, lease_until, expires_at, boot_id)) =
                found
            else {
                return claim(tx);
            };
            // Timestamps are stored in one fixed-width UTC format, so they
            // compare as strings.
            if expires_at <= now_sql {
                return claim(tx);
            }
            if fingerprint != key.fingerprint {
                return Ok(Begin::Mismatch);
            }
            match state.as_str() {
                "done" => {
                    let headers: Vec<(String, String)> =
                        serde_json::from_str(headers.as_deref().unwrap_or("[]")).map_err(|e| {
                            StoreError::Internal(format!("decoding stored headers: {e}"))
                        })?;
                    Ok(Begin::Replay(StoredResponse {
                        status: status.unwrap_or(500),
                        headers,
                        body: body.unwrap_or_default(),
                    }))
                }
                _ if lease_until <= now_sql => claim(tx),
                // The claim's process is gone (killed, crashed, closed): its
                // request will never finish, so a retry need not wait for
                // the lease.
                _ if boot_id.as_deref() != Some(self.boot_id.as_str())
                    && super::boots::claim_is_orphaned(tx, boot_id.as_deref())? =>
                {
                    claim(tx)
                }
                _ => Ok(Begin::InFlight),
            }
        })
    }

    /// Stores the response of a request that wrote nothing else (a failure
    /// worth replaying, such as a 422).
    pub fn idempotency_finish(
        &self,
        key: &IdempotencyKey<'_>,
        response: &StoredResponse,
    ) -> Result<()> {
        self.write(|tx| complete_claim(tx, key, response))
    }

    /// Drops this request's claim without a result (the server failed), so
    /// a retry runs the request again instead of waiting for the lease.
    pub fn idempotency_release(&self, key: &IdempotencyKey<'_>) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "DELETE FROM idempotency_keys \
                 WHERE principal = ?1 AND key = ?2 AND fingerprint = ?3 AND state = 'in_flight'",
            )?
            .execute(params![key.principal, key.key, key.fingerprint])?;
            Ok(())
        })
    }

    /// Deletes records past their retention; returns how many.
    pub fn purge_idempotency(&self) -> Result<usize> {
        let now = ts_to_sql(&self.now());
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM idempotency_keys WHERE expires_at <= ?1")?
                .execute([now])?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::op;
    use super::*;
    use crate::store::Unit;
    use crate::store::testutil::TestStore;

    const LEASE: Duration = Duration::from_secs(60);
    const RETENTION: Duration = Duration::from_secs(24 * 3600);

    fn key<'a>(principal: &'a str, k: &'a str, fp: &'a str) -> IdempotencyKey<'a> {
        IdempotencyKey {
            principal,
            key: k,
            fingerprint: fp,
        }
    }

    fn response(status: u16, body: &str) -> StoredResponse {
        StoredResponse {
            status,
            headers: vec![("location".into(), "/v1/orders/x".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_key_moves_from_claimed_to_replayed() {
        let t = TestStore::new();
        let k = key("key_a", "k1", "fp1");
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::InFlight
        );
        assert_eq!(
            t.store
                .idempotency_begin(&key("key_a", "k1", "other"), LEASE, RETENTION)
                .unwrap(),
            Begin::Mismatch
        );
        t.store
            .idempotency_finish(&k, &response(422, "{}"))
            .unwrap();
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Replay(response(422, "{}"))
        );
        assert_eq!(
            t.store
                .idempotency_begin(&key("key_a", "k1", "other"), LEASE, RETENTION)
                .unwrap(),
            Begin::Mismatch
        );
    }

    #[test]
    fn principals_never_share_keys() {
        let t = TestStore::new();
        let a = key("key_a", "same", "fp");
        let b = key("key_b", "same", "fp");
        assert_eq!(
            t.store.idempotency_begin(&a, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
        assert_eq!(
            t.store.idempotency_begin(&b, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
        t.store.idempotency_finish(&a, &response(201, "a")).unwrap();
        t.store.idempotency_finish(&b, &response(201, "b")).unwrap();
        assert_eq!(
            t.store.idempotency_begin(&a, LEASE, RETENTION).unwrap(),
            Begin::Replay(response(201, "a"))
        );
        assert_eq!(
            t.store.idempotency_begin(&b, LEASE, RETENTION).unwrap(),
            Begin::Replay(response(201, "b"))
        );
    }

    #[test]
    fn the_order_and_its_record_commit_together() {
        let t = TestStore::new();
        let c = t.customer("Ada", "ada@example.com");
        let p = t.product("P-1", 100, "EUR");
        let k = key("key_a", "k1", "fp1");
        t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap();
        let before = t.count("orders");

        // A crash between the insert and the commit: the unit is dropped.
        let mut unit = Unit::default();
        let order = t
            .store
            .in_unit(&mut unit, |s| s.create_order(&c.id, &[(p.id.as_str(), 1)]))
            .expect("placed inside the unit");
        assert!(unit.began());
        drop(unit);
        assert_eq!(t.count("orders"), before, "no order without its record");
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::InFlight,
            "still only claimed"
        );
        assert!(t.store.get_order(&order.id, None).is_err());

        let mut unit = Unit::default();
        let order = t
            .store
            .in_unit(&mut unit, |s| s.create_order(&c.id, &[(p.id.as_str(), 1)]))
            .expect("placed");
        t.store
            .commit_unit(unit, &k, &response(201, &order.id))
            .expect("committed");
        assert_eq!(t.count("orders"), before + 1);
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Replay(response(201, &order.id))
        );
    }

    #[test]
    fn a_unit_reads_its_own_writes_and_a_failed_step_undoes_only_itself() {
        let t = TestStore::new();
        let k = key("key_a", "k1", "fp1");
        t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap();
        let mut unit = Unit::default();
        let (first, dup) = t.store.in_unit(&mut unit, |s| {
            let first = s
                .create_customer(&op(), "Ada", "ada@example.com")
                .expect("first");
            let seen = s.get_customer(&first.id).expect("visible inside the unit");
            assert_eq!(seen, first);
            (first, s.create_customer(&op(), "Ada 2", "ada@example.com"))
        });
        assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
        // Outside the unit nothing is visible until it commits.
        assert!(t.store.get_customer(&first.id).is_err());
        t.store
            .commit_unit(unit, &k, &response(201, &first.id))
            .expect("commit");
        assert_eq!(t.store.get_customer(&first.id).expect("committed"), first);
        assert_eq!(t.count("customers"), 1, "the failed step left nothing");
    }

    #[test]
    fn an_invalid_order_leaves_the_claim_open_and_writes_nothing() {
        let t = TestStore::new();
        let c = t.customer("Ada", "ada@example.com");
        let k = key("key_a", "k1", "fp1");
        t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap();
        let mut unit = Unit::default();
        let err = t
            .store
            .in_unit(&mut unit, |s| s.create_order(&c.id, &[("prd_missing", 1)]))
            .expect_err("unknown product");
        assert!(matches!(err, StoreError::Invalid(_)));
        drop(unit);
        assert_eq!(t.count("orders"), 0);
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::InFlight
        );
    }

    #[test]
    fn a_lost_claim_cannot_complete() {
        let t = TestStore::new();
        let c = t.customer("Ada", "ada@example.com");
        let p = t.product("P-1", 100, "EUR");
        let k = key("key_a", "k1", "fp1");
        // Never claimed (or released meanwhile): the side effect must not
        // commit without its record.
        let mut unit = Unit::default();
        let order = t
            .store
            .in_unit(&mut unit, |s| s.create_order(&c.id, &[(p.id.as_str(), 1)]))
            .expect("placed inside the unit");
        let err = t
            .store
            .commit_unit(unit, &k, &response(201, &order.id))
            .expect_err("no claim");
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    code: "idempotency_key_in_flight",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(t.count("orders"), 0);
        // The writer is free again: a plain write goes through.
        t.customer("Bob", "bob@example.com");
    }

    #[test]
    fn released_and_dead_claims_can_be_taken_again() {
        let t = TestStore::new();
        let k = key("key_a", "k1", "fp1");
        t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap();
        t.store.idempotency_release(&k).unwrap();
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
        // The request died: after its lease the key is free again.
        t.clock.advance(chrono::Duration::seconds(61));
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
    }

    #[test]
    fn a_claim_of_a_live_process_blocks_until_its_lease_even_across_stores() {
        let t = TestStore::new();
        let k = key("key_a", "k1", "fp1");
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
        // A second opener (another boot of a live process) sees it in flight.
        let other = t.reopen();
        assert_eq!(
            other.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::InFlight
        );
    }

    #[test]
    fn a_claim_left_by_a_killed_process_is_free_at_once() {
        let t = TestStore::new();
        let k = key("key_a", "k1", "fp1");
        // A process claims the key and is killed before it finishes: a real
        // child process stands in for it, its boot and claim written as
        // `Store` would have written them.
        let mut victim = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("spawn");
        let pid = victim.id();
        let start = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = s[s.rfind(')')? + 1..].to_string();
                rest.split_whitespace().nth(19).map(str::to_owned)
            })
            .expect("the child's start time");
        {
            let conn = rusqlite::Connection::open(&t.path).expect("open");
            conn.execute(
                "INSERT INTO boots (boot_id, pid, proc_start, started_at) \
                 VALUES ('boot_victim', ?1, ?2, '2026-11-21T10:00:00.000000Z')",
                rusqlite::params![i64::from(pid), start],
            )
            .expect("boot");
        }
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
        {
            let conn = rusqlite::Connection::open(&t.path).expect("open");
            conn.execute("UPDATE idempotency_keys SET boot_id = 'boot_victim'", [])
                .expect("hand the claim to the victim");
        }
        // While the victim lives, its claim holds.
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::InFlight
        );
        victim.kill().expect("kill");
        victim.wait().expect("reap");
        // Within the lease, but its process is gone: a retry proceeds.
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
    }

    #[test]
    fn a_cleanly_closed_store_leaves_no_claim_blocking() {
        let t = TestStore::new();
        let k = key("key_a", "k1", "fp1");
        let first = t.reopen();
        assert_eq!(
            first.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
        drop(first);
        assert_eq!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Claimed
        );
    }

    #[test]
    fn records_expire_after_retention_and_are_purged() {
        let t = TestStore::new();
        let k = key("key_a", "k1", "fp1");
        t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap();
        t.store.idempotency_finish(&k, &response(201, "x")).unwrap();
        t.clock.advance(chrono::Duration::hours(23));
        assert_eq!(
            t.store.purge_idempotency().unwrap(),
            0,
            "kept within retention"
        );
        assert!(matches!(
            t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Replay(_)
        ));
        t.clock.advance(chrono::Duration::hours(2));
        assert_eq!(t.store.purge_idempotency().unwrap(), 1);
        assert_eq!(t.count("idempotency_keys"), 0);
        // An expired key is a fresh key, even with another body.
        assert_eq!(
            t.store
                .idempotency_begin(&key("key_a", "k1", "new"), LEASE, RETENTION)
                .unwrap(),
            Begin::Claimed
        );
    }

    #[test]
    fn replays_survive_a_restart() {
        let t = TestStore::new();
        let k = key("key_a", "k1", "fp1");
        t.store.idempotency_begin(&k, LEASE, RETENTION).unwrap();
        t.store.idempotency_finish(&k, &response(201, "x")).unwrap();
        let reopened = t.reopen();
        assert_eq!(
            reopened.idempotency_begin(&k, LEASE, RETENTION).unwrap(),
            Begin::Replay(response(201, "x"))
        );
    }
}
