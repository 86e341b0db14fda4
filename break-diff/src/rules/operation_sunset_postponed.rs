//! `operation_sunset_postponed`: a deprecated operation's sunset date
//! moved later, or the operation is no longer deprecated. Good news for
//! clients; reported so the changelog can say so.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_sunset_postponed",
        level: Level::Info,
        family: Family::Lifecycle,
        description: "A deprecated operation's sunset was postponed or its deprecation withdrawn.",
        why: "Clients get more time; nothing breaks, but the announced date changed and they may want to know.",
        fix: "Nothing to fix; announce the new date.",
        reference: "https://www.rfc-editor.org/rfc/rfc8594",
        mirror: Mirror::NotDirectional,
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    if !base.deprecated() {
        return;
    }
    if !rev.deprecated() {
        cx.report(
            Some(&key_ptr(&base.node, "deprecated")),
            Some(&rev.node.ptr),
            format!("operation `{}` is no longer deprecated", rev.label()),
        );
        return;
    }
    let parse = |s: Option<&str>| {
        s.and_then(|s| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
    };
    if let (Some(old), Some(new)) = (parse(base.sunset()), parse(rev.sunset()))
        && new > old
    {
        cx.report(
            Some(&key_ptr(&base.node, "x-sunset")),
            Some(&key_ptr(&rev.node, "x-sunset")),
            format!("operation `{}`: sunset postponed from {old} to {new}", rev.label()),
        );
    }
}
