//! `--map FROM=TO`: one version's operations compared with another's, in
//! one document or across two. The report is the migration guide: every
//! breaking difference with what a client does about it, and nothing about
//! the old version's own deprecation.

use break_diff::cli::{ExitCode, run_with_stdin};

use crate::support;

fn spec() -> String {
    support::crate_dir()
        .join("tests/versions/two-versions.yaml")
        .to_string_lossy()
        .into_owned()
}

fn cli(args: &[&str]) -> (ExitCode, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("break-diff").chain(args.iter().copied());
    let code = run_with_stdin(argv, &mut &b""[..], &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

#[test]
fn a_version_is_compared_with_its_successor_within_one_document() {
    let s = spec();
    let (code, out, err) = cli(&["--map", "/v1=/v2", "--format", "markdown", &s, &s]);
    assert_eq!(code, ExitCode::Findings, "{out}\n{err}");
    // The break, against the v2 operation, with how to migrate.
    assert!(
        out.contains("| error | `response_property_removed` | GET /v2/widgets/{widget_id} |"),
        "{out}"
    );
    assert!(
        out.contains("required property `weight_grams` was removed"),
        "{out}"
    );
    assert!(out.contains("### How clients migrate"), "{out}");
    assert!(
        out.contains("- Migrate: Change what the client reads"),
        "{out}"
    );
    assert!(
        out.contains("`operation_id_changed`"),
        "the SDK rename is a step too: {out}"
    );
    // v1's own lifecycle is not a difference to migrate.
    for gone in ["Deprecation", "Sunset", "410", "no longer deprecated"] {
        assert!(
            !out.contains(gone),
            "{gone} is v1's lifecycle, not a difference:\n{out}"
        );
    }
    // A v1 operation v2 lacks is a break; one new in v2 is additive; one
    // outside both prefixes is not compared.
    assert!(
        out.contains("| error | `operation_removed` | GET /v1/gadgets |"),
        "{out}"
    );
    assert!(
        out.contains("| info | `operation_added` | GET /v2/sprockets |"),
        "{out}"
    );
    assert!(!out.contains("/health"), "{out}");
}

#[test]
fn without_a_map_the_same_document_has_no_changes() {
    let s = spec();
    let (code, out, _) = cli(&["--format", "markdown", &s, &s]);
    assert_eq!(code, ExitCode::Clean, "{out}");
}

#[test]
fn a_bad_map_is_a_usage_error() {
    let s = spec();
    for bad in ["/v1", "v1=v2", "/v1=/v1", "/v1/{id}=/v2"] {
        let (code, _, err) = cli(&["--map", bad, &s, &s]);
        assert_eq!(code, ExitCode::Usage, "--map {bad}");
        assert!(err.contains("--map"), "names the flag: {err}");
    }
}
