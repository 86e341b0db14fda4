//! The server's implementations of the edge's ports, one type each:
//! [`ApiKeys`] (authentication), [`Quotas`] (rate limits), [`Records`]
//! (Idempotency-Key records and units of work) and [`RequestLog`]
//! (observation). `crate::run` assembles them into `orderflow_edge::Ports`.
//!
//! API keys arrive as `Authorization: Bearer <key>` and are looked up by
//! hash; the key itself is never logged or stored, and neither are
//! Idempotency-Keys. This module does not decide what a principal may do:
//! handlers do.

use std::sync::Arc;

use async_trait::async_trait;
use orderflow_edge::{
    ApiError, Authenticator, Call, Claim, IdempotencyBegin, IdempotencyStore, Observer, Outcome,
    Principal, RateLimitPolicy, RateLimiter, RateState, StoredReply,
};
use slog::{Logger, error, info};

use crate::handlers::{App, IDEMPOTENCY_LEASE, IDEMPOTENCY_RETENTION};
use crate::ratelimit::{Decision, Limiter};
use crate::store::{Begin, IdempotencyKey, Role, StoredResponse, Unit};

/// Extracts the token from a `Bearer` credential (scheme case-insensitive,
/// RFC 9110 §11.1).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Bearer API keys, looked up by hash in the store.
pub struct ApiKeys {
    pub app: Arc<App>,
}

#[async_trait]
impl Authenticator for ApiKeys {
    async fn authenticate(
        &self,
        call: &Call,
        authorization: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let Some(raw) = authorization else {
            return Err(ApiError::unauthenticated(
                "send an API key as 'Authorization: Bearer <key>'",
            ));
        };
        let Some(token) = bearer(raw) else {
            return Err(ApiError::unauthenticated(
                "the Authorization header must be 'Bearer <key>'",
            ));
        };
        // A key this process authenticated moments ago needs no trip to
        // the blocking pool (the cache's bounds: `store::principals`).
        let cached = self.app.store.cached_principal(token);
        let found = match cached {
            Some(p) => Some(p),
            None => {
                let token = token.to_string();
                // Through `read_plain`, like every store call: bounded, off the
                // executor, and a storage failure is logged with the request id.
                self.app
                    .read_plain(call, move |s| s.authenticate(&token))
                    .await?
            }
        };
        match found {
            Some(p) => Ok(Principal {
                key_id: p.key_id,
                admin: p.role == Role::Admin,
                customer_id: p.customer_id,
            }),
            None => Err(ApiError::unauthenticated(
                "the API key is unknown or revoked",
            )),
        }
    }
}

/// GCRA quotas in memory (see `crate::ratelimit`).
pub struct Quotas {
    pub limiter: Limiter,
    /// Off only for the retry-storm demonstration's "before" run: every
    /// request is allowed and reported at full quota.
    pub enforce: bool,
}

#[async_trait]
impl RateLimiter for Quotas {
    async fn check(
        &self,
        call: &Call,
        policy: &'static RateLimitPolicy,
    ) -> Result<RateState, ApiError> {
        if !self.enforce {
            return Ok(self.limiter.peek(policy));
        }
        let caller = match &call.principal {
            Some(p) => p.key_id.as_str(),
            None => call.client.as_str(),
        };
        match self.limiter.check(policy, caller) {
            Decision::Allow(state) => Ok(state),
            Decision::Deny(state, retry_after) => Err(state.too_many_requests(retry_after)),
        }
    }
}

/// GCRA quotas in PostgreSQL, shared by every replica on the database
/// (see `crate::pg::ratelimit`). Fails closed: a check that cannot reach
/// the database within `pg::POOL_WAIT` or fails as unavailable is a 503
/// with `Retry-After`, never an unmetered pass (ARCHITECTURE.md, "Scale
/// path", says why).
pub struct SharedQuotas {
    pub limiter: crate::pg::ratelimit::PgLimiter,
    pub log: Logger,
}

/// How long a shared check may take in all before the request is refused
/// (the pool's own wait is `pg::POOL_WAIT`; this bounds a slow statement).
pub const SHARED_CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

#[async_trait]
impl RateLimiter for SharedQuotas {
    async fn check(
        &self,
        call: &Call,
        policy: &'static RateLimitPolicy,
    ) -> Result<RateState, ApiError> {
        let caller = match &call.principal {
            Some(p) => p.key_id.as_str(),
            None => call.client.as_str(),
        };
        let checked =
            tokio::time::timeout(SHARED_CHECK_DEADLINE, self.limiter.check(policy, caller)).await;
        let cause = match checked {
            Ok(Ok(Decision::Allow(state))) => return Ok(state),
            Ok(Ok(Decision::Deny(state, retry_after))) => {
                return Err(state.too_many_requests(retry_after));
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", SHARED_CHECK_DEADLINE.as_secs()),
        };
        error!(self.log, "rate limit check failed; refusing the request"; "request_id" => &call.request_id, "policy" => policy.name, "cause" => cause);
        let mut e = ApiError::new(
            "unavailable",
            "the rate limiter's database is unavailable; nothing was done, and the request can be retried",
        );
        e.headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
        Err(e)
    }
}

/// Idempotency-Key records in the store. A claimed call's handler writes
/// join a [`Unit`] kept in the call (see `App::db`); [`Records::commit`]
/// completes the claim inside it.
pub struct Records {
    pub app: Arc<App>,
    /// Off only for the retry-storm demonstration's "before" run.
    pub enforce: bool,
}

fn key_of<'a>(principal: &'a str, claim: &'a Claim) -> IdempotencyKey<'a> {
    IdempotencyKey {
        principal,
        key: &claim.key,
        fingerprint: &claim.fingerprint,
    }
}

#[async_trait]
impl IdempotencyStore for Records {
    async fn begin(&self, call: &Call, claim: &Claim) -> Result<IdempotencyBegin, ApiError> {
        if !self.enforce {
            return Ok(IdempotencyBegin::Bypass);
        }
        let principal = call.principal()?.key_id.clone();
        let claim = claim.clone();
        let begin = self
            .app
            .db_plain(call, move |s| {
                s.idempotency_begin(
                    &key_of(&principal, &claim),
                    IDEMPOTENCY_LEASE,
                    IDEMPOTENCY_RETENTION,
                )
            })
            .await?;
        match begin {
            Begin::Claimed => Ok(IdempotencyBegin::Claimed),
            Begin::Replay(r) => Ok(IdempotencyBegin::Replay(StoredReply {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })),
            Begin::InFlight => {
                let mut e = ApiError::new(
                    "idempotency_key_in_flight",
                    "a request with this Idempotency-Key is still being processed; retry after Retry-After",
                );
                e.headers.insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("1"),
                );
                Err(e)
            }
            Begin::Mismatch => Err(ApiError::new(
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request; use a new key for a new request",
            )),
        }
    }

