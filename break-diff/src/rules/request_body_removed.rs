//! `request_body_removed`: the operation no longer documents a request
//! body that clients send.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_body_removed",
        level: Level::Warning,
        family: Family::RequestBodies,
        description: "The request body of an operation was removed.",
        why: "Clients keep sending the body; the server ignores what they meant or rejects a body it does not expect.",
        fix: "Keep accepting the body and deprecate its fields first.",
        reference: "https://spec.openapis.org/oas/v3.1.0#request-body-object",
        mirror: Mirror::Waived(
            "a response body removed is reported per media type by response_media_type_removed",
        ),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::RequestBody(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if let (Some(base), None) = (&s.pair.base, &s.pair.rev) {
        cx.report(
            Some(&base.ptr),
            None,
            "the request body was removed; clients that still send it lose its effect or are rejected"
                .to_owned(),
        );
    }
}
