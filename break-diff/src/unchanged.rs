//! Which parts of the two documents are the same, references included, so
//! that the walker can skip them.
//!
//! A schema is *unchanged* when the value at its pointer is equal in both
//! documents and every local `$ref` reachable from it leads to a value that
//! is equal too. Comparing such a schema with itself reports nothing (the
//! fixture audit checks that every rule is silent on a document compared
//! with itself), so the walker does not descend into it. That turns the
//! cost of a comparison from "every schema reachable from every operation"
//! into "the changed part of it", which is what makes large specs fast.
//!
//! This module only answers "same or not"; it does not judge changes, and
//! it is conservative: anything it cannot follow counts as changed.

use serde_json::Value;

use crate::document::{Document, local_ref_target};
use crate::hash::{FastMap, FastSet};

/// Memoized answers for one pair of documents.
pub struct Unchanged<'a> {
    base: &'a Document,
    rev: &'a Document,
    /// Per pointer: `None` when the two values differ (or one is absent),
    /// else the pointers that the value's local references lead to.
    local: FastMap<String, Option<Vec<String>>>,
    /// Per pointer: the final answer, references followed.
    deep: FastMap<String, bool>,
}

impl<'a> Unchanged<'a> {
    /// An empty memo for `base` and `rev`.
    pub fn new(base: &'a Document, rev: &'a Document) -> Self {
        Unchanged {
            base,
            rev,
            local: FastMap::default(),
            deep: FastMap::default(),
        }
    }

    /// Whether the value at `ptr` is the same in both documents, including
    /// everything its local references reach. Documents of different
    /// OpenAPI versions never count as the same: the same keywords can
    /// mean different things there (`nullable`).
    pub fn at(&mut self, ptr: &str) -> bool {
        if self.base.version() != self.rev.version() {
            return false;
        }
        if let Some(&known) = self.deep.get(ptr) {
            return known;
        }
        // Depth-first over the reference graph. The answer is true only
        // when every value reached is locally equal; then every pointer
        // visited is unchanged as well (what it reaches was all visited).
        // A false answer says nothing about the others, so only `ptr` is
        // remembered then.
        let mut visited: FastSet<String> = FastSet::default();
        visited.insert(ptr.to_owned());
        let mut todo: Vec<String> = vec![ptr.to_owned()];
        let mut same = true;
        while let Some(p) = todo.pop() {
            if self.deep.get(&p) == Some(&false) {
                same = false;
                break;
            }
            let Some(targets) = self.local(&p) else {
                same = false;
                break;
            };
            for t in targets {
                if self.deep.get(&t) == Some(&true) || !visited.insert(t.clone()) {
                    continue;
                }
                todo.push(t);
            }
        }
        if same {
            for p in visited {
                self.deep.insert(p, true);
            }
        } else {
            self.deep.insert(ptr.to_owned(), false);
        }
        same
    }

    /// The reference targets inside the value at `ptr` when that value is
    /// equal on both sides; `None` when it differs or is missing.
    fn local(&mut self, ptr: &str) -> Option<Vec<String>> {
        if let Some(known) = self.local.get(ptr) {
            return known.clone();
        }
        let answer = match (self.base.at(ptr), self.rev.at(ptr)) {
            (Some(b), Some(r)) if b.value == r.value => {
                let mut targets = Vec::new();
                references(b.value, &mut targets);
                targets.sort();
                targets.dedup();
                Some(targets)
            }
            _ => None,
        };
        self.local.insert(ptr.to_owned(), answer.clone());
        answer
    }
}

/// Collects the pointers of the local references in `value`: `$ref`
/// values, and discriminator `mapping` values that are local references.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(s)) => out.extend(local_ref_target(s)),
                    ("mapping", Value::Object(m)) => {
                        for target in m.values().filter_map(Value::as_str) {
                            out.extend(local_ref_target(target));
                        }
                        references(v, out);
                    }
                    _ => references(v, out),
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                references(v, out);
            }
        }
        _ => {}
    }
}
