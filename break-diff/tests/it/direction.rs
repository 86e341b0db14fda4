//! The same change means opposite things by direction: in requests the
//! client writes, in responses it reads, and in webhooks and callbacks the
//! server sends the request and the client answers.

use crate::support;

const DOC: &str = r#"openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /orders:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Req'}
      responses:
        '201':
          description: created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Resp'}
      callbacks:
        shipped:
          '{$request.body#/callback_url}':
            post:
              requestBody:
                content:
                  application/json:
                    schema: {$ref: '#/components/schemas/Event'}
              responses:
                '200':
                  description: ack
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Ack'}
webhooks:
  orderPaid:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Event'}
      responses:
        '204': {description: received}
components:
  schemas:
    Req:
      type: object
      required: [a]
      properties: {a: {type: string}, b: {type: string}, kind: {type: string, enum: [x, y]}}
    Resp:
      type: object
      required: [a]
      properties: {a: {type: string}, b: {type: string}, kind: {type: string, enum: [x, y]}}
    Event:
      type: object
      required: [a]
      properties: {a: {type: string}, b: {type: string}, kind: {type: string, enum: [x, y]}}
    Ack:
      type: object
      required: [a]
      properties: {a: {type: string}, b: {type: string}}
"#;

/// Applies `edit` (old, new) inside the schema named `schema` and checks
/// the warnings and errors as (rule, operation) pairs. Safe changes may
/// still be listed at info level (new surface); those are left out here.
fn check(schema: &str, edit: (&str, &str), expected: &[(&str, &str)]) {
    let start = DOC
        .find(&format!("    {schema}:\n"))
        .expect("schema present");
    let end = start + DOC[start..].find("properties:").expect("properties") + 100;
    let end = end.min(DOC.len());
    let section = &DOC[start..end];
    assert!(section.contains(edit.0), "{schema} lacks {:?}", edit.0);
    let rev = format!(
        "{}{}{}",
        &DOC[..start],
        section.replacen(edit.0, edit.1, 1),
        &DOC[end..]
    );
    let findings = support::diff(DOC, &rev, &support::options());
    let got: Vec<(&str, &str)> = findings
        .iter()
        .filter(|f| f.level > break_diff::Level::Info)
        .map(|f| (f.rule, f.operation.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(got, expected, "{schema}: {edit:?}\n{findings:#?}");
}

const CALLBACK: &str = "callback POST /orders shipped {$request.body#/callback_url} POST";
const WEBHOOK: &str = "webhook orderPaid POST";

#[test]
fn the_same_edit_is_judged_by_direction() {
    let required = ("required: [a]", "required: [a, b]");
    let optional = ("required: [a]", "required: []");
    let enum_added = ("enum: [x, y]", "enum: [x, y, z]");
    let enum_removed = ("enum: [x, y]", "enum: [x]");
    // Client-sent request bodies.
    check(
        "Req",
        required,
        &[("request_property_became_required", "POST /orders")],
    );
    check("Req", optional, &[]);
    check("Req", enum_added, &[]);
    check(
        "Req",
        enum_removed,
        &[("request_enum_value_removed", "POST /orders")],
    );
    // Server-sent responses.
    check("Resp", required, &[]);
    check(
        "Resp",
        optional,
        &[("response_property_became_optional", "POST /orders")],
    );
    check(
        "Resp",
        enum_added,
        &[("response_enum_value_added", "POST /orders")],
    );
    check("Resp", enum_removed, &[]);
    // Server-sent callback and webhook requests read like responses.
    check("Event", required, &[]);
    check(
        "Event",
        optional,
        &[
            ("response_property_became_optional", CALLBACK),
            ("response_property_became_optional", WEBHOOK),
        ],
    );
    check(
        "Event",
        enum_added,
        &[
            ("response_enum_value_added", CALLBACK),
            ("response_enum_value_added", WEBHOOK),
        ],
    );
    // Client-sent callback answers read like requests.
    check(
        "Ack",
        required,
        &[("request_property_became_required", CALLBACK)],
    );
    check("Ack", optional, &[]);
}

#[test]
fn additional_properties_by_direction() {
    let typed = (
        "      type: object\n",
        "      type: object\n      additionalProperties: {type: string}\n",
    );
    check(
        "Req",
        typed,
        &[("request_additional_properties_restricted", "POST /orders")],
    );
    check("Resp", typed, &[]);
    let closed = (
        "      type: object\n",
        "      type: object\n      additionalProperties: false\n",
    );
    check(
        "Req",
        closed,
        &[("request_additional_properties_restricted", "POST /orders")],
    );
    check("Resp", closed, &[]);
}
