//! Every fixture pair under `tests/fixtures/<rule-id>/` runs through every
//! rule. The findings are snapshotted, the fixture's own rule must be
//! among them, and each side compared with itself must report nothing:
//! that last check catches false positives of all rules on all fixtures
//! without writing negative fixtures.

use std::fs;

use break_diff::report::{self, Format, Inputs};

use crate::support;

#[test]
fn every_fixture_pair() {
    let mut dirs: Vec<_> = fs::read_dir(support::fixtures_dir())
        .expect("fixtures dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no fixtures found");
    let options = support::options();
    let mut failures = Vec::new();
    for dir in dirs {
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned();
        let base = fs::read_to_string(dir.join("base.yaml")).expect("base.yaml");
        let rev = fs::read_to_string(dir.join("revision.yaml")).expect("revision.yaml");
        let findings = support::diff(&base, &rev, &options);
        if !findings.iter().any(|f| f.rule == id) {
            failures.push(format!("{id}: the fixture does not trigger its own rule"));
        }
        for (side, text) in [("base", &base), ("revision", &rev)] {
            let same = support::diff(text, text, &options);
            if !same.is_empty() {
                failures.push(format!(
                    "{id}: {side} compared with itself reports {:?}",
                    same.iter().map(|f| f.rule).collect::<Vec<_>>()
                ));
            }
        }
        let inputs = Inputs {
            base: "base.yaml",
            revision: "revision.yaml",
            sources: None,
        };
        let text = report::render(Format::Text, inputs, &findings, &[]);
        insta::with_settings!({ snapshot_path => "../snapshots/fixtures", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(id.as_str(), text);
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
