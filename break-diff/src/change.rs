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
//!
//! A second, explicit level folds *the same edit in several places*:
//! component schemas that are copies of each other (Stripe's
//! `payment_method_details_ideal` and `payment_method_ideal`) gain the
//! same enum value, or one body inlines at `company` what another inlines
//! at `account.company`. A finding's *alike key* ([`Finding::alike_key`])
//! is the rule, the leaf name (the last property or parameter name on the
//! way to the change, `bank` in `.../properties/bank/enum`), a structural
//! hash of the changed node on each side and the message without its
//! route; [`entries`] folds changes of the same rule and level with equal
//! alike keys into one entry whose [`Change::places`] lists each place.
//! The node hashed is the nearest object at or above the pointer (the
//! schema holding an `enum`, not the list alone), and for a property added
//! or removed the object that gains or loses it, on both sides: two
//! objects that differ elsewhere gaining the same property are two edits.
//! To keep coincidences apart, a change has no alike key when it has no
//! leaf name, lacks a side, or its node is trivial on both sides: nothing
//! but `type`, `format`, `nullable`, scalar constraints and annotations
//! (see [`substantial`]), such as `{}` or `{type: string}`.
//! Each place keeps its own fingerprints, and waivers match findings as
//! before, so a waiver names one place: an entry is gone from the report
//! only when every place is waived, and a partly waived entry lists its
//! waived places as such ([`Place::waived`]).

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
    /// The alike key of its findings (see the module docs); not part of
    /// any report.
    #[serde(skip)]
    pub alike_key: Option<String>,
    /// For the same edit in several places (see [`entries`]): every place,
    /// waived ones included, in the order they first appear; empty for an
    /// edit in one place. The change's own fields then describe the union:
    /// `operations` of every place not waived, `findings` their sum, and
    /// `message`, `base`, `revision` and `fingerprint` those of the place
    /// it shows (the shortest route).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<Place>,
}

/// One place of an edit made alike in several places: the change there,
/// as [`group`] made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The fingerprint of the change at this place.
    pub fingerprint: String,
    /// Every fingerprint of the change at this place (several when it was
    /// folded from inline copies).
    pub fingerprints: Vec<String>,
    /// The operation with the shortest route to this place.
    pub operation: Option<String>,
    /// The operations that reach this place, sorted.
    pub operations: Vec<String>,
    /// Location in the base document.
    pub base: Option<Location>,
    /// Location in the revision.
    pub revision: Option<Location>,
    /// The message at this place.
    pub message: String,
    /// How many findings this place holds.
    pub findings: usize,
    /// Whether a waiver accepted this place's findings: they count
    /// nowhere, and the place is listed so that the entry is whole.
    pub waived: bool,
}

