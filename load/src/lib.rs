//! Load demonstrations against a real OrderFlow server.
//!
//! The one demonstration so far is the retry storm: many clients retrying
//! `POST /v1/orders` aggressively, some honouring `Retry-After` and some
//! hammering, next to over-quota reads. [`storm`] is the engine (it takes a
//! base URL and an admin key, so a test can point it at an in-process
//! server), [`report`] renders the before/after evidence (Markdown tables
//! and hand-written SVG charts), [`process`] starts the real server
//! binary for the `retry-storm` command, and [`database`] recounts the
//! orders in the server's SQLite file. Nothing here builds the server or
//! asserts timings: the engine counts, the caller decides what must hold.

pub mod database;
pub mod observed;
pub mod process;
pub mod report;
pub mod storm;
