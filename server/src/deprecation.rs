//! The deprecation policy page (`rel="deprecation"`, RFC 9745 §3): the
//! page every deprecated operation's `Link` points at. It is written from
//! the generated operation table, so it lists exactly what the spec
//! declares: each deprecated operation, since when, until when, and what
//! replaces it.

use std::fmt::Write as _;

use orderflow_edge::Operation;

/// The page's path: the spec's `x-deprecation-policy` when it is a path on
/// this server.
pub fn policy_path(ops: &[&'static Operation]) -> Option<&'static str> {
    ops.iter()
        .filter_map(|op| op.lifecycle.and_then(|l| l.policy))
        .find(|p| p.starts_with('/'))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML page.
pub fn page(ops: &[&'static Operation]) -> String {
    let mut rows = String::new();
    for op in ops {
        let Some(l) = op.lifecycle else { continue };
        let since = l
            .deprecation
            .strip_prefix('@')
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let successor = l
            .successor
            .map(|(m, r)| format!("<code>{} {}</code>", escape(m), escape(r)))
            .unwrap_or_else(|| "none".into());
        let _ = writeln!(
            rows,
            "<tr><td><code>{} {}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(op.method),
            escape(op.route),
            escape(&since),
            escape(l.sunset.unwrap_or("not set")),
            successor
        );
    }
    format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>OrderFlow API deprecation policy</title></head>
<body>
<h1>OrderFlow API deprecation policy</h1>
<p>A deprecated operation keeps working, unchanged, until its sunset. Every
response it sends, errors included, says so:</p>
<ul>
<li><code>Deprecation: @&lt;seconds&gt;</code> (RFC 9745): when it was deprecated;</li>
<li><code>Sunset: &lt;date&gt;</code> (RFC 8594): when it stops answering, never earlier than the deprecation;</li>
<li><code>Link: &lt;...&gt;; rel="successor-version"</code>: the same resource in the version that replaces it, and
<code>rel="deprecation"</code>: this page.</li>
</ul>
<p>From the sunset on, the operation answers <code>410 Gone</code> with the problem type
<code>https://orderflow.dev/problems/version-retired</code> and the same <code>Link</code>.
Sunsets are announced at least 90 days ahead. Both versions serve the same data: an id
from one is valid in the other; the migration guide lists every difference.</p>
<table>
<thead><tr><th>Operation</th><th>Deprecated since</th><th>Sunset</th><th>Successor</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
</body>
</html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_every_deprecated_operation_and_no_other() {
        let ops = orderflow_server_api::ops::ALL;
        let html = page(ops);
        for op in ops {
            let row = format!("<tr><td><code>{} {}</code></td>", op.method, op.route);
            assert_eq!(
                html.contains(&row),
                op.lifecycle.is_some(),
                "{} {}",
                op.method,
                op.route
            );
        }
        assert!(html.contains("Wed, 30 Jun 2027 00:00:00 GMT"));
        assert_eq!(policy_path(ops), Some("/deprecation"));
    }
}
