//! Waivers: accepted findings, listed in a file with a reason and an
//! optional expiry, so that a known and agreed break does not fail every
//! later check.
//!
//! Parsing and matching are pure: the CLI reads the file and passes its
//! text. A waiver never hides more than it names: a rule id is required,
//! and the operation and pointer, when given, narrow it further. An
//! expired waiver stops applying rather than failing the run, so the
//! finding comes back on its own.
//!
//! A change folded from inline copies is one thing, and a waiver naming
//! any copy's fingerprint accepts all of it. The same edit in several
//! places (see [`crate::change::entries`]) is several things that look
//! alike: a waiver accepts the places it names and no other, and the
//! report keeps the entry, listing the waived places, until every place
//! is waived.
//!
//! ```yaml
//! waivers:
//!   - rule: response_property_became_optional
//!     operation: GET /v1/orders/{order_id}
//!     pointer: /components/schemas/Order/required
//!     reason: announced in the 2026-05 changelog
//!     until: 2026-09-01
//!   - fingerprint: 3f9a0c1d2b4e5f60
//!     reason: the enum value is announced; clients tolerate it
//! ```

use serde_json::Value;

use crate::document::{escape, parse_tree};
use crate::hash::FastMap;
use crate::model::normalize_path;
use crate::{Error, Finding};

/// One accepted finding pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// Rule id the waiver applies to, when it names one.
    pub rule: Option<String>,
    /// Fingerprint of the root change it accepts, when it names one.
    pub fingerprint: Option<String>,
    /// `METHOD /path`; path variable names do not matter.
    pub operation: Option<String>,
    /// A JSON pointer prefix matched against both sides' pointers.
    pub pointer: Option<String>,
    /// Why the change is accepted; required.
    pub reason: String,
    /// Last day the waiver applies.
    pub until: Option<chrono::NaiveDate>,
    /// Line of the entry in the file, for messages.
    pub line: u32,
}

/// Parses a waiver file (YAML or JSON). Every rule id must exist.
pub fn parse(name: &str, text: &str) -> Result<Vec<Waiver>, Error> {
    let Some((root, lines)) = parse_tree(name, text)? else {
        return Ok(Vec::new());
    };
    let err = |ptr: &str, message: String| Error::Waiver {
        file: name.to_owned(),
        line: line_of(&lines, ptr),
        message,
    };
    let Some(list) = root.get("waivers") else {
        return Err(err("", "expected a top-level `waivers:` list".to_owned()));
    };
    let Some(items) = list.as_array() else {
        return Err(err("/waivers", "`waivers` must be a list".to_owned()));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ptr = format!("/waivers/{i}");
        let field = |key: &str| -> Result<Option<String>, Error> {
            match item.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
                Some(_) => Err(err(
                    &format!("{ptr}/{}", escape(key)),
                    format!("`{key}` must be a string"),
                )),
            }
        };
        if !item.is_object() {
            return Err(err(&ptr, "each waiver must be a mapping".to_owned()));
        }
        let rule = field("rule")?;
        let fingerprint = field("fingerprint")?;
        if rule.is_none() && fingerprint.is_none() {
            return Err(err(
                &ptr,
                "`rule` or `fingerprint` is required: name the rule, or the change's fingerprint from the report".to_owned(),
            ));
        }
        if let Some(rule) = &rule
            && crate::rules::find(rule).is_none()
        {
            return Err(err(
                &format!("{ptr}/rule"),
                format!("unknown rule id `{rule}`; `break-diff rules` lists them"),
            ));
        }
        if let Some(fp) = &fingerprint
            && (fp.len() != 16 || !fp.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(err(
                &format!("{ptr}/fingerprint"),
                format!("fingerprint `{fp}` is not 16 hex digits as reports print them"),
            ));
        }
        let reason = field("reason")?.unwrap_or_default();
        if reason.is_empty() {
            return Err(err(
                &ptr,
                "`reason` is required: say why the break is accepted".to_owned(),
            ));
        }
        let until = match field("until")? {
            None => None,
            Some(raw) => Some(chrono::NaiveDate::parse_from_str(&raw, "%Y-%m-%d").map_err(
                |_| {
                    err(
                        &format!("{ptr}/until"),
                        format!("`until` value `{raw}` is not a YYYY-MM-DD date"),
                    )
                },
            )?),
        };
        out.push(Waiver {
            rule,
            fingerprint: fingerprint.map(|f| f.to_ascii_lowercase()),
            operation: field("operation")?,
            pointer: field("pointer")?,
            reason,
            until,
            line: line_of(&lines, &ptr),
        });
    }
    Ok(out)
}

