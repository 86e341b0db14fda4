//! Idempotency-Key records in PostgreSQL: one claim per (principal, key)
//! across every replica.
//!
//! The semantics are the SQLite store's ([`crate::store::Store::idempotency_begin`]):
//! claim, replay, in flight, mismatch; a lease bounds how long a dead
//! request's claim blocks retries, and a claim whose process is known gone
//! is taken over at once. Across machines a pid says nothing, so a boot is
//! alive while it beats: [`Boot::beat`] refreshes `boots.heartbeat_at`, and a
//! boot closed cleanly or silent for longer than [`BOOT_SILENCE`] is gone.
//!
//! Two replicas receiving the same key at once both try the insert; the
//! unique primary key makes the second wait for the first's transaction and
//! then find its claim, so exactly one of them runs the request.
//! [`complete`] takes the caller's transaction, so a handler's side effect
//! and its record commit together.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::{Pg, PgError};
use crate::store::{Begin, Clock, IdempotencyKey, StoredResponse};

/// A boot that has not beaten for this long is taken for dead, and its
/// claims may be taken over before their lease ends. Replicas beat every
/// third of it.
pub const BOOT_SILENCE: Duration = Duration::from_secs(15);

fn later(now: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX)
}

fn encode_headers(headers: &[(String, String)]) -> Result<String, PgError> {
    serde_json::to_string(headers)
        .map_err(|e| PgError::Internal(format!("encoding stored headers: {e}")))
}

/// One process's registration: the id its claims carry.
#[derive(Clone)]
pub struct Boot {
    pg: Pg,
    clock: Arc<dyn Clock>,
    id: String,
}

impl Boot {
    /// Registers a new boot.
    pub async fn register(pg: Pg, clock: Arc<dyn Clock>) -> Result<Boot, PgError> {
        let id = format!("boot_{}", uuid::Uuid::new_v4().simple());
        let now = clock.now();
        pg.client()
            .await?
            .execute(
                "INSERT INTO boots (boot_id, started_at, heartbeat_at) VALUES ($1, $2, $2)",
                &[&id, &now],
            )
            .await?;
        Ok(Boot { pg, clock, id })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Says this boot is alive.
    pub async fn beat(&self) -> Result<(), PgError> {
        let now = self.clock.now();
        self.pg
            .client()
            .await?
            .execute(
                "UPDATE boots SET heartbeat_at = $2 WHERE boot_id = $1 AND closed_at IS NULL",
                &[&self.id, &now],
            )
            .await?;
        Ok(())
    }

    /// A clean shutdown: this boot's remaining claims are dead at once.
    pub async fn close(&self) -> Result<(), PgError> {
        let now = self.clock.now();
        self.pg
            .client()
            .await?
            .execute(
                "UPDATE boots SET closed_at = $2 WHERE boot_id = $1",
                &[&self.id, &now],
            )
            .await?;
        Ok(())
    }
}

/// Idempotency-Key records of one replica (its boot) on the shared database.
#[derive(Clone)]
pub struct PgRecords {
    pg: Pg,
    boot: Boot,
}

type Found = (
    String,
    String,
    Option<i32>,
    Option<String>,
    Option<Vec<u8>>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
    bool,
);

impl PgRecords {
    pub fn new(pg: Pg, boot: Boot) -> PgRecords {
        PgRecords { pg, boot }
    }

