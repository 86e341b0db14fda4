//! A fuzz target: proptest mutates the fixtures' YAML (lines deleted,
//! duplicated, swapped or re-indented, tokens YAML treats specially
//! dropped in) and every variant is read and compared with the original in
//! both directions. Reading may refuse a variant (that is an error with a
//! location); nothing may panic. `BREAK_DIFF_FUZZ_CASES` (default 48)
//! bounds the run; CI runs it longer in release mode.

use std::sync::OnceLock;

use proptest::prelude::*;

use crate::support;

/// Every fixture text, base and revision, read once.
fn corpus() -> &'static [String] {
    static CORPUS: OnceLock<Vec<String>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut dirs: Vec<_> = std::fs::read_dir(support::fixtures_dir())
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .collect();
        dirs.sort();
        dirs.iter()
            .flat_map(|d| ["base.yaml", "revision.yaml"].map(|f| d.join(f)))
            .map(|p| std::fs::read_to_string(p).expect("fixture"))
            .collect()
    })
}

/// One edit of a text, by line.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Indent(usize, bool),
    Insert(usize, &'static str),
}

const TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "? ",
    "{",
    "]",
    "'",
    "\"",
    "- ",
    ": ",
    "|",
    "$ref: '#/nowhere'",
    "~",
    "!!str ",
    "\t",
    "null",
    "[]",
    "{}",
    "<<: *a",
    "#",
    "%",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), any::<bool>()).prop_map(|(a, b)| Mutation::Indent(a, b)),
        (any::<usize>(), proptest::sample::select(TOKENS))
            .prop_map(|(a, t)| Mutation::Insert(a, t)),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for m in mutations {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *m {
            Mutation::Delete(i) => {
                lines.remove(i % n);
            }
            Mutation::Duplicate(i) => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Mutation::Swap(a, b) => lines.swap(a % n, b % n),
            Mutation::Indent(i, deeper) => {
                let line = &mut lines[i % n];
                if deeper {
                    line.insert_str(0, "  ");
                } else if let Some(rest) = line.strip_prefix("  ") {
                    *line = rest.to_owned();
                }
            }
            Mutation::Insert(i, token) => {
                let line = &mut lines[i % n];
                let at = (i / n) % (line.len() + 1);
                let at = (at..=line.len())
                    .find(|j| line.is_char_boundary(*j))
                    .unwrap_or(0);
                line.insert_str(at, token);
            }
        }
    }
    lines.join("\n") + "\n"
}

fn cases() -> u32 {
    std::env::var("BREAK_DIFF_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let texts = corpus();
        let original = &texts[pick % texts.len()];
        let variant = apply(original, &mutations);
        let options = support::options();
        let original_doc = break_diff::read("original.yaml", original).expect("fixtures read");
        match break_diff::read("variant.yaml", &variant) {
            Ok(doc) => {
                let _ = break_diff::diff(&original_doc, &doc, &options);
                let _ = break_diff::diff(&doc, &original_doc, &options);
                let _ = break_diff::diff(&doc, &doc, &options);
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("variant.yaml:"), "error without a location: {msg}");
            }
        }
        // Unvalidated documents (a caller of the engine may skip `read`)
        // must not panic either.
        if let Ok(doc) = break_diff::Document::parse("variant.yaml", &variant) {
            let _ = break_diff::diff(&original_doc, &doc, &options);
        }
    }
}
