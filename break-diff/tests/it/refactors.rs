//! Refactors that change the text but not the contract must report
//! nothing: renamed path variables, `$ref` versus inline, reordering, YAML
//! versus JSON, and parameters moved between path-item and operation level.

use crate::support;

/// Compares `base` with `revision` and checks the set of rule ids found.
fn check(base: &str, revision: &str, expected: &[&str]) {
    let findings = support::diff(base, revision, &support::options());
    let mut got: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    got.dedup();
    assert_eq!(got, expected, "findings: {findings:#?}");
}

const SMALL: &str = r#"openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /orders/{order_id}:
    parameters:
      - {name: order_id, in: path, required: true, schema: {type: string}}
    get:
      operationId: getOrder
      parameters:
        - {name: verbose, in: query, schema: {type: boolean}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Order'}
components:
  schemas:
    Order:
      type: object
      required: [id]
      properties:
        id: {type: string}
        total: {type: integer, minimum: 0}
"#;

#[test]
fn refactors_are_not_breaking() {
    // The path variable is renamed.
    check(
        SMALL,
        &SMALL
            .replace("{order_id}", "{id}")
            .replace("name: order_id", "name: id"),
        &[],
    );
    // The response schema is inlined instead of referenced.
    let inline = SMALL.replace(
        "schema: {$ref: '#/components/schemas/Order'}",
        "schema: {type: object, required: [id], properties: {id: {type: string}, total: {type: integer, minimum: 0}}}",
    );
    check(SMALL, &inline, &[]);
    check(&inline, SMALL, &[]);
    // The path parameter moves to the operation and the query parameter to
    // the path item; properties are reordered.
    let moved = r#"openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /orders/{order_id}:
    parameters:
      - {name: verbose, in: query, schema: {type: boolean}}
    get:
      parameters:
        - {in: path, name: order_id, schema: {type: string}, required: true}
      operationId: getOrder
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Order'}
          description: ok
components:
  schemas:
    Order:
      properties:
        total: {minimum: 0, type: integer}
        id: {type: string}
      type: object
      required: [id]
"#;
    check(SMALL, moved, &[]);
}

#[test]
fn the_orderflow_spec_as_json_is_the_same_contract() {
    let yaml = support::orderflow();
    let doc = break_diff::Document::parse("orderflow.yaml", &yaml).expect("parses");
    let json = serde_json::to_string_pretty(doc.root().value).expect("json");
    check(&yaml, &json, &[]);
    check(&json, &yaml, &[]);
}

#[test]
fn renaming_an_orderflow_path_variable_is_not_breaking() {
    let yaml = support::orderflow();
    let renamed = yaml
        .replace("{order_id}", "{id}")
        .replace("name: order_id", "name: id");
    assert_ne!(yaml, renamed, "the spec has an {{order_id}} path");
    check(&yaml, &renamed, &[]);
}

#[test]
fn composing_a_schema_with_all_of_is_not_breaking() {
    let composed = SMALL.replace(
        "    Order:
      type: object
      required: [id]
      properties:
        id: {type: string}
        total: {type: integer, minimum: 0}
",
        "    Order:
      allOf:
        - $ref: '#/components/schemas/Identified'
        - type: object
          properties:
            total: {type: integer, minimum: 0}
    Identified:
      type: object
      required: [id]
      properties:
        id: {type: string}
",
    );
    assert_ne!(composed, SMALL);
    check(SMALL, &composed, &[]);
    check(&composed, SMALL, &[]);
    // A property changed inside a member is still seen, once.
    let edited = composed.replace(
        "total: {type: integer, minimum: 0}",
        "total: {type: number, minimum: 0}",
    );
    check(&composed, &edited, &["response_type_widened"]);
    let findings = support::diff(&composed, &edited, &support::options());
    assert_eq!(findings.len(), 1, "{findings:#?}");
}

#[test]
fn a_status_range_still_documents_the_status() {
    let ranged = SMALL.replace("'200':", "'2XX':");
    assert_ne!(ranged, SMALL);
    check(SMALL, &ranged, &[]);
    check(&ranged, SMALL, &[]);
    // The bodies behind `200` and `2XX` are still compared.
    let changed = ranged.replace("id: {type: string}", "id: {type: integer}");
    check(
        SMALL,
        &changed,
        &["response_type_narrowed", "response_type_widened"],
    );
}

const BODY: &str = r#"openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /orders:
    post:
      parameters:
        - name: filter
          in: query
          content:
            application/json:
              schema: {type: string, maxLength: 100}
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {sku: {type: string}}}
      responses:
        '201':
          description: created
          content:
            application/json:
              schema: {type: object, properties: {id: {type: string}}}
"#;

#[test]
fn media_type_parameters_and_wildcards_are_not_breaking() {
    let charset = BODY.replace("          application/json:\n            schema: {type: object, properties: {sku", "          application/json; charset=utf-8:\n            schema: {type: object, properties: {sku");
    assert_ne!(charset, BODY);
    check(BODY, &charset, &[]);
    let wildcard = BODY.replace(
        "          application/json:\n            schema: {type: object, properties: {sku",
        "          application/*:\n            schema: {type: object, properties: {sku",
    );
    assert_ne!(wildcard, BODY);
    // The wildcard entry is new surface (info), but nothing was removed.
    check(BODY, &wildcard, &["request_media_type_added"]);
    // The schema under the wildcard is still compared.
    let stricter = wildcard.replace(
        "properties: {sku: {type: string}}}",
        "required: [sku], properties: {sku: {type: string}}}",
    );
    assert_ne!(stricter, wildcard);
    check(
        BODY,
        &stricter,
        &[
            "request_media_type_added",
            "request_property_became_required",
        ],
    );
}

