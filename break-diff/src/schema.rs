//! Helpers that read JSON Schema keywords the same way for every rule:
//! the declared type set, nullability across 3.0 and 3.1, format widening,
//! numeric bounds, and pairing of `oneOf`/`anyOf`/`allOf` members.
//!
//! They interpret one schema at a time and never report anything; the
//! rules decide what a difference means in a given direction.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::document::{Document, Node, ref_of};

/// The declared types of a schema without `"null"`, or `None` when the
/// schema declares no `type` (accepts any type).
pub fn types(schema: &Value) -> Option<BTreeSet<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(std::iter::once(t.clone()).filter(|t| t != "null").collect()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

/// Whether `null` is an accepted value: `nullable: true` (3.0), `"null"` in
/// the type list (3.1), or `null` in the enum. Both spellings are accepted
/// for either version, because specs in the wild mix them.
pub fn nullable(schema: &Value) -> bool {
    if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        return true;
    }
    match schema.get("type") {
        Some(Value::String(t)) if t == "null" => return true,
        Some(Value::Array(items)) if items.iter().any(|t| t.as_str() == Some("null")) => {
            return true;
        }
        _ => {}
    }
    matches!(schema.get("enum"), Some(Value::Array(values)) if values.contains(&Value::Null))
}

/// Keywords that may sit beside a `oneOf`/`anyOf` without making it more
/// than a wrapper: they annotate, they do not constrain.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "nullable",
    "deprecated",
    "readOnly",
    "writeOnly",
    "example",
    "examples",
    "default",
    "externalDocs",
    "$comment",
];

/// Whether a schema accepts only `null` (`type: "null"`, `type: [null]`,
/// `enum: [null]`, `const: null`).
fn null_only(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => return t == "null",
        Some(Value::Array(items)) => return items.iter().all(|t| t.as_str() == Some("null")),
        _ => {}
    }
    schema.get("const") == Some(&Value::Null)
        || matches!(schema.get("enum"), Some(Value::Array(v)) if v.len() == 1 && v[0].is_null())
}

/// When `node` only wraps one schema (`oneOf: [X]`, `anyOf: [X]`, or the
/// nullable spelling `oneOf: [{type: "null"}, X]`), that schema resolved,
/// and whether the wrapper adds `null`. Wrapping a body or a property this
/// way changes nothing about its shape, so the walker compares `X` with
/// the other side instead of reading the wrapper as an empty schema.
pub fn unwrap_single<'a>(doc: &'a Document, node: &Node<'a>) -> Option<(Node<'a>, bool)> {
    let map = node.value.as_object()?;
    let keyword = match (map.get("oneOf"), map.get("anyOf")) {
        (Some(Value::Array(_)), None) => "oneOf",
        (None, Some(Value::Array(_))) => "anyOf",
        _ => return None,
    };
    if map
        .keys()
        .any(|k| k != keyword && !k.starts_with("x-") && !ANNOTATIONS.contains(&k.as_str()))
    {
        return None;
    }
    let members: Vec<Node<'a>> = node.get(keyword)?.items();
    let mut inner = None;
    let mut nulls = false;
    for m in members {
        let m = doc.resolve(m);
        if null_only(m.value) {
            nulls = true;
        } else if inner.replace(m).is_some() {
            return None;
        }
    }
    inner.map(|m| (m, nulls))
}

/// The one value a schema allows: its `const`, or the only member of its
/// `enum` (the OpenAPI 3.0 spelling of a constant, which a 3.1 migration
/// turns into `const`).
pub fn constant(schema: &Value) -> Option<&Value> {
    schema.get("const").or_else(|| match schema.get("enum") {
        Some(Value::Array(values)) if values.len() == 1 => values.first(),
        _ => None,
    })
}

/// Whether a value of type `t` is accepted by the type set `accepting`.
/// `integer` values are `number` values, so `number` accepts `integer`.
pub fn type_accepted(t: &str, accepting: &BTreeSet<String>) -> bool {
    accepting.contains(t) || (t == "integer" && accepting.contains("number"))
}

/// Whether every value valid for format `narrow` is valid for `wide`.
/// `None` means no format, which accepts everything.
pub fn format_within(narrow: Option<&str>, wide: Option<&str>) -> bool {
    match (narrow, wide) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => a == b || matches!((a, b), ("int32", "int64") | ("float", "double")),
    }
}

