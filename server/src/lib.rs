//! OrderFlow server: the generated API trait implemented on embedded SQLite.
//!
//! [`run::start`] wires the pieces: the store (SQLite), the [`handlers::App`]
//! that implements the generated handlers trait and the edge's guard, and
//! the dropshot server. The binary in `main.rs` only parses configuration
//! and waits for a shutdown signal.

pub mod guard;
pub mod handlers;
pub mod run;
pub mod store;
