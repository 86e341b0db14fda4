//! `--config`: rule levels changed or turned off by a file; every mistake
//! in the file is an error at its line.

use break_diff::Level;
use break_diff::cli::{ExitCode, run_with_stdin};
use break_diff::config::{self, Setting};

use crate::support;

/// Parses `text` and checks it fails at `line` with a message containing
/// `says`, or, when `line` is 0, that it parses.
fn check(text: &str, line: u32, says: &str) {
    match (config::parse("config.yaml", text), line) {
        (Ok(_), 0) => {}
        (Ok(c), _) => panic!("accepted {c:?}, expected an error at line {line}"),
        (Err(e), 0) => panic!("rejected with `{e}`"),
        (Err(e), _) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("config.yaml:{line}: invalid configuration:")),
                "`{msg}` is not at line {line}"
            );
            assert!(msg.contains(says), "`{msg}` lacks `{says}`");
        }
    }
}

#[test]
fn configuration_files_are_checked_line_by_line() {
    check(
        "rules:\n  operation_id_changed: info\n  server_added: off\n",
        0,
        "",
    );
    check("", 0, "");
    check(
        "rules:\n  operation_id_changed: loud\n",
        2,
        "`loud` for `operation_id_changed` is not error, warning, info or off",
    );
    check(
        "rules:\n  operation_id_change: info\n",
        2,
        "unknown rule id `operation_id_change` (did you mean operation_id_changed",
    );
    check(
        "rule:\n  operation_id_changed: info\n",
        1,
        "unknown key `rule`",
    );
    check(
        "rules: [operation_id_changed]\n",
        1,
        "`rules` must be a mapping",
    );
    check("rules:\n  server_added: 3\n", 2, "`3` for `server_added`");
    let parsed = config::parse(
        "c.yaml",
        "rules:\n  operation_id_changed: error\n  server_added: false\n",
    )
    .expect("parses");
    assert_eq!(
        parsed.rules["operation_id_changed"],
        Setting::Level(Level::Error)
    );
    assert_eq!(parsed.rules["server_added"], Setting::Off);
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
fn configured_levels_decide_the_report_and_the_exit_code() {
    let fixture = |side: &str| {
        support::fixtures_dir()
            .join("operation_id_changed")
            .join(format!("{side}.yaml"))
            .to_string_lossy()
            .into_owned()
    };
    let (base, rev) = (fixture("base"), fixture("revision"));
    let dir = std::env::temp_dir().join(format!("break-diff-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    };
    // Default: a warning, which does not fail at --fail-on error.
    let (code, out, _) = cli(&[&base, &rev]);
    assert_eq!(code, ExitCode::Clean, "{out}");
    assert!(out.contains("warning[operation_id_changed]"), "{out}");
    let louder = write("louder.yaml", "rules:\n  operation_id_changed: error\n");
    let (code, out, _) = cli(&["--config", &louder, &base, &rev]);
    assert_eq!(code, ExitCode::Findings, "{out}");
    assert!(out.contains("error[operation_id_changed]"), "{out}");
    let off = write("off.yaml", "rules:\n  operation_id_changed: off\n");
    let (code, out, _) = cli(&["--config", &off, "--fail-on", "info", &base, &rev]);
    assert!(!out.contains("operation_id_changed"), "{out}");
    assert_eq!(code, ExitCode::Clean, "{out}");
    let bad = write("bad.yaml", "rules:\n  nope: off\n");
    let (code, _, err) = cli(&["--config", &bad, &base, &rev]);
    assert_eq!(code, ExitCode::Usage);
    assert!(
        err.contains("bad.yaml:2: invalid configuration: unknown rule id `nope`"),
        "{err}"
    );
}

#[test]
fn layer_sdk_keeps_what_breaks_the_generated_sdk() {
    let fixture = |rule: &str, side: &str| {
        support::fixtures_dir()
            .join(rule)
            .join(format!("{side}.yaml"))
            .to_string_lossy()
            .into_owned()
    };
    // An operationId rename breaks SDK code only; a server variable change
    // breaks only the wire (SDK users configure the base URL).
    for (rule, layer, kept) in [
        ("operation_id_changed", "sdk", true),
        ("operation_id_changed", "wire", false),
        ("server_variable_changed", "sdk", false),
        ("server_variable_changed", "wire", true),
        ("response_property_removed", "sdk", true),
        ("response_property_removed", "wire", true),
    ] {
        let (base, rev) = (fixture(rule, "base"), fixture(rule, "revision"));
        let (_, out, err) = cli(&["--layer", layer, &base, &rev]);
        assert_eq!(
            out.contains(&format!("[{rule}]")),
            kept,
            "--layer {layer} on {rule}:\n{out}{err}"
        );
    }
    let (code, _, err) = cli(&["--layer", "abi", "a.yaml", "b.yaml"]);
    assert_eq!(code, ExitCode::Usage, "{err}");
}
