//! The rule catalogue: each rule's id and what it means. Rules are few and
//! each check is a handful of lines in [`crate::compare`], so they share
//! one file (unlike break-diff, whose rules are one file each); the
//! fixture test fails when a rule here has no fixture pair.

pub const PACKAGE_CHANGED: &str = "package-changed";
pub const MESSAGE_REMOVED: &str = "message-removed";
pub const FIELD_REMOVED_NOT_RESERVED: &str = "field-removed-not-reserved";
pub const FIELD_TYPE_CHANGED: &str = "field-type-changed";
pub const FIELD_LABEL_CHANGED: &str = "field-label-changed";
pub const FIELD_RENAMED: &str = "field-renamed";
pub const RESERVED_REMOVED: &str = "reserved-removed";
pub const RESERVED_REUSED: &str = "reserved-reused";
pub const ENUM_REMOVED: &str = "enum-removed";
pub const ENUM_VALUE_REMOVED: &str = "enum-value-removed";
pub const SERVICE_REMOVED: &str = "service-removed";
pub const RPC_REMOVED: &str = "rpc-removed";
pub const RPC_SIGNATURE_CHANGED: &str = "rpc-signature-changed";

/// (id, what it means and why it breaks).
pub const RULES: &[(&str, &str)] = &[
    (
        PACKAGE_CHANGED,
        "The package changed: every qualified name (and gRPC path) changes.",
    ),
    (
        MESSAGE_REMOVED,
        "A message was removed: code that uses it no longer compiles, peers that send it fail.",
    ),
    (
        FIELD_REMOVED_NOT_RESERVED,
        "A field was removed without reserving its number and name: a later field may reuse them with another meaning.",
    ),
    (
        FIELD_TYPE_CHANGED,
        "A field kept its number but changed type: old peers misread it.",
    ),
    (
        FIELD_LABEL_CHANGED,
        "A field changed between singular, optional, repeated, required or oneof: presence and encoding change.",
    ),
    (
        FIELD_RENAMED,
        "A field was renamed: wire-compatible, but JSON mapping and generated code break.",
    ),
    (
        RESERVED_REMOVED,
        "A reserved number or name is no longer reserved.",
    ),
    (
        RESERVED_REUSED,
        "A field uses a number or name that the previous version reserved.",
    ),
    (ENUM_REMOVED, "An enum was removed."),
    (
        ENUM_VALUE_REMOVED,
        "An enum value was removed: peers still send it.",
    ),
    (
        SERVICE_REMOVED,
        "A service was removed: every call to it fails.",
    ),
    (
        RPC_REMOVED,
        "An rpc was removed: calls to it fail with UNIMPLEMENTED.",
    ),
    (
        RPC_SIGNATURE_CHANGED,
        "An rpc changed its request or response type, or streaming: old peers cannot talk to it.",
    ),
];
