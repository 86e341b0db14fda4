//! An end-to-end run on the real OrderFlow contract: a plausible "v2" made
//! of edits to the spec, reported in full. It shows direction at work on
//! one shared schema (`OrderStatus` is read in responses and written in
//! requests) and a refactor (renamed path variable) reported as nothing.

use break_diff::report::{self, Format, Inputs};

use crate::support;

/// Applies `(old, new)` edits, each of which must match exactly once.
fn edit(text: &str, edits: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (old, new) in edits {
        assert_eq!(
            out.matches(old).count(),
            1,
            "edit target not unique: {old:?}"
        );
        out = out.replacen(old, new, 1);
    }
    out
}

#[test]
fn orderflow_v2_report() {
    let base = support::orderflow();
    let rev = edit(
        &base,
        &[
            (
                "enum: [pending, processing, shipped, delivered, cancelled]",
                "enum: [pending, processing, shipped, delivered, cancelled, refunded]",
            ),
            ("      required: [items]\n", "      required: [items, customer_id]\n"),
            ("          minimum: 1\n          maximum: 10000\n", "          minimum: 1\n          maximum: 1000\n"),
            ("\n      operationId: listOrderItemsV2\n", "\n      operationId: listOrderItemsV2\n      deprecated: true\n      x-sunset: 2026-07-01\n"),
        ],
    )
    .replace("{order_id}", "{id}")
    .replace("name: order_id", "name: id");
    let findings = support::diff(&base, &rev, &support::options());
    let errors: std::collections::BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.level == break_diff::Level::Error)
        .map(|f| f.rule)
        .collect();
    assert_eq!(
        errors.into_iter().collect::<Vec<_>>(),
        [
            "request_numeric_range_narrowed",
            "request_property_became_required"
        ]
    );
    let inputs = Inputs {
        base: "orderflow.yaml",
        revision: "orderflow-v2.yaml",
        sources: None,
    };
    let text = support::redact_lines(
        &report::render(Format::Text, inputs, &findings, &[]),
        &["orderflow.yaml", "orderflow-v2.yaml"],
    );
    insta::with_settings!({ snapshot_path => "../snapshots/cli", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("orderflow_v2", text);
    });
}
