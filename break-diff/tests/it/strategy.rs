//! The comparison strategy (threads, skipping unchanged schemas) changes
//! the time taken, never the findings. Every fixture pair, in both
//! directions, and the OrderFlow spec against an edited copy are compared
//! exhaustively on one thread and with each faster strategy.

use std::fs;

use break_diff::walk::Strategy;
use break_diff::{Document, Finding};

use crate::support;

const EXHAUSTIVE: Strategy = Strategy {
    threads: 1,
    skip_unchanged: false,
};

const FAST: [Strategy; 3] = [
    Strategy {
        threads: 1,
        skip_unchanged: true,
    },
    Strategy {
        threads: 3,
        skip_unchanged: false,
    },
    Strategy {
        threads: 3,
        skip_unchanged: true,
    },
];

/// Compares `base` and `rev` with every strategy; returns a description of
/// each disagreement.
fn check(name: &str, base: &str, rev: &str) -> Vec<String> {
    let b = Document::parse("base.yaml", base).expect("base parses");
    let r = Document::parse("revision.yaml", rev).expect("revision parses");
    let options = support::options();
    let want: Vec<Finding> = break_diff::diff_with(&b, &r, &options, EXHAUSTIVE);
    FAST.iter()
        .filter_map(|s| {
            let have = break_diff::diff_with(&b, &r, &options, *s);
            (have != want)
                .then(|| format!("{name}: {s:?} gives {have:#?}\nexhaustive gives {want:#?}"))
        })
        .collect()
}

#[test]
fn every_strategy_finds_the_same() {
    let mut failures = Vec::new();
    let mut pairs = 0;
    for entry in fs::read_dir(support::fixtures_dir()).expect("fixtures dir") {
        let dir = entry.expect("dir entry").path();
        if !dir.is_dir() {
            continue;
        }
        let base = fs::read_to_string(dir.join("base.yaml")).expect("base.yaml");
        let rev = fs::read_to_string(dir.join("revision.yaml")).expect("revision.yaml");
        let name = dir.display().to_string();
        failures.extend(check(&name, &base, &rev));
        failures.extend(check(&format!("{name} (reversed)"), &rev, &base));
        pairs += 1;
    }
    assert!(pairs > 100, "only {pairs} fixture pairs found");
    // A change deep inside a shared schema, reached from many operations.
    let spec = support::orderflow();
    let edited = spec.replacen(
        "          pattern: '^[A-Z]{3}$'\n",
        "          pattern: '^[A-Z]{3,4}$'\n",
        1,
    );
    assert_ne!(spec, edited, "the Money currency pattern is in the spec");
    failures.extend(check("orderflow", &spec, &edited));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
