//! Root changes: one entry per change to the documents, however many
//! operations reach it, and the fingerprint that names a change across
//! rebases.
//!
//! The walker reports one [`Finding`] per operation that reaches a changed
//! node, so an enum value added to a schema shared by 400 operations is 400
//! findings. Findings of one rule at the same place on both sides, saying
//! the same thing once the route from the operation is taken out, are the
//! same root change: [`group`] folds them into one [`Change`] that lists
//! the operations. Reports show changes; the flat findings stay available
//! (JSON `findings`, waivers, `--fail-on`).
//!
//! A fingerprint depends on the rule, the two JSON pointers (with
//! parameter and server indexes replaced by what they name, and path
//! variable names erased) and the message without its route. It does not
//! depend on line numbers or on other parts of the documents, so it
//! survives a rebase that moves or edits unrelated parts of the base, and
//! a waiver written for it keeps applying. It changes when the change
//! itself does (another enum value, another property), and when a new
//! break-diff version rewords the rule's message. This module does no I/O.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::document::{Document, escape};
use crate::hash::FastMap;
use crate::model::normalize_path;
use crate::{Finding, Level, Location};

/// One root change and the operations it affects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Stable id of the change (16 hex digits); see the module docs.
    pub fingerprint: String,
    /// Rule id.
    pub rule: &'static str,
    /// The highest level among the findings folded in.
    pub level: Level,
    /// The operation whose route to the change is the shortest (the one
    /// `message` describes), when the change concerns operations.
    pub operation: Option<String>,
    /// How many distinct operations the change affects.
    pub operation_count: usize,
    /// Every operation it affects, sorted.
    pub operations: Vec<String>,
    /// Location in the base document, when the thing exists there.
    pub base: Option<Location>,
    /// Location in the revision, when the thing exists there.
    pub revision: Option<Location>,
    /// The message of the finding with the shortest route.
    pub message: String,
    /// How many findings were folded in.
    pub findings: usize,
}

/// Folds findings into root changes, in the order each change first
/// appears among `findings`. Findings fold when their fingerprints (and
/// rules) are equal.
pub fn group(findings: &[Finding]) -> Vec<Change> {
    let mut index: FastMap<(&str, &str), usize> = FastMap::default();
    let mut changes: Vec<Change> = Vec::new();
    let mut operations: Vec<BTreeSet<&str>> = Vec::new();
    for f in findings {
        let key = (f.rule, f.fingerprint.as_str());
        let at = *index.entry(key).or_insert_with(|| {
            changes.push(Change {
                fingerprint: f.fingerprint.clone(),
                rule: f.rule,
                level: f.level,
                operation: f.operation.clone(),
                operation_count: 0,
                operations: Vec::new(),
                base: f.base.clone(),
                revision: f.revision.clone(),
                message: f.message.clone(),
                findings: 0,
            });
            operations.push(BTreeSet::new());
            changes.len() - 1
        });
        let change = &mut changes[at];
        change.findings += 1;
        change.level = change.level.max(f.level);
        // The shortest route is the easiest to read; ties go to the first
        // operation in sorted order, so the choice is stable.
        if (f.message.len(), &f.operation) < (change.message.len(), &change.operation) {
            change.message = f.message.clone();
            change.operation = f.operation.clone();
        }
        if let Some(op) = &f.operation {
            operations[at].insert(op);
        }
    }
    for (change, ops) in changes.iter_mut().zip(operations) {
        change.operations = ops.into_iter().map(str::to_owned).collect();
        change.operation_count = change.operations.len();
    }
    changes
}

/// The fingerprint of a finding of `rule` at `base` and `rev` (pointers
/// into each document, when the thing exists there) whose message, once
/// the site's route `at` is taken out, is `message`.
pub fn fingerprint(
    rule: &str,
    base: Option<(&Document, &str)>,
    rev: Option<(&Document, &str)>,
    message: &str,
    at: &str,
) -> String {
    let detail = if at.is_empty() {
        message.to_owned()
    } else {
        message.replacen(at, "", 1)
    };
    let mut hasher = Sha256::new();
    for part in [
        rule,
        &base.map(|(d, p)| canonical(d, p)).unwrap_or_default(),
        &rev.map(|(d, p)| canonical(d, p)).unwrap_or_default(),
        &detail,
    ] {
        hasher.update(part.as_bytes());
        // A separator no part can contain keeps `a|bc` and `ab|c` apart.
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(16);
    for b in &digest[..8] {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `ptr` with the parts that move when unrelated things change replaced
/// by what they name: a parameter's index by `in:name`, a server's index
/// by its URL, and path variable names by `{}`.
fn canonical(doc: &Document, ptr: &str) -> String {
    let mut raw = String::with_capacity(ptr.len());
    let mut out = String::with_capacity(ptr.len());
    let mut previous = "";
    for (depth, segment) in ptr.split('/').skip(1).enumerate() {
        let named = match previous {
            "parameters" | "servers" if segment.bytes().all(|b| b.is_ascii_digit()) => doc
                .at(&format!("{raw}/{segment}"))
                .map(|n| doc.resolve(n))
                .and_then(|n| match previous {
                    "parameters" => Some(format!("{}:{}", n.str("in")?, n.str("name")?)),
                    _ => n.str("url").map(str::to_owned),
                }),
            "paths" if depth == 1 => Some(normalize_path(&unescape(segment))),
            _ => None,
        };
        raw.push('/');
        raw.push_str(segment);
        out.push('/');
        match named {
            Some(name) => out.push_str(&escape(&name)),
            None => out.push_str(segment),
        }
        previous = segment;
    }
    out
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}