/// A lower or upper bound: its value and whether it is exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// The limit.
    pub value: f64,
    /// True when the limit itself is not allowed.
    pub exclusive: bool,
}

impl Bound {
    /// Human form: `>= 1`, `< 10`.
    pub fn describe(&self, lower: bool) -> String {
        let op = match (lower, self.exclusive) {
            (true, false) => ">=",
            (true, true) => ">",
            (false, false) => "<=",
            (false, true) => "<",
        };
        format!("{op} {}", trim_float(self.value))
    }
}

/// Prints `5` rather than `5.0` for whole numbers.
pub fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The lower bound from `minimum`/`exclusiveMinimum`, reading both the 3.0
/// (boolean modifier) and 3.1 (numeric) forms.
pub fn lower_bound(schema: &Value) -> Option<Bound> {
    bound(schema, "minimum", "exclusiveMinimum", true)
}

/// The upper bound from `maximum`/`exclusiveMaximum`.
pub fn upper_bound(schema: &Value) -> Option<Bound> {
    bound(schema, "maximum", "exclusiveMaximum", false)
}

fn bound(schema: &Value, inclusive_key: &str, exclusive_key: &str, lower: bool) -> Option<Bound> {
    let inclusive = schema.get(inclusive_key).and_then(Value::as_f64);
    let exclusive = schema.get(exclusive_key);
    let mut best: Option<Bound> = None;
    if let Some(v) = inclusive {
        let flagged = exclusive.and_then(Value::as_bool) == Some(true);
        best = Some(Bound {
            value: v,
            exclusive: flagged,
        });
    }
    if let Some(v) = exclusive.and_then(Value::as_f64) {
        let candidate = Bound {
            value: v,
            exclusive: true,
        };
        best = Some(match best {
            Some(b) if tighter(b, candidate, lower) => b,
            _ => candidate,
        });
    }
    best
}

/// Whether bound `a` admits no more values than bound `b`.
pub fn tighter(a: Bound, b: Bound, lower: bool) -> bool {
    if a.value == b.value {
        return a.exclusive || !b.exclusive;
    }
    if lower {
        a.value > b.value
    } else {
        a.value < b.value
    }
}

/// Whether lower bound `narrow` admits no value below what `wide` admits,
/// where `None` is unbounded.
pub fn lower_within(narrow: Option<Bound>, wide: Option<Bound>) -> bool {
    match (narrow, wide) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => tighter(a, b, true),
    }
}

/// Whether upper bound `narrow` admits no value above what `wide` admits.
pub fn upper_within(narrow: Option<Bound>, wide: Option<Bound>) -> bool {
    match (narrow, wide) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => tighter(a, b, false),
    }
}

/// The `required` list of an object schema.
pub fn required(schema: &Value) -> BTreeSet<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether `additionalProperties` forbids unknown properties.
pub fn closed(schema: &Value) -> bool {
    schema.get("additionalProperties") == Some(&Value::Bool(false))
}

/// The members of `allOf`/`oneOf`/`anyOf` paired across revisions.
#[derive(Debug, Default)]
pub struct Members<'a> {
    /// Members present on both sides, each resolved.
    pub paired: Vec<(Node<'a>, Node<'a>)>,
    /// Base members with no counterpart, resolved.
    pub removed: Vec<Node<'a>>,
    /// Revision members with no counterpart, resolved.
    pub added: Vec<Node<'a>>,
}

