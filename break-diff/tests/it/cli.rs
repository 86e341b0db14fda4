//! The CLI as a user meets it, driven through `cli::run_with_stdin` with
//! in-memory streams: exit codes, every output format (snapshotted),
//! `rules` and `explain`, stdin and git inputs, and unreadable input.

use std::io::{self, Write};

use break_diff::cli::{ExitCode, run_with_stdin};
use break_diff::rules::ALL;

use crate::support;

struct Run {
    code: ExitCode,
    stdout: String,
    stderr: String,
}

/// Runs `break-diff` with `args` (program name added) and `stdin`.
fn cli(args: &[&str], stdin: &str) -> Run {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("break-diff").chain(args.iter().copied());
    let code = run_with_stdin(argv, &mut stdin.as_bytes(), &mut out, &mut err);
    Run {
        code,
        stdout: String::from_utf8(out).expect("utf-8 stdout"),
        stderr: String::from_utf8(err).expect("utf-8 stderr"),
    }
}

fn fixture(rule: &str, side: &str) -> String {
    support::fixtures_dir()
        .join(rule)
        .join(format!("{side}.yaml"))
        .to_string_lossy()
        .into_owned()
}

/// Checks exit code and that stdout/stderr contain the given snippets.
fn check(args: &[&str], stdin: &str, code: ExitCode, stdout_has: &[&str], stderr_has: &[&str]) {
    let run = cli(args, stdin);
    assert_eq!(
        run.code, code,
        "args {args:?}\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    for s in stdout_has {
        assert!(
            run.stdout.contains(s),
            "args {args:?}: stdout lacks `{s}`:\n{}",
            run.stdout
        );
    }
    for s in stderr_has {
        assert!(
            run.stderr.contains(s),
            "args {args:?}: stderr lacks `{s}`:\n{}",
            run.stderr
        );
    }
}

#[test]
fn exit_codes_and_messages() {
    let base = fixture("operation_removed", "base");
    let rev = fixture("operation_removed", "revision");
    let info_base = fixture("operation_added", "base");
    let info_rev = fixture("operation_added", "revision");
    let date = ["--date", "2026-06-01"];
    check(
        &[&base, &rev, date[0], date[1]],
        "",
        ExitCode::Findings,
        &["error[operation_removed]"],
        &[],
    );
    check(&[&base, &base], "", ExitCode::Clean, &["0 findings"], &[]);
    check(
        &[&info_base, &info_rev],
        "",
        ExitCode::Clean,
        &["info[operation_added]"],
        &[],
    );
    check(
        &["--fail-on", "info", &info_base, &info_rev],
        "",
        ExitCode::Findings,
        &[],
        &[],
    );
    check(
        &["--fail-on", "warning", &info_base, &info_rev],
        "",
        ExitCode::Clean,
        &[],
        &[],
    );
    // Stdin stands for one side.
    let base_text = std::fs::read_to_string(&base).expect("fixture");
    check(
        &["-", &rev],
        &base_text,
        ExitCode::Findings,
        &["<stdin>"],
        &[],
    );
    // Usage and input errors are exit 2 with a message naming the problem.
    check(&[], "", ExitCode::Usage, &[], &["expected two documents"]);
    check(&["-", "-"], "", ExitCode::Usage, &[], &["only one of"]);
    check(
        &[&base, "no/such/file.yaml"],
        "",
        ExitCode::Usage,
        &[],
        &["no/such/file.yaml"],
    );
    check(
        &["--format", "yaml", &base, &rev],
        "",
        ExitCode::Usage,
        &[],
        &["--format"],
    );
    check(
        &["--date", "tomorrow", &base, &rev],
        "",
        ExitCode::Usage,
        &[],
        &["YYYY-MM-DD"],
    );
    check(
        &["-", &rev],
        "openapi: 3.0.3\npaths: [\n",
        ExitCode::Usage,
        &[],
        &["<stdin>:3"],
    );
    check(
        &["-", &rev],
        "swagger: '2.0'\n",
        ExitCode::Usage,
        &[],
        &["<stdin>:1", "Swagger"],
    );
    check(
        &["--help"],
        "",
        ExitCode::Clean,
        &["Usage: break-diff"],
        &[],
    );
    check(&["--version"], "", ExitCode::Clean, &["break-diff "], &[]);
}

