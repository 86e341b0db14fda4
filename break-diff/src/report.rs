//! Rendering findings and the rule catalog as text. Every output format
//! and every view of the catalog (`rules`, `explain`, `docs/rules.md`) is
//! rendered here from the same data, so they cannot disagree.
//!
//! Pure functions from data to `String`: no colour, no terminal detection,
//! no writing. The CLI decides where the text goes.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;

use crate::change::{Change, Place, entries};
use crate::rules::{ALL, Family, Mirror, RuleMeta};
use crate::{Finding, Level, Location, REPORT_VERSION};

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
fn excerpt(sources: Sources<'_>, base: &Option<Location>, revision: &Option<Location>) -> String {
    let mut out = String::new();
    match (base, revision) {
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
fn counts<'a>(levels: impl Iterator<Item = &'a Level>) -> (usize, usize, usize) {
    let (mut e, mut w, mut i) = (0, 0, 0);
    for l in levels {
        match l {
            Level::Error => e += 1,
            Level::Warning => w += 1,
            Level::Info => i += 1,
        }
    }
    (e, w, i)
}

/// `N findings: ...` when every change is one finding; otherwise the
/// changes are counted (by their level) and the findings said once.
fn summary(changes: &[Change], findings: usize, waived: usize) -> String {
    let (e, w, i) = counts(changes.iter().map(|c| &c.level));
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let head = if changes.len() == findings {
        plural(findings, "finding", "findings")
    } else {
        format!(
            "{} ({} across operations)",
            plural(changes.len(), "change", "changes"),
            plural(findings, "finding", "findings")
        )
    };
    let waived = if waived > 0 {
        format!(" ({waived} more waived)")
    } else {
        String::new()
    };
    format!("{head}: {e} error, {w} warning, {i} info{waived}")
}

/// Renders findings in `format`, one entry per root change, and one for
/// the same edit in several places (see [`crate::change::entries`]).
/// `waived` are findings that a waiver accepted: counted in summaries and
/// listed in JSON, never reported as problems, and named as waived places
/// of an entry whose other places are not waived.
pub fn render(
    format: Format,
    inputs: Inputs<'_>,
    findings: &[Finding],
    waived: &[Finding],
) -> String {
    let changes = entries(findings, waived);
    match format {
        Format::Text => text(inputs, &changes, findings.len(), waived.len()),
        Format::Json => json_report(inputs, &changes, findings, waived),
        Format::Markdown => markdown(&changes, findings.len(), waived.len()),
        Format::Github => github(inputs, &changes),
        Format::Junit => junit(inputs, &changes),
        Format::Sarif => sarif(inputs, &changes),
    }
}

/// How many operations the text report names beside the example.
const NAMED_OPERATIONS: usize = 5;

/// `GET /a` or `GET /a and 454 more operations`.
fn operations_headline(c: &Change) -> Option<String> {
    let op = c.operation.as_deref()?;
    Some(match c.operation_count {
        0 | 1 => op.to_owned(),
        2 => format!("{op} and 1 more operation"),
        n => format!("{op} and {} more operations", n - 1),
    })
}

/// The other operations, a few by name: `GET /b, POST /c, and 452 more`.
fn other_operations(c: &Change) -> Option<String> {
    let others: Vec<&str> = c
        .operations
        .iter()
        .map(String::as_str)
        .filter(|o| Some(*o) != c.operation.as_deref())
        .collect();
    if others.is_empty() {
        return None;
    }
    let mut out = others
        .iter()
        .take(NAMED_OPERATIONS)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if others.len() > NAMED_OPERATIONS {
        let _ = write!(out, ", and {} more", others.len() - NAMED_OPERATIONS);
    }
    Some(out)
}

/// `the same edit in 3 places` (`, 1 of them waived`) for an entry folded
/// from several places; `None` for a change in one place.
fn places_headline(c: &Change) -> Option<String> {
    if c.places.is_empty() {
        return None;
    }
    let waived = c.places.iter().filter(|p| p.waived).count();
    let mut out = format!("the same edit in {} places", c.places.len());
    if waived > 0 {
        let _ = write!(out, " ({waived} waived)");
    }
    Some(out)
}

/// `GET /a` or `GET /a and 3 more operations`, for one place.
fn place_operations(p: &Place) -> Option<String> {
    let op = p.operation.as_deref()?;
    Some(match p.operations.len() {
        0 | 1 => op.to_owned(),
        2 => format!("{op} and 1 more operation"),
        n => format!("{op} and {} more operations", n - 1),
    })
}

/// The message with the places headline before it, for one-line formats.
fn entry_message(c: &Change) -> String {
    match places_headline(c) {
        Some(head) => format!("{head}: {}", c.message),
        None => c.message.clone(),
    }
}

/// `revision.yaml:130 /components/...`, where a place is best shown.
fn place_at(inputs: Inputs<'_>, p: &Place) -> String {
    let (file, line) = anchor_of(inputs, &p.revision, &p.base);
    let ptr = p
        .revision
        .as_ref()
        .or(p.base.as_ref())
        .map(|l| show_ptr(&l.pointer))
        .unwrap_or("/");
    let waived = if p.waived { " (waived)" } else { "" };
    format!("{file}:{line} {ptr}{waived}")
}

/// The places other than the one the entry shows, one-line each.
fn other_places(inputs: Inputs<'_>, c: &Change) -> Vec<String> {
    c.places
        .iter()
        .filter(|p| p.waived || p.fingerprint != c.fingerprint)
        .map(|p| place_at(inputs, p))
        .collect()
}

fn text(inputs: Inputs<'_>, changes: &[Change], findings: usize, waived: usize) -> String {
    let mut out = String::new();
    for c in changes {
        let _ = write!(out, "{}[{}]", c.level, c.rule);
        if let Some(ops) = operations_headline(c) {
            let _ = write!(out, " {ops}");
        }
        out.push('\n');
        let _ = writeln!(out, "  {}", c.message);
        if !c.places.is_empty() {
            text_places(&mut out, inputs, c);
        }
        if let Some(b) = c.base.as_ref().filter(|_| c.places.is_empty()) {
            let _ = writeln!(
                out,
                "  base:     {}:{} {}",
                inputs.base,
                b.line,
                show_ptr(&b.pointer)
            );
        }
        if let Some(r) = c.revision.as_ref().filter(|_| c.places.is_empty()) {
            let _ = writeln!(
                out,
                "  revision: {}:{} {}",
                inputs.revision,
                r.line,
                show_ptr(&r.pointer)
            );
        }
        if let Some(others) = other_operations(c) {
            let _ = writeln!(out, "  also:     {others}");
        }
        let _ = write!(out, "  fingerprint: {}", c.fingerprint);
        // A change copied into several operations' inline schemas: every
        // copy's fingerprint names it (a waiver may use any).
        let copies: Vec<&str> = c
            .fingerprints
            .iter()
            .map(String::as_str)
            .filter(|fp| *fp != c.fingerprint)
            .collect();
        if !copies.is_empty() {
            let _ = write!(out, " (copies: {})", copies.join(", "));
        }
        out.push('\n');
        if let Some(sources) = inputs.sources.filter(|_| c.places.is_empty()) {
            out.push_str(&excerpt(sources, &c.base, &c.revision));
        }
        out.push('\n');
    }
    out.push_str(&summary(changes, findings, waived));
    out.push('\n');
    out
}

/// The places of an entry folded from several: each one's locations,
/// operations and fingerprints, waived ones marked (their findings count
/// nowhere; the entry is listed whole so that nothing looks fixed).
fn text_places(out: &mut String, inputs: Inputs<'_>, c: &Change) {
    let _ = writeln!(out, "  {}:", places_headline(c).unwrap_or_default());
    for p in &c.places {
        let mut first = if p.waived { "  - waived\n    " } else { "  - " };
        if let Some(b) = &p.base {
            let _ = writeln!(
                out,
                "{first}base:     {}:{} {}",
                inputs.base,
                b.line,
                show_ptr(&b.pointer)
            );
            first = "    ";
        }
        if let Some(r) = &p.revision {
            let _ = writeln!(
                out,
                "{first}revision: {}:{} {}",
                inputs.revision,
                r.line,
                show_ptr(&r.pointer)
            );
        }
        if let Some(ops) = place_operations(p) {
            let _ = writeln!(out, "    operations: {ops}");
        }
        let _ = write!(out, "    fingerprint: {}", p.fingerprint);
        let copies: Vec<&str> = p
            .fingerprints
            .iter()
            .map(String::as_str)
            .filter(|fp| *fp != p.fingerprint)
            .collect();
        if !copies.is_empty() {
            let _ = write!(out, " (copies: {})", copies.join(", "));
        }
        out.push('\n');
        if let Some(sources) = inputs.sources.filter(|_| !p.waived) {
            for line in excerpt(sources, &p.base, &p.revision).lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
}

fn show_ptr(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

fn json_report(
    inputs: Inputs<'_>,
    changes: &[Change],
    findings: &[Finding],
    waived: &[Finding],
) -> String {
    let (e, w, i) = counts(findings.iter().map(|f| &f.level));
    let (ce, cw, ci) = counts(changes.iter().map(|c| &c.level));
    let findings: Vec<JsonFinding<'_>> = findings.iter().map(JsonFinding::from).collect();
    let waived: Vec<JsonFinding<'_>> = waived.iter().map(JsonFinding::from).collect();
    let changes: Vec<JsonChange<'_>> = changes.iter().map(JsonChange::from).collect();
    let report = JsonReport {
        base: inputs.base,
        change_summary: JsonCounts {
            error: ce,
            info: ci,
            warning: cw,
        },
        changes: &changes,
        findings: &findings,
        revision: inputs.revision,
        summary: JsonCounts {
            error: e,
            info: i,
            warning: w,
        },
        version: REPORT_VERSION,
        waived: &waived,
    };
    // Written straight from the findings: a report of ten thousand
    // findings is megabytes, and building a `Value` tree first cost as
    // long as writing it and as much memory again.
    let mut s = serde_json::to_string_pretty(&report).unwrap_or_default();
    s.push('\n');
    s
}

// The JSON report's shapes, borrowed from the findings and changes. Fields
// are in alphabetical order, the order the report has always had (it was
// built as a `serde_json::Value`, whose maps sort their keys).

#[derive(Serialize)]
struct JsonReport<'a> {
    base: &'a str,
    change_summary: JsonCounts,
    changes: &'a [JsonChange<'a>],
    findings: &'a [JsonFinding<'a>],
    revision: &'a str,
    summary: JsonCounts,
    version: u32,
    waived: &'a [JsonFinding<'a>],
}

