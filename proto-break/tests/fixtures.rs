//! Every rule has a fixture pair under tests/fixtures/<rule-id>/ that must
//! report that rule (and only it); every file compared with itself
//! reports nothing; the `compatible` pair (a field removed and reserved,
//! an rpc, an enum value and a field added) reports nothing; and the
//! project's own contract is clean against itself.

use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn check(dir: &str, expected: &[&str]) {
    let d = fixtures().join(dir);
    let base = proto_break::load(&d.join("base.proto")).expect("base compiles");
    let revision = proto_break::load(&d.join("revision.proto")).expect("revision compiles");
    let found: Vec<&str> = proto_break::compare(&base, &revision)
        .iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(found, expected, "{dir}");
    assert!(
        proto_break::compare(&base, &base).is_empty(),
        "{dir}: base vs base"
    );
    assert!(
        proto_break::compare(&revision, &revision).is_empty(),
        "{dir}: revision vs revision"
    );
}

#[test]
fn every_rule_fails_on_its_fixture_and_only_there() {
    for (id, _) in proto_break::rules::RULES {
        assert!(
            fixtures().join(id).is_dir(),
            "rule {id} has no fixture pair under tests/fixtures/{id}"
        );
        // Reusing a reserved number needs its reservation gone first (the
        // compiler refuses a field inside a reserved range): two findings.
        if *id == proto_break::rules::RESERVED_REUSED {
            check(id, &[proto_break::rules::RESERVED_REMOVED, id]);
        } else {
            check(id, &[id]);
        }
    }
    check("compatible", &[]);
}

#[test]
fn the_pricing_contract_is_clean_against_itself() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/proto/pricing.proto");
    let f = proto_break::load(&p).expect("spec/proto/pricing.proto compiles");
    assert!(proto_break::compare(&f, &f).is_empty());
}

#[test]
fn a_file_that_does_not_compile_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("dir");
    let p = dir.path().join("bad.proto");
    std::fs::write(&p, "syntax = \"proto3\"; message {").expect("write");
    let e = proto_break::load(&p).expect_err("does not compile");
    assert!(e.to_string().contains("bad.proto"), "{e}");
}
