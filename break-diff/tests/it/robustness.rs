//! No input makes break-diff panic: every fifth line of the OrderFlow
//! spec is deleted in turn (which yields broken YAML, dangling references,
//! missing sections and odd shapes), and each variant is compared with the
//! original in both directions.

use break_diff::Document;

use crate::support;

#[test]
fn mutilated_specs_never_panic() {
    let spec = support::orderflow();
    let original = Document::parse("orderflow.yaml", &spec).expect("orderflow parses");
    let lines: Vec<&str> = spec.lines().collect();
    let options = support::options();
    let (mut parsed, mut rejected) = (0, 0);
    // Every fifth line keeps the run short in debug builds while still
    // hitting every section of the spec.
    for skip in (0..lines.len()).step_by(5) {
        let text: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        match Document::parse("variant.yaml", &text) {
            Ok(variant) => {
                parsed += 1;
                let _ = break_diff::diff(&original, &variant, &options);
                let _ = break_diff::diff(&variant, &original, &options);
            }
            Err(e) => {
                rejected += 1;
                assert!(
                    e.to_string().starts_with("variant.yaml:"),
                    "error without a location: {e}"
                );
            }
        }
    }
    assert!(
        parsed > 100 && rejected > 0,
        "parsed {parsed}, rejected {rejected}"
    );
}

#[test]
fn truncated_and_garbled_inputs_never_panic() {
    let spec = support::orderflow();
    let original = Document::parse("orderflow.yaml", &spec).expect("orderflow parses");
    let options = support::options();
    let mut cuts = 0;
    // Every prefix at a char boundary, in coarse steps: cut mid-token,
    // mid-flow-mapping and mid-block-scalar alike.
    for end in (0..spec.len())
        .step_by(211)
        .filter(|i| spec.is_char_boundary(*i))
    {
        cuts += 1;
        if let Ok(doc) = Document::parse("cut.yaml", &spec[..end]) {
            let _ = break_diff::diff(&original, &doc, &options);
        }
    }
    assert!(cuts > 100, "only {cuts} cuts");
    // Characters YAML treats specially, dropped into the text.
    for (i, junk) in [
        "\t",
        "&a ",
        "*a",
        "!!binary ",
        "? ",
        "{",
        "]",
        "\"",
        "'",
        "|\n",
        "%YAML 1.2\n",
        "\u{feff}",
        "\0",
    ]
    .iter()
    .enumerate()
    {
        let at = (i * 977) % spec.len();
        let at = (at..spec.len())
            .find(|j| spec.is_char_boundary(*j))
            .unwrap_or(0);
        let text = format!("{}{junk}{}", &spec[..at], &spec[at..]);
        if let Ok(doc) = Document::parse("junk.yaml", &text) {
            let _ = break_diff::diff(&doc, &original, &options);
        }
    }
}
