//! RFC 9457 problem details: the one error shape of the API.
//!
//! Every error the server produces, whether raised by the edge (auth,
//! malformed input, validation) or by a handler (not found, conflict), is an
//! [`ApiError`] whose body is the spec's `Problem` schema. The catalogue below
//! fixes, for each stable `code`, its `type` URI, `title` and status, so the
//! same problem always looks the same on the wire. This module does not
//! decide *when* a problem happens; callers do.

use std::fmt;

use dropshot::{ErrorStatusCode, HttpError, HttpResponseError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An RFC 9457 problem details body: the spec's `Problem` schema. The
/// runtime owns this type (the generated code maps the spec's schema onto
/// it), and the drift check proves the two agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    rename = "Problem",
    description = "An RFC 9457 problem details object."
)]
pub struct Problem {
    /// A snake_case key that maps one-to-one to `type`.
    pub code: String,
    /// What went wrong in this occurrence, for humans.
    pub detail: String,
    /// For validation failures, every bad field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request path this problem occurred on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Equal to the response's `X-Request-Id`.
    pub request_id: String,
    /// The HTTP status code of this response.
    pub status: u16,
    /// A short summary, the same for every occurrence of the type.
    pub title: String,
    /// A URI that identifies the problem type; the stable machine key.
    #[serde(rename = "type")]
    pub type_: String,
    /// For 429 responses, the rate-limit policies the request exceeded.
    #[serde(
        rename = "violated-policies",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub violated_policies: Vec<String>,
}

/// One bad field of a request: the spec's `FieldError` schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "FieldError")]
pub struct FieldError {
    /// A JSON pointer (RFC 6901, in URI fragment form) into the request body, or the parameter's name.
    pub pointer: String,
    /// What is wrong with the value and what was expected.
    pub detail: String,
}

/// Base of every problem `type` URI the server mints.
pub const TYPE_BASE: &str = "https://orderflow.dev/problems/";

/// The IANA-registered problem type for quota violations
/// (draft-ietf-httpapi-ratelimit-headers).
pub const QUOTA_EXCEEDED_TYPE: &str =
    "https://iana.org/assignments/http-problem-types#quota-exceeded";

/// (code, status, title). The `type` URI is [`type_of`] the code.
const CATALOGUE: &[(&str, u16, &str)] = &[
    ("malformed_request", 400, "Malformed request"),
    ("invalid_parameter", 400, "Invalid parameter"),
    ("invalid_cursor", 400, "Invalid cursor"),
    ("idempotency_key_missing", 400, "Idempotency-Key missing"),
    ("idempotency_key_invalid", 400, "Idempotency-Key invalid"),
    ("unauthenticated", 401, "Authentication required"),
    ("forbidden", 403, "Forbidden"),
    ("not_found", 404, "Not found"),
    ("method_not_allowed", 405, "Method not allowed"),
    ("illegal_transition", 409, "Illegal status transition"),
    ("duplicate_email", 409, "Duplicate email"),
    ("duplicate_sku", 409, "Duplicate SKU"),
    ("self_revocation", 409, "Cannot revoke the key in use"),
    (
        "idempotency_key_in_flight",
        409,
        "Idempotency-Key in flight",
    ),
    ("version_retired", 410, "API version retired"),
    ("precondition_failed", 412, "Precondition failed"),
    ("payload_too_large", 413, "Payload too large"),
    ("unsupported_media_type", 415, "Unsupported media type"),
    ("validation_failed", 422, "Validation failed"),
    ("precondition_required", 428, "Precondition required"),
    ("idempotency_key_reused", 422, "Idempotency-Key reused"),
    ("rate_limited", 429, "Quota exceeded"),
    ("internal_error", 500, "Internal server error"),
    ("unavailable", 503, "Service unavailable"),
];

/// The status and title registered for `code`, if any.
pub fn lookup(code: &str) -> Option<(u16, &'static str)> {
    CATALOGUE
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, s, t)| (*s, *t))
}

/// The `type` URI of a code: the registered IANA type where one exists,
/// else `TYPE_BASE` + the code with `_` as `-`.
pub fn type_of(code: &str) -> String {
    match code {
        "rate_limited" => QUOTA_EXCEEDED_TYPE.to_string(),
        _ => format!("{TYPE_BASE}{}", code.replace('_', "-")),
    }
}