#[test]
fn rules_and_explain_come_from_the_metadata() {
    let run = cli(&["rules"], "");
    assert_eq!(run.code, ExitCode::Clean);
    for r in ALL {
        assert!(
            run.stdout.contains(r.meta.id),
            "`rules` lacks {}",
            r.meta.id
        );
    }
    for r in ALL {
        check(
            &["explain", r.meta.id],
            "",
            ExitCode::Clean,
            &[r.meta.id, r.meta.why, r.meta.fix],
            &[],
        );
    }
    check(
        &["explain", "no_such_rule"],
        "",
        ExitCode::Usage,
        &[],
        &["unknown rule id `no_such_rule`"],
    );
    check(
        &["explain", "request_property_required"],
        "",
        ExitCode::Usage,
        &[],
        &["did you mean request_property_became_required"],
    );
}

#[test]
fn sunset_dates_are_judged_against_the_given_date() {
    let base = fixture("operation_removed_after_sunset", "base");
    let rev = fixture("operation_removed_after_sunset", "revision");
    check(
        &["--date", "2020-01-01", &base, &rev],
        "",
        ExitCode::Findings,
        &["error[operation_removed]"],
        &[],
    );
    check(
        &["--date", "2026-06-01", &base, &rev],
        "",
        ExitCode::Clean,
        &["info[operation_removed_after_sunset]"],
        &[],
    );
}

#[test]
fn a_git_revision_can_be_an_input() {
    // Tests run inside the repository, whose HEAD holds the fixtures; the
    // test writes nothing to the repository.
    let input = "HEAD:break-diff/tests/fixtures/operation_removed/base.yaml";
    let rev = fixture("operation_removed", "revision");
    check(
        &[input, &rev],
        "",
        ExitCode::Findings,
        &[&format!("{input}:10"), "error[operation_removed]"],
        &[],
    );
    check(
        &["HEAD:no/such.yaml", &rev],
        "",
        ExitCode::Usage,
        &[],
        &["git show HEAD:no/such.yaml"],
    );
}

#[test]
fn every_format_is_snapshotted() {
    let base = fixture("request_property_became_required", "base");
    let rev = fixture("request_property_became_required", "revision");
    for format in ["text", "json", "markdown", "github", "junit", "sarif"] {
        let run = cli(
            &["--format", format, "--date", "2026-06-01", &base, &rev],
            "",
        );
        assert_eq!(run.code, ExitCode::Findings, "{format}: {}", run.stderr);
        // Absolute fixture paths differ per machine; snapshots use names.
        let dir = support::fixtures_dir().to_string_lossy().into_owned();
        let stdout = run.stdout.replace(&dir, "<fixtures>");
        insta::with_settings!({ snapshot_path => "../snapshots/cli", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("format_{format}"), stdout);
        });
    }
    let json = cli(&["--format", "json", &base, &rev], "");
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json output parses");
    assert_eq!(value["version"], break_diff::REPORT_VERSION);
}

/// A writer that behaves like a pipe whose reader has gone.
struct ClosedPipe;

impl Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

#[test]
fn a_broken_pipe_is_not_an_error() {
    let base = fixture("operation_removed", "base");
    let rev = fixture("operation_removed", "revision");
    let mut err = Vec::new();
    let code = run_with_stdin(
        ["break-diff", &base, &rev],
        &mut io::empty(),
        &mut ClosedPipe,
        &mut err,
    );
    assert_eq!(code, ExitCode::Findings);
    assert!(err.is_empty(), "stderr: {}", String::from_utf8_lossy(&err));
    let code = run_with_stdin(
        ["break-diff", &base, &base],
        &mut io::empty(),
        &mut ClosedPipe,
        &mut err,
    );
    assert_eq!(code, ExitCode::Clean);
}

