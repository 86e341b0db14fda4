//! The rules a violation can name, each with where it is written.

pub const REPLAY: &str = "draft-ietf-httpapi-idempotency-key-header §2.6: a request repeated with the same key and payload gets the first response again (status, body, headers)";
pub const REPLAY_MARK: &str =
    "the spec's documented replay header (a replay is marked, the first response is not)";
pub const REUSE: &str = "draft-ietf-httpapi-idempotency-key-header §2.7: the same key with a different payload is refused with 422";
pub const CONCURRENT: &str = "draft-ietf-httpapi-idempotency-key-header §2.6, §2.7: duplicates under one key have one side effect; the others are replays or 409 while the first is in flight";
pub const IN_FLIGHT: &str = "draft-ietf-httpapi-idempotency-key-header §2.7 and RFC 9110 §10.2.3: a 409 for a key in flight says when to retry (Retry-After)";
pub const NO_429_REPLAY: &str = "draft-ietf-httpapi-idempotency-key-header §2.6 with RFC 6585 §4: a 429 is not the outcome of the request, so it is not stored as the key's result";
pub const SCOPE: &str = "draft-ietf-httpapi-idempotency-key-header §5 (security): keys are scoped per client; one credential never receives another's stored response";
pub const QUOTA: &str =
    "RFC 6585 §4: a request over the declared quota (x-rate-limit-policies) is answered 429";
pub const QUOTA_TYPE: &str =
    "RFC 9457 §3.1.1 with the spec's 429 example: the problem type of a 429 is quota-exceeded";
pub const RETRY_AFTER: &str = "RFC 6585 §4 and RFC 9110 §10.2.3: a 429 carries Retry-After as delay-seconds (integer, at least 1)";
pub const RATELIMIT_POLICY: &str = "draft-ietf-httpapi-ratelimit-headers §3 (RateLimit-Policy: an RFC 8941/9651 list naming the policy with its q and w), as declared in x-rate-limit-policies";
pub const RATELIMIT: &str = "draft-ietf-httpapi-ratelimit-headers §4 (RateLimit: an RFC 8941/9651 list; r remaining, never negative, 0 when refused; t seconds to reset, consistent with Retry-After)";
pub const RECOVERY: &str =
    "RFC 6585 §4 and RFC 9110 §10.2.3: after waiting Retry-After the request is accepted";
pub const DEPRECATION: &str =
    "RFC 9745 §2: Deprecation is a Structured Field date (`@` + Unix seconds)";
pub const SUNSET: &str = "RFC 8594 §3: Sunset is an HTTP-date (IMF-fixdate)";
pub const SUNSET_ORDER: &str = "RFC 9745 §5: Sunset is not earlier than Deprecation";
pub const LIFECYCLE_SPEC: &str =
    "the spec's x-sunset / x-deprecated-since: the header tells the date the spec declares";
pub const LINK: &str =
    "RFC 9745 §3 (rel=\"deprecation\") and RFC 8288 with RFC 5829 (rel=\"successor-version\")";
pub const GONE: &str = "RFC 8594 §1 and RFC 9110 §15.5.11: past the sunset the operation answers 410 Gone, as a problem (RFC 9457)";
pub const PAGE_WALK: &str = "the spec's cursor pagination: walking next cursors lists every item exactly once, even while items are created";
pub const PAGE_SIZE: &str = "the spec's page size parameter: a page holds at most `limit` items";
pub const CURSOR: &str = "the spec's cursor parameter and RFC 9110 §15.5.1: a cursor the server did not issue for this list is a 400 problem";
pub const LIMIT: &str = "the spec's page size bounds (minimum/maximum) and RFC 9110 §15.5.1: a value outside them is a 400 problem";
pub const PROBLEM_TYPE: &str = "RFC 9457 §3: error responses are application/problem+json";
pub const PROBLEM_MEMBERS: &str = "RFC 9457 §3.1 and the spec's problem schema: the required members are present, `status` equals the response status";
pub const NOT_MODIFIED: &str = "RFC 9110 §13.1.2 and §15.4.5: If-None-Match with the current ETag is 304, with the same validators (ETag, Cache-Control) the 200 carries";
pub const STALE: &str = "RFC 9110 §13.1.1 and §15.5.13: If-Match with a stale ETag is 412";
pub const REQUIRED: &str = "RFC 6585 §3: a write that requires If-Match is 428 without it";
pub const ANSWERED: &str = "RFC 9110 §9.1 and §15: every request gets a response within the timeout (--timeout), never a dropped connection";
pub const NEXT_LINK: &str = "RFC 8288 §3 with the spec's documented Link header: a page with a next cursor links rel=\"next\" to it, the last page does not";