    async fn commit(
        &self,
        call: &Call,
        claim: &Claim,
        reply: &StoredReply,
    ) -> Result<(), ApiError> {
        let principal = call.principal()?.key_id.clone();
        let unit = call.unit.take::<Unit>().map(|u| *u).unwrap_or_default();
        let claim = claim.clone();
        let response = StoredResponse {
            status: reply.status,
            headers: reply.headers.clone(),
            body: reply.body.clone(),
        };
        self.app
            .db_plain(call, move |s| {
                s.commit_unit(unit, &key_of(&principal, &claim), &response)
            })
            .await
    }

    async fn abandon(&self, call: &Call, claim: &Claim, keep: Option<&StoredReply>) {
        let Ok(principal) = call.principal().map(|p| p.key_id.clone()) else {
            return;
        };
        let unit = call.unit.take::<Unit>();
        let claim = claim.clone();
        let stored = keep.map(|r| StoredResponse {
            status: r.status,
            headers: r.headers.clone(),
            body: r.body.clone(),
        });
        let result = self
            .app
            .db_plain(call, move |s| {
                // Dropping the unit rolls back whatever the handler wrote
                // (on this blocking thread, not the executor).
                drop(unit);
                let k = key_of(&principal, &claim);
                match &stored {
                    Some(r) => s.idempotency_finish(&k, r),
                    None => s.idempotency_release(&k),
                }
            })
            .await;
        if let Err(e) = result {
            error!(self.app.log, "settling an Idempotency-Key failed";
                "request_id" => &call.request_id, "code" => e.code().to_string());
        }
    }
}

/// One log line per finished call.
pub struct RequestLog {
    pub log: Logger,
}

impl Observer for RequestLog {
    /// One line per request that reached an operation, at `info` (errors
    /// at `error`), with the same fields everywhere: request id, method,
    /// route template, status, latency in ms, principal (the key's id, never
    /// the key), rate-limit and idempotency outcomes, problem code. No
    /// header value, body or query string is logged, so API keys,
    /// Idempotency-Keys and cursors never reach the log.
    fn observe(&self, call: &Call, outcome: &Outcome<'_>) {
        let principal = call
            .principal
            .as_ref()
            .map(|p| p.key_id.as_str())
            .unwrap_or("-");
        let latency_ms = outcome.elapsed.as_secs_f64() * 1000.0;
        let idempotency = outcome.idempotency.map(|o| o.as_str()).unwrap_or("-");
        let status = outcome.status;
        let code = outcome.problem.map(|p| p.code()).unwrap_or("-");
        let rate_limit = match call.op.rate_limit {
            None => "-",
            Some(_) if status == 429 => "limited",
            Some(_) => "allowed",
        };
        let method = call.op.method;
        let route = call.op.route;
        match outcome.problem {
            Some(p) if status >= 500 => error!(self.log, "request failed";
                "request_id" => &call.request_id, "method" => method, "route" => route,
                "status" => status, "code" => code, "latency_ms" => latency_ms,
                "principal" => principal, "rate_limit" => rate_limit,
                "idempotency" => idempotency, "operation" => call.op.operation_id,
                "cause" => p.cause.as_deref().unwrap_or("-")),
            _ => info!(self.log, "request";
                "request_id" => &call.request_id, "method" => method, "route" => route,
                "status" => status, "code" => code, "latency_ms" => latency_ms,
                "principal" => principal, "rate_limit" => rate_limit,
                "idempotency" => idempotency, "operation" => call.op.operation_id),
        }
    }
}

/// The edge's clock (sunsets are judged against it) is the store's, so a
/// test that moves one moves both.
pub struct EdgeClock(pub Arc<dyn crate::store::Clock>);

impl orderflow_edge::Clock for EdgeClock {
    fn unix_now(&self) -> i64 {
        self.0.now().timestamp()
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_credentials() {
        let cases = [
            ("Bearer of_sk_1", Some("of_sk_1")),
            ("bearer of_sk_1", Some("of_sk_1")),
            ("BEARER   of_sk_1 ", Some("of_sk_1")),
            ("Basic dXNlcjpwYXNz", None),
            ("Bearer", None),
            ("Bearer ", None),
            ("", None),
            ("of_sk_1", None),
        ];
        for (raw, want) in cases {
            assert_eq!(bearer(raw), want, "{raw:?}");
        }
    }
}