    /// Claims `key` for a request, or says why not (see the module).
    pub async fn begin(
        &self,
        key: &IdempotencyKey<'_>,
        lease: Duration,
        retention: Duration,
    ) -> Result<Begin, PgError> {
        let now = self.boot.clock.now();
        let lease_until = later(now, lease);
        let expires_at = later(now, retention);
        let silent_since =
            now - chrono::Duration::from_std(BOOT_SILENCE).unwrap_or(chrono::Duration::MAX);
        let mut client = self.pg.client().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO idempotency_keys
                     (principal, key, fingerprint, state, created_at, lease_until, expires_at, boot_id)
                 VALUES ($1, $2, $3, 'in_flight', $4, $5, $6, $7)
                 ON CONFLICT (principal, key) DO NOTHING",
                &[
                    &key.principal,
                    &key.key,
                    &key.fingerprint,
                    &now,
                    &lease_until,
                    &expires_at,
                    &self.boot.id,
                ],
            )
            .await?;
        if inserted == 1 {
            tx.commit().await?;
            return Ok(Begin::Claimed);
        }
        // Someone holds the key: lock its row and decide. `gone` says
        // whether the claim's boot is closed, silent or unknown.
        let row = tx
            .query_opt(
                "SELECT k.fingerprint, k.state, k.status, k.headers, k.body, k.lease_until,
                        k.expires_at, k.boot_id,
                        (b.boot_id IS NULL OR b.closed_at IS NOT NULL OR b.heartbeat_at < $3) AS gone
                 FROM idempotency_keys k LEFT JOIN boots b ON b.boot_id = k.boot_id
                 WHERE k.principal = $1 AND k.key = $2
                 FOR UPDATE OF k",
                &[&key.principal, &key.key, &silent_since],
            )
            .await?;
        let Some(row) = row else {
            // Deleted between the insert and the select (released or
            // purged): the next attempt will claim it.
            tx.commit().await?;
            return Ok(Begin::InFlight);
        };
        let found: Found = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
            row.try_get(6)?,
            row.try_get(7)?,
            row.try_get(8)?,
        );
        let (fingerprint, state, status, headers, body, lease_end, expiry, boot_id, gone) = found;
        let reclaim = expiry <= now
            || (fingerprint == key.fingerprint
                && state == "in_flight"
                && (lease_end <= now
                    || (boot_id.as_deref() != Some(self.boot.id.as_str()) && gone)));
        let decision = if reclaim {
            tx.execute(
                "UPDATE idempotency_keys SET fingerprint = $3, state = 'in_flight', status = NULL,
                     headers = NULL, body = NULL, created_at = $4, lease_until = $5,
                     expires_at = $6, boot_id = $7
                 WHERE principal = $1 AND key = $2",
                &[
                    &key.principal,
                    &key.key,
                    &key.fingerprint,
                    &now,
                    &lease_until,
                    &expires_at,
                    &self.boot.id,
                ],
            )
            .await?;
            Begin::Claimed
        } else if fingerprint != key.fingerprint {
            Begin::Mismatch
        } else if state == "done" {
            let headers: Vec<(String, String)> =
                serde_json::from_str(headers.as_deref().unwrap_or("[]"))
                    .map_err(|e| PgError::Internal(format!("decoding stored headers: {e}")))?;
            Begin::Replay(StoredResponse {
                status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
                headers,
                body: body.unwrap_or_default(),
            })
        } else {
            Begin::InFlight
        };
        tx.commit().await?;
        Ok(decision)
    }

    /// Stores the response of a request that wrote nothing else.
    pub async fn finish(
        &self,
        key: &IdempotencyKey<'_>,
        response: &StoredResponse,
    ) -> Result<(), PgError> {
        let mut client = self.pg.client().await?;
        let tx = client.transaction().await?;
        complete(&tx, key, response).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Drops this request's claim without a result, so a retry runs again.
    pub async fn release(&self, key: &IdempotencyKey<'_>) -> Result<(), PgError> {
        self.pg
            .client()
            .await?
            .execute(
                "DELETE FROM idempotency_keys
                 WHERE principal = $1 AND key = $2 AND fingerprint = $3 AND state = 'in_flight'",
                &[&key.principal, &key.key, &key.fingerprint],
            )
            .await?;
        Ok(())
    }

    /// Deletes records past their retention; returns how many.
    pub async fn purge(&self) -> Result<u64, PgError> {
        let now = self.boot.clock.now();
        Ok(self
            .pg
            .client()
            .await?
            .execute(
                "DELETE FROM idempotency_keys WHERE expires_at <= $1",
                &[&now],
            )
            .await?)
    }
}

/// Completes a claim inside the caller's transaction, so the side effect
/// the caller wrote in it and the record commit together. Fails if the
/// claim is no longer this request's (the caller then rolls back).
pub async fn complete(
    tx: &impl GenericClient,
    key: &IdempotencyKey<'_>,
    response: &StoredResponse,
) -> Result<(), PgError> {
    let headers = encode_headers(&response.headers)?;
    let changed = tx
        .execute(
            "UPDATE idempotency_keys SET state = 'done', status = $4, headers = $5, body = $6
             WHERE principal = $1 AND key = $2 AND fingerprint = $3 AND state = 'in_flight'",
            &[
                &key.principal,
                &key.key,
                &key.fingerprint,
                &i32::from(response.status),
                &headers,
                &response.body,
            ],
        )
        .await?;
    if changed == 1 {
        Ok(())
    } else {
        Err(PgError::Conflict(
            "the Idempotency-Key's claim was lost before the request finished; retry".into(),
        ))
    }
}
