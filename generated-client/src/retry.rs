//! Safe automatic retries over the generated SDK.
//!
//! [`send_with_retries`] sends one SDK call again when, and only when, the
//! OrderFlow retry contract says a repeat is safe and may succeed: `429 Too
//! Many Requests`, `503 Service Unavailable`, and `409 Conflict` with the
//! problem code `idempotency_key_in_flight` (the first request with the same
//! key is still being processed). Every other answer, including the 409 of
//! an illegal status transition and the 422 `idempotency_key_reused`, is
//! returned at once: repeating it cannot change the outcome.
//!
//! The wait before a retry is the server's `Retry-After` (delay-seconds or
//! an HTTP-date) plus a random spread, never less; without `Retry-After` it
//! is exponential backoff with full jitter (uniform between zero and
//! `base_delay * 2^retry`, capped at `max_delay`). Attempts are capped by
//! [`RetryPolicy::max_attempts`] and the sum of waits by
//! [`RetryPolicy::max_total_delay`]; when the next wait would exceed the
//! budget the last answer is returned instead of sleeping in vain.
//!
//! Every attempt carries the same `Idempotency-Key`: the caller's, or a
//! fresh UUID v4 generated once per logical call. That is what makes
//! retrying a `POST /v1/orders` safe: the server creates the order once and
//! replays its response to the repeats.
//!
//! ```no_run
//! # async fn f(client: &orderflow_client::Client, body: orderflow_client::types::OrderCreate)
//! # -> Result<(), orderflow_client::Error<orderflow_client::types::Problem>> {
//! use orderflow_client::retry::{RetryPolicy, send_with_retries};
//! let order = send_with_retries(&RetryPolicy::default(), None, |key| {
//!     client.create_order().idempotency_key(key).body(body.clone()).send()
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! Every answer is also read for the lifecycle headers of a deprecated
//! operation (`Deprecation`, RFC 9745; `Sunset`, RFC 8594; the `Link`s with
//! `rel="successor-version"` and `rel="deprecation"`): once per call the
//! retry layer hands a [`Deprecation`] to [`RetryEnv::deprecated`], which by
//! default logs a warning through the `log` crate, so a consumer notices
//! before the sunset. Implement [`RetryEnv`] to count or alert instead.
//!
//! What it deliberately does not do: retry transport errors (a connection
//! reset may or may not have reached the server; callers who know their
//! operation is idempotent can loop on [`Error::CommunicationError`]
//! themselves, reusing the key), retry operations whose key the caller
//! changes between attempts, or keep any state between calls. Time and
//! randomness come through [`RetryEnv`], so tests run without sleeping.

use std::future::Future;
use std::time::{Duration, SystemTime};

use progenitor_client::{Error, ResponseValue};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::types::Problem;

/// The problem code of a 409 that is worth retrying: the first request
/// with this Idempotency-Key is still running.
pub const IN_FLIGHT_CODE: &str = "idempotency_key_in_flight";

/// How hard to retry. The defaults suit an interactive client: five
/// attempts, at most 30 seconds spent waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included; 1 (or 0) means never
    /// retry.
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry; it doubles on each retry.
    pub base_delay: Duration,
    /// The largest backoff ceiling. It does not shorten a `Retry-After`:
    /// retrying earlier than the server asked would only earn another 429.
    pub max_delay: Duration,
    /// The most time spent waiting across all retries of one call. A wait
    /// that would go past it is not taken; the last answer is returned.
    pub max_total_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            max_total_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling before retry number `retry` (0 for the first):
    /// `base_delay * 2^retry`, at most `max_delay`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }
}

/// Time and randomness, injected so that tests neither sleep nor flake.
pub trait RetryEnv {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
    /// The wall clock, to turn an HTTP-date `Retry-After` into a delay.
    fn now(&self) -> SystemTime;
    /// A uniformly random duration in `[0, max]`.
    fn jitter(&self, max: Duration) -> Duration;
    /// An answer said its operation is deprecated. Called at most once per
    /// logical call. The default logs a warning (`log::warn!`, target
    /// `orderflow_client::deprecation`).
    fn deprecated(&self, notice: &Deprecation) {
        log::warn!(target: "orderflow_client::deprecation", "{notice}");
    }
}

