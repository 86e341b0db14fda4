//! `callback_parameter_removed`: a parameter that the server sent with a
//! webhook or callback request is no longer documented. Directions are
//! reversed there: the server sends, the receiver reads, so a removed
//! parameter is data the receiver no longer gets (as a response property
//! removed is for a client).

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "callback_parameter_removed",
        level: Level::Error,
        family: Family::Parameters,
        description: "A parameter the server sent with a webhook or callback request was removed.",
        why: "Receivers that read it (a signature header, an event id in the query) no longer find it; verification or routing on their side fails.",
        fix: "Keep sending the parameter, deprecated, until receivers have stopped reading it.",
        reference: "https://spec.openapis.org/oas/v3.1.0#callback-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Callback(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    for (key, param) in &base.parameters {
        if rev.parameters.contains_key(key) {
            continue;
        }
        cx.report(
            Some(&param.node.ptr),
            Some(&rev.node.ptr),
            format!(
                "{} sent by the server was removed; receivers reading it no longer get it",
                param.describe()
            ),
        );
    }
}
