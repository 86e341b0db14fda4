//! The ports the pipeline calls: one trait per concern, each implemented
//! separately by the server (or by fakes in tests).
//!
//! - [`Authenticator`] resolves credentials to a [`Principal`];
//! - [`RateLimiter`] counts requests under a spec-declared policy;
//! - [`IdempotencyStore`] claims Idempotency-Keys, commits a handler's side
//!   effect together with its recorded response, and replays it;
//! - [`Observer`] sees every finished call (logs, metrics).
//!
//! A port knows nothing of the others, and none of them knows the step
//! order: that is [`crate::pipeline::run`]'s alone. Nothing here knows
//! storage, HTTP routing or the generated API.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::{HeaderMap, HeaderValue};

use crate::pipeline::Call;
use crate::problem::ApiError;

/// The caller, as resolved by the [`Authenticator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The API key's id (never the secret).
    pub key_id: String,
    pub admin: bool,
    /// The customer a customer-role key acts for.
    pub customer_id: Option<String>,
}

/// Resolves the `Authorization` header of an operation that declares
/// security.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// `authorization` is the header's value, if any (a non-ASCII value
    /// arrives as U+FFFD). `call` has no principal yet.
    async fn authenticate(
        &self,
        call: &Call,
        authorization: Option<&str>,
    ) -> Result<Principal, ApiError>;
}

/// A rate-limit policy from the spec's `x-rate-limit-policies`.
#[derive(Debug, PartialEq, Eq)]
pub struct RateLimitPolicy {
    pub name: &'static str,
    /// Requests per window (also the burst).
    pub quota: u32,
    pub window_seconds: u32,
}

impl RateLimitPolicy {
    /// `RateLimit-Policy: "writes";q=50;w=1`. Names are lint-checked
    /// tokens, so they need no escaping inside the sf-string.
    pub fn header_value(&self) -> String {
        format!(
            "\"{}\";q={};w={}",
            self.name, self.quota, self.window_seconds
        )
    }
}

/// The caller's standing under a policy after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub policy: &'static RateLimitPolicy,
    /// Requests still available now.
    pub remaining: u32,
    /// Seconds until the quota is fully restored.
    pub reset_seconds: u64,
}

impl RateState {
    /// `RateLimit: "writes";r=7;t=1`.
    pub fn header_value(&self) -> String {
        format!(
            "\"{}\";r={};t={}",
            self.policy.name, self.remaining, self.reset_seconds
        )
    }

    /// Both headers, for problems and replays.
    pub fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&self.policy.header_value()) {
            h.insert("ratelimit-policy", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.header_value()) {
            h.insert("ratelimit", v);
        }
        h
    }

    /// The 429 for a request refused under this state: the registered
    /// quota-exceeded problem type, `violated-policies`, `Retry-After`
    /// (whole seconds, at least 1) and both rate-limit headers.
    pub fn too_many_requests(&self, retry_after_seconds: u64) -> ApiError {
        let retry = retry_after_seconds.max(1);
        let mut e = ApiError::new(
            "rate_limited",
            format!(
                "over the '{}' quota of {} requests per {} s; retry in {retry} s",
                self.policy.name, self.policy.quota, self.policy.window_seconds
            ),
        );
        e.problem.violated_policies = vec![self.policy.name.to_string()];
        e.headers.extend(self.headers());
        e.headers
            .insert(http::header::RETRY_AFTER, HeaderValue::from(retry));
        e
    }
}

/// Counts requests under a policy.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Checks and counts one request under `policy` for the caller (the
    /// principal's key id, else the client address). A refusal is the 429
    /// from [`RateState::too_many_requests`].
    async fn check(
        &self,
        call: &Call,
        policy: &'static RateLimitPolicy,
    ) -> Result<RateState, ApiError>;
}

/// A response kept for an Idempotency-Key, replayed verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the store found for an Idempotency-Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is claimed for this request: run the handler.
    Claimed,
    /// The key finished earlier with the same request: replay this.
    Replay(StoredReply),
    /// Idempotency is switched off (the retry-storm demonstration only).
    Bypass,
}

/// This request's claim on an Idempotency-Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub key: String,
    /// SHA-256 (hex) of method, route and the canonical inputs.
    pub fingerprint: String,
}

/// Idempotency-Key records. The store decides how a handler's side effect
/// joins the claim's transaction (for SQLite: the writes a handler makes
/// while the call holds a claim run in one transaction that
/// [`IdempotencyStore::commit`] completes); the pipeline only says when.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims the key for this call, or finds its stored response, or
    /// refuses (409 `idempotency_key_in_flight` with `Retry-After`, 422
    /// `idempotency_key_reused`).
    async fn begin(&self, call: &Call, claim: &Claim) -> Result<IdempotencyBegin, ApiError>;

    /// Records `reply` as the key's result and commits the handler's side
    /// effect with it, atomically. An error means neither happened (the
    /// claim was lost, or storage failed): the pipeline answers it instead.
    async fn commit(&self, call: &Call, claim: &Claim, reply: &StoredReply)
    -> Result<(), ApiError>;

    /// The call failed: undo the side effect, then record `keep` as the
    /// key's result (a 4xx, rendered by the pipeline: retrying unchanged
    /// fails the same way) or, when `keep` is `None`, release the key (a
    /// 5xx: a retry may succeed).
    async fn abandon(&self, call: &Call, claim: &Claim, keep: Option<&StoredReply>);
}

/// How the Idempotency-Key of a call was handled, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyOutcome {
    /// Claimed and run for the first time.
    New,
    /// Answered from the stored response.
    Replayed,
    /// Refused: another request with the key is still running.
    InFlight,
    /// Refused: the key was used with another request.
    Mismatch,
}

impl IdempotencyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            IdempotencyOutcome::New => "new",
            IdempotencyOutcome::Replayed => "replayed",
            IdempotencyOutcome::InFlight => "in_flight",
            IdempotencyOutcome::Mismatch => "mismatch",
        }
    }
}

/// A finished call, as the [`Observer`] sees it.
#[derive(Debug)]
pub struct Outcome<'a> {
    pub status: u16,
    pub elapsed: Duration,
    /// The problem answered, if the call failed.
    pub problem: Option<&'a ApiError>,
    pub idempotency: Option<IdempotencyOutcome>,
}

/// Sees every finished call once.
pub trait Observer: Send + Sync + 'static {
    fn observe(&self, call: &Call, outcome: &Outcome<'_>);
}

/// An observer that sees nothing (tests, tools).
#[derive(Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn observe(&self, _call: &Call, _outcome: &Outcome<'_>) {}
}

/// The ports of one server, handed to the pipeline.
#[derive(Clone)]
pub struct Ports {
    pub authenticator: Arc<dyn Authenticator>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub observer: Arc<dyn Observer>,
    /// The time a sunset is judged against: injected, so tests move it
    /// past a sunset instead of waiting for one.
    pub clock: Arc<dyn Clock>,
}

/// The current time, as Unix seconds.
pub trait Clock: Send + Sync + 'static {
    fn unix_now(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}
