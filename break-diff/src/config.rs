//! The `--config` file: a team's own levels for rules, overriding the
//! defaults in the catalog, or turning rules off.
//!
//! ```yaml
//! rules:
//!   operation_id_changed: info      # our SDK is hand-written
//!   response_enum_value_added: error
//!   request_parameter_default_added: off
//! ```
//!
//! Parsing and applying are pure: the CLI reads the file and passes its
//! text. Every id must be a registered rule and every value a level or
//! `off`; anything else is an error naming the line, so a typo never
//! silently leaves a rule at its default.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::document::{escape, parse_tree};
use crate::{Error, Finding, Level};

/// What a configuration does to one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Report its findings at this level instead of the default.
    Level(Level),
    /// Do not report it at all.
    Off,
}

/// Parsed configuration: rule id to setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Settings by rule id; rules not listed keep their defaults.
    pub rules: BTreeMap<String, Setting>,
}

/// Parses a configuration file (YAML or JSON).
pub fn parse(name: &str, text: &str) -> Result<Config, Error> {
    let Some((root, lines)) = parse_tree(name, text)? else {
        return Ok(Config::default());
    };
    let err = |ptr: &str, message: String| Error::Config {
        file: name.to_owned(),
        line: lines.get(ptr).unwrap_or(1),
        message,
    };
    let Some(obj) = root.as_object() else {
        return Err(err(
            "",
            "expected a mapping with a `rules:` mapping".to_owned(),
        ));
    };
    if let Some(key) = obj.keys().find(|k| *k != "rules") {
        return Err(err(
            &format!("/{}", escape(key)),
            format!("unknown key `{key}`; the configuration has only `rules:`"),
        ));
    }
    let mut config = Config::default();
    let Some(rules) = obj.get("rules") else {
        return Ok(config);
    };
    let Some(rules) = rules.as_object() else {
        return Err(err(
            "/rules",
            "`rules` must be a mapping of rule id to error, warning, info or off".to_owned(),
        ));
    };
    for (id, value) in rules {
        let ptr = format!("/rules/{}", escape(id));
        if crate::rules::find(id).is_none() {
            let near = crate::rules::similar(id);
            let hint = if near.is_empty() {
                String::new()
            } else {
                format!(" (did you mean {}?)", near.join(", "))
            };
            return Err(err(
                &ptr,
                format!("unknown rule id `{id}`{hint}; `break-diff rules` lists them"),
            ));
        }
        let setting = match value {
            Value::String(s) => match s.trim() {
                "error" => Setting::Level(Level::Error),
                "warning" => Setting::Level(Level::Warning),
                "info" => Setting::Level(Level::Info),
                "off" => Setting::Off,
                other => {
                    return Err(err(
                        &ptr,
                        format!("`{other}` for `{id}` is not error, warning, info or off"),
                    ));
                }
            },
            // YAML 1.1 habits: `off` written bare is a string in YAML 1.2,
            // but `false` is not; accept it as `off`.
            Value::Bool(false) => Setting::Off,
            other => {
                return Err(err(
                    &ptr,
                    format!("`{other}` for `{id}` is not error, warning, info or off"),
                ));
            }
        };
        config.rules.insert(id.clone(), setting);
    }
    Ok(config)
}

impl Config {
    /// The findings with configured levels applied and rules that are off
    /// dropped; the order is kept.
    pub fn apply(&self, findings: Vec<Finding>) -> Vec<Finding> {
        if self.rules.is_empty() {
            return findings;
        }
        findings
            .into_iter()
            .filter_map(|mut f| match self.rules.get(f.rule) {
                None => Some(f),
                Some(Setting::Off) => None,
                Some(Setting::Level(level)) => {
                    f.level = *level;
                    Some(f)
                }
            })
            .collect()
    }
}
