//! Root changes: a change reached from many operations is one entry with
//! the list of operations, in every format; fingerprints survive
//! unrelated edits of the documents, and waivers can name them.

use break_diff::change::{Change, group};
use break_diff::cli::{ExitCode, run_with_stdin};
use break_diff::report::{self, Format, Inputs};

use crate::support;

/// A spec where `Status` is reached from `ops` operations' responses and
/// from one request parameter; `prefix` goes before the paths (unrelated
/// operations), `status` is the enum, `param` an extra parameter put
/// before `limit` in the first operation.
fn spec(ops: usize, status: &str, prefix: &str, param: &str) -> String {
    let mut s = String::from("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n");
    s.push_str(prefix);
    for i in 0..ops {
        s.push_str(&format!(
            "  /things{i}/{{id}}:\n    get:\n      parameters:\n{}        - {{name: id, in: path, required: true, schema: {{type: string}}}}\n        - {{name: limit, in: query, schema: {{type: integer, maximum: 100}}}}\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{$ref: '#/components/schemas/Thing'}}\n",
            if i == 0 { param } else { "" }
        ));
    }
    s.push_str(&format!(
        "components:\n  schemas:\n    Thing:\n      type: object\n      properties:\n        status: {{$ref: '#/components/schemas/Status'}}\n        children:\n          type: array\n          items: {{$ref: '#/components/schemas/Thing'}}\n    Status: {{type: string, enum: [{status}]}}\n"
    ));
    s
}

fn changes(base: &str, rev: &str) -> Vec<Change> {
    group(&support::diff(base, rev, &support::options()))
}

/// Checks the grouped changes of (base, rev) as (rule, operation count,
/// findings folded in).
fn check(base: &str, rev: &str, expected: &[(&str, usize, usize)]) {
    let got: Vec<(&str, usize, usize)> = changes(base, rev)
        .iter()
        .map(|c| (c.rule, c.operation_count, c.findings))
        .collect();
    assert_eq!(got, expected, "base:\n{base}\nrevision:\n{rev}");
}

#[test]
fn a_change_reached_from_many_operations_is_one_entry() {
    let base = spec(3, "a, b", "", "");
    for (rev, expected) in [
        // One shared schema, three operations: one change.
        (
            spec(3, "a, b, c", "", ""),
            vec![("response_enum_value_added", 3, 3)],
        ),
        // The same edit in three identical inline schemas, one per
        // operation, is one change copied three times.
        (
            base.replace("maximum: 100", "maximum: 10"),
            vec![("request_numeric_range_narrowed", 3, 3)],
        ),
        // Two different edits of the copies are two changes, whatever
        // the third copy does.
        (
            base.replacen("maximum: 100", "maximum: 10", 1).replacen(
                "maximum: 100",
                "maximum: 20",
                1,
            ),
            vec![
                ("request_numeric_range_narrowed", 1, 1),
                ("request_numeric_range_narrowed", 1, 1),
            ],
        ),
        // Recursion (`children[]` is a Thing too) adds no second entry.
        (
            spec(3, "a", "", ""),
            vec![("response_enum_value_removed", 3, 3)],
        ),
    ] {
        check(&base, &rev, &expected);
    }
    let c = &changes(&base, &spec(3, "a, b, c", "", ""))[0];
    assert_eq!(
        c.operations,
        [
            "GET /things0/{id}",
            "GET /things1/{id}",
            "GET /things2/{id}"
        ]
    );
    assert_eq!(c.operation.as_deref(), Some("GET /things0/{id}"));
    assert!(
        c.message
            .starts_with("response 200 application/json: status:"),
        "{}",
        c.message
    );
}