impl Place {
    fn of(c: &Change, waived: bool) -> Place {
        Place {
            fingerprint: c.fingerprint.clone(),
            fingerprints: c.fingerprints.clone(),
            operation: c.operation.clone(),
            operations: c.operations.clone(),
            base: c.base.clone(),
            revision: c.revision.clone(),
            message: c.message.clone(),
            findings: c.findings,
            waived,
        }
    }
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
                alike_key: f.alike_key.clone(),
                places: Vec::new(),
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

/// The report's entries: [`group`] of `findings`, then the changes of one
/// rule and level with equal alike keys folded into one entry listing its
/// places (see the module docs), in the order each entry first appears.
/// `waived` are the findings waivers accepted: a place of theirs with the
/// alike key of an entry is listed in it as waived, and counts nowhere; an
/// edit waived in every place makes no entry.
pub fn entries(findings: &[Finding], waived: &[Finding]) -> Vec<Change> {
    let changes = group(findings);
    type Key<'a> = (&'static str, Level, &'a str);
    fn key(c: &Change) -> Option<Key<'_>> {
        c.alike_key.as_deref().map(|k| (c.rule, c.level, k))
    }
    let mut members: FastMap<Key<'_>, Vec<usize>> = FastMap::default();
    for (i, c) in changes.iter().enumerate() {
        if let Some(k) = key(c) {
            members.entry(k).or_default().push(i);
        }
    }
    let waived_changes = if waived.is_empty() || members.is_empty() {
        Vec::new()
    } else {
        group(waived)
    };
    let mut waived_at: FastMap<Key<'_>, Vec<&Change>> = FastMap::default();
    for c in &waived_changes {
        let Some(k) = key(c) else { continue };
        let Some(kept) = members.get(&k) else {
            continue;
        };
        // A waiver narrowed to some operations waives part of a change
        // that is otherwise kept: that is the same place, not another.
        let same_place = kept.iter().any(|&j| {
            changes[j]
                .fingerprints
                .iter()
                .any(|fp| c.fingerprints.contains(fp))
        });
        if !same_place {
            waived_at.entry(k).or_default().push(c);
        }
    }
    let mut out = Vec::with_capacity(changes.len());
    let mut taken = vec![false; changes.len()];
    for (i, change) in changes.iter().enumerate() {
        if taken[i] {
            continue;
        }
        let Some(k) = key(change) else {
            out.push(change.clone());
            continue;
        };
        let kept = &members[&k];
        let also_waived = waived_at.get(&k).map(Vec::as_slice).unwrap_or_default();
        if kept.len() == 1 && also_waived.is_empty() {
            out.push(change.clone());
            continue;
        }
        for &j in kept {
            taken[j] = true;
        }
        // The place shown is the one with the shortest route, as within a
        // change; ties go to the first operation in sorted order.
        let shown = kept
            .iter()
            .map(|&j| &changes[j])
            .min_by(|a, b| (a.message.len(), &a.operation).cmp(&(b.message.len(), &b.operation)))
            .unwrap_or(change);
        let mut entry = shown.clone();
        let mut operations: BTreeSet<&str> = BTreeSet::new();
        entry.findings = 0;
        for &j in kept {
            let c = &changes[j];
            operations.extend(c.operations.iter().map(String::as_str));
            entry.findings += c.findings;
            entry.level = entry.level.max(c.level);
            entry.places.push(Place::of(c, false));
        }
        entry
            .places
            .extend(also_waived.iter().map(|c| Place::of(c, true)));
        entry.operations = operations.into_iter().map(str::to_owned).collect();
        entry.operation_count = entry.operations.len();
        out.push(entry);
    }
    out
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
    keys(rule, base, rev, message, at).fingerprint
}

/// What [`keys`] computes for one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// See [`fingerprint`].
    pub fingerprint: String,
    /// See [`Finding::copy_key`].
    pub copy: Option<String>,
    /// See [`Finding::alike_key`].
    pub alike: Option<String>,
}

/// The fingerprint (see [`fingerprint`]), the copy key and the alike key
/// (see the module docs) of one finding; the copy key is `None` unless
/// every pointer the finding has is inside an operation, one of them below
/// it, and the alike key is `None` for a change that could coincide by
/// accident (no leaf name, a side missing, a trivial node).
pub fn keys(
    rule: &str,
    base: Option<(&Document, &str)>,
    rev: Option<(&Document, &str)>,
    message: &str,
    at: &str,
) -> Keys {
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
    let alike = alike_key(rule, (base, &base_ptr), (rev, &rev_ptr), &detail);
    Keys {
        fingerprint,
        copy,
        alike,
    }
}

