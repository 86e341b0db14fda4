//! The internal pricing service: prices and availability of a basket of
//! catalog products, served over gRPC (tonic, contract in
//! `spec/proto/pricing.proto`) and over an equivalent internal JSON
//! endpoint (`POST /internal/quote`, HTTP/1.1 and h2c) so that the two
//! protocols can be compared on equal terms; and the client the public
//! edge uses, with a deadline and a circuit breaker.
//!
//! It deliberately does not write: it reads the `products` table of the
//! orders database, read-only. The store still re-checks, inside the order
//! transaction, that a quote holds (see the server's `pricing.rs`).

pub mod breaker;
pub mod catalog;
pub mod client;
pub mod quote;
pub mod rest;
pub mod service;

/// The generated protobuf messages and tonic stubs.
pub mod proto {
    #![allow(clippy::all)]
    tonic::include_proto!("orderflow.pricing.v1");
}

pub use breaker::{Breaker, BreakerConfig, BreakerState, Clock, SystemClock};
pub use catalog::{Catalog, CatalogError, CatalogProduct, SqliteCatalog};
pub use client::{Outcome, PricingClient, PricingError, Telemetry};
pub use service::{PricingServer, ServeOptions};
