//! Reading documents: errors name the file, line and problem; lines are
//! kept for YAML and JSON; pointers are escaped and references resolved as
//! RFC 6901 and OpenAPI say; adversarial input (alias bombs, deep nesting,
//! reference cycles) ends in an error or a bounded answer, never a hang or
//! a panic.

use openapi_doc::{Document, SpecVersion, escape, local_ref_target};

/// Parses `input` named `spec.yaml` and checks the error message contains
/// every one of `expected`.
fn check_error(input: &str, expected: &[&str]) {
    let err = Document::parse("spec.yaml", input).expect_err("input must be rejected");
    let msg = err.to_string();
    for e in expected {
        assert!(
            msg.contains(e),
            "error `{msg}` lacks `{e}` for input {input:?}"
        );
    }
}

#[test]
fn bad_inputs_are_rejected_with_file_line_and_reason() {
    check_error("", &["spec.yaml:1", "empty"]);
    check_error(
        "openapi: 3.0.3\npaths: [\n",
        &["spec.yaml:", "not valid YAML or JSON"],
    );
    check_error("- a\n- b\n", &["spec.yaml:1", "not a mapping"]);
    check_error("swagger: '2.0'\n", &["Swagger 2.0"]);
    check_error("info: {}\n", &["`openapi` field is missing"]);
    check_error(
        "info: {}\nopenapi: 4.0.0\n",
        &["spec.yaml:2", "unsupported OpenAPI version `4.0.0`"],
    );
    check_error(
        "openapi: 3.0.3\ninfo: {}\ninfo: {}\n",
        &["spec.yaml:3", "duplicate mapping key `info`"],
    );
    check_error("openapi: 3.0.3\ninfo: *nope\n", &["spec.yaml:2"]);
    // Deep nesting is refused by the parser or by our own depth limit,
    // whichever comes first; either way it is an error at the right line.
    check_error(
        &format!("openapi: 3.0.3\nx: {}\n", "[".repeat(500)),
        &["spec.yaml:2:"],
    );
    check_error(
        "{\"openapi\": \"3.1.0\", \"paths\": {\n",
        &["spec.yaml:", "not valid YAML or JSON"],
    );
}

#[test]
fn a_colon_in_a_plain_scalar_is_pinpointed() {
    // A mistake real specs make: `: ` inside a plain scalar.
    let text = "openapi: 3.0.3\ncomponents:\n  securitySchemes:\n    bearer:\n      description: sent as `Authorization: Bearer <key>`.\n";
    check_error(text, &["spec.yaml:5:", "mapping values are not allowed"]);
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("openapi: 3.0.3\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    check_error(&text, &["too large"]);
}

#[test]
fn versions_and_lines_are_read_from_yaml_and_json() {
    let yaml = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /v1/orders:\n    get: {}\ncomponents:\n  schemas:\n    Money:\n      type: object\n";
    let doc = Document::parse("spec.yaml", yaml).expect("yaml parses");
    assert_eq!(doc.version(), SpecVersion::V30);
    assert_eq!(doc.name(), "spec.yaml");
    // Lines are those of the keys as written in the file.
    assert_eq!(doc.line("/paths/~1v1~1orders"), 4);
    assert_eq!(doc.line("/components/schemas/Money"), 8);
    // A pointer with no line of its own gets its nearest ancestor's.
    assert_eq!(doc.line("/components/schemas/Money/nope"), 8);

    let json = "{\n  \"openapi\": \"3.1.0\",\n  \"info\": {\"title\": \"t\", \"version\": \"1\"},\n  \"paths\": {\n    \"/a\": {}\n  }\n}\n";
    let doc = Document::parse("spec.json", json).expect("json parses");
    assert_eq!(doc.version(), SpecVersion::V31);
    assert_eq!(doc.line("/paths/~1a"), 5);
}

#[test]
fn pointers_are_escaped_and_references_decoded() {
    for (segment, escaped) in [
        ("plain", "plain"),
        ("/a/{id}", "~1a~1{id}"),
        ("~x/", "~0x~1"),
    ] {
        assert_eq!(escape(segment), escaped, "escape({segment:?})");
    }
    for (reference, target) in [
        ("#/components/schemas/A", Some("/components/schemas/A")),
        ("#/paths/~1orders~1%7Bid%7D", Some("/paths/~1orders~1{id}")),
        // A `%` not followed by two hex digits is kept as written.
        ("#/x/%zz%", Some("/x/%zz%")),
        ("other.yaml#/A", None),
    ] {
        assert_eq!(
            local_ref_target(reference).as_deref(),
            target,
            "local_ref_target({reference:?})"
        );
    }
    let text = "openapi: 3.0.3\npaths:\n  /orders/{id}:\n    get: {}\nx-ref: {$ref: '#/paths/~1orders~1%7Bid%7D'}\n";
    let doc = Document::parse("spec.yaml", text).expect("parses");
    let resolved = doc.resolve(doc.at("/x-ref").expect("x-ref"));
    assert_eq!(resolved.ptr, "/paths/~1orders~1{id}");
}

#[test]
fn reference_cycles_resolve_to_a_bounded_answer() {
    let text = "openapi: 3.0.3\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n    C: {$ref: '#/components/schemas/Missing'}\n";
    let doc = Document::parse("spec.yaml", text).expect("parses");
    let a = doc.at("/components/schemas/A").expect("A");
    let r = doc.resolve(a);
    assert!(
        r.value.get("$ref").is_some(),
        "a cycle stops on a reference"
    );
    let c = doc.resolve(doc.at("/components/schemas/C").expect("C"));
    assert_eq!(
        c.ptr, "/components/schemas/C",
        "a dangling ref stays where it is"
    );
}

#[test]
fn yaml_merge_keys_are_expanded() {
    let text = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-common: &common\n  '401': {description: unauthorized}\n  '500': {description: oops}\npaths:\n  /a:\n    get:\n      responses:\n        <<: *common\n        '200': {description: ok}\n        '500': {description: overridden}\n";
    let doc = Document::parse("spec.yaml", text).expect("parses");
    let responses = doc.at("/paths/~1a/get/responses").expect("responses");
    let keys: Vec<&str> = responses.entries().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["200", "401", "500"]);
    assert_eq!(responses.value["500"]["description"], "overridden");
    // Merged entries take the line of the merge key's mapping.
    assert_eq!(doc.line("/paths/~1a/get/responses/401"), 9);
    check_error(
        "openapi: 3.0.3\nx:\n  <<: 5\n",
        &["spec.yaml:3:", "merge key"],
    );
}

