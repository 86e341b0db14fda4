//! Rendering findings and the rule catalog as text. Every output format
//! and every view of the catalog (`rules`, `explain`, `docs/rules.md`) is
//! rendered here from the same data, so they cannot disagree.
//!
//! Pure functions from data to `String`: no colour, no terminal detection,
//! no writing. The CLI decides where the text goes.

use std::fmt::Write as _;

use serde_json::json;

use crate::rules::{ALL, Family, Mirror, RuleMeta};
use crate::{Finding, Level, REPORT_VERSION};

/// Output formats of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable, one block per finding.
    Text,
    /// Machine-readable, with a `version` field.
    Json,
    /// A table for pull-request comments.
    Markdown,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// JUnit XML, one test case per finding.
    Junit,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
}

/// Display names of the two inputs, used to point at files.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The base document's name.
    pub base: &'a str,
    /// The revision's name.
    pub revision: &'a str,
    /// Both texts, when the text report should show each finding's lines
    /// as a small unified diff (`--diff`).
    pub sources: Option<Sources<'a>>,
}

/// The texts of the two inputs.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// The base document's text.
    pub base: &'a str,
    /// The revision's text.
    pub revision: &'a str,
}

/// Lines of context shown on each side of a finding's line.
const CONTEXT: usize = 2;

/// The lines around 1-based `line`, and the 1-based number of the first.
fn window(text: &str, line: u32) -> (String, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let at = (line as usize).saturating_sub(1).min(lines.len());
    let start = at.saturating_sub(CONTEXT);
    let end = (at + CONTEXT + 1).min(lines.len());
    let mut out = lines[start..end].join("\n");
    out.push('\n');
    (out, start + 1)
}

/// A small unified diff of the finding's surroundings: both windows diffed
/// when the thing exists on both sides, else the one side's window with
/// the finding's line marked as removed (`-`) or added (`+`).
fn excerpt(sources: Sources<'_>, f: &Finding) -> String {
    let mut out = String::new();
    match (&f.base, &f.revision) {
        (Some(b), Some(r)) => {
            let (old, old_start) = window(sources.base, b.line);
            let (new, new_start) = window(sources.revision, r.line);
            let _ = writeln!(
                out,
                "  @@ base line {old_start}, revision line {new_start} @@"
            );
            let diff = similar::TextDiff::from_lines(&old, &new);
            for change in diff.iter_all_changes() {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                let _ = write!(out, "  {sign}{}", change.value());
                if change.missing_newline() {
                    out.push('\n');
                }
            }
        }
        (Some(b), None) => {
            let (old, start) = window(sources.base, b.line);
            let _ = writeln!(out, "  @@ base line {start} @@");
            // Only the finding's own line is marked: the context around it
            // did not necessarily change.
            for (i, l) in old.lines().enumerate() {
                let sign = if start + i == b.line as usize {
                    '-'
                } else {
                    ' '
                };
                let _ = writeln!(out, "  {sign}{l}");
            }
        }
        (None, Some(r)) => {
            let (new, start) = window(sources.revision, r.line);
            let _ = writeln!(out, "  @@ revision line {start} @@");
            for (i, l) in new.lines().enumerate() {
                let sign = if start + i == r.line as usize {
                    '+'
                } else {
                    ' '
                };
                let _ = writeln!(out, "  {sign}{l}");
            }
        }
        (None, None) => {}
    }
    out
}

/// Counts per level.
fn counts(findings: &[Finding]) -> (usize, usize, usize) {
    let n = |l: Level| findings.iter().filter(|f| f.level == l).count();
    (n(Level::Error), n(Level::Warning), n(Level::Info))
}

fn summary(findings: &[Finding], waived: usize) -> String {
    let (e, w, i) = counts(findings);
    let total = findings.len();
    let noun = if total == 1 { "finding" } else { "findings" };
    let waived = if waived > 0 {
        format!(" ({waived} more waived)")
    } else {
        String::new()
    };
    format!("{total} {noun}: {e} error, {w} warning, {i} info{waived}")
}