#[test]
fn a_group_takes_the_highest_level_and_the_shortest_route() {
    let finding = |op: &str, level, message: &str| break_diff::Finding {
        rule: "response_enum_value_added",
        level,
        operation: Some(op.to_owned()),
        base: None,
        revision: None,
        message: message.to_owned(),
        fingerprint: "00000000000000ff".to_owned(),
        copy_key: None,
        alike_key: None,
    };
    let grouped = group(&[
        finding(
            "GET /a",
            break_diff::Level::Info,
            "response 200: data[].x: added",
        ),
        finding(
            "GET /b",
            break_diff::Level::Warning,
            "response 200: x: added",
        ),
        finding("GET /c", break_diff::Level::Info, "response 200: y: added"),
    ]);
    assert_eq!(grouped.len(), 1);
    assert_eq!(grouped[0].level, break_diff::Level::Warning);
    // Equal lengths: the first operation in order wins.
    assert_eq!(grouped[0].operation.as_deref(), Some("GET /b"));
    assert_eq!(grouped[0].operation_count, 3);
}

/// The fingerprints of the changes of (base, rev), by rule.
fn fingerprints(base: &str, rev: &str) -> Vec<(&'static str, String)> {
    changes(base, rev)
        .into_iter()
        .map(|c| (c.rule, c.fingerprint))
        .collect()
}

#[test]
fn fingerprints_survive_unrelated_edits_and_follow_the_change() {
    let unrelated_op = "  /aaa:\n    get:\n      responses:\n        '204': {description: none}\n";
    let extra_param = "        - {name: verbose, in: query, schema: {type: boolean}}\n";
    let edit = |s: String| s.replace("maximum: 100", "maximum: 10");
    let plain = fingerprints(&spec(3, "a, b", "", ""), &edit(spec(3, "a, b, c", "", "")));
    // Lines move (an operation before, a parameter before `limit`, so its
    // index shifts too): the same changes keep their fingerprints.
    let moved = fingerprints(
        &spec(3, "a, b", unrelated_op, extra_param),
        &edit(spec(3, "a, b, c", unrelated_op, extra_param)),
    );
    // The enum value, and the narrowed `limit` copied in three operations.
    assert_eq!(plain.len(), 2, "{plain:?}");
    assert_eq!(plain, moved);
    // Another value added at the same place is another change.
    let other = fingerprints(&spec(3, "a, b", "", ""), &spec(3, "a, b, d", "", ""));
    assert_ne!(
        other[0].1,
        plain
            .iter()
            .find(|(r, _)| *r == "response_enum_value_added")
            .map(|(_, f)| f.clone())
            .unwrap_or_default()
    );
    // All distinct.
    let mut all: Vec<&String> = plain.iter().map(|(_, f)| f).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), plain.len());
}