/// Every registered problem code, for tests and docs.
pub fn codes() -> impl Iterator<Item = (&'static str, u16, &'static str)> {
    CATALOGUE.iter().copied()
}

/// An error on its way to becoming a problem-details response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub problem: Problem,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: http::HeaderMap,
    /// What went wrong inside, for the log only (never sent).
    pub cause: Option<String>,
}

impl ApiError {
    /// A problem of a catalogued `code`. An unknown code is a programming
    /// error; it degrades to a 500 `internal_error` rather than panicking.
    pub fn new(code: &str, detail: impl Into<String>) -> ApiError {
        let detail = detail.into();
        let (code, status, title) = match lookup(code) {
            Some((status, title)) => (code.to_string(), status, title),
            None => ("internal_error".to_string(), 500, "Internal server error"),
        };
        ApiError {
            problem: Problem {
                type_: type_of(&code),
                title: title.to_string(),
                status,
                detail,
                code,
                request_id: String::new(),
                instance: None,
                errors: Vec::new(),
                violated_policies: Vec::new(),
            },
            headers: http::HeaderMap::new(),
            cause: None,
        }
    }

    pub fn not_found(what: &str, id: &str) -> ApiError {
        ApiError::new("not_found", format!("no {what} with id {id:?}"))
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new("forbidden", detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> ApiError {
        let mut e = ApiError::new("unauthenticated", detail);
        e.headers.insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        e
    }

    /// A 500 that carries nothing internal: the cause is for the log only.
    pub fn internal() -> ApiError {
        ApiError::new(
            "internal_error",
            "the server failed to handle this request; quote the request_id when reporting it",
        )
    }

    /// [`ApiError::internal`] with its cause kept for the log.
    pub fn internal_because(cause: impl Into<String>) -> ApiError {
        let mut e = ApiError::internal();
        e.cause = Some(cause.into());
        e
    }

    /// A validation failure listing every bad field.
    pub fn invalid(code: &str, errors: Vec<FieldError>) -> ApiError {
        let detail = match errors.len() {
            1 => format!("{}: {}", errors[0].pointer, errors[0].detail),
            n => format!("{n} fields are invalid"),
        };
        let mut e = ApiError::new(code, detail);
        e.problem.errors = errors;
        e
    }

    pub fn status(&self) -> u16 {
        self.problem.status
    }

    pub fn code(&self) -> &str {
        &self.problem.code
    }

    /// Maps an extractor failure from dropshot to our problem shape.
    pub fn from_extractor(e: &HttpError) -> ApiError {
        let msg = &e.external_message;
        match e.status_code.as_u16() {
            // dropshot reports an oversize or mistyped body as a 400; the
            // body extractor wrapper checks headers first, this is the
            // fallback for chunked bodies with no Content-Length.
            400 if msg.contains("exceeded maximum size") => {
                ApiError::new("payload_too_large", msg.clone())
            }
            400 if msg.starts_with("expected content type") => {
                ApiError::new("unsupported_media_type", msg.clone())
            }
            400 => ApiError::new("malformed_request", msg.clone()),
            413 => ApiError::new("payload_too_large", msg.clone()),
            415 => ApiError::new("unsupported_media_type", msg.clone()),
            s if (400..500).contains(&s) => {
                let mut p = ApiError::new("malformed_request", msg.clone());
                p.problem.status = s;
                p
            }
            _ => ApiError::internal(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.problem.status, self.problem.code, self.problem.detail
        )
    }
}

impl std::error::Error for ApiError {}

// dropshot needs an error type for each endpoint: it documents it as the
// 4XX/5XX schema and uses it for failures outside our extractor wrappers.
// The generated edge returns every problem through `Reply` instead, so that
// the media type is `application/problem+json` and headers survive.
impl From<HttpError> for Problem {
    fn from(e: HttpError) -> Problem {
        ApiError::from_extractor(&e).problem
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}

impl HttpResponseError for Problem {
    fn status_code(&self) -> ErrorStatusCode {
        ErrorStatusCode::from_u16(self.status).unwrap_or(ErrorStatusCode::INTERNAL_SERVER_ERROR)
    }
}