/// Renders findings in `format`. `waived` are findings that a waiver
/// accepted: counted in summaries and listed in JSON, never reported as
/// problems.
pub fn render(
    format: Format,
    inputs: Inputs<'_>,
    findings: &[Finding],
    waived: &[Finding],
) -> String {
    match format {
        Format::Text => text(inputs, findings, waived.len()),
        Format::Json => json_report(inputs, findings, waived),
        Format::Markdown => markdown(findings, waived.len()),
        Format::Github => github(inputs, findings),
        Format::Junit => junit(inputs, findings),
        Format::Sarif => sarif(inputs, findings),
    }
}

fn text(inputs: Inputs<'_>, findings: &[Finding], waived: usize) -> String {
    let mut out = String::new();
    for f in findings {
        let _ = write!(out, "{}[{}]", f.level, f.rule);
        if let Some(op) = &f.operation {
            let _ = write!(out, " {op}");
        }
        out.push('\n');
        let _ = writeln!(out, "  {}", f.message);
        if let Some(b) = &f.base {
            let _ = writeln!(
                out,
                "  base:     {}:{} {}",
                inputs.base,
                b.line,
                show_ptr(&b.pointer)
            );
        }
        if let Some(r) = &f.revision {
            let _ = writeln!(
                out,
                "  revision: {}:{} {}",
                inputs.revision,
                r.line,
                show_ptr(&r.pointer)
            );
        }
        if let Some(sources) = inputs.sources {
            out.push_str(&excerpt(sources, f));
        }
        out.push('\n');
    }
    out.push_str(&summary(findings, waived));
    out.push('\n');
    out
}

fn show_ptr(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

fn json_report(inputs: Inputs<'_>, findings: &[Finding], waived: &[Finding]) -> String {
    let (e, w, i) = counts(findings);
    let value = json!({
        "version": REPORT_VERSION,
        "base": inputs.base,
        "revision": inputs.revision,
        "summary": { "error": e, "warning": w, "info": i },
        "findings": findings,
        "waived": waived,
    });
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
    s.push('\n');
    s
}

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(findings: &[Finding], waived: usize) -> String {
    let mut out = String::from("## break-diff\n\n");
    out.push_str(&summary(findings, waived));
    out.push_str("\n\n");
    if findings.is_empty() {
        return out;
    }
    out.push_str("| Level | Rule | Operation | Change | Base | Revision |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for f in findings {
        let loc = |l: &Option<crate::Location>| {
            l.as_ref()
                .map(|l| format!("line {}", l.line))
                .unwrap_or_else(|| "-".to_owned())
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} |",
            f.level,
            f.rule,
            cell(f.operation.as_deref().unwrap_or("-")),
            cell(&f.message),
            loc(&f.base),
            loc(&f.revision),
        );
    }
    out
}

/// Escapes workflow-command data (the message part).
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value.
fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Where a finding is best shown: in the revision when it exists there,
/// else in the base.
fn anchor<'a>(inputs: Inputs<'a>, f: &Finding) -> (&'a str, u32) {
    match (&f.revision, &f.base) {
        (Some(r), _) => (inputs.revision, r.line),
        (None, Some(b)) => (inputs.base, b.line),
        (None, None) => (inputs.revision, 1),
    }
}

