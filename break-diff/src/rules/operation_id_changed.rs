//! `operation_id_changed`: the `operationId` of an operation changed or
//! disappeared. The HTTP call still works; generated code does not.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "operation_id_changed",
        level: Level::Warning,
        family: Family::Operations,
        description: "The operationId of an operation was changed or removed.",
        why: "SDK generators name methods after operationId; regenerating a client renames the method and breaks code that calls it, though the wire format is unchanged.",
        fix: "Keep the operationId; if the name must change, add the new operation alongside and deprecate the old one.",
        reference: "https://spec.openapis.org/oas/v3.1.0#fixed-fields-7",
        mirror: Mirror::NotDirectional,
        layers: SDK,
        oasdiff: Some(
            "oasdiff reports an operationId change (api-operation-id-removed) at info; break-diff warns, because generated SDKs name their methods after operationId and every caller of the old name stops compiling.",
        ),
    },
    check: Check::Operation(check),
};

fn check(cx: &mut Cx<'_>, pair: &OperationPair<'_>) {
    let (Some(base), Some(rev)) = (pair.base, pair.rev) else {
        return;
    };
    let Some(old) = base.node.str("operationId") else {
        return;
    };
    match rev.node.get("operationId") {
        Some(id) if id.value.as_str() == Some(old) => {}
        Some(id) => cx.report(
            base.node.get("operationId").map(|n| n.ptr).as_deref(),
            Some(&id.ptr),
            format!(
                "operationId changed from `{old}` to `{}`; generated SDK methods are renamed",
                id.value.as_str().unwrap_or("?")
            ),
        ),
        None => cx.report(
            base.node.get("operationId").map(|n| n.ptr).as_deref(),
            Some(&rev.node.ptr),
            format!("operationId `{old}` was removed; generated SDK methods are renamed"),
        ),
    }
}
