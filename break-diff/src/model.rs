//! The normalized view of a document that rules compare: operations keyed
//! so that refactors do not look like changes.
//!
//! An operation's key is its method and its path with every template
//! variable blanked (`GET /orders/{}`), so renaming `{id}` to `{order_id}`
//! is not a removal. Parameters are keyed by location and name, except
//! path parameters, which are keyed by their position in the template for
//! the same reason. Path-item parameters are merged into each operation
//! (operation level wins, as OpenAPI says), so moving a parameter between
//! the two levels is not a change either. This module does not judge
//! anything; it only builds the view.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::document::{Document, Node};

/// The HTTP methods that OpenAPI 3.x path items may hold.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of a document.
#[derive(Debug, Clone)]
pub struct Operation<'a> {
    /// Lowercase method, as written in the spec.
    pub method: &'static str,
    /// The path template as written.
    pub path: &'a str,
    /// The operation object.
    pub node: Node<'a>,
    /// Effective parameters: path-item ones overridden by operation ones,
    /// keyed by [`Parameter::key`].
    pub parameters: BTreeMap<String, Parameter<'a>>,
    /// Effective security requirements: the operation's own list when it
    /// has one, else the document's; `None` when neither says anything.
    pub security: Option<Node<'a>>,
}

impl Operation<'_> {
    /// `GET /orders/{order_id}`: how findings name the operation.
    pub fn label(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.path)
    }

    /// Whether the operation is marked `deprecated: true`.
    pub fn deprecated(&self) -> bool {
        self.node.flag("deprecated")
    }

    /// The `x-sunset` date string, if any.
    pub fn sunset(&self) -> Option<&str> {
        self.node.str("x-sunset")
    }

    /// The lifecycle fields of the operation.
    pub fn deprecation(&self) -> crate::rules::Deprecation<'_> {
        crate::rules::Deprecation {
            deprecated: self.deprecated(),
            sunset: self.sunset(),
            since: self.node.str("x-deprecated-since"),
        }
    }
}

/// One parameter of an operation, resolved through `$ref`.
#[derive(Debug, Clone)]
pub struct Parameter<'a> {
    /// Identity used to pair parameters across revisions.
    pub key: String,
    /// Name as written.
    pub name: &'a str,
    /// `path`, `query`, `header` or `cookie`.
    pub location: &'a str,
    /// The resolved parameter object.
    pub node: Node<'a>,
}

impl Parameter<'_> {
    /// `query parameter limit`: how messages name a parameter.
    pub fn describe(&self) -> String {
        format!("{} parameter `{}`", self.location, self.name)
    }

    /// Effective `required`: path parameters are always required.
    pub fn required(&self) -> bool {
        self.location == "path" || self.node.flag("required")
    }

    /// Effective `style`, with the OpenAPI default for the location.
    pub fn style(&self) -> &str {
        self.node.str("style").unwrap_or(match self.location {
            "query" | "cookie" => "form",
            "path" | "header" => "simple",
            _ => "form",
        })
    }

    /// Effective `explode`: true only for the `form` style by default.
    pub fn explode(&self) -> bool {
        match self.node.value.get("explode").and_then(Value::as_bool) {
            Some(b) => b,
            None => self.style() == "form",
        }
    }
}

/// The path template with every `{variable}` blanked to `{}`.
pub fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_var = false;
    for c in path.chars() {
        match c {
            '{' if !in_var => {
                in_var = true;
                out.push_str("{}");
            }
            '}' if in_var => in_var = false,
            _ if in_var => {}
            _ => out.push(c),
        }
    }
    out
}

/// The names of a template's variables, in order.
fn template_variables(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// Every operation of `doc`, keyed by `METHOD normalized-path`.
pub fn operations(doc: &Document) -> BTreeMap<String, Operation<'_>> {
    let mut out = BTreeMap::new();
    let root = doc.root();
    let global_security = root.get("security");
    let Some(paths) = root.get("paths") else {
        return out;
    };
    for (path, item) in paths.entries() {
        add_path_item(doc, path, item, "", global_security.as_ref(), &mut out);
    }
    out
}

