//! Removal is allowed (info, not error) only for what was deprecated in
//! the base, whose `x-sunset` has come on the injected "today", and whose
//! optional `x-deprecated-since` is at least the minimum deprecation
//! period old. Time is moved by the options, never by the clock.

use break_diff::Options;

use crate::support;

/// A document with `GET /orders` (whose lifecycle fields are `extra`,
/// YAML lines at operation level) and `GET /health`.
fn doc(extra: &str, with_orders: bool) -> String {
    let mut s = String::from("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n");
    if with_orders {
        s.push_str("  /orders:\n    get:\n");
        for line in extra.lines() {
            s.push_str(&format!("      {line}\n"));
        }
        s.push_str("      parameters:\n        - {name: q, in: query, deprecated: true, schema: {type: string}}\n");
        s.push_str("      responses: {'200': {description: ok}}\n");
    }
    s.push_str("  /health:\n    get:\n      responses: {'200': {description: ok}}\n");
    s
}

/// Removes `GET /orders` on `today` with `min_days` and checks the rule
/// ids found and a snippet of the first message.
fn check(extra: &str, today: &str, min_days: u32, expected: &[&str], says: &str) {
    let options = Options {
        today: chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d").expect("date"),
        min_deprecation_days: min_days,
        map: None,
    };
    let findings = support::diff(&doc(extra, true), &doc(extra, false), &options);
    let got: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    assert_eq!(got, expected, "{extra:?} on {today}: {findings:#?}");
    assert!(
        findings[0].message.contains(says),
        "{extra:?}: `{}` lacks `{says}`",
        findings[0].message
    );
}

#[test]
fn operation_removal_follows_the_lifecycle() {
    check(
        "",
        "2026-06-01",
        90,
        &["operation_removed"],
        "not deprecated",
    );
    check(
        "deprecated: true",
        "2026-06-01",
        90,
        &["operation_removed"],
        "no `x-sunset`",
    );
    check(
        "deprecated: true\nx-sunset: 2026-06-02",
        "2026-06-01",
        90,
        &["operation_removed"],
        "after today (2026-06-01)",
    );
    check(
        "deprecated: true\nx-sunset: 2026-06-01",
        "2026-06-01",
        90,
        &["operation_removed_after_sunset"],
        "has passed",
    );
    check(
        "deprecated: true\nx-sunset: soon",
        "2026-06-01",
        90,
        &["operation_removed"],
        "`soon` is not a YYYY-MM-DD date",
    );
    let young = "deprecated: true\nx-deprecated-since: 2026-05-01\nx-sunset: 2026-05-15";
    check(
        young,
        "2026-06-01",
        90,
        &["operation_removed"],
        "only 31 day(s) ago",
    );
    check(
        young,
        "2026-06-01",
        30,
        &["operation_removed_after_sunset"],
        "2026-05-15",
    );
    // Moving "today" back turns the same change into an error.
    check(
        "deprecated: true\nx-sunset: 2026-03-01",
        "2026-02-28",
        0,
        &["operation_removed"],
        "2026-03-01 is after today",
    );
}

#[test]
fn parameter_removal_inherits_the_operation_sunset() {
    let options = support::options();
    let base = doc("x-sunset: 2026-01-01", true);
    let rev = base
        .replace(
            "        - {name: q, in: query, deprecated: true, schema: {type: string}}\n",
            "",
        )
        .replace("      parameters:\n", "");
    assert_ne!(base, rev);
    let findings = support::diff(&base, &rev, &options);
    let got: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        got,
        ["request_parameter_removed_after_sunset"],
        "{findings:#?}"
    );
    let early = Options {
        today: chrono::NaiveDate::from_ymd_opt(2025, 12, 31).expect("date"),
        ..options
    };
    let findings = support::diff(&base, &rev, &early);
    let got: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    assert_eq!(got, ["request_parameter_removed"], "{findings:#?}");
}
