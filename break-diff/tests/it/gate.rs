//! The CI gate both ways, on the real OrderFlow contract.
//!
//! `.ci/break-diff-gate.sh` runs, unchanged, in a scratch git repository
//! whose history is: a commit without the spec, the real
//! `spec/orderflow.yaml`, an additive edit of it, then a breaking edit. The
//! gate must pass the first three and fail the last, and its outputs are
//! snapshotted. `docs/evidence/break-diff-gate.md` is generated from the
//! same run; the test fails when that page is stale.
//!
//! This module does not judge individual rules (the fixtures do that); it
//! checks the script, the exit codes and the wiring between them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;

/// The evidence page, relative to the crate.
const EVIDENCE: &str = "../docs/evidence/break-diff-gate.md";

/// The command that regenerates the evidence page.
const REGENERATE: &str = "UPDATE_EVIDENCE=1 cargo test -p break-diff";

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("break-diff-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".ci")).expect("create scratch dir");
        std::fs::create_dir_all(dir.join("spec")).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `Command` for `program` in `dir`, isolated from the user's and the
/// system's git configuration and from any repository cargo runs inside.
fn command(program: &str, dir: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "gate test")
        .env("GIT_AUTHOR_EMAIL", "gate@example.invalid")
        .env("GIT_COMMITTER_NAME", "gate test")
        .env("GIT_COMMITTER_EMAIL", "gate@example.invalid")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    c
}

