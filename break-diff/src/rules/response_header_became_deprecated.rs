//! `response_header_became_deprecated`: a response header was marked
//! deprecated. Informational: it announces a later removal.

use super::prelude::*;

/// The rule.
pub const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "response_header_became_deprecated",
        level: Level::Info,
        family: Family::Lifecycle,
        description: "A response header was marked deprecated.",
        why: "Clients keep getting the header, but should stop reading it before its sunset date.",
        fix: "Nothing to fix; give the header an `x-sunset` date and say what replaces it.",
        reference: "https://spec.openapis.org/oas/v3.1.0#header-object",
        mirror: Mirror::Waived(
            "request headers are parameters; their deprecation is request_parameter_became_deprecated",
        ),
        layers: NO_LAYER,
        oasdiff: None,
    },
    check: Check::Header(check),
};

fn check(cx: &mut Cx<'_>, s: &NodeSite<'_>) {
    if let (Some(base), Some(rev)) = (&s.pair.base, &s.pair.rev)
        && !base.flag("deprecated")
        && rev.flag("deprecated")
    {
        let when = rev
            .str("x-sunset")
            .map_or_else(String::new, |d| format!(" with sunset {d}"));
        cx.report(
            Some(&base.ptr),
            Some(&key_ptr(rev, "deprecated")),
            format!("{} was deprecated{when}", s.at),
        );
    }
}