#[test]
fn parameters_described_with_content_are_compared() {
    let shorter = BODY.replace("maxLength: 100", "maxLength: 10");
    check(BODY, &shorter, &["request_length_range_narrowed"]);
}

/// `tests/refactors/<case>/{base,revision}.yaml`: false positives that
/// once were reported (a wrapper read as an empty schema, a member moved
/// into a component read as replaced). Each pair's report is snapshotted
/// (empty, or only the real change it carries), and each side compared
/// with itself reports nothing.
#[test]
fn refactor_fixture_pairs() {
    let dir = support::crate_dir().join("tests").join("refactors");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/refactors")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 3, "refactor fixtures missing: {cases:?}");
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
        let inputs = break_diff::report::Inputs {
            base: "base.yaml",
            revision: "revision.yaml",
            sources: None,
        };
        let text =
            break_diff::report::render(break_diff::report::Format::Text, inputs, &findings, &[]);
        insta::with_settings!({ snapshot_path => "../snapshots/refactors", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name.as_str(), text);
        });
    }
}

/// The same API written as OpenAPI 3.1: `nullable` becomes a `"null"`
/// type, boolean `exclusiveMinimum`/`exclusiveMaximum` become the bound,
/// a schema's `example` becomes `examples`. Applied to the whole tree (a
/// test helper, not a converter: it trusts that `type` marks a schema).
fn to_3_1(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Value, json};
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.insert(k.clone(), to_3_1(v));
            }
            if out
                .get("openapi")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with("3.0"))
            {
                out.insert("openapi".into(), json!("3.1.0"));
            }
            let schema = out.contains_key("type");
            if out.remove("nullable") == Some(Value::Bool(true)) {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        out.insert("nullable".into(), json!(true));
                    }
                }
            }
            for (exclusive, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                match out.get(exclusive) {
                    Some(Value::Bool(true)) => {
                        if let Some(b) = out.remove(bound) {
                            out.insert(exclusive.into(), b);
                        }
                    }
                    Some(Value::Bool(false)) => {
                        out.remove(exclusive);
                    }
                    _ => {}
                }
            }
            if schema && let Some(example) = out.remove("example") {
                out.insert("examples".into(), json!([example]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_3_1).collect()),
        other => other.clone(),
    }
}

fn migrate(text: &str) -> String {
    let (value, _) = break_diff::document::parse_tree("spec.yaml", text)
        .expect("parses")
        .expect("not empty");
    // JSON is YAML: the migrated document is read by the same parser.
    serde_json::to_string_pretty(&to_3_1(&value)).expect("json")
}

#[test]
fn a_3_0_to_3_1_migration_reports_only_the_version() {
    let options = support::options();
    let mut specs = vec![("orderflow".to_owned(), support::orderflow(), None)];
    let mut dirs: Vec<_> = std::fs::read_dir(support::fixtures_dir())
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let base = std::fs::read_to_string(dir.join("base.yaml")).expect("base");
        let rev = std::fs::read_to_string(dir.join("revision.yaml")).expect("revision");
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        if base.starts_with("openapi: 3.0") && rev.starts_with("openapi: 3.0") {
            specs.push((name, base, Some(rev)));
        }
    }
    assert!(specs.len() > 50, "only {} 3.0 fixtures", specs.len());
    let mut failures = Vec::new();
    let mut rewritten = 0;
    for (name, base, rev) in &specs {
        let migrated = migrate(base);
        // Count the documents the migration changes beyond the version, so
        // the test cannot pass by converting nothing.
        let (mut original, _) = break_diff::document::parse_tree("a", base)
            .expect("parses")
            .expect("not empty");
        original["openapi"] = serde_json::json!("3.1.0");
        let (converted, _) = break_diff::document::parse_tree("b", &migrated)
            .expect("parses")
            .expect("not empty");
        if converted != original {
            rewritten += 1;
        }
        let found: Vec<&str> = support::diff(base, &migrated, &options)
            .iter()
            .map(|f| f.rule)
            .collect();
        if found != ["openapi_version_changed"] {
            failures.push(format!("{name}: 3.0 -> 3.1 reports {found:?}"));
        }
        // Both sides migrated: the same changes, by rule and operation.
        if let Some(rev) = rev {
            let key = |fs: Vec<break_diff::Finding>| -> Vec<(&'static str, Option<String>)> {
                fs.into_iter().map(|f| (f.rule, f.operation)).collect()
            };
            let as_3_0 = key(support::diff(base, rev, &options));
            let as_3_1 = key(support::diff(&migrated, &migrate(rev), &options));
            if as_3_0 != as_3_1 {
                failures.push(format!(
                    "{name}: 3.0 pair {as_3_0:?} but 3.1 pair {as_3_1:?}"
                ));
            }
        }
    }
    assert!(
        rewritten >= 2,
        "only {rewritten} documents had 3.0-only keywords"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
