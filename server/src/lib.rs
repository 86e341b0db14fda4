//! OrderFlow server: the generated API trait implemented on embedded SQLite.
//!
//! [`run::start`] wires the pieces: the store (SQLite), the [`handlers::App`]
//! that implements the generated handlers trait, the edge's [`ports`]
//! (authentication, quotas, Idempotency-Key records, the request log),
//! the dropshot server, and the front that owns the public listener
//! ([`front`]: request ids, routing failures as problems). The binary in `main.rs` only parses configuration
//! and waits for a shutdown signal.

// `ApiError` is a whole problem document plus headers: it is the response
// itself on the error path, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

pub mod deprecation;
pub mod domain;
pub mod front;
pub mod handlers;
pub mod logging;
pub mod metrics;
pub mod money;
pub mod pg;
pub mod ports;
pub mod pricing;
pub mod ratelimit;
pub mod readers;
pub mod run;
pub mod store;
pub mod v2;
pub mod webhooks;
