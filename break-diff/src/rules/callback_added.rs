//! `callback_added`: the server documents a new webhook or callback.
//! Receivers do not have to handle it yet; reported as new surface.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "callback_added",
        level: Level::Info,
        family: Family::Operations,
        description: "A webhook or callback operation was added.",
        why: "Receivers get requests they did not get before; those that reject unknown events should be ready for it.",
        fix: "Nothing to fix; announce the new event.",
        reference: "https://spec.openapis.org/oas/v3.1.0#callback-object",
        mirror: Mirror::NotDirectional,
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Callback(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    if let (None, Some(rev)) = (pair.base, pair.rev) {
        cx.report(
            None,
            Some(&rev.node.ptr),
            "the server now documents sending this request".to_owned(),
        );
    }
}
