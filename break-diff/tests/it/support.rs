//! Helpers shared by the test modules: fixed options, paths, and one way
//! to compare two texts. Not a place for assertions of its own.

use std::path::PathBuf;

use break_diff::{Finding, Options};

/// The "today" every test uses unless it moves time on purpose.
pub fn options() -> Options {
    Options {
        today: chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("valid date"),
        min_deprecation_days: 90,
        map: None,
    }
}

/// The crate's root folder.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `break-diff/tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    crate_dir().join("tests").join("fixtures")
}

/// The OrderFlow spec, a realistic 3.0.3 input.
///
/// The spec at this branch's base has two plain scalars containing `: `
/// (lines 745 and 845), which YAML forbids; break-diff rightly rejects
/// them (see openapi-doc's `a_colon_in_a_plain_scalar_is_pinpointed`). Until
/// the spec owners quote them, the tests quote them in memory; once they
/// are fixed the replacements do nothing.
pub fn orderflow() -> String {
    let text =
        std::fs::read_to_string(crate_dir().join("../spec/orderflow.yaml")).expect("spec readable");
    text.replace(
        "description: An API key (`of_sk_...`) sent as `Authorization: Bearer <key>`.",
        "description: 'An API key (`of_sk_...`) sent as `Authorization: Bearer <key>`.'",
    )
    .replace(
        "detail: send an API key as 'Authorization: Bearer <key>'",
        "detail: \"send an API key as 'Authorization: Bearer <key>'\"",
    )
}

/// Reads and compares two texts with all rules, as the CLI does; panics
/// on read errors (syntax, dangling references), which in a test means the
/// test input is wrong.
pub fn diff(base: &str, revision: &str, options: &Options) -> Vec<Finding> {
    let b = break_diff::read("base.yaml", base).expect("base reads");
    let r = break_diff::read("revision.yaml", revision).expect("revision reads");
    break_diff::diff(&b, &r, options)
}

/// Replaces the line number after each `name:` in `text` with `[line]`.
///
/// Reports on the real OrderFlow spec are snapshotted without line
/// numbers: the spec grows with every feature, and a snapshot that breaks
/// whenever unrelated lines move would be re-accepted blindly, which is
/// worse than not pinning the numbers. The pointers stay, and they are what
/// identify the place.
pub fn redact_lines(text: &str, names: &[&str]) -> String {
    names.iter().fold(text.to_owned(), |text, name| {
        redact_after(&text, &format!("{name}:"))
    })
}

/// Replaces the digits right after each occurrence of `needle` with
/// `[line]`.
pub fn redact_after(text: &str, needle: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(needle) {
        let (head, tail) = rest.split_at(at + needle.len());
        out.push_str(head);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("[line]");
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}