/// What a deprecated operation's answer says about its retirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    /// `Deprecation: @<seconds>`: when the operation was (or will be)
    /// deprecated.
    pub since: Option<SystemTime>,
    /// `Sunset`: when it stops answering.
    pub sunset: Option<SystemTime>,
    /// The `Link` with `rel="successor-version"`: where to go instead.
    pub successor: Option<String>,
    /// The `Link` with `rel="deprecation"`: the policy page.
    pub policy: Option<String>,
}

impl Deprecation {
    /// Reads the lifecycle headers; `None` when the answer has neither
    /// `Deprecation` nor `Sunset`. Malformed values read as absent.
    pub fn from_headers(headers: &HeaderMap) -> Option<Deprecation> {
        let text = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (dep, sunset) = (text("deprecation"), text("sunset"));
        if dep.is_empty() && sunset.is_empty() {
            return None;
        }
        let since = dep
            .trim()
            .strip_prefix('@')
            .and_then(|s| s.parse::<u64>().ok())
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let sunset = httpdate::parse_http_date(sunset.trim()).ok();
        let links = text("link");
        let rel = |want: &str| {
            links.split(',').find_map(|link| {
                let (target, params) = link.split_once(';')?;
                let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
                params
                    .split(';')
                    .any(|p| {
                        p.trim()
                            .strip_prefix("rel=")
                            .is_some_and(|v| v.trim_matches('"').split(' ').any(|r| r == want))
                    })
                    .then(|| target.to_string())
            })
        };
        Some(Deprecation {
            since,
            sunset,
            successor: rel("successor-version"),
            policy: rel("deprecation"),
        })
    }
}

impl std::fmt::Display for Deprecation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderFlow API: this operation is deprecated")?;
        if let Some(t) = self.since {
            write!(f, " since {}", httpdate::fmt_http_date(t))?;
        }
        if let Some(t) = self.sunset {
            write!(f, " and stops answering at {}", httpdate::fmt_http_date(t))?;
        }
        if let Some(s) = &self.successor {
            write!(f, "; its successor is {s}")?;
        }
        if let Some(p) = &self.policy {
            write!(f, "; policy: {p}")?;
        }
        Ok(())
    }
}

/// The headers of any answer the SDK hands back.
fn answer_headers<T>(result: &Result<ResponseValue<T>, Error<Problem>>) -> Option<&HeaderMap> {
    match result {
        Ok(rv) => Some(rv.headers()),
        Err(Error::ErrorResponse(rv)) => Some(rv.headers()),
        Err(Error::UnexpectedResponse(r)) => Some(r.headers()),
        Err(_) => None,
    }
}

/// The real environment: tokio's timer, the system clock, `rand`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioEnv;

impl RetryEnv for TokioEnv {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn jitter(&self, max: Duration) -> Duration {
        use rand::Rng;
        // Nanosecond resolution is plenty and keeps the arithmetic in u64;
        // delays beyond 584 years are clamped, which no policy needs.
        let max_nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::thread_rng().gen_range(0..=max_nanos))
    }
}

/// A fresh Idempotency-Key: a UUID v4, as the draft suggests.
pub fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Sends `attempt` until it succeeds, fails for good, or the policy's
/// budget is spent, with tokio's timer and a random jitter.
///
/// `attempt` builds and sends one request with the given Idempotency-Key,
/// e.g. `|k| client.create_order().idempotency_key(k).body(b.clone()).send()`.
/// Operations without a key (GETs) can ignore it. `key`: the caller's
/// Idempotency-Key, or `None` to generate one for this logical call.
pub async fn send_with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    key: Option<String>,
    attempt: F,
) -> Result<ResponseValue<T>, Error<Problem>>
where
    F: FnMut(&str) -> Fut,
    Fut: Future<Output = Result<ResponseValue<T>, Error<Problem>>>,
{
    send_with_retries_in(&TokioEnv, policy, key, attempt).await
}

