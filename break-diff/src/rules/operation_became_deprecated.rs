//! `operation_became_deprecated`: an operation was marked deprecated.
//! Not breaking; it starts the lifecycle that ends in removal.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_became_deprecated",
        level: Level::Info,
        family: Family::Lifecycle,
        description: "An operation was marked deprecated.",
        why: "Clients keep working, but must move off the operation before its sunset date.",
        fix: "Nothing to fix; announce the deprecation and the sunset date.",
        reference: "https://spec.openapis.org/oas/v3.1.0#fixed-fields-7",
        mirror: Mirror::NotDirectional,
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    if let (Some(base), Some(rev)) = (pair.base, pair.rev)
        && !base.deprecated()
        && rev.deprecated()
    {
        let when = rev
            .sunset()
            .map_or_else(String::new, |s| format!(" with sunset {s}"));
        cx.report(
            Some(&base.node.ptr),
            Some(&key_ptr(&rev.node, "deprecated")),
            format!("operation `{}` was deprecated{when}", rev.label()),
        );
    }
}
