//! The one integration-test binary of break-diff (one binary links faster
//! than many). Each module tests one face of the crate; shared helpers are
//! in `support`.

#[path = "it/catalog.rs"]
mod catalog;
#[path = "it/changes.rs"]
mod changes;
#[path = "it/cli.rs"]
mod cli;
#[path = "it/config.rs"]
mod config;
#[path = "it/direction.rs"]
mod direction;
#[path = "it/document.rs"]
mod document;
#[path = "it/fixtures.rs"]
mod fixtures;
#[path = "it/fuzz.rs"]
mod fuzz;
#[path = "it/gate.rs"]
mod gate;
#[path = "it/lifecycle.rs"]
mod lifecycle;
#[path = "it/orderflow.rs"]
mod orderflow;
#[path = "it/refactors.rs"]
mod refactors;
#[path = "it/robustness.rs"]
mod robustness;
#[path = "it/strategy.rs"]
mod strategy;
#[path = "it/support.rs"]
mod support;
#[path = "it/versions.rs"]
mod versions;
#[path = "it/waivers.rs"]
mod waivers;