#[derive(Serialize)]
struct JsonCounts {
    error: usize,
    info: usize,
    warning: usize,
}

#[derive(Serialize)]
struct JsonLocation<'a> {
    line: u32,
    pointer: &'a str,
}

impl<'a> JsonLocation<'a> {
    fn of(l: &'a Option<Location>) -> Option<Self> {
        l.as_ref().map(|l| JsonLocation {
            line: l.line,
            pointer: &l.pointer,
        })
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    base: Option<JsonLocation<'a>>,
    fingerprint: &'a str,
    level: Level,
    message: &'a str,
    operation: Option<&'a str>,
    revision: Option<JsonLocation<'a>>,
    rule: &'a str,
}

impl<'a> From<&'a Finding> for JsonFinding<'a> {
    fn from(f: &'a Finding) -> Self {
        JsonFinding {
            base: JsonLocation::of(&f.base),
            fingerprint: &f.fingerprint,
            level: f.level,
            message: &f.message,
            operation: f.operation.as_deref(),
            revision: JsonLocation::of(&f.revision),
            rule: f.rule,
        }
    }
}

#[derive(Serialize)]
struct JsonChange<'a> {
    base: Option<JsonLocation<'a>>,
    findings: usize,
    fingerprint: &'a str,
    /// Listed only for a change folded from copies (see
    /// [`Change::fingerprints`]).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    fingerprints: &'a [String],
    level: Level,
    message: &'a str,
    operation: Option<&'a str>,
    operation_count: usize,
    operations: &'a [String],
    /// Listed only for the same edit in several places (see
    /// [`Change::places`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    places: Vec<JsonPlace<'a>>,
    revision: Option<JsonLocation<'a>>,
    rule: &'a str,
}

