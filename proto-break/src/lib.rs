//! Breaking-change checks for protobuf contracts (`spec/proto/*.proto`),
//! in the spirit of `buf breaking`'s wire and source rules: compares two
//! versions of a file compiled to descriptors (by protox, so no `protoc`)
//! and lists what would break existing clients or servers.
//!
//! The engine ([`compare`]) does no I/O; [`load`] compiles a file.
//! Deliberately absent: JSON-name and option rules, comments, style.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    ServiceDescriptorProto,
};

pub mod rules;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {message}")]
    Compile { path: String, message: String },
}

/// Compiles one `.proto` file (imports resolved beside it) to its
/// descriptor.
pub fn load(path: &Path) -> Result<FileDescriptorProto, LoadError> {
    let err = |message: String| LoadError::Compile {
        path: path.display().to_string(),
        message,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| err("not a file".into()))?
        .to_string_lossy()
        .into_owned();
    let set = protox::compile([name.as_str()], [dir]).map_err(|e| err(format!("{e}")))?;
    set.file
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| err("compiled, but the file's descriptor is missing".into()))
}

/// One breaking change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// The rule's id (see [`rules::RULES`]).
    pub rule: &'static str,
    /// Where: `package.Message.field`, `package.Service.Method`, ...
    pub at: String,
    pub detail: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}: {}", self.rule, self.at, self.detail)
    }
}

fn flatten_messages<'a>(
    prefix: &str,
    messages: &'a [DescriptorProto],
    out: &mut BTreeMap<String, &'a DescriptorProto>,
    enums: &mut BTreeMap<String, &'a EnumDescriptorProto>,
) {
    for m in messages {
        let name = format!("{prefix}.{}", m.name());
        for e in &m.enum_type {
            enums.insert(format!("{name}.{}", e.name()), e);
        }
        flatten_messages(&name, &m.nested_type, out, enums);
        out.insert(name, m);
    }
}

struct Index<'a> {
    messages: BTreeMap<String, &'a DescriptorProto>,
    enums: BTreeMap<String, &'a EnumDescriptorProto>,
    services: BTreeMap<String, &'a ServiceDescriptorProto>,
}

fn index(file: &FileDescriptorProto) -> Index<'_> {
    let prefix = if file.package().is_empty() {
        String::new()
    } else {
        format!(".{}", file.package())
    };
    let mut messages = BTreeMap::new();
    let mut enums = BTreeMap::new();
    for e in &file.enum_type {
        enums.insert(format!("{prefix}.{}", e.name()), e);
    }
    flatten_messages(&prefix, &file.message_type, &mut messages, &mut enums);
    let services = file
        .service
        .iter()
        .map(|s| (format!("{prefix}.{}", s.name()), s))
        .collect();
    Index {
        messages,
        enums,
        services,
    }
}

fn show(name: &str) -> String {
    name.trim_start_matches('.').to_string()
}

fn reserved_number(m: &DescriptorProto, n: i32) -> bool {
    // Message reserved ranges are half-open [start, end).
    m.reserved_range
        .iter()
        .any(|r| r.start() <= n && n < r.end())
}

fn enum_reserved_number(e: &EnumDescriptorProto, n: i32) -> bool {
    // Enum reserved ranges are closed [start, end].
    e.reserved_range
        .iter()
        .any(|r| r.start() <= n && n <= r.end())
}

/// The label as the wire sees it: proto3 `optional` is its own kind.
fn label(f: &FieldDescriptorProto) -> &'static str {
    match f.label() {
        Label::Repeated => "repeated",
        Label::Required => "required",
        Label::Optional if f.proto3_optional() => "optional",
        Label::Optional if f.oneof_index.is_some() => "oneof",
        Label::Optional => "singular",
    }
}

fn type_of(f: &FieldDescriptorProto) -> String {
    match f.r#type() {
        Type::Message | Type::Enum | Type::Group => show(f.type_name()),
        t => t.as_str_name().trim_start_matches("TYPE_").to_lowercase(),
    }
}

