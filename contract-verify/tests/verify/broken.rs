//! Each deliberately broken toy must draw exactly its violation; the
//! correct toy must pass every check.

use std::collections::BTreeSet;

use contract_verify::Exit;

use crate::toy::{self, Bugs};
use crate::{toy_spec, verify};

/// Runs `families` against a toy with `bugs` and checks that the
/// violations are exactly `expected` (check id, operation).
fn check(bugs: Bugs, families: &str, expected: &[(&str, &str)]) {
    let base = toy::start(bugs);
    let spec = toy_spec();
    let run = verify(&[
        "--spec",
        &spec,
        "--base-url",
        &base,
        "--header",
        "Authorization: Bearer a",
        "--checks",
        families,
    ]);
    let expected: BTreeSet<(String, String)> = expected
        .iter()
        .map(|(c, o)| (c.to_string(), o.to_string()))
        .collect();
    assert_eq!(
        run.violations(),
        expected,
        "{bugs:?}: report {:#}\nstderr {}",
        run.report,
        run.stderr
    );
    assert_eq!(run.exit, Exit::Violation, "{bugs:?}: a violation exits 1");
}

#[test]
fn a_replay_that_differs() {
    check(
        Bugs {
            replay_differs: true,
            ..Bugs::default()
        },
        "idempotency",
        &[("idempotency.replay", "createWidget")],
    );
}

#[test]
fn a_429_cached_under_a_key() {
    check(
        Bugs {
            cache_429: true,
            ..Bugs::default()
        },
        "idempotency",
        &[("idempotency.rate-limited", "createWidget")],
    );
}

#[test]
fn a_ratelimit_header_that_lies() {
    // Every limited operation's 429 says `r=3`.
    check(
        Bugs {
            ratelimit_lies: true,
            ..Bugs::default()
        },
        "rate-limit",
        &[
            ("rate-limit.headers", "createWidget"),
            ("rate-limit.headers", "getWidget"),
            ("rate-limit.headers", "listWidgets"),
        ],
    );
}

#[test]
fn a_sunset_before_its_deprecation() {
    check(
        Bugs {
            sunset_early: true,
            ..Bugs::default()
        },
        "lifecycle",
        &[("lifecycle.headers", "getWidget")],
    );
}

#[test]
fn a_list_that_repeats_an_item_across_pages() {
    check(
        Bugs {
            repeat_item: true,
            ..Bugs::default()
        },
        "pagination",
        &[("pagination.walk", "listWidgets")],
    );
}

#[test]
fn a_last_page_that_still_links_next() {
    check(
        Bugs {
            stale_next_link: true,
            ..Bugs::default()
        },
        "pagination",
        &[("pagination.walk", "listWidgets")],
    );
}

#[test]
fn a_4xx_that_is_not_a_problem() {
    check(
        Bugs {
            plain_4xx: true,
            ..Bugs::default()
        },
        "pagination,problem",
        &[("problem.shape", "listWidgets")],
    );
}

#[test]
fn a_304_with_other_validators() {
    check(
        Bugs {
            etag_304_differs: true,
            ..Bugs::default()
        },
        "conditional",
        &[("conditional.not-modified", "getWidget")],
    );
}

#[test]
fn a_request_that_draws_no_response() {
    check(
        Bugs {
            drop_bad_limit: true,
            ..Bugs::default()
        },
        "pagination",
        &[("http.answered", "listWidgets")],
    );
}

#[test]
fn a_correct_toy_passes_everything() {
    let base = toy::start(Bugs::default());
    let retired = toy::start(Bugs {
        retired: true,
        ..Bugs::default()
    });
    let spec = toy_spec();
    let run = verify(&[
        "--spec",
        &spec,
        "--base-url",
        &base,
        "--retired-base-url",
        &retired,
        "--header",
        "Authorization: Bearer a",
        "--second-header",
        "Authorization: Bearer b",
    ]);
    assert_eq!(
        run.violations(),
        BTreeSet::new(),
        "report {:#}\nstderr {}",
        run.report,
        run.stderr
    );
    assert_eq!(run.exit, Exit::Pass);
    for (check, op) in [
        ("idempotency.replay", "createWidget"),
        ("idempotency.reuse", "createWidget"),
        ("idempotency.concurrent", "createWidget"),
        ("idempotency.rate-limited", "createWidget"),
        ("idempotency.scope", "createWidget"),
        ("rate-limit.burst", "createWidget"),
        ("rate-limit.headers", "createWidget"),
        ("rate-limit.recovery", "createWidget"),
        ("rate-limit.burst", "listWidgets"),
        ("rate-limit.burst", "getWidget"),
        ("lifecycle.headers", "getWidget"),
        ("lifecycle.retired", "getWidget"),
        ("pagination.walk", "listWidgets"),
        ("pagination.cursor", "listWidgets"),
        ("pagination.limit", "listWidgets"),
        ("conditional.not-modified", "getWidget"),
        ("conditional.stale", "replaceWidget"),
        ("conditional.required", "replaceWidget"),
        ("problem.shape", "listWidgets"),
        ("problem.shape", "createWidget"),
    ] {
        assert_eq!(
            run.outcome(check, op).map(|o| o.0),
            Some("pass".to_owned()),
            "{check} on {op}: {:#}",
            run.report
        );
    }
}

#[test]
fn a_quota_over_the_request_budget_is_not_run_never_passed() {
    let base = toy::start(Bugs::default());
    let spec = toy_spec();
    let run = verify(&[
        "--spec",
        &spec,
        "--base-url",
        &base,
        "--header",
        "Authorization: Bearer a",
        "--checks",
        "rate-limit",
        "--max-requests",
        "12",
    ]);
    assert_eq!(run.exit, Exit::Pass, "{:#}", run.report);
    let (status, reason) = run
        .outcome("rate-limit.burst", "listWidgets")
        .expect("the check is reported");
    assert_eq!(status, "not_run");
    assert!(reason.contains("--max-requests"), "{reason}");
}
