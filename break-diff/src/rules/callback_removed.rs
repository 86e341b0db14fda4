//! `callback_removed`: a webhook or callback that the server sent is no
//! longer documented, so receivers may stop getting the events they act
//! on.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "callback_removed",
        level: Level::Warning,
        family: Family::Operations,
        description: "A webhook or callback operation was removed.",
        why: "Receivers built on the event stop getting it; nothing fails loudly, their data just goes stale.",
        fix: "Deprecate the webhook first and keep sending it until its sunset date.",
        reference: "https://spec.openapis.org/oas/v3.1.0#callback-object",
        mirror: Mirror::NotDirectional,
        layers: WIRE,
        oasdiff: None,
    },
    check: Check::Callback(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    if let (Some(base), None) = (pair.base, pair.rev) {
        cx.report(
            Some(&base.node.ptr),
            None,
            "the server no longer documents sending this request; receivers relying on it stop getting it".to_owned(),
        );
    }
}