fn github(inputs: Inputs<'_>, findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let command = match f.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "notice",
        };
        let (file, line) = anchor(inputs, f);
        let op = f
            .operation
            .as_deref()
            .map(|o| format!("{o}: "))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "::{command} file={},line={line},title={}::{}",
            gh_prop(file),
            gh_prop(f.rule),
            gh_data(&format!("{op}{}", f.message)),
        );
    }
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit(inputs: Inputs<'_>, findings: &[Finding]) -> String {
    let failures = findings.iter().filter(|f| f.level != Level::Info).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"break-diff\" tests=\"{}\" failures=\"{failures}\">",
        findings.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{} vs {}\" tests=\"{}\" failures=\"{failures}\">",
        xml(inputs.base),
        xml(inputs.revision),
        findings.len()
    );
    for f in findings {
        let (file, line) = anchor(inputs, f);
        let _ = writeln!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{line}\">",
            xml(f.rule),
            xml(f.operation.as_deref().unwrap_or("document")),
            xml(file),
        );
        if f.level == Level::Info {
            let _ = writeln!(out, "      <system-out>{}</system-out>", xml(&f.message));
        } else {
            let _ = writeln!(
                out,
                "      <failure type=\"{}\" message=\"{}\"/>",
                f.level,
                xml(&f.message)
            );
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn sarif(inputs: Inputs<'_>, findings: &[Finding]) -> String {
    let rules: Vec<_> = ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.meta.id,
                "shortDescription": { "text": r.meta.description },
                "fullDescription": { "text": r.meta.why },
                "help": { "text": r.meta.fix },
                "helpUri": r.meta.reference,
                "defaultConfiguration": { "level": sarif_level(r.meta.level) },
            })
        })
        .collect();
    let results: Vec<_> = findings
        .iter()
        .map(|f| {
            let (file, line) = anchor(inputs, f);
            let op = f
                .operation
                .as_deref()
                .map(|o| format!("{o}: "))
                .unwrap_or_default();
            json!({
                "ruleId": f.rule,
                "level": sarif_level(f.level),
                "message": { "text": format!("{op}{}", f.message) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": file },
                        "region": { "startLine": line },
                    }
                }],
            })
        })
        .collect();
    let value = json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": {
                "name": "break-diff",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
    s.push('\n');
    s
}

fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Info => "note",
    }
}

/// One line per rule: level, id, description.
pub fn rule_list() -> String {
    let width = ALL.iter().map(|r| r.meta.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in ALL {
        let _ = writeln!(
            out,
            "{:<7} {:<width$}  {}",
            r.meta.level.as_str(),
            r.meta.id,
            r.meta.description
        );
    }
    out
}

/// The full explanation of one rule.
pub fn explain(meta: &RuleMeta) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", meta.id, meta.level);
    let _ = writeln!(out, "family: {}", meta.family.title());
    let _ = writeln!(out, "\n{}\n", meta.description);
    let _ = writeln!(out, "Why it matters: {}\n", meta.why);
    let _ = writeln!(out, "How to evolve safely: {}\n", meta.fix);
    match meta.mirror {
        Mirror::NotDirectional => {}
        Mirror::Rule(id) => {
            let _ = writeln!(out, "Mirror rule (other direction): {id}\n");
        }
        Mirror::Waived(why) => {
            let _ = writeln!(out, "No mirror rule: {why}\n");
        }
    }
    let _ = writeln!(out, "Reference: {}", meta.reference);
    out
}

/// The first line of the generated catalog page.
pub const CATALOG_HEADER: &str = "<!-- Generated by `BREAK_DIFF_UPDATE_DOCS=1 cargo test -p break-diff` from the rule metadata in break-diff/src/rules/. Do not edit by hand. -->";

/// The catalog page `docs/rules.md`, grouped by family.
pub fn catalog_markdown() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{CATALOG_HEADER}\n");
    let _ = writeln!(out, "# break-diff rules\n");
    let _ = writeln!(
        out,
        "{} rules. Levels: `error` breaks clients that follow the base contract, `warning` may break some clients, `info` is worth knowing.\n",
        ALL.len()
    );
    let mut families: Vec<Family> = ALL.iter().map(|r| r.meta.family).collect();
    families.sort();
    families.dedup();
    for family in families {
        let _ = writeln!(out, "## {}\n", family.title());
        for r in ALL.iter().filter(|r| r.meta.family == family) {
            let m = &r.meta;
            let _ = writeln!(out, "### `{}` ({})\n", m.id, m.level);
            let _ = writeln!(out, "{}\n", m.description);
            let _ = writeln!(out, "- Why it matters: {}", m.why);
            let _ = writeln!(out, "- How to evolve safely: {}", m.fix);
            match m.mirror {
                Mirror::NotDirectional => {}
                Mirror::Rule(id) => {
                    let _ = writeln!(out, "- Mirror rule: `{id}`");
                }
                Mirror::Waived(why) => {
                    let _ = writeln!(out, "- No mirror rule: {why}");
                }
            }
            let _ = writeln!(out, "- Reference: <{}>\n", m.reference);
        }
    }
    out
}