#[derive(Serialize)]
struct JsonPlace<'a> {
    base: Option<JsonLocation<'a>>,
    findings: usize,
    fingerprint: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    fingerprints: &'a [String],
    message: &'a str,
    operation: Option<&'a str>,
    operation_count: usize,
    operations: &'a [String],
    revision: Option<JsonLocation<'a>>,
    waived: bool,
}

impl<'a> From<&'a Place> for JsonPlace<'a> {
    fn from(p: &'a Place) -> Self {
        JsonPlace {
            base: JsonLocation::of(&p.base),
            findings: p.findings,
            fingerprint: &p.fingerprint,
            fingerprints: if p.fingerprints.len() > 1 {
                &p.fingerprints
            } else {
                &[]
            },
            message: &p.message,
            operation: p.operation.as_deref(),
            operation_count: p.operations.len(),
            operations: &p.operations,
            revision: JsonLocation::of(&p.revision),
            waived: p.waived,
        }
    }
}

impl<'a> From<&'a Change> for JsonChange<'a> {
    fn from(c: &'a Change) -> Self {
        JsonChange {
            base: JsonLocation::of(&c.base),
            findings: c.findings,
            fingerprint: &c.fingerprint,
            fingerprints: if c.fingerprints.len() > 1 {
                &c.fingerprints
            } else {
                &[]
            },
            level: c.level,
            message: &c.message,
            operation: c.operation.as_deref(),
            operation_count: c.operation_count,
            operations: &c.operations,
            places: c.places.iter().map(JsonPlace::from).collect(),
            revision: JsonLocation::of(&c.revision),
            rule: c.rule,
        }
    }
}