/// Validates `text` (named `spec.yaml`): `Ok` when `expected` is empty,
/// else an error containing every one of `expected`.
fn check_validate(text: &str, expected: &[&str]) {
    let doc = Document::parse("spec.yaml", text).expect("parses");
    match (doc.validate(), expected.is_empty()) {
        (Ok(()), true) => {}
        (Ok(()), false) => panic!("accepted, expected {expected:?}, for {text:?}"),
        (Err(e), true) => panic!("rejected with `{e}` for {text:?}"),
        (Err(e), false) => {
            let msg = e.to_string();
            for want in expected {
                assert!(msg.contains(want), "`{msg}` lacks `{want}` for {text:?}");
            }
        }
    }
}

#[test]
fn references_must_lead_somewhere_and_end_on_a_definition() {
    let head = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n";
    let cases: &[(&str, &[&str])] = &[
        (
            "paths: {}\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {type: string}\n",
            &[],
        ),
        (
            "paths: {}\ncomponents:\n  schemas:\n    A:\n      $ref: '#/components/schemas/Missing'\n",
            &[
                "spec.yaml:7:",
                "at /components/schemas/A/$ref",
                "`#/components/schemas/Missing`",
                "expected a JSON pointer",
            ],
        ),
        // A chain whose second hop fails names that hop.
        (
            "paths: {}\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/C'}\n",
            &[
                "spec.yaml:6:",
                "/components/schemas/A/$ref",
                "`#/components/schemas/C`",
            ],
        ),
        (
            "paths: {}\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n",
            &[
                "spec.yaml:6:",
                "cycle of references",
                "/components/schemas/B -> /components/schemas/A -> /components/schemas/B",
            ],
        ),
        // Deep inside an operation, escaped path segment and all.
        (
            "paths:\n  /a/{id}:\n    get:\n      responses:\n        '200': {$ref: '#/components/responses/Nope'}\n",
            &["spec.yaml:7:", "/paths/~1a~1{id}/get/responses/200/$ref"],
        ),
        // Remote references and anchors are not judged.
        (
            "paths: {}\ncomponents:\n  schemas:\n    A: {$ref: 'other.yaml#/X'}\n    B: {$ref: '#node'}\n",
            &[],
        ),
        // Literal data may hold a `$ref` key that means nothing...
        (
            "paths: {}\ncomponents:\n  schemas:\n    A:\n      type: object\n      example: {$ref: '#/nowhere'}\n      default: {$ref: '#/nowhere'}\n      x-note: {$ref: '#/nowhere'}\n      examples: [{$ref: '#/nowhere'}]\n",
            &[],
        ),
        // ...but a property *named* `default` is a schema.
        (
            "paths: {}\ncomponents:\n  schemas:\n    A:\n      properties:\n        default: {$ref: '#/nowhere'}\n",
            &["/components/schemas/A/properties/default/$ref"],
        ),
        // Structure: a document that describes no API.
        (
            "tags: []\n",
            &[
                "spec.yaml:1:",
                "none of `paths`, `components` and `webhooks`",
            ],
        ),
        (
            "paths: [a, b]\n",
            &["spec.yaml:3:", "`paths` must be a mapping"],
        ),
    ];
    for (body, expected) in cases {
        check_validate(&format!("{head}{body}"), expected);
    }
}