/// Whether `child` is `parent` plus `/properties/NAME`: the pointers of a
/// property added or removed, reported at the parent on the side that
/// lacks it.
fn is_property_of(parent: &str, child: &str) -> bool {
    child
        .strip_prefix(parent)
        .and_then(|tail| tail.strip_prefix("/properties/"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// See the module docs. `canonical` is each side's [`canonical`] pointer.
fn alike_key(
    rule: &str,
    base: (Option<(&Document, &str)>, &str),
    rev: (Option<(&Document, &str)>, &str),
    detail: &str,
) -> Option<String> {
    let ((Some((base_doc, b)), base_canonical), (Some((rev_doc, r)), rev_canonical)) = (base, rev)
    else {
        return None;
    };
    // A property added or removed: the objects that gain or lose it, on
    // both sides, and the property's name as the leaf.
    let (base_node, rev_node, leaf) = if is_property_of(b, r) {
        let leaf = leaf_name(rev_canonical)?;
        (
            base_doc.at(b)?.value,
            rev_doc.at(&r[..b.len()])?.value,
            leaf,
        )
    } else if is_property_of(r, b) {
        let leaf = leaf_name(base_canonical)?;
        (
            base_doc.at(&b[..r.len()])?.value,
            rev_doc.at(r)?.value,
            leaf,
        )
    } else {
        let leaf = leaf_name(rev_canonical).or_else(|| leaf_name(base_canonical))?;
        (
            nearest_object(base_doc, b)?,
            nearest_object(rev_doc, r)?,
            leaf,
        )
    };
    if !substantial(base_node) && !substantial(rev_node) {
        return None;
    }
    let mut hasher = Sha256::new();
    for part in [rule, leaf] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    shape_hash(base_node, false, &mut hasher);
    hasher.update([0u8]);
    shape_hash(rev_node, false, &mut hasher);
    hasher.update([0u8]);
    hasher.update(detail.as_bytes());
    Some(hex(&hasher.finalize()))
}

/// The object at `ptr`, or at the nearest pointer above it that holds
/// one: the schema whose `enum` or `required` list a finding points at.
fn nearest_object<'d>(doc: &'d Document, ptr: &str) -> Option<&'d Value> {
    let mut ptr = ptr;
    // Two steps at most (`.../enum/0` to the schema), never to the root.
    for _ in 0..3 {
        if ptr.is_empty() {
            return None;
        }
        if let Some(node) = doc.at(ptr)
            && node.value.is_object()
        {
            return Some(node.value);
        }
        ptr = &ptr[..ptr.rfind('/')?];
    }
    None
}

/// The last property or parameter name on the way to a canonical pointer
/// (`bank` in `/components/schemas/x/properties/bank/enum`, `query:limit`
/// for a parameter), escaped as in the pointer; `None` when it has none.
fn leaf_name(canonical: &str) -> Option<&str> {
    let mut leaf = None;
    let mut named = false;
    for segment in canonical.split('/').skip(1) {
        if named {
            leaf = Some(segment);
            named = false;
        } else if matches!(segment, "properties" | "parameters") {
            named = true;
        }
    }
    leaf.filter(|l| !l.is_empty())
}

/// Keywords that only say what kind of value a node is, or bound a
/// scalar: a node made of them alone (and [`DESCRIPTIVE`] ones) is common
/// enough that two edits of it elsewhere may coincide by accident.
const BARE: &[&str] = &[
    "type",
    "format",
    "nullable",
    "deprecated",
    "readOnly",
    "writeOnly",
    "default",
    "maxLength",
    "minLength",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "multipleOf",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
];

/// Whether `value` has content of its own, enough for an edit of it to be
/// told apart from an edit of another node that merely looks alike: an
/// object with a non-empty `enum`, `properties`, `required`, `const`, a
/// parameter's `in` and `name` over a substantial schema, or a nested
/// schema (`items`, `allOf`, ...) that is substantial. `{}`, `{type:
/// string}` and `{type: integer, maximum: 100}` are not.
pub fn substantial(value: &Value) -> bool {
    let Value::Object(map) = value else {
        return false;
    };
    map.iter().any(|(key, v)| {
        let key = key.as_str();
        if DESCRIPTIVE.contains(&key) || BARE.contains(&key) || key.starts_with("x-") {
            return false;
        }
        match key {
            "enum" | "required" => v.as_array().is_some_and(|a| !a.is_empty()),
            "const" => true,
            "properties" | "patternProperties" => v.as_object().is_some_and(|o| !o.is_empty()),
            "allOf" | "oneOf" | "anyOf" | "prefixItems" => {
                v.as_array().is_some_and(|a| a.iter().any(substantial))
            }
            // A parameter or media type: its schema decides; `name` and
            // `in` alone are shared by every parameter of that name.
            "name" | "in" | "style" | "explode" => false,
            "content" => v.as_object().is_some_and(|o| o.values().any(substantial)),
            _ => substantial(v),
        }
    })
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
    let property = is_property_of;
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