/// [`send_with_retries`] in an injected environment (tests, simulations).
pub async fn send_with_retries_in<E, T, F, Fut>(
    env: &E,
    policy: &RetryPolicy,
    key: Option<String>,
    mut attempt: F,
) -> Result<ResponseValue<T>, Error<Problem>>
where
    E: RetryEnv,
    F: FnMut(&str) -> Fut,
    Fut: Future<Output = Result<ResponseValue<T>, Error<Problem>>>,
{
    let key = key.unwrap_or_else(new_idempotency_key);
    let mut waited = Duration::ZERO;
    let mut retry = 0u32;
    let mut told = false;
    loop {
        let answer = attempt(&key).await;
        if !told && let Some(notice) = answer_headers(&answer).and_then(Deprecation::from_headers) {
            env.deprecated(&notice);
            told = true;
        }
        let (result, retryable) = classify(answer).await;
        let Some(retry_after) = retryable else {
            return result;
        };
        if retry + 1 >= policy.max_attempts {
            return result;
        }
        let wait = next_wait(env, policy, retry, retry_after);
        if waited.saturating_add(wait) > policy.max_total_delay {
            return result;
        }
        env.sleep(wait).await;
        waited += wait;
        retry += 1;
    }
}

/// The wait before retry number `retry`. With a server hint the wait is
/// the hint plus a jitter of up to the backoff ceiling: never earlier than
/// asked, and spread so that every client told "1 second" does not return
/// in the same millisecond. Without a hint it is full jitter.
fn next_wait<E: RetryEnv>(
    env: &E,
    policy: &RetryPolicy,
    retry: u32,
    retry_after: Option<RetryAfter>,
) -> Duration {
    let ceiling = policy.ceiling(retry);
    let jitter = env.jitter(ceiling).min(ceiling);
    match retry_after.map(|ra| ra.delay(env.now())) {
        Some(hint) => hint.saturating_add(jitter),
        None => jitter,
    }
}

/// A parsed `Retry-After` header (RFC 9110 §10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 2`
    Delay(Duration),
    /// `Retry-After: Fri, 31 Dec 1999 23:59:59 GMT`
    Date(SystemTime),
}

impl RetryAfter {
    /// Parses the header's value; `None` when it is neither form.
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // Absurdly long digit strings saturate rather than fail: the
            // total-delay budget then declines to wait.
            let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
            return Some(RetryAfter::Delay(Duration::from_secs(seconds)));
        }
        httpdate::parse_http_date(value).ok().map(RetryAfter::Date)
    }

    /// Reads the `Retry-After` header, if present and well-formed.
    pub fn from_headers(headers: &HeaderMap) -> Option<RetryAfter> {
        RetryAfter::parse(headers.get(RETRY_AFTER)?.to_str().ok()?)
    }

    /// The delay it asks for, measured from `now`; a past date is zero.
    pub fn delay(self, now: SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(d) => d,
            RetryAfter::Date(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }
}

/// Whether a status is retryable on its own; a 409 also needs its code.
fn retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    )
}

/// Decides whether `result` may be retried: `Some(hint)` if so (with the
/// server's `Retry-After`, when it sent a valid one), `None` if it is
/// final. Gives the result back, since deciding may have to read the body
/// of an undocumented 409 to learn its problem code; the body is then put
/// back so the caller still sees the whole response.
async fn classify<T>(
    result: Result<ResponseValue<T>, Error<Problem>>,
) -> (
    Result<ResponseValue<T>, Error<Problem>>,
    Option<Option<RetryAfter>>,
) {
    match result {
        Err(Error::ErrorResponse(rv)) => {
            let retry = retryable_status(rv.status())
                || (rv.status() == StatusCode::CONFLICT && rv.code == IN_FLIGHT_CODE);
            let hint = retry.then(|| RetryAfter::from_headers(rv.headers()));
            (Err(Error::ErrorResponse(rv)), hint)
        }
        Err(Error::UnexpectedResponse(response)) => {
            let status = response.status();
            if retryable_status(status) {
                let hint = RetryAfter::from_headers(response.headers());
                (Err(Error::UnexpectedResponse(response)), Some(hint))
            } else if status == StatusCode::CONFLICT {
                classify_unexpected_conflict(response).await
            } else {
                (Err(Error::UnexpectedResponse(response)), None)
            }
        }
        other => (other, None),
    }
}