/// Every breaking change from `base` to `revision`, sorted.
pub fn compare(base: &FileDescriptorProto, revision: &FileDescriptorProto) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push =
        |rule: &'static str, at: String, detail: String| out.push(Finding { rule, at, detail });
    if base.package() != revision.package() {
        push(
            rules::PACKAGE_CHANGED,
            revision.name().to_string(),
            format!(
                "package {:?} became {:?}: every fully qualified name changes",
                base.package(),
                revision.package()
            ),
        );
        // Every name below moved with it: one root change, not dozens.
        return out;
    }
    let (b, r) = (index(base), index(revision));
    for (name, bm) in &b.messages {
        let Some(rm) = r.messages.get(name) else {
            push(
                rules::MESSAGE_REMOVED,
                show(name),
                "the message was removed".into(),
            );
            continue;
        };
        compare_message(name, bm, rm, &mut push);
    }
    for (name, be) in &b.enums {
        let Some(re) = r.enums.get(name) else {
            push(
                rules::ENUM_REMOVED,
                show(name),
                "the enum was removed".into(),
            );
            continue;
        };
        let kept: BTreeSet<i32> = re.value.iter().map(|v| v.number()).collect();
        for v in &be.value {
            if !kept.contains(&v.number()) {
                let how = if enum_reserved_number(re, v.number()) {
                    "was removed (its number is reserved, but peers still send it)"
                } else {
                    "was removed"
                };
                push(
                    rules::ENUM_VALUE_REMOVED,
                    format!("{}.{}", show(name), v.name()),
                    format!("the value {} {how}", v.number()),
                );
            }
        }
    }
    for (name, bs) in &b.services {
        let Some(rs) = r.services.get(name) else {
            push(
                rules::SERVICE_REMOVED,
                show(name),
                "the service was removed".into(),
            );
            continue;
        };
        for bmethod in &bs.method {
            let at = format!("{}.{}", show(name), bmethod.name());
            let Some(rmethod) = rs.method.iter().find(|m| m.name() == bmethod.name()) else {
                push(rules::RPC_REMOVED, at, "the rpc was removed".into());
                continue;
            };
            let sig = |m: &prost_types::MethodDescriptorProto| {
                format!(
                    "({}{}) returns ({}{})",
                    if m.client_streaming() { "stream " } else { "" },
                    show(m.input_type()),
                    if m.server_streaming() { "stream " } else { "" },
                    show(m.output_type())
                )
            };
            if sig(bmethod) != sig(rmethod) {
                push(
                    rules::RPC_SIGNATURE_CHANGED,
                    at,
                    format!("{} became {}", sig(bmethod), sig(rmethod)),
                );
            }
        }
    }
    out.sort();
    out
}

fn compare_message(
    name: &str,
    bm: &DescriptorProto,
    rm: &DescriptorProto,
    push: &mut impl FnMut(&'static str, String, String),
) {
    let at = |f: &str| format!("{}.{f}", show(name));
    for bf in &bm.field {
        match rm.field.iter().find(|f| f.number() == bf.number()) {
            None => {
                let reserved_num = reserved_number(rm, bf.number());
                let reserved_name = rm.reserved_name.iter().any(|n| n == bf.name());
                if !reserved_num || !reserved_name {
                    let missing = match (reserved_num, reserved_name) {
                        (false, false) => "neither its number nor its name is",
                        (false, true) => "its number is not",
                        _ => "its name is not",
                    };
                    push(
                        rules::FIELD_REMOVED_NOT_RESERVED,
                        at(bf.name()),
                        format!(
                            "field {} was removed but {missing} reserved: a later field could reuse it with another meaning",
                            bf.number()
                        ),
                    );
                }
            }
            Some(rf) => {
                if type_of(bf) != type_of(rf) {
                    push(
                        rules::FIELD_TYPE_CHANGED,
                        at(bf.name()),
                        format!(
                            "field {} changed type from {} to {}",
                            bf.number(),
                            type_of(bf),
                            type_of(rf)
                        ),
                    );
                }
                if label(bf) != label(rf) {
                    push(
                        rules::FIELD_LABEL_CHANGED,
                        at(bf.name()),
                        format!(
                            "field {} changed from {} to {}",
                            bf.number(),
                            label(bf),
                            label(rf)
                        ),
                    );
                }
                if bf.name() != rf.name() {
                    push(
                        rules::FIELD_RENAMED,
                        at(bf.name()),
                        format!(
                            "field {} was renamed to {} (breaks JSON and generated code)",
                            bf.number(),
                            rf.name()
                        ),
                    );
                }
            }
        }
    }
    for range in &bm.reserved_range {
        let kept = rm
            .reserved_range
            .iter()
            .any(|r| r.start() <= range.start() && range.end() <= r.end());
        if !kept {
            push(
                rules::RESERVED_REMOVED,
                show(name),
                format!(
                    "reserved numbers {}..{} are no longer reserved",
                    range.start(),
                    range.end() - 1
                ),
            );
        }
    }
    for n in &bm.reserved_name {
        if !rm.reserved_name.contains(n) {
            push(
                rules::RESERVED_REMOVED,
                show(name),
                format!("reserved name {n:?} is no longer reserved"),
            );
        }
    }
    // A field of the revision using what the base reserved.
    for rf in &rm.field {
        if reserved_number(bm, rf.number()) || bm.reserved_name.iter().any(|n| n == rf.name()) {
            push(
                rules::RESERVED_REUSED,
                at(rf.name()),
                format!(
                    "field {} uses a number or name the previous version reserved",
                    rf.number()
                ),
            );
        }
    }
}