#[test]
fn diff_shows_the_changed_lines() {
    for rule in [
        "request_property_became_required",
        "operation_removed",
        "operation_added",
    ] {
        let base = fixture(rule, "base");
        let rev = fixture(rule, "revision");
        let run = cli(&["--diff", "--date", "2026-06-01", &base, &rev], "");
        let dir = support::fixtures_dir().to_string_lossy().into_owned();
        let stdout = run.stdout.replace(&dir, "<fixtures>");
        insta::with_settings!({ snapshot_path => "../snapshots/cli", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("diff_{rule}"), stdout);
        });
    }
}

#[test]
fn run_is_what_main_calls() {
    // `main` passes the process's streams to `run`; driving it with
    // buffers shows that nothing else is needed. (It reads stdin only for
    // a `-` input, which this call does not use.)
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let base = fixture("operation_removed", "base");
    let rev = fixture("operation_removed", "revision");
    let code = break_diff::cli::run(
        ["break-diff", "--format", "json", &base, &rev],
        &mut out,
        &mut err,
    );
    assert_eq!(
        code,
        ExitCode::Findings,
        "{}",
        String::from_utf8_lossy(&err)
    );
    let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(json["findings"][0]["rule"], "operation_removed");
    assert_eq!(
        std::process::ExitCode::from(code),
        std::process::ExitCode::from(1)
    );
}

#[test]
fn bad_inputs_exit_2_with_file_line_pointer_and_what_was_expected() {
    let dir = std::env::temp_dir().join(format!("break-diff-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, text: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    };
    let good = write(
        "good.yaml",
        b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    A: {type: string}\n",
    );
    let dangling = write(
        "dangling.yaml",
        b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n",
    );
    let cycle = write(
        "cycle.yaml",
        b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n",
    );
    let not_openapi = write("compose.yaml", b"services:\n  web: {image: nginx}\n");
    let no_api = write(
        "empty-api.yaml",
        b"openapi: 3.1.0\ninfo: {title: t, version: '1'}\n",
    );
    let binary = write("binary.yaml", &[0xff, 0xfe, 0x00, 0x41]);
    let missing = dir.join("missing.yaml").to_string_lossy().into_owned();
    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec![&good, &dangling],
            vec![
                format!("{dangling}:6:"),
                "/components/schemas/A/$ref".to_owned(),
                "`#/components/schemas/B`".to_owned(),
                "expected a JSON pointer".to_owned(),
            ],
        ),
        // A dangling reference in the base is as bad as in the revision.
        (vec![&dangling, &good], vec![format!("{dangling}:6:")]),
        (
            vec![&good, &cycle],
            vec![format!("{cycle}:6:"), "cycle of references".to_owned()],
        ),
        (
            vec![&not_openapi, &good],
            vec![
                format!("{not_openapi}:1:"),
                "`openapi` field is missing".to_owned(),
            ],
        ),
        (
            vec![&good, &no_api],
            vec![format!("{no_api}:1:"), "none of `paths`".to_owned()],
        ),
        (vec![&good, &binary], vec!["is not UTF-8 text".to_owned()]),
        (vec![&missing, &good], vec!["no such file".to_owned()]),
    ];
    for (args, expected) in cases {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let argv = std::iter::once("break-diff").chain(args.iter().copied());
        let code = run_with_stdin(argv, &mut std::io::empty(), &mut out, &mut err);
        let err = String::from_utf8(err).expect("utf-8");
        assert_eq!(code, ExitCode::Usage, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: nothing on stdout");
        for want in &expected {
            assert!(
                err.contains(want.as_str()),
                "{args:?}: `{err}` lacks `{want}`"
            );
        }
    }
}