/// Runs git in `dir`; panics with git's message on failure.
fn git(dir: &Path, args: &[&str]) {
    let out = command("git", dir)
        .args(args)
        .output()
        .expect("git runs (the gate needs git)");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What one run of the gate printed, and how it exited.
struct GateRun {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the gate script in `dir` with the break-diff that cargo built for
/// this test, so that the script does not start a nested `cargo run`.
fn gate(dir: &Path) -> GateRun {
    let out = command("bash", dir)
        .arg(".ci/break-diff-gate.sh")
        .env("BREAK_DIFF", env!("CARGO_BIN_EXE_break-diff"))
        .env_remove("BREAK_DIFF_BASE")
        .env_remove("BREAK_DIFF_SPEC")
        .env_remove("BREAK_DIFF_WAIVERS")
        .env_remove("BREAK_DIFF_CONFIG")
        .env_remove("BREAK_DIFF_FAIL_ON")
        .env_remove("BREAK_DIFF_WORKDIR")
        .env_remove("BREAK_DIFF_SUMMARY")
        .env_remove("BREAK_DIFF_ANNOTATIONS")
        .output()
        .expect("bash runs");
    GateRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Applies `(old, new)` edits to the first match of each, which must exist.
/// The spec holds v1 before v2 and v2's schemas repeat v1's text, so the
/// first match is v1's: every edit lands on the deprecated version.
fn edit(text: &str, edits: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (old, new) in edits {
        assert!(
            out.contains(old),
            "edit target not found in spec/orderflow.yaml (update the edit in tests/it/gate.rs): {old:?}"
        );
        out = out.replacen(old, new, 1);
    }
    out
}

/// A new optional query parameter and a new optional response property.
const ADDITIVE: &[(&str, &str)] = &[
    (
        "          description: Only products whose `active` flag equals this value.\n          schema:\n            type: boolean\n",
        "          description: Only products whose `active` flag equals this value.\n          schema:\n            type: boolean\n        - name: sku_prefix\n          in: query\n          required: false\n          description: Only products whose SKU starts with this prefix.\n          schema:\n            type: string\n            maxLength: 64\n",
    ),
    (
        "        active:\n          type: boolean\n          description: Inactive products stay readable but cannot be ordered.\n",
        "        active:\n          type: boolean\n          description: Inactive products stay readable but cannot be ordered.\n        weight_grams:\n          type: integer\n          format: uint32\n          description: Shipping weight; absent when unknown.\n",
    ),
];

/// A response property removed and a request property made required.
const BREAKING: &[(&str, &str)] = &[
    (
        "      required: [line, product_id, sku, name, quantity, unit_price, line_total]\n",
        "      required: [line, product_id, name, quantity, unit_price, line_total]\n",
    ),
    (
        "        sku:\n          type: string\n          description: The product's SKU when the order was placed.\n",
        "",
    ),
    (
        "      required: [sku, name, price]\n",
        "      required: [sku, name, price, active]\n",
    ),
];

/// One step of the scratch history, for the evidence page.
struct Step {
    title: &'static str,
    commit: &'static str,
    diff: String,
    run: GateRun,
}

#[test]
fn the_gate_passes_additive_changes_and_fails_breaking_ones() {
    let scratch = Scratch::new("gate");
    let dir = scratch.0.as_path();
    let script = support::crate_dir().join("../.ci/break-diff-gate.sh");
    std::fs::copy(&script, dir.join(".ci/break-diff-gate.sh")).expect("copy the gate script");
    git(dir, &["init", "--quiet"]);

    // A first commit has no HEAD~1: nothing to compare, the gate passes.
    git(dir, &["add", ".ci"]);
    git(dir, &["commit", "--quiet", "-m", "gate script"]);
    let first = gate(dir);
    assert_eq!(
        first.code, 0,
        "first commit:\n{}{}",
        first.stdout, first.stderr
    );
    assert!(
        first.stdout.contains("HEAD~1 does not exist"),
        "first commit: the gate must say why it passes:\n{}",
        first.stdout
    );

    // The commit that adds the spec has no spec at HEAD~1: the gate passes.
    let v1 = support::orderflow();
    std::fs::write(dir.join("spec/orderflow.yaml"), &v1).expect("write spec");
    git(dir, &["add", "spec"]);
    git(dir, &["commit", "--quiet", "-m", "the OrderFlow spec"]);
    let new_spec = gate(dir);
    assert_eq!(
        new_spec.code, 0,
        "new spec:\n{}{}",
        new_spec.stdout, new_spec.stderr
    );
    assert!(
        new_spec
            .stdout
            .contains("spec/orderflow.yaml does not exist at HEAD~1"),
        "new spec: the gate must say why it passes:\n{}",
        new_spec.stdout
    );

    let mut steps = Vec::new();
    let mut previous = v1;
    for (title, commit, edits, want) in [
        (
            "An additive change passes",
            "additive: optional query parameter, optional response property",
            ADDITIVE,
            0,
        ),
        (
            "A breaking change fails",
            "breaking: response property removed, request property required",
            BREAKING,
            1,
        ),
    ] {
        let next = edit(&previous, edits);
        std::fs::write(dir.join("spec/orderflow.yaml"), &next).expect("write spec");
        git(dir, &["commit", "--quiet", "--all", "-m", commit]);
        let run = gate(dir);
        assert_eq!(
            run.code, want,
            "{title}: gate exit code\nstdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        assert_eq!(run.stderr, "", "{title}: nothing on stderr");
        let diff = similar::TextDiff::from_lines(&previous, &next)
            .unified_diff()
            .context_radius(2)
            .header("a/spec/orderflow.yaml", "b/spec/orderflow.yaml")
            .to_string();
        steps.push(Step {
            title,
            commit,
            diff,
            run,
        });
        previous = next;
    }

    // Pin what the two reports say, not where: see `support::redact_lines`.
    let [additive, breaking] = &steps[..] else {
        unreachable!("two steps")
    };
    for (name, step) in [("gate_additive", additive), ("gate_breaking", breaking)] {
        let shown = redact_table_lines(&step.run.stdout);
        insta::with_settings!({ snapshot_path => "../snapshots/cli", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, shown);
        });
    }
    for rule in [
        "response_property_removed",
        "request_property_became_required",
    ] {
        assert!(
            breaking
                .run
                .stdout
                .contains(&format!("| error | `{rule}` |")),
            "the breaking step must report {rule}:\n{}",
            breaking.run.stdout
        );
    }
    assert!(
        !additive.run.stdout.contains("| error |"),
        "the additive step must report no error:\n{}",
        additive.run.stdout
    );

    check_evidence(&evidence_page(&steps));

    // As the GitHub Action runs it, on the breaking commit: annotations
    // first (one per change), the report appended to the job summary, and
    // the same exit code.
    let summary = dir.join("summary.md");
    let out = command("bash", dir)
        .arg(".ci/break-diff-gate.sh")
        .env("BREAK_DIFF", env!("CARGO_BIN_EXE_break-diff"))
        .env("BREAK_DIFF_SUMMARY", &summary)
        .env("BREAK_DIFF_ANNOTATIONS", "1")
        .env("BREAK_DIFF_FAIL_ON", "error")
        .env("BREAK_DIFF_WORKDIR", dir)
        .env_remove("BREAK_DIFF_BASE")
        .env_remove("BREAK_DIFF_SPEC")
        .env_remove("BREAK_DIFF_WAIVERS")
        .env_remove("BREAK_DIFF_CONFIG")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let annotations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 2, "one annotation per change:\n{stdout}");
    assert!(
        annotations
            .iter()
            .all(|a| a.starts_with("::error file=spec/orderflow.yaml,line=")),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&summary).expect("summary written");
    assert!(
        written.contains("## break-diff\n\n2 changes (6 findings across operations): 2 error"),
        "{written}"
    );
    assert!(written.contains("breaking changes found"), "{written}");
}

/// The project's workflow uses the composite action, and the action runs
/// the gate script with every input passed on: one implementation.
#[test]
fn the_action_and_the_workflow_call_the_gate() {
    let root = support::crate_dir().join("..");
    let read = |path: &str| {
        let text = std::fs::read_to_string(root.join(path)).expect(path);
        let (value, _) = break_diff::document::parse_tree(path, &text)
            .expect("valid YAML")
            .expect("not empty");
        value
    };
    let action = read(".github/actions/break-diff/action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    let steps = action["runs"]["steps"].as_array().expect("steps");
    let gate = steps
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("/.ci/break-diff-gate.sh"))
        })
        .expect("a step runs .ci/break-diff-gate.sh");
    for (input, var) in [
        ("spec", "BREAK_DIFF_SPEC"),
        ("fail-on", "BREAK_DIFF_FAIL_ON"),
        ("waivers", "BREAK_DIFF_WAIVERS"),
        ("config", "BREAK_DIFF_CONFIG"),
    ] {
        assert!(action["inputs"].get(input).is_some(), "input `{input}`");
        assert_eq!(
            gate["env"][var],
            format!("${{{{ inputs.{input} }}}}"),
            "{var} must come from input `{input}`"
        );
    }
    let script = std::fs::read_to_string(root.join(".ci/break-diff-gate.sh")).expect("gate");
    for var in [
        "BREAK_DIFF_SPEC",
        "BREAK_DIFF_FAIL_ON",
        "BREAK_DIFF_WAIVERS",
        "BREAK_DIFF_CONFIG",
        "BREAK_DIFF_SUMMARY",
        "BREAK_DIFF_ANNOTATIONS",
        "BREAK_DIFF_WORKDIR",
    ] {
        assert!(script.contains(var), "the gate reads {var}");
    }
    let workflow = read(".github/workflows/break-diff.yml");
    let uses: Vec<&str> = workflow["jobs"]["break-diff"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["uses"].as_str())
        .collect();
    assert!(
        uses.contains(&"./.github/actions/break-diff"),
        "the workflow uses the action: {uses:?}"
    );
}