/// Escapes text for a Markdown table cell.
/// What a client does about a change: the step for its consumers, not
/// for the API's authors (the rule's `fix`). By the rule's direction.
pub fn client_step(rule: &str) -> &'static str {
    match rule {
        "operation_id_changed" => {
            "Call the SDK method named after the new operationId; regenerate the SDK and rename the calls."
        }
        r if r.starts_with("operation_removed") => {
            "Move the calls to the operation that replaces it (the deprecation notice names it)."
        }
        r if r.starts_with("request_") => {
            "Change what the client sends: build requests as the revision's line defines them; the server validates against that."
        }
        r if r.starts_with("response_") => {
            "Change what the client reads: parse responses as the revision's line defines them; what the base line showed is no longer sent so."
        }
        r if r.starts_with("security_") => {
            "Send the credentials the revision's security requirement names."
        }
        _ => "Adapt the calls to the revision's definition at the line shown.",
    }
}

/// "How clients migrate": for every change that breaks (error) or may
/// break (warning) existing clients, what it does to them and what to do.
/// With `--map /v1=/v2` this is the migration guide between versions.
fn migration_steps(changes: &[Change]) -> String {
    let breaking: Vec<&Change> = changes
        .iter()
        .filter(|c| matches!(c.level, Level::Error | Level::Warning))
        .collect();
    if breaking.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n### How clients migrate\n\n");
    for (i, c) in breaking.iter().enumerate() {
        let ops = operations_headline(c).unwrap_or_else(|| "-".to_owned());
        let why = crate::rules::find(c.rule)
            .map(|r| r.meta.why)
            .unwrap_or_default();
        let line = |l: &Option<Location>| {
            l.as_ref()
                .map(|l| format!("line {}", l.line))
                .unwrap_or_else(|| "-".into())
        };
        let _ = writeln!(
            out,
            "{}. **{}** ({}, `{}`): {}\n   - Base {}, revision {}.\n   - Impact: {}\n   - Migrate: {}",
            i + 1,
            cell(&ops),
            c.level,
            c.rule,
            cell(&entry_message(c)),
            line(&c.base),
            line(&c.revision),
            why,
            client_step(c.rule),
        );
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(changes: &[Change], findings: usize, waived: usize) -> String {
    let mut out = String::from("## break-diff\n\n");
    out.push_str(&summary(changes, findings, waived));
    out.push_str("\n\n");
    if changes.is_empty() {
        return out;
    }
    out.push_str("| Level | Rule | Operation | Change | Base | Revision |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for c in changes {
        // An entry in several places names every place's line.
        let loc = |side: fn(&Place) -> &Option<Location>, l: &Option<Location>| {
            let lines: Vec<String> = if c.places.is_empty() {
                l.iter().map(|l| l.line.to_string()).collect()
            } else {
                c.places
                    .iter()
                    .filter(|p| !p.waived)
                    .filter_map(|p| side(p).as_ref().map(|l| l.line.to_string()))
                    .collect()
            };
            match lines.len() {
                0 => "-".to_owned(),
                1 => format!("line {}", lines[0]),
                _ => format!("lines {}", lines.join(", ")),
            }
        };
        let ops = operations_headline(c).unwrap_or_else(|| "-".to_owned());
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} |",
            c.level,
            c.rule,
            cell(&ops),
            cell(&entry_message(c)),
            loc(|p| &p.base, &c.base),
            loc(|p| &p.revision, &c.revision),
        );
    }
    out.push_str(&migration_steps(changes));
    let several: Vec<&Change> = changes.iter().filter(|c| !c.places.is_empty()).collect();
    if !several.is_empty() {
        out.push_str(
            "\n<details><summary>Places of each edit made in several places</summary>\n\n",
        );
        for c in several {
            let _ = writeln!(out, "- `{}` ({}):", c.rule, c.fingerprint);
            for p in &c.places {
                let line = |l: &Option<Location>| {
                    l.as_ref()
                        .map(|l| l.line.to_string())
                        .unwrap_or_else(|| "-".to_owned())
                };
                let ptr = p
                    .revision
                    .as_ref()
                    .or(p.base.as_ref())
                    .map(|l| show_ptr(&l.pointer))
                    .unwrap_or("/");
                let _ = writeln!(
                    out,
                    "  - `{}` (base line {}, revision line {}; {}; {}){}",
                    cell(ptr),
                    line(&p.base),
                    line(&p.revision),
                    cell(&place_operations(p).unwrap_or_else(|| "-".to_owned())),
                    p.fingerprint,
                    if p.waived { " waived" } else { "" },
                );
            }
        }
        out.push_str("\n</details>\n");
    }
    // The full lists, folded away: a shared schema can reach hundreds.
    let long: Vec<&Change> = changes.iter().filter(|c| c.operation_count > 1).collect();
    if !long.is_empty() {
        out.push_str("\n<details><summary>Operations affected by each change</summary>\n\n");
        for c in long {
            let _ = writeln!(
                out,
                "- `{}` ({}): {}",
                c.rule,
                c.fingerprint,
                cell(&c.operations.join(", "))
            );
        }
        out.push_str("\n</details>\n");
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

/// Where a change is best shown: in the revision when it exists there,
/// else in the base.
fn anchor<'a>(inputs: Inputs<'a>, c: &Change) -> (&'a str, u32) {
    anchor_of(inputs, &c.revision, &c.base)
}

/// [`anchor`] of a pair of locations.
fn anchor_of<'a>(
    inputs: Inputs<'a>,
    revision: &Option<Location>,
    base: &Option<Location>,
) -> (&'a str, u32) {
    match (revision, base) {
        (Some(r), _) => (inputs.revision, r.line),
        (None, Some(b)) => (inputs.base, b.line),
        (None, None) => (inputs.revision, 1),
    }
}

