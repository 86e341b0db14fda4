//! Waiver files and path filters: what they accept, what they reject (with
//! file and line), and how they change the exit code and the report.

use break_diff::cli::{ExitCode, run_with_stdin};
use break_diff::filter::glob;
use break_diff::waivers;

use crate::support;

/// Parses `text` as a waiver file and checks the error names the line
/// and contains `says`.
fn check_error(text: &str, line: u32, says: &str) {
    let err = waivers::parse("waivers.yaml", text).expect_err("must be rejected");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("waivers.yaml:{line}:")),
        "`{msg}` is not at line {line}"
    );
    assert!(msg.contains(says), "`{msg}` lacks `{says}`");
}

#[test]
fn malformed_waiver_files_are_rejected_at_the_right_line() {
    check_error("rules: []\n", 1, "top-level `waivers:`");
    check_error("waivers: {}\n", 1, "must be a list");
    check_error(
        "waivers:\n  - reason: because\n",
        2,
        "`rule` or `fingerprint` is required",
    );
    check_error(
        "waivers:\n  - rule: no_such_rule\n    reason: x\n",
        2,
        "unknown rule id `no_such_rule`",
    );
    check_error(
        "waivers:\n  - rule: operation_removed\n",
        2,
        "`reason` is required",
    );
    check_error(
        "waivers:\n  - rule: operation_removed\n    reason: ok\n    until: soon\n",
        4,
        "not a YYYY-MM-DD date",
    );
    check_error(
        "waivers:\n  - rule: [operation_removed]\n    reason: ok\n",
        2,
        "`rule` must be a string",
    );
}

#[test]
fn globs_match_within_and_across_segments() {
    for (pattern, path, want) in [
        ("/v1/orders", "/v1/orders", true),
        ("/v1/orders/*", "/v1/orders/{order_id}", true),
        ("/v1/orders/*", "/v1/orders/{order_id}/items", false),
        ("/v1/orders/**", "/v1/orders/{order_id}/items", true),
        ("/v1/**", "/v1/orders", true),
        ("/v2/**", "/v1/orders", false),
        ("*", "/v1", false),
        ("/*/orders", "/v1/orders", true),
        ("/v1/*s", "/v1/orders", true),
        ("", "", true),
    ] {
        assert_eq!(glob(pattern, path), want, "glob({pattern:?}, {path:?})");
    }
}

fn fixture(rule: &str, side: &str) -> String {
    support::fixtures_dir()
        .join(rule)
        .join(format!("{side}.yaml"))
        .to_string_lossy()
        .into_owned()
}

/// Writes `text` to a file unique to this test run and returns its path.
fn temp_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("break-diff-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    path.to_string_lossy().into_owned()
}

/// Runs the CLI and returns (exit code, stdout, stderr).
fn cli(args: &[&str]) -> (ExitCode, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("break-diff").chain(args.iter().copied());
    let code = run_with_stdin(argv, &mut std::io::empty(), &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

#[test]
fn waivers_accept_named_findings_until_they_expire() {
    let base = fixture("operation_removed", "base");
    let rev = fixture("operation_removed", "revision");
    let date = ["--date", "2026-06-01"];
    // The operation is named with another variable name: still matched.
    let file = temp_file(
        "waivers.yaml",
        "waivers:\n  - rule: operation_removed\n    operation: delete /orders/{order_id}\n    reason: agreed with the only client\n    until: 2026-06-30\n  - rule: response_type_widened\n    reason: stale entry\n",
    );
    let (code, out, err) = cli(&["--waivers", &file, date[0], date[1], &base, &rev]);
    assert_eq!(code, ExitCode::Clean, "{out}{err}");
    assert!(
        out.contains("0 findings: 0 error, 0 warning, 0 info (1 more waived)"),
        "{out}"
    );
    assert!(
        err.contains("line 6 for `response_type_widened` matched nothing"),
        "{err}"
    );
    let (code, out, _) = cli(&[
        "--format",
        "json",
        "--waivers",
        &file,
        date[0],
        date[1],
        &base,
        &rev,
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["waived"][0]["rule"], "operation_removed", "{out}");
    assert_eq!(code, ExitCode::Clean);
    // After `until`, the finding is back and the note says why.
    let (code, out, err) = cli(&["--waivers", &file, "--date", "2026-07-01", &base, &rev]);
    assert_eq!(code, ExitCode::Findings, "{out}{err}");
    assert!(err.contains("expired on 2026-06-30"), "{err}");
    // A pointer that does not match leaves the finding alone.
    let narrow = temp_file(
        "narrow.yaml",
        "waivers:\n  - rule: operation_removed\n    pointer: /paths/~1other\n    reason: elsewhere\n",
    );
    let (code, ..) = cli(&["--waivers", &narrow, &base, &rev]);
    assert_eq!(code, ExitCode::Findings);
    let wide = temp_file(
        "wide.yaml",
        "waivers:\n  - rule: operation_removed\n    pointer: /paths/~1orders~1{id}\n    reason: this one\n",
    );
    let (code, ..) = cli(&["--waivers", &wide, &base, &rev]);
    assert_eq!(code, ExitCode::Clean);
    // A broken waiver file is a usage error naming the file and line.
    let bad = temp_file("bad.yaml", "waivers:\n  - rule: nope\n    reason: x\n");
    let (code, _, err) = cli(&["--waivers", &bad, &base, &rev]);
    assert_eq!(code, ExitCode::Usage);
    assert!(
        err.contains("bad.yaml:2: invalid waiver: unknown rule id `nope`"),
        "{err}"
    );
}

#[test]
fn path_filters_narrow_the_report() {
    let base = fixture("operation_removed", "base");
    let rev = fixture("operation_removed", "revision");
    let (code, out, _) = cli(&["--exclude-path", "/orders/*", &base, &rev]);
    assert_eq!(code, ExitCode::Clean, "{out}");
    let (code, ..) = cli(&["--include-path", "/orders/**", &base, &rev]);
    assert_eq!(code, ExitCode::Findings);
    let (code, ..) = cli(&["--include-path", "/customers/**", &base, &rev]);
    assert_eq!(code, ExitCode::Clean);
}