/// The markdown report's `line N` cells, and the lines its migration
/// steps name, with the number replaced.
fn redact_table_lines(text: &str) -> String {
    let text = support::redact_after(text, "| line ");
    let text = support::redact_after(&text, "Base line ");
    support::redact_after(&text, "revision line ")
}

/// Everything in the page that moves when unrelated parts of the spec
/// change: line numbers in report cells and diff hunk headers.
fn normalize(page: &str) -> String {
    let page = redact_table_lines(page);
    page.lines()
        .map(|l| if l.starts_with("@@ ") { "@@" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The evidence page, rendered from the steps.
fn evidence_page(steps: &[Step]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- Generated by `{REGENERATE}` (test `gate::the_gate_passes_additive_changes_and_fails_breaking_ones` in break-diff/tests/it/gate.rs) from spec/orderflow.yaml. Do not edit by hand. -->\n"
    );
    out.push_str(
        "# Evidence: the break-diff gate passes additive changes and fails breaking ones\n\n\
         `.ci/break-diff-gate.sh` compares `spec/orderflow.yaml` at `HEAD~1` with the working\n\
         tree and fails on any finding of level `error`. To show it both ways on the real\n\
         contract, the test copies the script and today's `spec/orderflow.yaml` into a scratch\n\
         git repository, commits an additive edit, runs the gate, then commits a breaking edit\n\
         and runs it again. The outputs below are that run's, verbatim. `BREAK_DIFF` points the\n\
         script at the `break-diff` binary cargo built for the test (without it, the script\n\
         uses `cargo run -p break-diff`).\n\n\
         The same run also checks that the gate passes, saying why, on a first commit (no\n\
         `HEAD~1`) and on the commit that adds the spec (no spec at `HEAD~1`). Line numbers\n\
         are those of the spec when this page was generated; the freshness test ignores\n\
         them, so an unrelated spec edit that only moves lines does not make the page stale.\n\n\
         To repeat it by hand in a clone: apply an edit below to `spec/orderflow.yaml`,\n\
         commit it, and run `bash .ci/break-diff-gate.sh`.\n",
    );
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(out, "\n## {}. {}\n", i + 1, step.title);
        let _ = writeln!(out, "The edit:\n\n```diff\n{}```\n", step.diff);
        let _ = writeln!(out, "The commands and their output:\n");
        let _ = writeln!(out, "```console");
        let _ = writeln!(out, "$ git commit --quiet --all -m \"{}\"", step.commit);
        let _ = writeln!(out, "$ bash .ci/break-diff-gate.sh");
        out.push_str(&step.run.stdout);
        let _ = writeln!(out, "$ echo $?\n{}\n```", step.run.code);
    }
    out
}

/// Fails when the committed page differs from `want` other than in line
/// numbers; rewrites it when `UPDATE_EVIDENCE` (or `BREAK_DIFF_UPDATE_DOCS`)
/// is set.
fn check_evidence(want: &str) {
    let path = support::crate_dir().join(EVIDENCE);
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have == want {
        return;
    }
    let update = ["UPDATE_EVIDENCE", "BREAK_DIFF_UPDATE_DOCS"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if update {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir docs/evidence");
        std::fs::write(&path, want).expect("write the evidence page");
        return;
    }
    assert!(
        normalize(&have) == normalize(want),
        "docs/evidence/break-diff-gate.md is stale: run `{REGENERATE}`"
    );
}