/// An undocumented 409: read the body to tell the in-flight conflict from
/// any other, then rebuild the response around the bytes read.
async fn classify_unexpected_conflict<T>(
    response: reqwest::Response,
) -> (
    Result<ResponseValue<T>, Error<Problem>>,
    Option<Option<RetryAfter>>,
) {
    #[derive(serde::Deserialize)]
    struct Code {
        code: Option<String>,
    }
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(e) => return (Err(Error::ResponseBodyError(e)), None),
    };
    let in_flight = serde_json::from_slice::<Code>(&body)
        .ok()
        .and_then(|c| c.code)
        .is_some_and(|c| c == IN_FLIGHT_CODE);
    let hint = in_flight.then(|| RetryAfter::from_headers(&headers));
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    (
        Err(Error::UnexpectedResponse(reqwest::Response::from(rebuilt))),
        hint,
    )
}

#[cfg(test)]
mod tests {
    //! Every case runs a scripted attempt function (no network) in a fake
    //! environment that records the waits instead of sleeping.

    use std::sync::Mutex;
    use std::time::{Duration, SystemTime};

    use progenitor_client::{Error, ResponseValue};
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    use super::{Deprecation, RetryAfter, RetryEnv, RetryPolicy, TokioEnv, send_with_retries_in};
    use crate::types::Problem;

    /// Records waits; the jitter is `fraction` of its maximum.
    struct FakeEnv {
        now: SystemTime,
        fraction: f64,
        slept: Mutex<Vec<Duration>>,
        notices: Mutex<Vec<Deprecation>>,
    }

    impl FakeEnv {
        fn new(fraction: f64) -> FakeEnv {
            FakeEnv {
                now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
                fraction,
                slept: Mutex::new(Vec::new()),
                notices: Mutex::new(Vec::new()),
            }
        }
    }