/// Writes `text` to a file unique to this test run and returns its path.
fn temp_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("break-diff-changes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    path.to_string_lossy().into_owned()
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
fn json_lists_changes_beside_findings_and_waivers_take_fingerprints() {
    let base = temp_file("base.yaml", &spec(3, "a, b", "", ""));
    let rev = temp_file("rev.yaml", &spec(3, "a, b, c", "", ""));
    let (code, out, err) = cli(&["--format", "json", "--fail-on", "warning", &base, &rev]);
    assert_eq!(code, ExitCode::Findings, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["findings"].as_array().map(Vec::len), Some(3), "{out}");
    let changes = json["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{out}");
    assert_eq!(changes[0]["operation_count"], 3);
    assert_eq!(changes[0]["findings"], 3);
    assert_eq!(json["change_summary"]["warning"], 1);
    let fp = changes[0]["fingerprint"].as_str().expect("fingerprint");
    for f in json["findings"].as_array().expect("findings") {
        assert_eq!(
            f["fingerprint"], fp,
            "every member carries the change's fingerprint"
        );
    }
    // A waiver naming the fingerprint accepts the whole change.
    let waivers = temp_file(
        "waivers.yaml",
        &format!("waivers:\n  - fingerprint: {fp}\n    reason: agreed\n"),
    );
    let (code, out, err) = cli(&["--fail-on", "warning", "--waivers", &waivers, &base, &rev]);
    assert_eq!(code, ExitCode::Clean, "{out}{err}");
    assert!(out.contains("(3 more waived)"), "{out}");
    // A malformed fingerprint is refused at its line.
    let bad = temp_file(
        "bad.yaml",
        "waivers:\n  - fingerprint: xyz\n    reason: agreed\n",
    );
    let (code, _, err) = cli(&["--waivers", &bad, &base, &rev]);
    assert_eq!(code, ExitCode::Usage);
    assert!(
        err.contains("bad.yaml:2: invalid waiver: fingerprint `xyz`"),
        "{err}"
    );
}

#[test]
fn every_format_has_one_entry_per_change() {
    let base = spec(3, "a, b", "", "");
    let rev = spec(3, "a, b, c", "", "");
    let findings = support::diff(&base, &rev, &support::options());
    assert_eq!(findings.len(), 3);
    let inputs = Inputs {
        base: "base.yaml",
        revision: "revision.yaml",
        sources: None,
    };
    for (format, name) in [
        (Format::Text, "changes_text"),
        (Format::Markdown, "changes_markdown"),
        (Format::Github, "changes_github"),
        (Format::Junit, "changes_junit"),
        (Format::Sarif, "changes_sarif"),
    ] {
        let mut text = report::render(format, inputs, &findings, &[]);
        if format == Format::Sarif {
            // The rule catalog is snapshotted elsewhere; keep the results.
            let mut v: serde_json::Value = serde_json::from_str(&text).expect("sarif");
            v["runs"][0]["tool"]["driver"]["rules"] = serde_json::json!("…");
            text = serde_json::to_string_pretty(&v).expect("json");
        }
        insta::with_settings!({ snapshot_path => "../snapshots/cli", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

/// Pairs under `tests/copies/<case>/` where copies are edited: the same
/// edit of identical inline copies at the same place is one change naming
/// every operation; the same edit of identical nodes elsewhere (at another
/// place below the operation, in two components: `alike_*`) is one entry
/// listing its places; different edits, different content gaining the same
/// thing, and trivial nodes stay apart. Each report is snapshotted, and
/// each side compared with itself reports nothing.
#[test]
fn copy_fixture_pairs() {
    let dir = support::crate_dir().join("tests").join("copies");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/copies")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "copy fixtures missing: {cases:?}");
    let options = support::options();
    for case in cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned();
        let base = std::fs::read_to_string(case.join("base.yaml")).expect("base.yaml");
        let rev = std::fs::read_to_string(case.join("revision.yaml")).expect("revision.yaml");
        for text in [&base, &rev] {
            let same = support::diff(text, text, &options);
            assert!(same.is_empty(), "{name}: a side against itself: {same:#?}");
        }
        let findings = support::diff(&base, &rev, &options);
        let inputs = Inputs {
            base: "base.yaml",
            revision: "revision.yaml",
            sources: None,
        };
        let text = report::render(Format::Text, inputs, &findings, &[]);
        insta::with_settings!({ snapshot_path => "../snapshots/copies", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name.as_str(), text);
        });
    }
}

#[test]
fn a_waiver_naming_one_copy_accepts_the_whole_change() {
    let dir = support::crate_dir().join("tests/copies/identical_inline_edit");
    let (base, rev) = (
        dir.join("base.yaml").to_string_lossy().into_owned(),
        dir.join("revision.yaml").to_string_lossy().into_owned(),
    );
    let (code, out, err) = cli(&["--format", "json", &base, &rev]);
    assert_eq!(code, ExitCode::Findings, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let changes = json["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{out}");
    let fps: Vec<&str> = changes[0]["fingerprints"]
        .as_array()
        .expect("a folded change lists its fingerprints")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert_eq!(fps.len(), 2, "{out}");
    // The fingerprints are each finding's own, as before folding.
    let mut own: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["fingerprint"].as_str())
        .collect();
    own.sort_unstable();
    assert_eq!(own, fps);
    for fp in fps {
        let waivers = temp_file(
            &format!("copy-{fp}.yaml"),
            &format!("waivers:\n  - fingerprint: {fp}\n    reason: agreed\n"),
        );
        let (code, out, err) = cli(&["--waivers", &waivers, &base, &rev]);
        assert_eq!(code, ExitCode::Clean, "{fp}: {out}{err}");
        assert!(out.contains("(2 more waived)"), "{out}");
    }
}

/// A pair from `tests/copies/<case>/`: (base path, revision path, base
/// text, revision text).
fn copy_case(case: &str) -> (String, String, String, String) {
    let dir = support::crate_dir().join("tests/copies").join(case);
    let (base, rev) = (dir.join("base.yaml"), dir.join("revision.yaml"));
    (
        base.to_string_lossy().into_owned(),
        rev.to_string_lossy().into_owned(),
        std::fs::read_to_string(&base).expect("base.yaml"),
        std::fs::read_to_string(&rev).expect("revision.yaml"),
    )
}

/// (rule, number of places) of each entry of a copies pair.
fn entry_places(case: &str) -> Vec<(&'static str, usize)> {
    let (_, _, base, rev) = copy_case(case);
    let findings = support::diff(&base, &rev, &support::options());
    break_diff::change::entries(&findings, &[])
        .iter()
        .map(|c| (c.rule, c.places.len()))
        .collect()
}

#[test]
fn the_same_edit_folds_only_where_the_content_is_the_same() {
    for (case, expected) in [
        // Two copies of one component gain the same value and the same
        // property: one entry each, with two places.
        (
            "alike_components_identical_edit",
            vec![
                ("response_enum_value_added", 2),
                ("response_property_added", 2),
            ],
        ),
        // The same copies edited differently: four entries.
        (
            "alike_components_different_edits",
            vec![
                ("response_enum_value_added", 0),
                ("response_property_added", 0),
                ("response_enum_value_added", 0),
                ("response_property_added", 0),
            ],
        ),
        // Different enums gaining the same value, different objects
        // gaining the same property: four entries.
        (
            "alike_different_content_same_value",
            vec![
                ("response_enum_value_added", 0),
                ("response_property_added", 0),
                ("response_enum_value_added", 0),
                ("response_property_added", 0),
            ],
        ),
        // `{type: string}` and `{}` edited alike could be anything.
        (
            "alike_trivial_nodes",
            vec![
                ("response_type_narrowed", 0),
                ("response_type_widened", 0),
                ("response_type_narrowed", 0),
                ("response_type_widened", 0),
            ],
        ),
    ] {
        assert_eq!(entry_places(case), expected, "{case}");
    }
}

#[test]
fn trivial_nodes_are_told_apart() {
    use serde_json::json;
    for (node, expected) in [
        (json!({}), false),
        (json!({"type": "string"}), false),
        (
            json!({"type": "integer", "nullable": true, "maximum": 100}),
            false,
        ),
        (
            json!({"type": "string", "description": "a note", "x-doc": 1}),
            false,
        ),
        (json!({"type": "array", "items": {"type": "string"}}), false),
        (
            json!({"name": "limit", "in": "query", "schema": {"type": "integer"}}),
            false,
        ),
        (json!({"type": "string", "enum": ["a"]}), true),
        (json!({"type": "object", "properties": {"a": {}}}), true),
        (json!({"type": "array", "items": {"enum": ["a"]}}), true),
        (
            json!({"anyOf": [{"type": "string"}, {"required": ["a"]}]}),
            true,
        ),
        (
            json!({"name": "kind", "in": "query", "schema": {"enum": ["a"]}}),
            true,
        ),
        (json!(["a", "b"]), false),
    ] {
        assert_eq!(break_diff::change::substantial(&node), expected, "{node}");
    }
}

#[test]
fn the_same_edit_in_several_places_is_one_entry_in_every_format() {
    let (_, _, base, rev) = copy_case("alike_components_identical_edit");
    let findings = support::diff(&base, &rev, &support::options());
    assert_eq!(findings.len(), 4, "{findings:#?}");
    // Each place keeps its own fingerprint; the entry shows one of them.
    for c in break_diff::change::entries(&findings, &[]) {
        let fps: Vec<&str> = c.places.iter().map(|p| p.fingerprint.as_str()).collect();
        assert_eq!(fps.len(), 2);
        assert_ne!(fps[0], fps[1]);
        assert!(fps.contains(&c.fingerprint.as_str()));
        assert_eq!(c.findings, 2);
        assert_eq!(c.operation_count, 2);
    }
    let inputs = Inputs {
        base: "base.yaml",
        revision: "revision.yaml",
        sources: None,
    };
    for (format, name) in [
        (Format::Text, "alike_text"),
        (Format::Json, "alike_json"),
        (Format::Markdown, "alike_markdown"),
        (Format::Github, "alike_github"),
        (Format::Junit, "alike_junit"),
        (Format::Sarif, "alike_sarif"),
    ] {
        let mut text = report::render(format, inputs, &findings, &[]);
        if format == Format::Sarif {
            let mut v: serde_json::Value = serde_json::from_str(&text).expect("sarif");
            v["runs"][0]["tool"]["driver"]["rules"] = serde_json::json!("…");
            text = serde_json::to_string_pretty(&v).expect("json");
        }
        if format == Format::Json {
            let v: serde_json::Value = serde_json::from_str(&text).expect("json");
            // Flat findings stay one per operation and place.
            assert_eq!(v["findings"].as_array().map(Vec::len), Some(4));
            assert_eq!(v["changes"].as_array().map(Vec::len), Some(2));
        }
        insta::with_settings!({ snapshot_path => "../snapshots/copies", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

#[test]
fn a_waiver_names_one_place_and_an_entry_goes_when_every_place_is_waived() {
    let (base, rev, _, _) = copy_case("alike_components_identical_edit");
    let (code, out, err) = cli(&["--format", "json", &base, &rev]);
    assert_eq!(code, ExitCode::Clean, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let entry = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["rule"] == "response_enum_value_added")
        .expect("the enum entry")
        .clone();
    let places: Vec<String> = entry["places"]
        .as_array()
        .expect("places")
        .iter()
        .map(|p| p["fingerprint"].as_str().expect("fingerprint").to_owned())
        .collect();
    assert_eq!(places.len(), 2, "{entry}");
    let run = |name: &str, waivers: &str| {
        let file = temp_file(name, &format!("waivers:\n{waivers}"));
        let (code, out, err) = cli(&[
            "--fail-on",
            "warning",
            "--format",
            "json",
            "--waivers",
            &file,
            &base,
            &rev,
        ]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("json");
        (code, json, err)
    };
    // One place waived, by its fingerprint or by rule and pointer: the
    // entry stays, fails the run, and names the waived place.
    for (name, waiver) in [
        ("alike-fp.yaml", format!("  - fingerprint: {}\n    reason: agreed\n", places[0])),
        (
            "alike-ptr.yaml",
            "  - rule: response_enum_value_added\n    pointer: /components/schemas/ChargeIdeal\n    reason: agreed\n".to_owned(),
        ),
    ] {
        let (code, json, err) = run(name, &waiver);
        assert_eq!(code, ExitCode::Findings, "{name}: {err}");
        assert!(err.is_empty(), "{name}: the waiver was used: {err}");
        assert_eq!(json["waived"].as_array().map(Vec::len), Some(1), "{name}");
        let entry = json["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .find(|c| c["rule"] == "response_enum_value_added")
            .expect("still reported");
        assert_eq!(entry["findings"], 1, "{name}: {entry}");
        assert_eq!(entry["operation_count"], 1, "{name}: {entry}");
        let waived: Vec<bool> = entry["places"]
            .as_array()
            .expect("places")
            .iter()
            .map(|p| p["waived"].as_bool().expect("waived"))
            .collect();
        assert_eq!(waived, [false, true], "{name}: {entry}");
        assert_ne!(entry["fingerprint"], json["waived"][0]["fingerprint"]);
    }
    let file = temp_file(
        "alike-one.yaml",
        &format!(
            "waivers:\n  - fingerprint: {}\n    reason: agreed\n",
            places[0]
        ),
    );
    let (_, text, _) = cli(&["--waivers", &file, &base, &rev]);
    assert!(
        text.contains("the same edit in 2 places (1 waived):"),
        "{text}"
    );
    assert!(text.contains("  - waived\n    base:"), "{text}");
    // Every place waived: the entry is gone, and nothing fails.
    let (code, json, err) = run(
        "alike-all.yaml",
        &places
            .iter()
            .map(|fp| format!("  - fingerprint: {fp}\n    reason: agreed\n"))
            .collect::<String>(),
    );
    assert_eq!(code, ExitCode::Clean, "{err}");
    assert!(
        json["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .all(|c| c["rule"] != "response_enum_value_added"),
        "{json}"
    );
    assert_eq!(json["waived"].as_array().map(Vec::len), Some(2));
}
