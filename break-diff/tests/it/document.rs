//! Documents as break-diff reads them (through `openapi-doc`, whose own
//! tests cover errors, escaping and references): the real spec keeps its
//! lines, and recursive or diamond-shaped references compare in bounded
//! time.

use break_diff::Document;

use crate::support;

#[test]
fn the_real_spec_keeps_its_lines() {
    let spec = support::orderflow();
    let doc = Document::parse("orderflow.yaml", &spec).expect("orderflow parses");
    assert_eq!(doc.version(), break_diff::document::SpecVersion::V30);
    // Lines are those of the keys as written in the file.
    let want = |needle: &str| -> u32 {
        let i = spec
            .lines()
            .position(|l| l == needle)
            .expect("line present");
        u32::try_from(i + 1).expect("small")
    };
    assert_eq!(doc.line("/paths/~1v1~1orders"), want("  /v1/orders:"));
    assert_eq!(doc.line("/components/schemas/Money"), want("    Money:"));
    // A pointer with no line of its own gets its nearest ancestor's.
    assert_eq!(
        doc.line("/components/schemas/Money/nope"),
        want("    Money:")
    );
}

#[test]
fn recursive_schemas_compare_without_overflow() {
    let base = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /t:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Node'}\ncomponents:\n  schemas:\n    Node:\n      type: object\n      properties:\n        children:\n          type: array\n          items: {$ref: '#/components/schemas/Node'}\n";
    let rev = base.replace("type: array", "type: array\n          maxItems: 5");
    let findings = support::diff(base, base, &support::options());
    assert!(findings.is_empty(), "{findings:?}");
    // The revision only adds a bound, which in a response is safe; the
    // point is that both walks terminate.
    let findings = support::diff(base, &rev, &support::options());
    assert!(
        findings.iter().all(|f| f.rule.starts_with("response_")),
        "{findings:?}"
    );
}

#[test]
fn diamonds_of_references_are_compared_once() {
    // Each level refers to the next twice, so there are 2^40 paths to the
    // bottom; comparing per distinct pair keeps this instant.
    let mut text = String::from(
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /t:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/L0'}\ncomponents:\n  schemas:\n",
    );
    for i in 0..40 {
        let n = i + 1;
        text.push_str(&format!(
            "    L{i}:\n      type: object\n      properties:\n        a: {{$ref: '#/components/schemas/L{n}'}}\n        b: {{$ref: '#/components/schemas/L{n}'}}\n"
        ));
    }
    text.push_str("    L40: {type: integer, maximum: 10}\n");
    let rev = text.replace(
        "L40: {type: integer, maximum: 10}",
        "L40: {type: integer, maximum: 20}",
    );
    let findings = support::diff(&text, &rev, &support::options());
    assert_eq!(
        findings.iter().map(|f| f.rule).collect::<Vec<_>>(),
        ["response_numeric_range_widened"],
        "{findings:#?}"
    );
}