    impl RetryEnv for FakeEnv {
        fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
            self.slept.lock().expect("not poisoned").push(duration);
            std::future::ready(())
        }
        fn now(&self) -> SystemTime {
            self.now
        }
        fn jitter(&self, max: Duration) -> Duration {
            max.mul_f64(self.fraction)
        }
        fn deprecated(&self, notice: &Deprecation) {
            self.notices
                .lock()
                .expect("not poisoned")
                .push(notice.clone());
        }
    }

    /// One scripted answer.
    #[derive(Clone, Copy)]
    enum Answer {
        /// 201 with a body of 7.
        Created,
        /// A documented problem: status, code, Retry-After.
        Problem(u16, &'static str, Option<&'static str>),
        /// An undocumented status with a problem body (what the SDK
        /// returns for a status the spec does not list).
        Unexpected(u16, &'static str, Option<&'static str>),
    }

    fn headers(retry_after: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ra) = retry_after {
            h.insert(RETRY_AFTER, HeaderValue::from_str(ra).expect("valid"));
        }
        h
    }

    fn problem(status: u16, code: &str) -> Problem {
        Problem {
            code: code.to_string(),
            detail: String::new(),
            errors: Vec::new(),
            instance: None,
            request_id: "req".to_string(),
            status,
            title: String::new(),
            type_: "about:blank".to_string(),
            violated_policies: Vec::new(),
        }
    }

    // The SDK's own result type, large as it is: the fake must return
    // exactly what a generated call returns.
    #[allow(clippy::result_large_err)]
    fn answer(a: Answer) -> Result<ResponseValue<u32>, Error<Problem>> {
        match a {
            Answer::Created => Ok(ResponseValue::new(7, StatusCode::CREATED, HeaderMap::new())),
            Answer::Problem(status, code, ra) => Err(Error::ErrorResponse(ResponseValue::new(
                problem(status, code),
                StatusCode::from_u16(status).expect("a status"),
                headers(ra),
            ))),
            Answer::Unexpected(status, code, ra) => {
                let body = serde_json::to_vec(&problem(status, code)).expect("serializes");
                let mut r = http::Response::new(body);
                *r.status_mut() = StatusCode::from_u16(status).expect("a status");
                *r.headers_mut() = headers(ra);
                Err(Error::UnexpectedResponse(reqwest::Response::from(r)))
            }
        }
    }

    /// What a run did: the keys each attempt got, the waits, the final
    /// status and (for an undocumented final answer) its problem code, read
    /// from the body the retry layer must have put back.
    #[derive(Debug, PartialEq)]
    struct Run {
        keys: Vec<String>,
        slept: Vec<Duration>,
        status: u16,
        code: Option<String>,
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            max_total_delay: Duration::from_secs(30),
        }
    }

    async fn run(env: FakeEnv, policy: &RetryPolicy, key: Option<&str>, script: &[Answer]) -> Run {
        let keys = Mutex::new(Vec::new());
        let mut next = script.iter().copied();
        let result = send_with_retries_in(&env, policy, key.map(str::to_string), |k| {
            keys.lock().expect("not poisoned").push(k.to_string());
            // Past the end of the script the server keeps saying 500, a
            // status that must never be retried: a test over-running its
            // script then fails on the attempt count.
            let a = next
                .next()
                .unwrap_or(Answer::Problem(500, "internal", None));
            std::future::ready(answer(a))
        })
        .await;
        let (status, code) = match result {
            Ok(rv) => (rv.status().as_u16(), None),
            Err(Error::ErrorResponse(rv)) => (rv.status().as_u16(), Some(rv.code.clone())),
            Err(Error::UnexpectedResponse(r)) => {
                let status = r.status().as_u16();
                let body: Problem = r.json().await.expect("the body was put back");
                (status, Some(body.code))
            }
            Err(e) => panic!("unexpected error {e}"),
        };
        Run {
            keys: keys.into_inner().expect("not poisoned"),
            slept: env.slept.into_inner().expect("not poisoned"),
            status,
            code,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Checks attempts, waits and the final status of a script, with the
    /// jitter at `fraction` of its range and the key "k1".
    async fn check(fraction: f64, script: &[Answer], slept: &[Duration], status: u16) {
        let r = run(FakeEnv::new(fraction), &policy(), Some("k1"), script).await;
        assert_eq!(r.slept, slept, "waits for {:?}", r);
        assert_eq!(r.status, status, "final status for {:?}", r);
        assert_eq!(r.keys.len(), slept.len() + 1, "attempts for {:?}", r);
        assert!(
            r.keys.iter().all(|k| k == "k1"),
            "same key on every attempt: {:?}",
            r
        );
    }

    use Answer::{Created, Problem as P, Unexpected as U};

    #[tokio::test]
    async fn retry_after_is_honoured_never_earlier() {
        // No jitter: exactly the hint. Full jitter: the hint plus at most
        // the backoff ceiling (100 ms, then 200 ms).
        let s = [
            P(429, "quota_exceeded", Some("2")),
            P(503, "unavailable", Some("1")),
            Created,
        ];
        check(0.0, &s, &[ms(2000), ms(1000)], 201).await;
        check(1.0, &s, &[ms(2100), ms(1200)], 201).await;
        // The same through undocumented responses.
        let s = [
            U(429, "quota_exceeded", Some("3")),
            U(409, "idempotency_key_in_flight", Some("1")),
            Created,
        ];
        check(0.0, &s, &[ms(3000), ms(1000)], 201).await;
        // A hint above max_delay is still honoured in full.
        check(0.0, &[P(429, "q", Some("9")), Created], &[ms(9000)], 201).await;
    }

    #[tokio::test]
    async fn http_date_retry_after_counts_from_now() {
        let env = FakeEnv::new(0.0);
        let date = httpdate::fmt_http_date(env.now + Duration::from_secs(4));
        let date: &'static str = Box::leak(date.into_boxed_str());
        let past = "Sat, 01 Jan 2000 00:00:00 GMT";
        let r = run(
            env,
            &policy(),
            None,
            &[P(503, "u", Some(date)), P(503, "u", Some(past)), Created],
        )
        .await;
        // A past date is "now": no wait beyond the jitter (zero here).
        assert_eq!(r.slept, [ms(4000), ms(0)]);
        assert_eq!(r.status, 201);
    }

    #[tokio::test]
    async fn backoff_grows_and_is_capped() {
        // Without a hint (or with a malformed one), full jitter at its
        // maximum shows the ceiling: 100, 200, then capped at 350.
        let s = [
            P(503, "u", None),
            P(429, "q", Some("soon")),
            U(503, "u", None),
            P(503, "u", None),
            Created,
        ];
        check(1.0, &s, &[ms(100), ms(200), ms(350), ms(350)], 201).await;
        check(0.5, &s, &[ms(50), ms(100), ms(175), ms(175)], 201).await;
        check(0.0, &s, &[ms(0), ms(0), ms(0), ms(0)], 201).await;
    }

    #[tokio::test]
    async fn attempts_and_total_delay_are_capped() {
        let always = [P(429, "q", Some("1")); 10];
        check(0.0, &always, &[ms(1000); 4], 429).await;
        let mut p = policy();
        p.max_attempts = 1;
        let r = run(FakeEnv::new(0.0), &p, None, &always).await;
        assert_eq!((r.keys.len(), r.status), (1, 429));
        // A wait that would exceed the budget is not taken at all.
        p = policy();
        p.max_total_delay = Duration::from_millis(2500);
        let r = run(FakeEnv::new(0.0), &p, None, &always).await;
        assert_eq!((r.slept, r.status), (vec![ms(1000), ms(1000)], 429));
        let r = run(
            FakeEnv::new(0.0),
            &p,
            None,
            &[P(429, "q", Some("3600")), Created],
        )
        .await;
        assert_eq!((r.keys.len(), r.status), (1, 429));
    }

    #[tokio::test]
    async fn other_answers_are_final() {
        for a in [
            P(400, "idempotency_key_missing", None),
            P(401, "unauthorized", None),
            P(404, "not_found", None),
            P(409, "invalid_transition", Some("1")),
            P(422, "idempotency_key_reused", Some("1")),
            P(422, "validation_failed", None),
            P(500, "internal", Some("1")),
            U(409, "invalid_transition", Some("1")),
            U(422, "idempotency_key_reused", None),
            U(502, "bad_gateway", Some("1")),
        ] {
            check(
                0.0,
                &[a, Created],
                &[],
                match a {
                    P(s, ..) | U(s, ..) => s,
                    Created => unreachable!(),
                },
            )
            .await;
        }
    }

    #[tokio::test]
    async fn an_undocumented_final_answer_keeps_its_body() {
        let r = run(
            FakeEnv::new(0.0),
            &policy(),
            None,
            &[U(409, "invalid_transition", None)],
        )
        .await;
        assert_eq!(
            (r.status, r.code.as_deref()),
            (409, Some("invalid_transition"))
        );
    }

    #[tokio::test]
    async fn a_key_is_generated_once_when_none_is_given() {
        let s = [
            P(409, "idempotency_key_in_flight", Some("1")),
            P(429, "q", Some("1")),
            Created,
        ];
        let r = run(FakeEnv::new(0.0), &policy(), None, &s).await;
        assert_eq!(r.keys.len(), 3);
        assert!(r.keys.iter().all(|k| *k == r.keys[0]), "{:?}", r.keys);
        let uuid = uuid::Uuid::parse_str(&r.keys[0]).expect("a UUID");
        assert_eq!(uuid.get_version_num(), 4);
        let other = run(FakeEnv::new(0.0), &policy(), None, &[Created]).await;
        assert_ne!(other.keys[0], r.keys[0], "a new key per logical call");
    }

    #[test]
    fn real_jitter_is_bounded() {
        for max in [ms(0), ms(1), ms(100), Duration::from_secs(3600)] {
            for _ in 0..1000 {
                assert!(TokioEnv.jitter(max) <= max, "{max:?}");
            }
        }
    }

    #[test]
    fn retry_after_parses_both_forms() {
        let cases: &[(&str, Option<RetryAfter>)] = &[
            ("1", Some(RetryAfter::Delay(ms(1000)))),
            (" 120 ", Some(RetryAfter::Delay(Duration::from_secs(120)))),
            (
                "Sun, 06 Nov 1994 08:49:37 GMT",
                Some(RetryAfter::Date(
                    SystemTime::UNIX_EPOCH + Duration::from_secs(784111777),
                )),
            ),
            ("-1", None),
            ("1.5", None),
            ("", None),
            ("soon", None),
        ];
        for (input, expected) in cases {
            assert_eq!(RetryAfter::parse(input), *expected, "{input:?}");
        }
    }

    // The SDK's own result type, as `answer` above.
    #[allow(clippy::result_large_err)]
    fn lifecycle(status: StatusCode, links: &str) -> Result<ResponseValue<u32>, Error<Problem>> {
        let mut h = HeaderMap::new();
        h.insert("deprecation", HeaderValue::from_static("@1796083200"));
        h.insert(
            "sunset",
            HeaderValue::from_static("Wed, 30 Jun 2027 00:00:00 GMT"),
        );
        h.insert("link", HeaderValue::from_str(links).expect("valid"));
        if status == StatusCode::TOO_MANY_REQUESTS {
            h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return Err(Error::ErrorResponse(ResponseValue::new(
                problem(429, "rate_limited"),
                status,
                h,
            )));
        }
        Ok(ResponseValue::new(7, status, h))
    }

    #[tokio::test]
    async fn a_deprecated_operation_is_reported_once_per_call() {
        let env = FakeEnv::new(0.0);
        let links = "</v1/orders?cursor=a>; rel=\"next\", </v2/orders/ord_1>; rel=\"successor-version\", </deprecation>; rel=\"deprecation\"";
        let mut script = vec![
            lifecycle(StatusCode::TOO_MANY_REQUESTS, links),
            lifecycle(StatusCode::OK, links),
        ]
        .into_iter();
        let r = send_with_retries_in(&env, &policy(), Some("k".into()), |_| {
            std::future::ready(script.next().expect("two answers"))
        })
        .await;
        assert_eq!(r.map(|v| v.status()).ok(), Some(StatusCode::OK));
        let notices = env.notices.into_inner().expect("not poisoned");
        assert_eq!(
            notices,
            [Deprecation {
                since: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_083_200)),
                sunset: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_814_313_600)),
                successor: Some("/v2/orders/ord_1".into()),
                policy: Some("/deprecation".into()),
            }],
            "once for two deprecated answers"
        );
        let text = notices[0].to_string();
        assert!(
            text.contains("stops answering at Wed, 30 Jun 2027 00:00:00 GMT")
                && text.contains("successor is /v2/orders/ord_1"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_current_operation_is_not_reported() {
        let env = FakeEnv::new(0.0);
        let r = send_with_retries_in(&env, &policy(), None, |_| {
            std::future::ready(answer(Created))
        })
        .await;
        assert!(r.is_ok());
        assert!(env.notices.into_inner().expect("not poisoned").is_empty());
        assert_eq!(Deprecation::from_headers(&HeaderMap::new()), None);
    }
}
