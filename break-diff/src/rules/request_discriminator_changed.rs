//! `request_discriminator_changed`: the property that selects the
//! alternative of a request union, or its value mapping, changed.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "request_discriminator_changed",
        level: Level::Error,
        family: Family::Schemas,
        description: "The discriminator of a request schema changed its property name or mapping.",
        why: "Clients tag requests with the old property or value; the server no longer recognizes which alternative they meant.",
        fix: "Keep the discriminator property and every mapped value; add new mappings only.",
        reference: "https://spec.openapis.org/oas/v3.0.3#discriminator-object",
        mirror: Mirror::Rule("response_discriminator_changed"),
        layers: WIRE_AND_SDK,
        oasdiff: None,
    },
    check: Check::Schema(check),
};

/// Describes how the discriminator changed in a way that breaks readers
/// of the base, or `None`. Added mappings are not a change here: in
/// requests they are new options, and in responses the union rules see
/// the new alternative.
pub(crate) fn change(base: &Node<'_>, rev: &Node<'_>) -> Option<String> {
    let b = base.get("discriminator")?;
    let Some(r) = rev.get("discriminator") else {
        return Some("the discriminator was removed".to_owned());
    };
    let (bp, rp) = (b.str("propertyName"), r.str("propertyName"));
    if bp != rp {
        return Some(format!(
            "discriminator property changed from `{}` to `{}`",
            bp.unwrap_or("?"),
            rp.unwrap_or("?")
        ));
    }
    let rm = r.get("mapping");
    for (value, target) in b.get("mapping").map(|m| m.entries()).unwrap_or_default() {
        let now = rm.as_ref().and_then(|m| m.value.get(value));
        if now != Some(target.value) {
            return Some(format!("discriminator mapping for `{value}` changed or was removed"));
        }
    }
    None
}

fn check(cx: &mut Cx<'_>, s: &SchemaSite<'_>) {
    if s.dir != Direction::Request {
        return;
    }
    if let Some(what) = change(&s.base, &s.rev) {
        cx.report(
            Some(&key_ptr(&s.base, "discriminator")),
            Some(&key_ptr(&s.rev, "discriminator")),
            format!("{}: {what}; requests tagged the old way are not understood", s.at),
        );
    }
}