fn github(inputs: Inputs<'_>, changes: &[Change]) -> String {
    let mut out = String::new();
    for c in changes {
        let command = match c.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "notice",
        };
        let (file, line) = anchor(inputs, c);
        let op = operations_headline(c)
            .map(|o| format!("{o}: "))
            .unwrap_or_default();
        // One annotation per entry, at the place it shows; the others
        // are named in it.
        let others = other_places(inputs, c);
        let also = if others.is_empty() {
            String::new()
        } else {
            format!("; also at {}", others.join(", "))
        };
        let _ = writeln!(
            out,
            "::{command} file={},line={line},title={}::{}",
            gh_prop(file),
            gh_prop(c.rule),
            gh_data(&format!("{op}{}{also}", entry_message(c))),
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

fn junit(inputs: Inputs<'_>, changes: &[Change]) -> String {
    let failures = changes.iter().filter(|c| c.level != Level::Info).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"break-diff\" tests=\"{}\" failures=\"{failures}\">",
        changes.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{} vs {}\" tests=\"{}\" failures=\"{failures}\">",
        xml(inputs.base),
        xml(inputs.revision),
        changes.len()
    );
    for c in changes {
        let (file, line) = anchor(inputs, c);
        let _ = writeln!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{line}\">",
            xml(c.rule),
            xml(&operations_headline(c).unwrap_or_else(|| "document".to_owned())),
            xml(file),
        );
        let message = entry_message(c);
        // The places, one a line, as the test case's body.
        let places: String = c
            .places
            .iter()
            .map(|p| format!("{}\n", place_at(inputs, p)))
            .collect();
        if c.level == Level::Info {
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>",
                xml(&format!(
                    "{message}{}",
                    if places.is_empty() {
                        String::new()
                    } else {
                        format!("\n{places}")
                    }
                ))
            );
        } else if places.is_empty() {
            let _ = writeln!(
                out,
                "      <failure type=\"{}\" message=\"{}\"/>",
                c.level,
                xml(&message)
            );
        } else {
            let _ = writeln!(
                out,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                c.level,
                xml(&message),
                xml(&places)
            );
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn sarif(inputs: Inputs<'_>, changes: &[Change]) -> String {
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
    let physical = |file: &str, line: u32| {
        json!({
            "physicalLocation": {
                "artifactLocation": { "uri": file },
                "region": { "startLine": line },
            }
        })
    };
    let results: Vec<_> = changes
        .iter()
        .map(|c| {
            let (file, line) = anchor(inputs, c);
            let op = operations_headline(c)
                .map(|o| format!("{o}: "))
                .unwrap_or_default();
            // The primary location is the revision's; the base's, when
            // both exist, is where the thing was.
            let mut related: Vec<_> = match (&c.revision, &c.base) {
                (Some(_), Some(b)) => {
                    let mut loc = physical(inputs.base, b.line);
                    loc["id"] = json!(1);
                    loc["message"] = json!({ "text": format!("base: {}", show_ptr(&b.pointer)) });
                    vec![loc]
                }
                _ => Vec::new(),
            };
            // The same edit in other places: each where it is best shown.
            for p in c
                .places
                .iter()
                .filter(|p| p.waived || p.fingerprint != c.fingerprint)
            {
                let (file, line) = anchor_of(inputs, &p.revision, &p.base);
                let ptr = p
                    .revision
                    .as_ref()
                    .or(p.base.as_ref())
                    .map(|l| show_ptr(&l.pointer))
                    .unwrap_or("/");
                let mut loc = physical(file, line);
                loc["id"] = json!(related.len() + 1);
                let waived = if p.waived { " (waived)" } else { "" };
                loc["message"] = json!({ "text": format!("the same edit: {ptr}{waived}") });
                related.push(loc);
            }
            let mut properties = json!({ "operations": c.operations });
            if !c.places.is_empty() {
                properties["places"] = c
                    .places
                    .iter()
                    .map(|p| {
                        json!({
                            "fingerprint": p.fingerprint,
                            "base": p.base.as_ref().map(|l| &l.pointer),
                            "revision": p.revision.as_ref().map(|l| &l.pointer),
                            "waived": p.waived,
                        })
                    })
                    .collect();
            }
            json!({
                "ruleId": c.rule,
                "level": sarif_level(c.level),
                "message": { "text": format!("{op}{}", entry_message(c)) },
                "locations": [physical(file, line)],
                "relatedLocations": related,
                "partialFingerprints": { "breakDiffChange/v1": c.fingerprint },
                "properties": properties,
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
    let _ = writeln!(out, "breaks: {}", layers_text(meta));
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
    if let Some(note) = meta.oasdiff {
        let _ = writeln!(out, "Differs from oasdiff: {note}\n");
    }
    let _ = writeln!(out, "Reference: {}", meta.reference);
    out
}

/// `wire, sdk`, or `nothing (informational)`.
fn layers_text(meta: &RuleMeta) -> String {
    if meta.layers.is_empty() {
        "nothing (informational)".to_owned()
    } else {
        meta.layers
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
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
        "{} rules. Levels: `error` breaks clients that follow the base contract, `warning` may break some clients, `info` is worth knowing. Each rule says what it breaks: `wire` (requests or responses that followed the base contract fail, whatever the client), `sdk` (code written against the generated Rust SDK stops compiling or deserializing), both, or nothing; `--layer sdk` reports only what breaks the SDK. A level can be changed, or a rule turned off, with `--config FILE` (`rules: {{rule_id: error|warning|info|off}}`). Where a default deliberately differs from oasdiff's level for the same change, the rule says so.\n",
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
            let _ = writeln!(out, "- Breaks: {}", layers_text(m));
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
            if let Some(note) = m.oasdiff {
                let _ = writeln!(out, "- Differs from oasdiff: {note}");
            }
            let _ = writeln!(out, "- Reference: <{}>\n", m.reference);
        }
    }
    out
}
