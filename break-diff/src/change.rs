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
//!
//! Inline schemas copied per operation (Stripe writes every request body
//! out in full) carry one edit once per copy, at a different pointer each
//! time, so fingerprints alone keep them apart. A finding inside an
//! operation therefore also has a *copy key* ([`Finding::copy_key`]): the
//! rule, both pointers with the operation prefix (`/paths/{path}/{method}`)
//! left out, a structural hash of the changed node on each side
//! (annotations such as `description` ignored; for a property added or
//! removed, the property, absent on one side) and the message without its
//! route.
//! Findings with equal copy keys are the same edit made to identical
//! copies at the same place of several operations, and [`group`] folds
//! them into one change. Different values, different places below the
//! operation, different rules and anything in shared components (whose
//! pointers differ, since they name the node) keep their own changes.
//! Each finding keeps its own fingerprint; a folded change lists them all
//! ([`Change::fingerprints`]), shows the one of the finding it describes,
//! and a waiver naming any of them accepts the whole change.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
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
    /// The distinct fingerprints of the findings folded in, sorted: one,
    /// unless the change is an edit copied into several operations' inline
    /// schemas (see the module docs). Listed in JSON only when there are
    /// several.
    #[serde(skip_serializing_if = "single")]
    pub fingerprints: Vec<String>,
}

fn single(fingerprints: &[String]) -> bool {
    fingerprints.len() <= 1
}

/// What [`group`] folds findings by: the rule and the copy key when there
/// is one, else the rule and the fingerprint.
pub fn fold_key(f: &Finding) -> (&'static str, bool, &str) {
    match &f.copy_key {
        Some(key) => (f.rule, true, key.as_str()),
        None => (f.rule, false, f.fingerprint.as_str()),
    }
}

/// Folds findings into root changes, in the order each change first
/// appears among `findings`. Findings fold when their rules and copy keys
/// are equal, or (without a copy key) their rules and fingerprints.
pub fn group(findings: &[Finding]) -> Vec<Change> {
    let mut index: FastMap<(&str, bool, &str), usize> = FastMap::default();
    let mut changes: Vec<Change> = Vec::new();
    let mut operations: Vec<BTreeSet<&str>> = Vec::new();
    let mut fingerprints: Vec<BTreeSet<&str>> = Vec::new();
    for f in findings {
        let at = *index.entry(fold_key(f)).or_insert_with(|| {
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
                fingerprints: Vec::new(),
            });
            operations.push(BTreeSet::new());
            fingerprints.push(BTreeSet::new());
            changes.len() - 1
        });
        let change = &mut changes[at];
        change.findings += 1;
        change.level = change.level.max(f.level);
        // The shortest route is the easiest to read; ties go to the first
        // operation in sorted order, so the choice is stable.
        // A folded copy takes its locations and fingerprint along: the
        // change shows the finding it describes.
        if (f.message.len(), &f.operation) < (change.message.len(), &change.operation) {
            change.message = f.message.clone();
            change.operation = f.operation.clone();
            change.base = f.base.clone();
            change.revision = f.revision.clone();
            change.fingerprint = f.fingerprint.clone();
        }
        if let Some(op) = &f.operation {
            operations[at].insert(op);
        }
        fingerprints[at].insert(&f.fingerprint);
    }
    for ((change, ops), fps) in changes.iter_mut().zip(operations).zip(fingerprints) {
        change.operations = ops.into_iter().map(str::to_owned).collect();
        change.operation_count = change.operations.len();
        change.fingerprints = fps.into_iter().map(str::to_owned).collect();
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
    keys(rule, base, rev, message, at).0
}

/// The fingerprint (see [`fingerprint`]) and the copy key (see the module
/// docs) of one finding; the copy key is `None` unless every pointer the
/// finding has is inside an operation, one of them below it.
pub fn keys(
    rule: &str,
    base: Option<(&Document, &str)>,
    rev: Option<(&Document, &str)>,
    message: &str,
    at: &str,
) -> (String, Option<String>) {
    let detail = if at.is_empty() {
        message.to_owned()
    } else {
        message.replacen(at, "", 1)
    };
    let (base_ptr, rev_ptr) = (
        base.map(|(d, p)| canonical(d, p)).unwrap_or_default(),
        rev.map(|(d, p)| canonical(d, p)).unwrap_or_default(),
    );
    let mut hasher = Sha256::new();
    for part in [rule, &base_ptr, &rev_ptr, &detail] {
        hasher.update(part.as_bytes());
        // A separator no part can contain keeps `a|bc` and `ab|c` apart.
        hasher.update([0u8]);
    }
    let fingerprint = hex(&hasher.finalize());
    let copy = copy_key(rule, (base, &base_ptr), (rev, &rev_ptr), &detail);
    (fingerprint, copy)
}

