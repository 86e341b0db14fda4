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
    memoize: false,
};

const FAST: [Strategy; 5] = [
    Strategy {
        threads: 1,
        skip_unchanged: true,
        memoize: false,
    },
    Strategy {
        threads: 1,
        skip_unchanged: true,
        memoize: true,
    },
    Strategy {
        threads: 1,
        skip_unchanged: false,
        memoize: true,
    },
    Strategy {
        threads: 3,
        skip_unchanged: false,
        memoize: false,
    },
    Strategy {
        threads: 3,
        skip_unchanged: true,
        memoize: true,
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

/// A spec where one changed schema is reached from several operations by
/// the same route (replayed from the memo), and, in one operation, first
/// by another route (a header), so that the memo's recording must not be
/// replayed there: the schema was compared already in that operation.
fn shared(revised: bool) -> String {
    let max = if revised { 10 } else { 20 };
    let status = if revised { "[a, b, c]" } else { "[a, b]" };
    let mut s = String::from("openapi: 3.0.3\ninfo:\n  title: t\n  version: '1'\npaths:\n");
    for i in 0..4 {
        s.push_str(&format!(
            "  /r{i}:\n    get:\n      responses:\n        '200':\n          description: ok\n"
        ));
        if i == 2 {
            s.push_str("          headers:\n            X-A:\n              schema:\n                $ref: '#/components/schemas/A'\n");
        }
        s.push_str("          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/A'\n");
        if i == 3 {
            // The same schema by a route of another name.
            s.push_str("            application/xml:\n              schema:\n                $ref: '#/components/schemas/A'\n");
        }
        s.push_str(&format!(
            "    post:\n      requestBody:\n        content:\n          application/json:\n            schema:\n              $ref: '#/components/schemas/{}'\n      responses:\n        '201':\n          description: ok\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/B'\n",
            if i % 2 == 0 { "A" } else { "B" }
        ));
    }
    s.push_str(&format!(
        "components:\n  schemas:\n    A:\n      type: object\n      properties:\n        name:\n          type: string\n          maxLength: {max}\n        status:\n          type: string\n          enum: {status}\n        b:\n          $ref: '#/components/schemas/B'\n    B:\n      type: object\n      properties:\n        a:\n          $ref: '#/components/schemas/A'\n        items:\n          type: array\n          items:\n            $ref: '#/components/schemas/A'\n"
    ));
    s
}

#[test]
fn memoized_comparisons_find_the_same() {
    let (base, rev) = (shared(false), shared(true));
    let b = Document::parse("base.yaml", &base).expect("base parses");
    let r = Document::parse("revision.yaml", &rev).expect("revision parses");
    let found = break_diff::diff(&b, &r, &support::options());
    let ops: std::collections::BTreeSet<_> =
        found.iter().filter_map(|f| f.operation.clone()).collect();
    assert!(
        ops.len() >= 8,
        "the change is seen from every operation: {found:#?}"
    );
    let mut failures = check("shared", &base, &rev);
    failures.extend(check("shared (reversed)", &rev, &base));
    // A property named like the walker's placeholder for a route: the
    // memo must not take it for one (memoizing is then off).
    let mark = |s: &str| s.replace("        name:\n", "        \"n\\x01at\\x01\":\n");
    let (base, rev) = (mark(&base), mark(&rev));
    assert!(base.contains("x01at"), "the property was renamed");
    failures.extend(check("shared (marked)", &base, &rev));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `ops` operations whose responses all reach the same graph of changed
/// components (`A` and `B` refer to each other, as Stripe's expandable
/// fields do).
fn many(ops: usize, revised: bool) -> String {
    let status = if revised { "[a, b, c]" } else { "[a, b]" };
    let mut s = String::from("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n");
    for i in 0..ops {
        s.push_str(&format!(
            "  /r{i}:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{$ref: '#/components/schemas/{}'}}\n",
            if i % 2 == 0 { "A" } else { "B" }
        ));
    }
    s.push_str(&format!(
        "components:\n  schemas:\n    A:\n      type: object\n      properties:\n        status: {{type: string, enum: {status}}}\n        b: {{$ref: '#/components/schemas/B'}}\n        list: {{type: array, items: {{$ref: '#/components/schemas/B'}}}}\n    B:\n      type: object\n      properties:\n        a:\n          anyOf:\n            - {{type: string}}\n            - {{$ref: '#/components/schemas/A'}}\n"
    ));
    s
}

#[test]
fn a_shared_schema_is_compared_once_however_many_operations_reach_it() {
    let count = |ops: usize, memoize: bool| {
        let b = Document::parse("base.yaml", &many(ops, false)).expect("base parses");
        let r = Document::parse("revision.yaml", &many(ops, true)).expect("revision parses");
        let strategy = Strategy {
            threads: 1,
            skip_unchanged: true,
            memoize,
        };
        let (findings, comparisons) = break_diff::walk::run_counted(
            break_diff::rules::ALL,
            &b,
            &r,
            &support::options(),
            strategy,
        );
        let reached: std::collections::BTreeSet<_> = findings
            .iter()
            .filter_map(|f| f.operation.clone())
            .collect();
        assert_eq!(reached.len(), ops, "every operation sees the change");
        comparisons
    };
    let (few, lots) = (count(2, true), count(40, true));
    assert!(few > 0);
    assert_eq!(
        few, lots,
        "memoized: the same comparisons for 2 and 40 operations"
    );
    // Without the memo each operation compares the graph again, which is
    // what the count would show if memoizing broke.
    assert_eq!(count(40, false), 20 * count(2, false));
}
