//! GCRA in PostgreSQL: one quota per (policy, caller) whichever replica
//! serves the request.
//!
//! Each check is one statement: an upsert that locks the caller's row,
//! decides with the same arithmetic as [`crate::ratelimit::step`], moves the
//! theoretical arrival time only when the request is allowed, and returns
//! the TAT, the decision and the time it used, from which
//! [`crate::ratelimit::outcome`] builds the headers. One round trip, one
//! row lock held for the length of one statement: concurrent checks on one
//! key from many replicas serialise on that row and never lose an update.
//!
//! Time: by default the database's clock (`clock_timestamp()`), so every
//! replica measures against one clock and clock skew between machines
//! cannot hand out extra quota; tests inject theirs.

use std::sync::Arc;

use orderflow_edge::RateLimitPolicy;

use super::{Pg, PgError};
use crate::ratelimit::{Decision, constants, nanos_now, outcome};
use crate::store::Clock;

/// Parameters: $1 policy, $2 caller, $3 interval, $4 now (NULL: the
/// database's clock), $5 tau. In `DO UPDATE SET` every column reference is
/// to the row before the update, so `allowed` and `tat_ns` are decided from
/// the same old TAT. Refused, the TAT stays; allowed, it becomes
/// max(TAT, now) + interval.
const CHECK: &str = "\
INSERT INTO rate_limits AS r (policy, caller, tat_ns, allowed, seen_ns)
SELECT $1, $2, t.now + $3, TRUE, t.now
FROM (SELECT coalesce($4::bigint,
                      (extract(epoch FROM clock_timestamp()) * 1000000000)::bigint) AS now) t
ON CONFLICT (policy, caller) DO UPDATE SET
    allowed = EXCLUDED.seen_ns >= greatest(r.tat_ns, EXCLUDED.seen_ns) - $5,
    tat_ns = CASE WHEN EXCLUDED.seen_ns >= greatest(r.tat_ns, EXCLUDED.seen_ns) - $5
                  THEN greatest(r.tat_ns, EXCLUDED.seen_ns) + $3
                  ELSE r.tat_ns END,
    seen_ns = EXCLUDED.seen_ns
RETURNING tat_ns, allowed, seen_ns";

/// Rows whose TAT has passed are back at a full quota: forgetting them
/// changes no decision. $1 now (NULL: the database's clock).
const PRUNE: &str = "\
DELETE FROM rate_limits
WHERE tat_ns < coalesce($1::bigint, (extract(epoch FROM clock_timestamp()) * 1000000000)::bigint)";

/// The limiter several replicas share.
#[derive(Clone)]
pub struct PgLimiter {
    pg: Pg,
    /// `None`: the database's clock.
    clock: Option<Arc<dyn Clock>>,
}

impl PgLimiter {
    /// A limiter on the database's clock (what replicas use).
    pub fn new(pg: Pg) -> PgLimiter {
        PgLimiter { pg, clock: None }
    }

    /// A limiter on an injected clock (tests move time instead of sleeping).
    pub fn with_clock(pg: Pg, clock: Arc<dyn Clock>) -> PgLimiter {
        PgLimiter {
            pg,
            clock: Some(clock),
        }
    }

    fn now(&self) -> Result<Option<i64>, PgError> {
        self.clock
            .as_ref()
            .map(|c| {
                i64::try_from(nanos_now(c.as_ref()))
                    .map_err(|_| PgError::Internal("the clock is outside 1677..2262".into()))
            })
            .transpose()
    }

    /// Counts one request by `caller` under `policy`, if it is allowed.
    pub async fn check(
        &self,
        policy: &'static RateLimitPolicy,
        caller: &str,
    ) -> Result<Decision, PgError> {
        let (interval, tau) = constants(policy);
        let interval = i64::try_from(interval).map_err(|_| {
            PgError::Internal(format!("policy {}: interval overflows", policy.name))
        })?;
        let tau = i64::try_from(tau).map_err(|_| {
            PgError::Internal(format!("policy {}: tolerance overflows", policy.name))
        })?;
        let now = self.now()?;
        let client = self.pg.client().await?;
        let stmt = client.prepare_cached(CHECK).await?;
        let row = client
            .query_one(&stmt, &[&policy.name, &caller, &interval, &now, &tau])
            .await?;
        let tat: i64 = row.try_get(0)?;
        let allowed: bool = row.try_get(1)?;
        let seen: i64 = row.try_get(2)?;
        Ok(outcome(policy, i128::from(seen), i128::from(tat), allowed))
    }

    /// Forgets callers back at a full quota; returns how many.
    pub async fn prune(&self) -> Result<u64, PgError> {
        let now = self.now()?;
        let client = self.pg.client().await?;
        let stmt = client.prepare_cached(PRUNE).await?;
        Ok(client.execute(&stmt, &[&now]).await?)
    }
}