fn line_of(lines: &crate::document::Lines, ptr: &str) -> u32 {
    lines.get(ptr).unwrap_or(1)
}

/// `GET /a/{}`: the operation with method case and variable names erased.
fn operation_key(op: &str) -> String {
    match op.trim().split_once(' ') {
        Some((method, path)) => format!(
            "{} {}",
            method.to_ascii_uppercase(),
            normalize_path(path.trim())
        ),
        None => op.trim().to_ascii_uppercase(),
    }
}

impl Waiver {
    /// Whether the waiver is in force on `today`.
    pub fn active(&self, today: chrono::NaiveDate) -> bool {
        self.until.is_none_or(|until| today <= until)
    }

    /// What the waiver names, for messages: `` `rule` `` and/or the
    /// fingerprint.
    pub fn describe(&self) -> String {
        match (&self.rule, &self.fingerprint) {
            (Some(rule), Some(fp)) => format!("`{rule}` (fingerprint {fp})"),
            (Some(rule), None) => format!("`{rule}`"),
            (None, Some(fp)) => format!("fingerprint {fp}"),
            (None, None) => String::new(),
        }
    }

    /// Whether the waiver covers `f`, taken alone.
    pub fn covers(&self, f: &Finding) -> bool {
        self.covers_in(f, &[f.fingerprint.as_str()])
    }

    /// Whether the waiver covers `f`, whose change (see
    /// [`crate::change::group`]) holds findings with `fingerprints`: a
    /// waiver naming any of them accepts every finding of the change.
    pub fn covers_in(&self, f: &Finding, fingerprints: &[&str]) -> bool {
        if self.rule.as_deref().is_some_and(|rule| rule != f.rule) {
            return false;
        }
        if self
            .fingerprint
            .as_deref()
            .is_some_and(|fp| !fingerprints.contains(&fp))
        {
            return false;
        }
        if let Some(op) = &self.operation {
            match &f.operation {
                Some(fop) if operation_key(fop) == operation_key(op) => {}
                _ => return false,
            }
        }
        if let Some(prefix) = &self.pointer {
            let hit = |loc: &Option<crate::Location>| {
                loc.as_ref().is_some_and(|l| {
                    l.pointer == *prefix
                        || (l.pointer.starts_with(prefix.as_str())
                            && l.pointer[prefix.len()..].starts_with('/'))
                })
            };
            if !hit(&f.base) && !hit(&f.revision) {
                return false;
            }
        }
        true
    }
}

/// The outcome of applying waivers.
#[derive(Debug, Default)]
pub struct Applied {
    /// Findings no active waiver covers.
    pub kept: Vec<Finding>,
    /// Findings an active waiver covers.
    pub waived: Vec<Finding>,
    /// Waivers that covered nothing (candidates for deletion).
    pub unused: Vec<Waiver>,
    /// Waivers past their `until` date (no longer applied).
    pub expired: Vec<Waiver>,
}

/// Splits `findings` by the waivers active on `today`.
pub fn apply(findings: Vec<Finding>, waivers: &[Waiver], today: chrono::NaiveDate) -> Applied {
    let mut out = Applied::default();
    let mut used = vec![false; waivers.len()];
    // The fingerprints of each change's findings: a change folded from
    // copies in several operations has one per copy.
    let mut changes: FastMap<(&str, bool, &str), Vec<&str>> = FastMap::default();
    for f in &findings {
        let fps = changes.entry(crate::change::fold_key(f)).or_default();
        if !fps.contains(&f.fingerprint.as_str()) {
            fps.push(&f.fingerprint);
        }
    }
    let mut split = Vec::with_capacity(findings.len());
    for f in &findings {
        let fps = &changes[&crate::change::fold_key(f)];
        let hit = waivers
            .iter()
            .enumerate()
            .find(|(_, w)| w.active(today) && w.covers_in(f, fps));
        split.push(hit.map(|(w, _)| w));
    }
    drop(changes);
    for (hit, f) in split.into_iter().zip(findings) {
        match hit {
            Some(i) => {
                used[i] = true;
                out.waived.push(f);
            }
            None => out.kept.push(f),
        }
    }
    for (w, used) in waivers.iter().zip(used) {
        if !w.active(today) {
            out.expired.push(w.clone());
        } else if !used {
            out.unused.push(w.clone());
        }
    }
    out
}
