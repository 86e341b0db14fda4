//! `callback_parameter_became_optional`: a parameter that the server
//! always sent with a webhook or callback request may now be left out.
//! The mirror image of a request parameter becoming required: the server
//! is the sender here.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "callback_parameter_became_optional",
        level: Level::Warning,
        family: Family::Parameters,
        description: "A required parameter of a webhook or callback request became optional.",
        why: "Receivers may rely on the parameter being present; requests without it can now arrive and fail their handling.",
        fix: "Keep the parameter required in what the server sends; add a new optional parameter instead.",
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
    for (key, old) in &base.parameters {
        if let Some(new) = rev.parameters.get(key)
            && old.required()
            && !new.required()
        {
            cx.report(
                Some(&key_ptr(&old.node, "required")),
                Some(&new.node.ptr),
                format!(
                    "{} sent by the server is no longer always sent; receivers relying on it may fail",
                    new.describe()
                ),
            );
        }
    }
}
