//! Typed Rust SDK for the OrderFlow API.
//!
//! Everything in [`generated`] is made by progenitor from
//! `spec/orderflow.yaml` through `cargo xtask gen`; never edit it by hand.
//! See the crate README for an example.

#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code, missing_docs)]
mod generated;

pub use generated::*;
pub mod retry;
