//! Provider verification for OrderFlow: the running server cannot drift
//! from `spec/orderflow.yaml` without a test noticing.
//!
//! - [`validator`]: given a request's method and concrete path, finds the
//!   spec operation and checks a response against it (documented status,
//!   declared media type, body against the resolved JSON Schema, required
//!   response headers).
//! - [`proxy`]: a reverse proxy on `127.0.0.1:0` that forwards every
//!   request to a server, validates every response on the wire, and
//!   records which (operation, status) pairs were exercised.
//!
//! What this crate deliberately does not do: validate requests (the server
//! does that, and the contract tests send invalid requests on purpose), or
//! fetch anything: every `$ref` is local to the spec.
//!
//! The tests themselves live in `tests/contract/`.

pub mod proxy;
pub mod validator;
