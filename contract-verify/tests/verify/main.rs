//! contract-verify's tests, one binary.
//!
//! - `broken`: a toy server (`toy.rs`, spec `toy.yaml`) that keeps the
//!   contract except for one deliberate break per case; the verifier must
//!   report exactly that break (check id and operation), and a correct toy
//!   must pass everything.
//! - `usage`: bad arguments, a bad spec, an unreachable server: exit 2.
//! - `orderflow`: the real OrderFlow server, in-process on `127.0.0.1:0`,
//!   against `spec/orderflow.yaml`.
//!
//! Every case drives the CLI ([`contract_verify::run`]) with arguments and
//! buffers, and reads its JSON report.

mod broken;
mod detect;
mod formats;
mod orderflow;
mod toy;
mod usage;

use std::collections::BTreeSet;

use contract_verify::Exit;
use serde_json::Value;

/// The toy spec's path.
pub fn toy_spec() -> String {
    format!("{}/tests/verify/toy.yaml", env!("CARGO_MANIFEST_DIR"))
}

/// What one run gave: exit status, the JSON report (when there is one)
/// and standard error.
pub struct Run {
    pub exit: Exit,
    pub report: Value,
    pub stderr: String,
}

impl Run {
    /// The distinct (check, operation) pairs of every violation.
    pub fn violations(&self) -> BTreeSet<(String, String)> {
        self.report["results"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["violations"].as_array().cloned().unwrap_or_default())
            .map(|v| {
                (
                    v["check"].as_str().unwrap_or("").to_owned(),
                    v["operation"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    /// The outcome status (`pass`, `fail`, `not_run`) of one check on one
    /// operation, or `None` when it did not appear.
    pub fn outcome(&self, check: &str, operation: &str) -> Option<(String, String)> {
        self.report["results"]
            .as_array()?
            .iter()
            .find(|r| r["check"] == check && r["operation"] == operation)
            .map(|r| {
                (
                    r["outcome"]["status"].as_str().unwrap_or("").to_owned(),
                    r["outcome"]["reason"].as_str().unwrap_or("").to_owned(),
                )
            })
    }
}

/// Runs the CLI with `args` (the program name is added) and `--format json`.
pub fn verify(args: &[&str]) -> Run {
    let mut argv = vec!["contract-verify".to_owned()];
    argv.extend(args.iter().map(|a| a.to_string()));
    argv.extend(["--format".to_owned(), "json".to_owned()]);
    let mut out = Vec::new();
    let mut err = Vec::new();
    let exit = contract_verify::run(argv, &mut out, &mut err);
    let stdout = String::from_utf8_lossy(&out).into_owned();
    Run {
        exit,
        report: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
}