/// Whether `path` is `prefix` or below it, segment-wise (`/v1` holds
/// `/v1/orders`, not `/v10/orders`).
fn is_under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The operations under `from`, keyed as if their paths began with `to`
/// instead: the base side of a version mapping (`--map /v1=/v2`).
pub fn map_prefix<'a>(
    ops: BTreeMap<String, Operation<'a>>,
    from: &str,
    to: &str,
) -> BTreeMap<String, Operation<'a>> {
    let to = to.trim_end_matches('/');
    ops.into_iter()
        .filter(|(_, op)| is_under(op.path, from))
        .map(|(_, op)| {
            let rest = &op.path[from.trim_end_matches('/').len()..];
            let key = format!(
                "{} {}",
                op.method.to_ascii_uppercase(),
                normalize_path(&format!("{to}{rest}"))
            );
            (key, op)
        })
        .collect()
}

/// The operations under `prefix`: the revision side of a version mapping.
pub fn under_prefix<'a>(
    ops: BTreeMap<String, Operation<'a>>,
    prefix: &str,
) -> BTreeMap<String, Operation<'a>> {
    ops.into_iter()
        .filter(|(_, op)| is_under(op.path, prefix))
        .collect()
}

/// The operations a server sends rather than serves: 3.1 `webhooks`,
/// keyed `webhook NAME METHOD`, and the `callbacks` of every operation,
/// keyed `callback OPERATION NAME EXPRESSION METHOD`. Their data flows the
/// other way, so the walker judges them with directions reversed.
pub fn reversed_operations(doc: &Document) -> BTreeMap<String, Operation<'_>> {
    reversed_operations_of(doc, &operations(doc))
}

/// [`reversed_operations`] given the document's [`operations`], already
/// built (the callbacks are found through them), so that they are not
/// built twice.
pub fn reversed_operations_of<'a>(
    doc: &'a Document,
    operations: &BTreeMap<String, Operation<'a>>,
) -> BTreeMap<String, Operation<'a>> {
    let mut out = BTreeMap::new();
    let root = doc.root();
    for (name, item) in root
        .get("webhooks")
        .map(|w| w.entries())
        .unwrap_or_default()
    {
        add_path_item(doc, name, item, &format!("webhook {name} "), None, &mut out);
    }
    for (key, op) in operations {
        let Some(callbacks) = op.node.get("callbacks") else {
            continue;
        };
        for (name, callback) in callbacks.entries() {
            let callback = doc.resolve(callback);
            for (expression, item) in callback.entries() {
                let prefix = format!("callback {key} {name} {expression} ");
                add_path_item(doc, expression, item, &prefix, None, &mut out);
            }
        }
    }
    out
}

/// Adds the operations of one path item. `prefix` distinguishes webhook
/// and callback keys from paths.
fn add_path_item<'a>(
    doc: &'a Document,
    path: &'a str,
    item: Node<'a>,
    prefix: &str,
    security: Option<&Node<'a>>,
    out: &mut BTreeMap<String, Operation<'a>>,
) {
    let item = doc.resolve(item);
    let variables = template_variables(path);
    let mut shared = BTreeMap::new();
    collect_parameters(doc, item.get("parameters"), &variables, &mut shared);
    for method in METHODS {
        let Some(op) = item.get(method) else { continue };
        if !op.value.is_object() {
            continue;
        }
        let mut parameters = shared.clone();
        collect_parameters(doc, op.get("parameters"), &variables, &mut parameters);
        let security = op.get("security").or_else(|| security.cloned());
        let key = if prefix.is_empty() {
            format!("{} {}", method.to_ascii_uppercase(), normalize_path(path))
        } else {
            format!("{prefix}{}", method.to_ascii_uppercase())
        };
        // Two templates that differ only in variable names collide on the
        // key; the first one (in sorted order) wins, and the duplicate is
        // an invalid spec anyway.
        out.entry(key).or_insert(Operation {
            method,
            path,
            node: op,
            parameters,
            security,
        });
    }
}

fn collect_parameters<'a>(
    doc: &'a Document,
    list: Option<Node<'a>>,
    variables: &[&str],
    into: &mut BTreeMap<String, Parameter<'a>>,
) {
    let Some(list) = list else { return };
    for raw in list.items() {
        let node = doc.resolve(raw);
        let (Some(name), Some(location)) = (node.str("name"), node.str("in")) else {
            continue;
        };
        let key = if location == "path" {
            match variables.iter().position(|v| *v == name) {
                Some(i) => format!("path #{i}"),
                None => format!("path {name}"),
            }
        } else if location == "header" {
            // Header names are case-insensitive on the wire.
            format!("header {}", name.to_ascii_lowercase())
        } else {
            format!("{location} {name}")
        };
        into.insert(
            key.clone(),
            Parameter {
                key,
                name,
                location,
                node,
            },
        );
    }
}
