//! Detection rules read from the spec alone: pagination, idempotency,
//! replay marker, dependency producers; and specs that must not make the
//! reader run long (recursive schemas).

use contract_verify::spec::Spec;

fn spec(paths: &str, components: &str) -> Spec {
    let text = format!(
        "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n{paths}\ncomponents:\n{components}\n"
    );
    Spec::parse("test.yaml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A list operation with the given query parameters and page members.
fn list(params: &[&str], members: &str) -> Spec {
    let params: String = params
        .iter()
        .map(|p| format!("        - {{name: {p}, in: query, schema: {{type: string}}}}\n"))
        .collect();
    spec(
        &format!(
            "  /things:\n    get:\n      operationId: listThings\n      parameters:\n{params}      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                type: object\n                properties:\n{members}"
        ),
        "  schemas: {}",
    )
}

#[test]
fn pagination_is_detected_by_its_documented_rule() {
    let data = "                  data: {type: array, items: {type: object}}\n";
    let next = "                  next_cursor: {type: string, nullable: true}\n";
    let token = "                  next_page_token: {type: string}\n";
    let cases: Vec<(&[&str], String, bool)> = vec![
        (&["cursor", "limit"], format!("{data}{next}"), true),
        (&["after", "page_size"], format!("{data}{next}"), true),
        (&["page_token", "per_page"], format!("{data}{token}"), true),
        // No page size parameter.
        (&["cursor"], format!("{data}{next}"), false),
        // No cursor parameter (offset pagination is not cursor pagination).
        (&["offset", "limit"], format!("{data}{next}"), false),
        // No next-cursor member in the envelope.
        (&["cursor", "limit"], data.to_owned(), false),
        // No items array.
        (&["cursor", "limit"], next.to_owned(), false),
    ];
    for (params, members, expected) in cases {
        let s = list(params, &members);
        let op = s.operation("listThings").expect("declared");
        assert_eq!(
            s.pagination(op).is_some(),
            expected,
            "{params:?} with members\n{members}"
        );
    }
}

#[test]
fn recursive_schemas_are_read_quickly() {
    // Two recursive members per node: expanding naively would double at
    // every level.
    let s = spec(
        "  /trees:\n    post:\n      operationId: createTree\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/Node'}\n      responses:\n        '201': {description: ok}",
        "  schemas:\n    Node:\n      type: object\n      properties:\n        left: {$ref: '#/components/schemas/Node'}\n        right: {$ref: '#/components/schemas/Node'}\n        name: {type: string}",
    );
    let started = std::time::Instant::now();
    let op = s.operation("createTree").expect("declared");
    assert!(op.body_schema.is_some());
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn idempotency_and_the_replay_marker_come_from_the_spec() {
    let s = spec(
        "  /orders:\n    post:\n      operationId: placeOrder\n      parameters:\n        - {name: Idempotency-Key, in: header, required: true, schema: {type: string}}\n      responses:\n        '201':\n          description: ok\n          headers:\n            Idempotency-Replayed: {schema: {type: string}, example: 'yes'}\n  /notes:\n    post:\n      operationId: addNote\n      responses:\n        '201': {description: ok}",
        "  schemas: {}",
    );
    let place = s.operation("placeOrder").expect("declared");
    assert!(place.idempotency_param().is_some_and(|p| p.required));
    assert_eq!(
        place.replay_marker(),
        Some(("Idempotency-Replayed".to_owned(), "yes".to_owned()))
    );
    let note = s.operation("addNote").expect("declared");
    assert!(note.idempotency_param().is_none());
    assert_eq!(note.replay_marker(), None);
}

#[test]
fn generated_values_respect_the_schema() {
    use contract_verify::factory::{generate, valid, variant};
    use serde_json::json;
    let cases = [
        (
            json!({"type": "string", "pattern": "^[A-Z]{3}$"}),
            json!("EUR"),
            true,
        ),
        (
            json!({"type": "string", "pattern": "^[A-Z]{3}$"}),
            json!("cv1-EUR"),
            false,
        ),
        // ECMA-style \u escapes, as OpenAPI patterns write them.
        (
            json!({"type": "string", "pattern": "^[^\\u0000-\\u001F]+$"}),
            json!("a b"),
            true,
        ),
        (
            json!({"type": "string", "pattern": "^[^\\u0000-\\u001F]+$"}),
            json!("a\u{1}b"),
            false,
        ),
        (json!({"type": "string", "minLength": 2}), json!("a"), false),
        (
            json!({"type": "integer", "minimum": 1, "maximum": 3}),
            json!(4),
            false,
        ),
        (
            json!({"type": "object", "required": ["a"]}),
            json!({}),
            false,
        ),
        (json!({"type": "array", "minItems": 1}), json!([]), false),
    ];
    for (schema, value, expected) in cases {
        assert_eq!(valid(&schema, &value), expected, "{value} against {schema}");
    }
    let schema = json!({
        "type": "object",
        "required": ["name", "items"],
        "properties": {
            "name": {"type": "string", "minLength": 3},
            "items": {"type": "array", "minItems": 2, "items": {
                "type": "object", "required": ["quantity"],
                "properties": {"quantity": {"type": "integer", "minimum": 1, "maximum": 1}}
            }}
        }
    });
    let body = generate(&schema, 0);
    assert!(valid(&schema, &body), "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(2));
    // Quantities cannot move (minimum = maximum), so the name changes.
    let other = variant(&schema, &body, "t1").expect("a variant");
    assert!(valid(&schema, &other) && other != body, "{other}");
    assert_eq!(other["items"], body["items"]);
}
