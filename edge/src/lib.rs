//! The edge runtime: where the spec becomes behaviour for every operation.
//!
//! The generated API (`server-api`) describes each operation as data (an
//! [`Operation`]) and calls [`pipeline::run`] from a few lines per
//! endpoint; the pipeline holds the step order, once, and calls the
//! [`ports`] the server implements. [`problem`] is the one error shape,
//! [`schema`] the one list of schema keywords the edge supports and their
//! validator.
//!
//! This crate never imports generated code (the way progenitor-client never
//! references generated clients): the types it needs, `Problem` and
//! `FieldError`, are its own, and the generated code maps the spec's schemas
//! onto them; the drift check proves they agree. It knows no storage.

// `ApiError` is a whole problem document plus headers: it is the response
// itself on the error path, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

// The keyword list alone builds with no dependency; everything else is the
// runtime (the default feature), which the generator does not need.
pub mod keywords;
#[cfg(feature = "runtime")]
pub mod pipeline;
#[cfg(feature = "runtime")]
pub mod ports;
#[cfg(feature = "runtime")]
pub mod problem;
#[cfg(feature = "runtime")]
pub mod schema;

pub use keywords::{Keyword, KeywordKind};
#[cfg(feature = "runtime")]
pub use pipeline::{
    BodyPart, Call, Checked, CheckedBody, Created, HandlerFuture, Idempotency, Inputs, Lifecycle,
    Location, Operation, OperationRules, Param, Precondition, Reply, Request, Tagged, param,
    row_etag, run,
};
#[cfg(feature = "runtime")]
pub use ports::{
    Authenticator, Claim, Clock, IdempotencyBegin, IdempotencyOutcome, IdempotencyStore, Observer,
    Outcome, Ports, Principal, RateLimitPolicy, RateLimiter, RateState, StoredReply, SystemClock,
};
#[cfg(feature = "runtime")]
pub use problem::{ApiError, FieldError, Problem};
#[cfg(feature = "runtime")]
pub use schema::Rules;
