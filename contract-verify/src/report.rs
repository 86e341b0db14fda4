//! What a run found, and its three renderings: a human report, JSON and
//! JUnit XML. Rendering does no I/O and judges nothing.

use serde::Serialize;

/// How one check on one operation ended.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Applicable, but could not be run (the reason says why); never a
    /// pass.
    NotRun(String),
}

/// One broken rule, with the evidence.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Violation {
    pub check: String,
    pub operation: String,
    /// What was expected and what was seen.
    pub message: String,
    /// The rule and where it is written (RFC or draft section, or the spec).
    pub rule: String,
    pub request: String,
    pub response: String,
}

/// One check on one operation.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub check: String,
    pub operation: String,
    pub outcome: Outcome,
    pub violations: Vec<Violation>,
    /// What was done, for the reader (how many pages, which statuses).
    pub notes: Vec<String>,
}

impl CheckResult {
    pub fn new(check: &str, operation: &str) -> CheckResult {
        CheckResult {
            check: check.to_owned(),
            operation: operation.to_owned(),
            outcome: Outcome::Pass,
            violations: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Records a violation; the outcome becomes `Fail`.
    pub fn violation(
        &mut self,
        rule: &str,
        message: impl Into<String>,
        exchange: Option<&crate::client::Exchange>,
    ) {
        self.outcome = Outcome::Fail;
        self.violations.push(Violation {
            check: self.check.clone(),
            operation: self.operation.clone(),
            message: message.into(),
            rule: rule.to_owned(),
            request: exchange.map(|e| e.describe_request()).unwrap_or_default(),
            response: exchange.map(|e| e.describe_response()).unwrap_or_default(),
        });
    }

    /// Marks the check as not run, unless it already failed.
    pub fn not_run(&mut self, reason: impl Into<String>) {
        if self.outcome != Outcome::Fail {
            self.outcome = Outcome::NotRun(reason.into());
        }
    }
}

/// A family of checks and how many operations the spec declares for it.
#[derive(Debug, Clone, Serialize)]
pub struct Applicability {
    pub family: String,
    /// What the applicable operations are called ("deprecated operations").
    pub noun: String,
    /// What makes an operation applicable.
    pub declared_by: String,
    pub operations: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub spec: String,
    pub base_url: String,
    pub requests_sent: usize,
    pub duration_ms: u128,
    pub applicability: Vec<Applicability>,
    pub results: Vec<CheckResult>,
}

impl Report {
    pub fn violations(&self) -> impl Iterator<Item = &Violation> {
        self.results.iter().flat_map(|r| r.violations.iter())
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        let pass = self
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Pass)
            .count();
        let fail = self
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .count();
        (pass, fail, self.results.len() - pass - fail)
    }

    pub fn human(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "contract-verify: {} against {}\n\n",
            self.spec, self.base_url
        ));
        out.push_str("What the spec declares:\n");
        for a in &self.applicability {
            out.push_str(&format!(
                "  {:<13} {} {} declared ({}){}\n",
                a.family,
                a.operations.len(),
                a.noun,
                a.declared_by,
                if a.operations.is_empty() {
                    ": nothing checked, nothing counted as passed".to_owned()
                } else {
                    format!(": {}", a.operations.join(", "))
                }
            ));
        }
        out.push('\n');
        for r in &self.results {
            let status = match &r.outcome {
                Outcome::Pass => "PASS   ".to_owned(),
                Outcome::Fail => "FAIL   ".to_owned(),
                Outcome::NotRun(_) => "NOT RUN".to_owned(),
            };
            out.push_str(&format!("{status} {:<28} {}\n", r.check, r.operation));
            if let Outcome::NotRun(reason) = &r.outcome {
                out.push_str(&format!("        reason: {reason}\n"));
            }
            for n in &r.notes {
                out.push_str(&format!("        {n}\n"));
            }
            for v in &r.violations {
                out.push_str(&format!("        violation: {}\n", v.message));
                out.push_str(&format!("        rule: {}\n", v.rule));
                if !v.request.is_empty() {
                    out.push_str(&format!("        request:\n{}\n", indent(&v.request, 12)));
                }
                if !v.response.is_empty() {
                    out.push_str(&format!("        response:\n{}\n", indent(&v.response, 12)));
                }
            }
        }
        let (pass, fail, not_run) = self.counts();
        out.push_str(&format!(
            "\n{pass} passed, {fail} failed, {not_run} not run; {} violation{}; {} requests in {:.1} s\n",
            self.violations().count(),
            if self.violations().count() == 1 {
                ""
            } else {
                "s"
            },
            self.requests_sent,
            self.duration_ms as f64 / 1000.0
        ));
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    pub fn junit(&self) -> String {
        let (_, fail, not_run) = self.counts();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"contract-verify\" tests=\"{}\" failures=\"{fail}\" skipped=\"{not_run}\" time=\"{:.3}\">\n",
            self.results.len(),
            self.duration_ms as f64 / 1000.0
        ));
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fail}\" skipped=\"{not_run}\">\n",
            xml(&self.base_url),
            self.results.len()
        ));
        for r in &self.results {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&r.check),
                xml(&r.operation)
            ));
            match &r.outcome {
                Outcome::Pass => out.push_str("/>\n"),
                Outcome::NotRun(reason) => {
                    out.push_str(&format!(
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        xml(reason)
                    ));
                }
                Outcome::Fail => {
                    out.push_str(">\n");
                    for v in &r.violations {
                        out.push_str(&format!(
                            "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                            xml(&v.message),
                            xml(&v.rule),
                            xml(&format!(
                                "request:\n{}\n\nresponse:\n{}",
                                v.request, v.response
                            ))
                        ));
                    }
                    out.push_str("    </testcase>\n");
                }
            }
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

fn indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    s.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}
