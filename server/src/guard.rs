//! The policy hooks the generated edge calls: authentication, rate
//! limiting, Idempotency-Key records and the per-request observation
//! (logs).
//!
//! API keys arrive as `Authorization: Bearer <key>` and are looked up by
//! hash; the key itself is never logged or stored, and neither are
//! Idempotency-Keys. This module does not decide what a principal may do:
//! handlers do.

use std::time::Duration;

use async_trait::async_trait;
use orderflow_server_api::edge::{
    Claim, IdempotencyBegin, RateLimitPolicy, RateState, Settle, StoredReply,
};
use orderflow_server_api::{ApiError, Call, Guard, Principal};
use slog::{debug, error, info};

use crate::handlers::{App, IDEMPOTENCY_LEASE, IDEMPOTENCY_RETENTION};
use crate::ratelimit::Decision;
use crate::store::{Begin, IdempotencyKey, Role, StoredResponse};

/// Response headers that belong to one request, not to the stored result
/// of an Idempotency-Key: a replay gets its own.
const PER_REQUEST_HEADERS: &[&str] = &[
    "x-request-id",
    "ratelimit",
    "ratelimit-policy",
    "retry-after",
    "idempotent-replayed",
];

/// Extracts the token from a `Bearer` credential (scheme case-insensitive,
/// RFC 9110 §11.1).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[async_trait]
impl Guard for App {
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
        let token = token.to_string();
        // Through `db`, like every store call: bounded, off the executor,
        // and a storage failure is logged with the request id.
        match self.db(call, move |s| s.authenticate(&token)).await? {
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

    async fn rate_limit(
        &self,
        call: &Call,
        policy: &'static RateLimitPolicy,
    ) -> Result<RateState, ApiError> {
        if !self.guardrails {
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

    async fn idempotency_begin(
        &self,
        call: &Call,
        key: &str,
        fingerprint: &str,
    ) -> Result<IdempotencyBegin, ApiError> {
        if !self.guardrails {
            return Ok(IdempotencyBegin::Bypass);
        }
        let principal = call.principal()?.key_id.clone();
        let (key, fingerprint) = (key.to_string(), fingerprint.to_string());
        let begin = self
            .db(call, move |s| {
                let k = IdempotencyKey {
                    principal: &principal,
                    key: &key,
                    fingerprint: &fingerprint,
                };
                s.idempotency_begin(&k, IDEMPOTENCY_LEASE, IDEMPOTENCY_RETENTION)
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

    async fn idempotency_settle(&self, call: &Call, claim: &Claim, outcome: Settle<'_>) {
        let Ok(principal) = call.principal().map(|p| p.key_id.clone()) else {
            return;
        };
        let (key, fingerprint) = (claim.key.clone(), claim.fingerprint.clone());
        // A client mistake is final: store it so that a retry gets the same
        // answer. A server failure is not: release the key so that a retry
        // runs the request again.
        let stored = match outcome {
            Settle::Failed(e) if e.status() < 500 => {
                serde_json::to_vec(&e.problem).ok().map(|body| {
                    let mut headers = vec![(
                        "content-type".to_string(),
                        "application/problem+json".to_string(),
                    )];
                    for (name, value) in e.headers.iter() {
                        if !PER_REQUEST_HEADERS.contains(&name.as_str())
                            && let Ok(v) = value.to_str()
                        {
                            headers.push((name.to_string(), v.to_string()));
                        }
                    }
                    StoredResponse {
                        status: e.status(),
                        headers,
                        body,
                    }
                })
            }
            Settle::Failed(_) => None,
            Settle::Unrecorded => {
                error!(self.log, "handler succeeded without recording its Idempotency-Key result; released the key";
                    "request_id" => &call.request_id, "operation" => call.op.operation_id);
                None
            }
        };
        let result = self
            .db(call, move |s| {
                let k = IdempotencyKey {
                    principal: &principal,
                    key: &key,
                    fingerprint: &fingerprint,
                };
                match &stored {
                    Some(r) => s.idempotency_finish(&k, r),
                    None => s.idempotency_release(&k),
                }
            })
            .await;
        if let Err(e) = result {
            error!(self.log, "settling an Idempotency-Key failed";
                "request_id" => &call.request_id, "code" => e.code().to_string());
        }
    }

    fn observe(&self, call: &Call, status: u16, elapsed: Duration, problem: Option<&ApiError>) {
        let principal = call
            .principal
            .as_ref()
            .map(|p| p.key_id.as_str())
            .unwrap_or("-");
        let latency_us = elapsed.as_micros() as u64;
        match problem {
            Some(p) if status >= 500 => error!(self.log, "request failed";
                "request_id" => &call.request_id, "operation" => call.op.operation_id,
                "route" => call.op.route, "status" => status, "code" => p.code(),
                "principal" => principal, "latency_us" => latency_us),
            Some(p) => info!(self.log, "request refused";
                "request_id" => &call.request_id, "operation" => call.op.operation_id,
                "route" => call.op.route, "status" => status, "code" => p.code(),
                "principal" => principal, "latency_us" => latency_us),
            None => debug!(self.log, "request served";
                "request_id" => &call.request_id, "operation" => call.op.operation_id,
                "route" => call.op.route, "status" => status,
                "principal" => principal, "latency_us" => latency_us),
        }
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