/// See the module docs. `canonical` is each side's [`canonical`] pointer.
fn copy_key(
    rule: &str,
    base: (Option<(&Document, &str)>, &str),
    rev: (Option<(&Document, &str)>, &str),
    detail: &str,
) -> Option<String> {
    let mut hasher = Sha256::new();
    hasher.update(rule.as_bytes());
    hasher.update([0u8]);
    // A property added or removed is reported at the parent on the side
    // that lacks it: the node that changed is the property, so both sides
    // are read there (one finds nothing), and the rest of the parent,
    // which may differ between copies, does not matter.
    let property = |parent: &str, child: &'_ str| -> bool {
        child
            .strip_prefix(parent)
            .and_then(|tail| tail.strip_prefix("/properties/"))
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
    };
    // Only a named property is read on the side that lacks it: an index
    // (a parameter's) names another thing in the other document.
    let deeper = match (base.0, rev.0) {
        (Some((_, b)), Some((_, r))) if property(b, r) => Some(r),
        (Some((_, b)), Some((_, r))) if property(r, b) => Some(b),
        _ => None,
    };
    let mut below = false;
    for (side, canonical) in [base, rev] {
        let Some((doc, ptr)) = side else {
            hasher.update([1u8]);
            continue;
        };
        let rest = below_operation(canonical)?;
        below |= !rest.is_empty();
        hasher.update([2u8]);
        hasher.update(rest.as_bytes());
        hasher.update([0u8]);
        match doc.at(deeper.unwrap_or(ptr)) {
            Some(node) => shape_hash(node.value, false, &mut hasher),
            None => hasher.update([3u8]),
        }
    }
    if !below {
        return None;
    }
    hasher.update(detail.as_bytes());
    Some(hex(&hasher.finalize()))
}

/// The part of a pointer below its operation (`/paths/{path}/{method}` or
/// `/webhooks/{name}/{method}`), or `None` when it is not in one.
fn below_operation(ptr: &str) -> Option<&str> {
    let mut segments = ptr.splitn(5, '/');
    let (Some(""), Some("paths" | "webhooks"), Some(_), Some(method)) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return None;
    };
    if !crate::model::METHODS.contains(&method) {
        return None;
    }
    Some(segments.next().unwrap_or(""))
}

/// Keywords that describe a schema without changing what it accepts: two
/// copies of one schema that differ only there are the same copy.
const DESCRIPTIVE: &[&str] = &[
    "description",
    "summary",
    "title",
    "example",
    "examples",
    "externalDocs",
    "$comment",
];

/// Feeds a structural hash of `value` into `hasher`: object keys in
/// sorted order, [`DESCRIPTIVE`] keywords left out (except where they are
/// names, under `properties` and the like: `names` is true there).
fn shape_hash(value: &Value, names: bool, hasher: &mut Sha256) {
    match value {
        Value::Null => hasher.update([4u8]),
        Value::Bool(b) => hasher.update([5u8, u8::from(*b)]),
        Value::Number(n) => {
            hasher.update([6u8]);
            hasher.update(n.to_string().as_bytes());
            hasher.update([0u8]);
        }
        Value::String(s) => {
            hasher.update([7u8]);
            hasher.update(s.as_bytes());
            hasher.update([0u8]);
        }
        Value::Array(items) => {
            hasher.update([8u8]);
            hasher.update((items.len() as u64).to_le_bytes());
            for item in items {
                shape_hash(item, false, hasher);
            }
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map
                .keys()
                .filter(|k| names || !DESCRIPTIVE.contains(&k.as_str()))
                .collect();
            keys.sort();
            hasher.update([9u8]);
            hasher.update((keys.len() as u64).to_le_bytes());
            for key in keys {
                hasher.update(key.as_bytes());
                hasher.update([0u8]);
                let below = !names
                    && matches!(
                        key.as_str(),
                        "properties"
                            | "patternProperties"
                            | "$defs"
                            | "definitions"
                            | "dependentSchemas"
                    );
                shape_hash(&map[key.as_str()], below, hasher);
            }
        }
    }
}

/// The first 8 bytes of a digest as 16 hex digits.
fn hex(digest: &[u8]) -> String {
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