/// Pairs the members of `keyword` in four passes: the same `$ref` string
/// (an edited target is still the same member), then the same resolved
/// content (a renamed component, or a member moved inline), then the same
/// content once annotations are left out (an inline member moved into a
/// component that gained a `title` or descriptions on the way), then inline
/// members by position when as many are left on each side (an inline
/// member that was edited is then compared, not reported as replaced).
pub fn members<'a>(
    base_doc: &'a Document,
    rev_doc: &'a Document,
    base: &Node<'a>,
    rev: &Node<'a>,
    keyword: &str,
) -> Members<'a> {
    let b: Vec<Node<'a>> = base.get(keyword).map(|n| n.items()).unwrap_or_default();
    let r: Vec<Node<'a>> = rev.get(keyword).map(|n| n.items()).unwrap_or_default();
    let mut left_b: Vec<Option<Node<'a>>> = b.into_iter().map(Some).collect();
    let mut left_r: Vec<Option<Node<'a>>> = r.into_iter().map(Some).collect();
    let mut out = Members::default();

    let by_ref = |n: &Node<'_>| ref_of(n.value).map(str::to_owned);
    let by_content = |doc: &Document, n: &Node<'_>, pass: usize| {
        let value = doc.resolve(n.clone()).value;
        Some(if pass == 1 {
            value.to_string()
        } else {
            shape(value).to_string()
        })
    };
    for pass in 0..3 {
        for slot in left_b.iter_mut() {
            let Some(bn) = slot.clone() else {
                continue;
            };
            let key = if pass == 0 {
                by_ref(&bn)
            } else {
                by_content(base_doc, &bn, pass)
            };
            let Some(key) = key else { continue };
            let hit = left_r.iter().position(|rn| {
                rn.as_ref().is_some_and(|rn| {
                    let k = if pass == 0 {
                        by_ref(rn)
                    } else {
                        by_content(rev_doc, rn, pass)
                    };
                    k.as_deref() == Some(key.as_str())
                })
            });
            if let Some(ri) = hit
                && let Some(rn) = left_r[ri].take()
            {
                *slot = None;
                out.paired.push((base_doc.resolve(bn), rev_doc.resolve(rn)));
            }
        }
    }
    let inline = |n: &Option<Node<'_>>| n.as_ref().is_some_and(|n| ref_of(n.value).is_none());
    let ib: Vec<usize> = (0..left_b.len()).filter(|i| inline(&left_b[*i])).collect();
    let ir: Vec<usize> = (0..left_r.len()).filter(|i| inline(&left_r[*i])).collect();
    if ib.len() == ir.len() {
        for (bi, ri) in ib.into_iter().zip(ir) {
            if let (Some(bn), Some(rn)) = (left_b[bi].take(), left_r[ri].take()) {
                out.paired.push((base_doc.resolve(bn), rev_doc.resolve(rn)));
            }
        }
    }
    out.removed = left_b
        .into_iter()
        .flatten()
        .map(|n| base_doc.resolve(n))
        .collect();
    out.added = left_r
        .into_iter()
        .flatten()
        .map(|n| rev_doc.resolve(n))
        .collect();
    out
}

/// `value` without annotations (see `ANNOTATIONS`) and `x-` extensions, at
/// every level; property names are kept whatever they are.
fn shape(value: &Value) -> Value {
    shape_in(value, false)
}

fn shape_in(value: &Value, names: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    names || !(k.starts_with("x-") || ANNOTATIONS.contains(&k.as_str()))
                })
                .map(|(k, v)| {
                    let below = !names
                        && matches!(
                            k.as_str(),
                            "properties" | "patternProperties" | "$defs" | "dependentSchemas"
                        );
                    (k.clone(), shape_in(v, below))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| shape_in(v, false)).collect()),
        other => other.clone(),
    }
}

/// A short name for a member in messages: its `$ref` target or `#index`.
pub fn member_name(node: &Node<'_>) -> String {
    match node.ptr.rsplit_once('/') {
        Some((parent, last)) if parent.ends_with("/components/schemas") => last.to_owned(),
        _ => node.ptr.clone(),
    }
}

/// The properties and `required` names of an object schema, including
/// those it gets through `allOf` (followed through `$ref`s, with a depth
/// bound for recursive compositions). Comparing this flattened view is
/// what keeps "inline object" versus "`allOf` of components" from looking
/// like removed properties.
#[derive(Debug, Default)]
pub struct ObjectView<'a> {
    /// Property name and resolved schema; the schema's own entries first.
    pub properties: Vec<(&'a str, Node<'a>)>,
    /// Names required by the schema or any `allOf` member.
    pub required: BTreeSet<&'a str>,
}

/// Builds the [`ObjectView`] of a resolved schema.
pub fn object_view<'a>(doc: &'a Document, node: &Node<'a>) -> ObjectView<'a> {
    let mut view = ObjectView::default();
    collect_object(doc, node, &mut view, 0);
    view
}

