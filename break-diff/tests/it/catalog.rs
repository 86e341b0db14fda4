//! Audits of the rule catalog: every rule file is registered under its own
//! name, ids are unique, metadata is complete, every rule has a fixture,
//! directional rules name their mirror or say why there is none, and the
//! generated `docs/rules.md` is fresh.

use std::collections::BTreeSet;
use std::fs;

use break_diff::rules::{ALL, Mirror};

use crate::support;

fn rule_files() -> BTreeSet<String> {
    fs::read_dir(support::crate_dir().join("src/rules"))
        .expect("src/rules")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "mod.rs")
        .filter_map(|n| n.strip_suffix(".rs").map(str::to_owned))
        .collect()
}

#[test]
fn every_rule_file_is_registered_and_named_after_its_id() {
    let registered: BTreeSet<String> = ALL.iter().map(|r| r.meta.id.to_owned()).collect();
    let files = rule_files();
    let unregistered: Vec<_> = files.difference(&registered).collect();
    let fileless: Vec<_> = registered.difference(&files).collect();
    assert!(
        unregistered.is_empty() && fileless.is_empty(),
        "files not in the `rules!` list of src/rules/mod.rs: {unregistered:?}; ids without a file of that name: {fileless:?}"
    );
}

#[test]
fn ids_are_unique_and_snake_case() {
    let mut seen = BTreeSet::new();
    for r in ALL {
        let id = r.meta.id;
        assert!(seen.insert(id), "duplicate rule id `{id}`");
        assert!(
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "rule id `{id}` is not snake_case"
        );
    }
}

#[test]
fn metadata_is_complete() {
    for r in ALL {
        let m = &r.meta;
        for (field, text) in [
            ("description", m.description),
            ("why", m.why),
            ("fix", m.fix),
        ] {
            assert!(
                text.trim().len() >= 10 && text.trim_end().ends_with('.'),
                "{}: `{field}` must be a full sentence ending with a period",
                m.id
            );
        }
        assert!(
            m.reference.starts_with("https://"),
            "{}: reference must be an https link",
            m.id
        );
        // Whatever can fail a gate must say what it breaks.
        if m.level != break_diff::Level::Info {
            assert!(
                !m.layers.is_empty(),
                "{}: a {} rule must name the layers it breaks (wire, sdk)",
                m.id,
                m.level
            );
        }
        // A stated deviation from oasdiff names oasdiff's level and says
        // why break-diff differs.
        if let Some(note) = m.oasdiff {
            assert!(
                note.starts_with("oasdiff ")
                    && note.trim_end().ends_with('.')
                    && ["error", "warning", "info"]
                        .iter()
                        .any(|l| note.contains(l))
                    && note.contains("break-diff"),
                "{}: `oasdiff` must say oasdiff's level and break-diff's reason in a sentence",
                m.id
            );
        }
    }
}

#[test]
fn every_rule_has_a_fixture_pair_and_every_fixture_a_rule() {
    let ids: BTreeSet<String> = ALL.iter().map(|r| r.meta.id.to_owned()).collect();
    let dir = support::fixtures_dir();
    for id in &ids {
        for file in ["base.yaml", "revision.yaml"] {
            assert!(
                dir.join(id).join(file).is_file(),
                "missing tests/fixtures/{id}/{file}"
            );
        }
    }
    for entry in fs::read_dir(&dir).expect("fixtures") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(ids.contains(&name), "fixture folder `{name}` names no rule");
    }
    // A snapshot left behind by a renamed or deleted rule is dead weight
    // that reviewers would still read.
    let snaps = support::crate_dir().join("tests/snapshots/fixtures");
    for entry in fs::read_dir(&snaps).expect("fixture snapshots") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let id = name.strip_suffix(".snap").unwrap_or(&name);
        assert!(ids.contains(id), "snapshot `{name}` belongs to no rule");
    }
}

#[test]
fn directional_rules_have_a_mirror_or_a_waiver() {
    for r in ALL {
        let id = r.meta.id;
        let directional = id.starts_with("request_") || id.starts_with("response_");
        match r.meta.mirror {
            Mirror::NotDirectional => {
                assert!(
                    !directional,
                    "{id}: directional rule must name its mirror or waive it"
                )
            }
            Mirror::Waived(reason) => {
                assert!(directional, "{id}: only directional rules have mirrors");
                assert!(
                    reason.trim().len() >= 20,
                    "{id}: the waiver needs a written reason"
                );
            }
            Mirror::Rule(other) => {
                assert!(directional, "{id}: only directional rules have mirrors");
                let other_rule = break_diff::rules::find(other)
                    .unwrap_or_else(|| panic!("{id}: mirror `{other}` is not a rule"));
                assert_ne!(
                    id.starts_with("request_"),
                    other.starts_with("request_"),
                    "{id}: mirror `{other}` must be in the other direction"
                );
                assert_eq!(
                    other_rule.meta.mirror,
                    Mirror::Rule(id),
                    "{id}: mirror `{other}` must point back"
                );
            }
        }
    }
}

/// `docs/rules.md` is rendered from the metadata; this fails when it is
/// stale. Set `BREAK_DIFF_UPDATE_DOCS=1` to rewrite it.
#[test]
fn rules_catalog_page_is_fresh() {
    let path = support::crate_dir().join("../docs/rules.md");
    let want = break_diff::report::catalog_markdown();
    let have = fs::read_to_string(&path).unwrap_or_default();
    if have == want {
        return;
    }
    if std::env::var_os("BREAK_DIFF_UPDATE_DOCS").is_some() {
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir docs");
        fs::write(&path, want).expect("write docs/rules.md");
        return;
    }
    panic!("docs/rules.md is stale: run `BREAK_DIFF_UPDATE_DOCS=1 cargo test -p break-diff`");
}

/// The engine does no I/O and reads no clock: only `cli.rs` (and the
/// two-line `main.rs`) may name files, processes, standard streams or the
/// current time. This keeps the invariant from eroding one import at a
/// time.
#[test]
fn only_the_cli_does_io() {
    const FORBIDDEN: [&str; 8] = [
        "std::fs",
        "std::process",
        "std::env",
        "std::net",
        "io::stdin",
        "io::stdout",
        "Utc::now",
        "SystemTime",
    ];
    let mut offenders = Vec::new();
    let mut stack = vec![support::crate_dir().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("src readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "cli.rs" || name == "main.rs" {
                continue;
            }
            let text = fs::read_to_string(&path).expect("source readable");
            for word in FORBIDDEN {
                if text.contains(word) {
                    offenders.push(format!("{}: {word}", path.display()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "I/O outside cli.rs: {offenders:#?}");
}
