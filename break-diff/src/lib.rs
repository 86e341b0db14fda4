//! break-diff: finds the changes between two revisions of an OpenAPI
//! document that can break an existing client.
//!
//! The engine ([`document`], [`model`], [`walk`], [`schema`], [`rules`],
//! [`report`]) is pure: it takes text and an injected "today" and returns
//! findings or rendered strings. It does no I/O and reads no clock; only
//! [`cli`] touches files, `git`, the environment and the clock. Each rule
//! lives in its own file under `rules/`, with its metadata as data, and
//! the registry in `rules/mod.rs` lists them.

pub mod change;
pub mod cli;
pub mod config;
pub mod filter;
mod hash;
pub mod model;
pub mod report;
pub mod rules;
pub mod schema;
pub mod unchanged;
pub mod waivers;
pub mod walk;

/// The document reader, shared with the rest of the workspace: YAML/JSON
/// with lines, JSON pointers, local `$ref` resolution.
pub use openapi_doc as document;

use serde::Serialize;

pub use change::Change;
pub use document::Document;
pub use rules::{Family, Mirror, Rule, RuleMeta};

/// Version of the JSON report shape. Bump it when a field changes meaning
/// or disappears; adding a field does not bump it.
pub const REPORT_VERSION: u32 = 1;

/// Why an input could not be used. Each variant names the file and the
/// line, so a user can go straight to the problem; none of them is helped
/// by retrying.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A spec that cannot be read (syntax, not OpenAPI, unsupported
    /// version); see [`document::Error`].
    #[error(transparent)]
    Document(#[from] document::Error),
    /// A `--config` file is malformed, names an unknown rule or an
    /// unknown level.
    #[error("{file}:{line}: invalid configuration: {message}")]
    Config {
        /// Display name of the configuration file.
        file: String,
        /// 1-based line of the entry.
        line: u32,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A waiver file entry is malformed or names an unknown rule.
    #[error("{file}:{line}: invalid waiver: {message}")]
    Waiver {
        /// Display name of the waiver file.
        file: String,
        /// 1-based line of the entry or field.
        line: u32,
        /// What is wrong and what was expected.
        message: String,
    },
}

/// How serious a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing; not expected to break a client.
    Info,
    /// May break some clients, depending on how they are written.
    Warning,
    /// Breaks clients that follow the base contract.
    Error,
}

impl Level {
    /// The lowercase name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding is, on one side of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// JSON pointer (RFC 6901) into that side's document.
    pub pointer: String,
    /// 1-based source line.
    pub line: u32,
}

/// One change that matters to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `request_property_became_required`.
    pub rule: &'static str,
    /// Severity: the rule's level, unless a `--config` file changed it.
    pub level: Level,
    /// `METHOD /path` of the operation concerned, when there is one.
    pub operation: Option<String>,
    /// Location in the base document, when the thing exists there.
    pub base: Option<Location>,
    /// Location in the revision, when the thing exists there.
    pub revision: Option<Location>,
    /// What changed and why it matters.
    pub message: String,
    /// The root change this finding belongs to: equal for the findings of
    /// one change reached from several operations, and stable across
    /// unrelated edits of the documents (see [`change`]).
    pub fingerprint: String,
    /// For a finding inside an operation: equal for the findings of the
    /// same edit made to identical inline copies at the same place of
    /// other operations, which [`change::group`] folds into one change
    /// (see [`change`]). Not part of the JSON report.
    #[serde(skip)]
    pub copy_key: Option<String>,
    /// Equal for the findings of the same edit in several places: the
    /// same rule, leaf name, changed content on both sides and message
    /// without its route, wherever the node is; [`change::entries`] folds
    /// their changes into one entry listing the places (see [`change`]).
    /// `None` when the node is too plain to tell a coincidence apart. Not
    /// part of the JSON report.
    #[serde(skip)]
    pub alike_key: Option<String>,
}

/// Knobs of a comparison. Time is injected: the engine never reads the
/// clock, so tests can move "today" across a sunset date.
#[derive(Debug, Clone)]
pub struct Options {
    /// The date against which sunset dates are judged.
    pub today: chrono::NaiveDate,
    /// Minimum number of days between "today" and the sunset date of an
    /// operation deprecated in the revision.
    pub min_deprecation_days: u32,
    /// Compare one version's operations with another's (`--map /v1=/v2`):
    /// the base's operations under the first prefix are paired with the
    /// revision's under the second, path for path; operations under
    /// neither are left out. The two documents may be one file.
    pub map: Option<(String, String)>,
}

/// Compares two documents with every registered rule. Findings are sorted
/// by operation, rule and location, so output is stable across runs.
pub fn diff(base: &Document, revision: &Document, options: &Options) -> Vec<Finding> {
    walk::run(rules::ALL, base, revision, options)
}

/// [`diff`] with an explicit [`walk::Strategy`] (threads, skipping of
/// unchanged schemas). The findings are the same for every strategy; only
/// the time taken differs.
pub fn diff_with(
    base: &Document,
    revision: &Document,
    options: &Options,
    strategy: walk::Strategy,
) -> Vec<Finding> {
    walk::run_with(rules::ALL, base, revision, options, strategy)
}

/// Reads one spec for comparison: parses it and checks that it is an
/// OpenAPI document whose local references all lead somewhere (see
/// [`Document::validate`]). A dangling `$ref` or a cycle of bare
/// references is an error, never a silent pass: comparing what is there
/// would hide every change behind it.
pub fn read(name: &str, text: &str) -> Result<Document, Error> {
    let doc = Document::parse(name, text)?;
    doc.validate()?;
    Ok(doc)
}

/// Parses both texts and compares them. A convenience for callers that
/// hold text; `base_name` and `revision_name` appear in error messages.
pub fn diff_text(
    base_name: &str,
    base: &str,
    revision_name: &str,
    revision: &str,
    options: &Options,
) -> Result<Vec<Finding>, Error> {
    let base = read(base_name, base)?;
    let revision = read(revision_name, revision)?;
    Ok(diff(&base, &revision, options))
}