fn collect_object<'a>(doc: &'a Document, node: &Node<'a>, view: &mut ObjectView<'a>, depth: usize) {
    if depth > 16 {
        return;
    }
    for (name, prop) in node
        .get("properties")
        .map(|p| p.entries())
        .unwrap_or_default()
    {
        if !view.properties.iter().any(|(n, _)| *n == name) {
            view.properties.push((name, doc.resolve(prop)));
        }
    }
    if let Some(Value::Array(names)) = node.value.get("required") {
        view.required.extend(names.iter().filter_map(Value::as_str));
    }
    for member in node.get("allOf").map(|a| a.items()).unwrap_or_default() {
        let member = doc.resolve(member);
        collect_object(doc, &member, view, depth + 1);
    }
}

/// A subschema constraint one side has and the other lacks (or has in
/// another form), found by [`subschema_constraints_gained`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gained {
    /// Pointer of the constraint in the side that has it.
    pub ptr: String,
    /// What it is, for messages: ``a `patternProperties` schema for keys
    /// matching `^x-` ``.
    pub what: String,
    /// Whether the other side has it too, in another form (an `if`
    /// condition that differs), rather than not at all.
    pub changed: bool,
}

/// The subschema constraints `to` has and `from` lacks: a
/// `patternProperties` pattern, a `dependentSchemas` entry, `prefixItems`
/// positions past those of `from`, `if`/`then`/`else`, `unevaluatedItems`
/// (other than `true` or `{}`) or `contentSchema` where `from` has none,
/// and an `if` condition that differs. Both schemas are resolved; the
/// documents resolve references below them.
pub fn subschema_constraints_gained(
    from_doc: &Document,
    to_doc: &Document,
    from: &Node<'_>,
    to: &Node<'_>,
) -> Vec<Gained> {
    let mut out = Vec::new();
    let mut gained = |ptr: String, what: String, changed: bool| {
        out.push(Gained { ptr, what, changed });
    };
    for keyword in ["patternProperties", "dependentSchemas"] {
        let had = from.get(keyword);
        for (key, node) in to.get(keyword).map(|n| n.entries()).unwrap_or_default() {
            if had.as_ref().and_then(|h| h.get(key)).is_none() {
                let what = match keyword {
                    "patternProperties" => {
                        format!("a `patternProperties` schema for keys matching `{key}`")
                    }
                    _ => format!("a `dependentSchemas` schema applying when `{key}` is present"),
                };
                gained(node.ptr, what, false);
            }
        }
    }
    let positions = |n: &Node<'_>| n.get("prefixItems").map(|p| p.items().len()).unwrap_or(0);
    let (old, new) = (positions(from), positions(to));
    if new > old
        && let Some(p) = to.get("prefixItems")
    {
        gained(
            p.ptr,
            format!("`prefixItems` for position(s) {} to {}", old, new - 1),
            false,
        );
    }
    for keyword in ["if", "then", "else", "unevaluatedItems", "contentSchema"] {
        let Some(node) = to.get(keyword) else {
            continue;
        };
        // `unevaluatedItems: true` or `{}` accepts everything.
        let accepts_all = node.value == &Value::Bool(true)
            || node.value.as_object().is_some_and(|m| m.is_empty());
        if keyword == "unevaluatedItems" && accepts_all {
            continue;
        }
        match from.get(keyword) {
            None => gained(node.ptr, format!("`{keyword}`"), false),
            Some(old)
                if keyword == "if"
                    && shape(from_doc.resolve(old.clone()).value)
                        != shape(to_doc.resolve(node.clone()).value) =>
            {
                gained(node.ptr, "the `if` condition".to_owned(), true);
            }
            Some(_) => {}
        }
    }
    out
}

/// How an object schema treats properties it does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Additional {
    /// Forbidden (`additionalProperties: false`).
    Closed,
    /// Allowed if they match a schema.
    Schema,
    /// Allowed whatever they hold (absent, `true` or `{}`).
    Open,
}

/// Reads `additionalProperties`. The order of [`Additional`] is from
/// strictest to loosest, so `a < b` means `a` accepts less.
pub fn additional(schema: &Value) -> Additional {
    additional_for(schema, "additionalProperties")
}

/// Reads `additionalProperties` or `unevaluatedProperties` (`key`), which
/// have the same shape.
pub fn additional_for(schema: &Value, key: &str) -> Additional {
    match schema.get(key) {
        Some(Value::Bool(false)) => Additional::Closed,
        Some(Value::Object(m)) if !m.is_empty() => Additional::Schema,
        _ => Additional::Open,
    }
}
