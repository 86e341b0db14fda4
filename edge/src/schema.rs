//! The schema keywords the edge supports, as one typed list, and the
//! validator that enforces them on request input.
//!
//! [`Keyword`] is the single enumeration of what a spec may write inside a
//! schema. The generator's lint refuses every keyword outside it (by name,
//! with file and line), the generator strips the [`KeywordKind::Constraint`]
//! keywords from the types it hands to typify and emits them as rules
//! instead, the drift check compares every [`KeywordKind::Structure`]
//! keyword, and [`validate`] enforces both kinds on the raw request. Nothing
//! a spec author writes is silently ignored.
//!
//! The validator works on the raw JSON of a request body (before serde
//! sees it) and on the re-encoded values of parameters, so it can report
//! every bad member at once with its JSON pointer, tell a `null` from an
//! absent member, and check an integer's range before a Rust integer type
//! would refuse it with a decoder message. It does not know the generated
//! types: rules are data (`serde_json::Value` trees taken from the spec).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde_json::Value;

use crate::problem::FieldError;

pub use crate::keywords::{CONSTRAINING_FORMATS, FORMATS, Keyword, KeywordKind};

/// The range of an integer `format`, or of a plain integer (the 64-bit
/// signed range the generated types use).
fn integer_range(format: Option<&str>) -> (i128, i128) {
    match format {
        Some("int8") => (i8::MIN as i128, i8::MAX as i128),
        Some("int16") => (i16::MIN as i128, i16::MAX as i128),
        Some("int32") => (i32::MIN as i128, i32::MAX as i128),
        Some("uint8") => (0, u8::MAX as i128),
        Some("uint16") => (0, u16::MAX as i128),
        Some("uint32") => (0, u32::MAX as i128),
        Some("uint64") => (0, u64::MAX as i128),
        _ => (i64::MIN as i128, i64::MAX as i128),
    }
}

/// How serious a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The value has the wrong shape for the declared type: wrong JSON
    /// type, `null` for a non-nullable member, a required member missing,
    /// a value outside an `enum`. The request is malformed (400).
    Shape,
    /// The value has the right type but breaks a constraint (422 in a body).
    Constraint,
}

/// One violation found by [`validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub severity: Severity,
    pub error: FieldError,
}

/// Where the value came from, which decides how pointers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A request body: URI-fragment JSON pointers (`#/items/0/quantity`).
    Body,
    /// Path, query or header parameters: the parameter's name.
    Parameters,
}

/// A rule tree from generated JSON text, parsed once on first use.
#[derive(Debug)]
pub struct Rules {
    json: &'static str,
    parsed: OnceLock<Value>,
}

impl Rules {
    pub const fn new(json: &'static str) -> Rules {
        Rules {
            json,
            parsed: OnceLock::new(),
        }
    }

    /// The parsed tree. Generated text always parses; a corrupt one would
    /// validate nothing rather than panic, and the freshness test catches
    /// it first.
    pub fn tree(&self) -> &Value {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.json).unwrap_or(Value::Null))
    }
}

fn regex(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = match cache.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard
        .entry(pattern.to_string())
        .or_insert_with(|| Regex::new(&ecma_to_rust(pattern)).ok())
        .clone()
}

/// ECMA-262 white space and line terminators: what `\s` means in a JSON
/// Schema `pattern` (JSON Schema §6.3.3 uses ECMA-262 regular
/// expressions). Unicode's White_Space, which the regex crate's `\s`
/// follows, differs: it has U+0085 and lacks U+FEFF.
const ECMA_SPACE: &str = r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// A JSON Schema (ECMA-262) pattern in the regex crate's syntax, with the
/// shorthand classes and `.` meaning what ECMA-262 says: `\d` is `[0-9]`
/// and `\w` `[A-Za-z0-9_]` (ASCII, not Unicode), `\s` the ECMA-262 white
/// space, and `.` any character but a line terminator.
pub fn ecma_to_rust(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let (positive, negative) = match next {
                    'd' | 'D' => ("0-9".to_string(), next == 'D'),
                    'w' | 'W' => ("A-Za-z0-9_".to_string(), next == 'W'),
                    's' | 'S' => (ECMA_SPACE.to_string(), next == 'S'),
                    other => {
                        out.push('\\');
                        out.push(other);
                        continue;
                    }
                };
                match (in_class, negative) {
                    (true, false) => out.push_str(&positive),
                    (true, true) => out.push_str(&format!("[^{positive}]")),
                    (false, false) => out.push_str(&format!("[{positive}]")),
                    (false, true) => out.push_str(&format!("[^{positive}]")),
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading `^` or `]` belongs to the class as written.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '.' if !in_class => out.push_str(r"[^\n\r\x{2028}\x{2029}]"),
            other => out.push(other),
        }
    }
    out
}

/// Every violation in `value` against `rules`, resolving `$ref`s in
/// `components` (a map from component schema name to its rule tree).
pub fn validate(value: &Value, rules: &Value, components: &Value, mode: Mode) -> Vec<Violation> {
    let mut out = Vec::new();
    let root = match mode {
        Mode::Body => "#".to_string(),
        Mode::Parameters => String::new(),
    };
    Walker {
        components,
        mode,
        out: &mut out,
    }
    .walk(value, rules, &root, 0);
    out
}

/// The pointer of member `key` under `at`.
pub fn child(at: &str, key: &str, mode: Mode) -> String {
    let key = key.replace('~', "~0").replace('/', "~1");
    if at.is_empty() && mode == Mode::Parameters {
        key
    } else {
        format!("{at}/{key}")
    }
}

struct Walker<'a> {
    components: &'a Value,
    mode: Mode,
    out: &'a mut Vec<Violation>,
}

impl<'a> Walker<'a> {
    fn fail(&mut self, severity: Severity, at: &str, detail: String) {
        self.out.push(Violation {
            severity,
            error: FieldError {
                pointer: if at.is_empty() { "#".into() } else { at.into() },
                detail,
            },
        });
    }

    /// Follows `$ref`s (at most 16 hops, so a cycle of references ends).
    fn resolve<'v>(&self, rules: &'v Value) -> Option<&'v Value>
    where
        'a: 'v,
        Self: 'v,
    {
        let mut rules = rules;
        for _ in 0..16 {
            match rules.get(Keyword::Ref.name()).and_then(Value::as_str) {
                Some(r) => {
                    let name = r.rsplit('/').next().unwrap_or("");
                    rules = self.components.get(name)?;
                }
                None => return Some(rules),
            }
        }
        None
    }

    fn walk(&mut self, value: &Value, rules: &Value, at: &str, depth: usize) {
        // Recursive schemas meet finite data, but guard the stack anyway.
        if depth > 64 {
            return;
        }
        let Some(rules) = self.resolve(rules) else {
            return;
        };
        let Some(r) = rules.as_object() else {
            return;
        };
        let get = |k: Keyword| r.get(k.name());
        let nullable = get(Keyword::Nullable) == Some(&Value::Bool(true));
        if value.is_null() {
            if !nullable && get(Keyword::Type).is_some() {
                self.fail(
                    Severity::Shape,
                    at,
                    "must not be null; omit the member instead".into(),
                );
            }
            return;
        }
        if let Some(Value::Array(allowed)) = get(Keyword::Enum)
            && !allowed.contains(value)
        {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            self.fail(
                Severity::Shape,
                at,
                format!("must be one of {}", list.join(", ")),
            );
            return;
        }
        let format = get(Keyword::Format).and_then(Value::as_str);
        match get(Keyword::Type).and_then(Value::as_str) {
            Some("string") => {
                let Some(s) = value.as_str() else {
                    return self.wrong_type(at, "a string", value);
                };
                self.string(s, r, format, at);
            }
            Some("integer") => {
                let n = match value {
                    Value::Number(n) => n,
                    _ => return self.wrong_type(at, "an integer", value),
                };
                let Some(i) = n
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
                else {
                    // A fraction, or an integer written with an exponent
                    // or beyond 64 bits.
                    match n.as_f64() {
                        Some(f) if f.fract() == 0.0 => self.fail(
                            Severity::Constraint,
                            at,
                            format!("{n} is out of range for a 64-bit integer"),
                        ),
                        _ => self.wrong_type(at, "an integer", value),
                    }
                    return;
                };
                let (lo, hi) = integer_range(format);
                if i < lo || i > hi {
                    // The spec's own bounds, when the value breaks them
                    // too, say more to a client than the format's range
                    // ("must be at least 1" for -3 against a uint32 with
                    // minimum 1).
                    let before = self.out.len();
                    self.number(i as f64, r, at);
                    if self.out.len() > before {
                        return;
                    }
                    self.fail(
                        Severity::Constraint,
                        at,
                        format!(
                            "{i} is out of range for {} (from {lo} to {hi})",
                            format.unwrap_or("a 64-bit integer")
                        ),
                    );
                    return;
                }
                self.number(i as f64, r, at);
            }
            Some("number") => match value.as_f64() {
                Some(f) => self.number(f, r, at),
                None => self.wrong_type(at, "a number", value),
            },
            Some("boolean") => {
                if !value.is_boolean() {
                    self.wrong_type(at, "a boolean", value);
                }
            }
            Some("array") => {
                let Some(items) = value.as_array() else {
                    return self.wrong_type(at, "an array", value);
                };
                self.array(items, r, at, depth);
            }
            Some("object") => {
                let Some(members) = value.as_object() else {
                    return self.wrong_type(at, "an object", value);
                };
                self.object(members, r, at, depth);
            }
            // No type: only the constraints that apply to what it is.
            _ => match value {
                Value::String(s) => self.string(s, r, format, at),
                Value::Number(n) => {
                    if let Some(f) = n.as_f64() {
                        self.number(f, r, at)
                    }
                }
                Value::Array(items) => self.array(items, r, at, depth),
                Value::Object(members) => self.object(members, r, at, depth),
                _ => {}
            },
        }
    }

    fn wrong_type(&mut self, at: &str, expected: &str, got: &Value) {
        let got = match got {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        self.fail(
            Severity::Shape,
            at,
            format!("must be {expected}, not {got}"),
        );
    }

    fn string(
        &mut self,
        s: &str,
        r: &serde_json::Map<String, Value>,
        format: Option<&str>,
        at: &str,
    ) {
        let get = |k: Keyword| r.get(k.name());
        let len = s.chars().count() as u64;
        if let Some(min) = get(Keyword::MinLength).and_then(Value::as_u64)
            && len < min
        {
            self.fail(
                Severity::Constraint,
                at,
                format!("must be at least {min} characters long (is {len})"),
            );
        }
        if let Some(max) = get(Keyword::MaxLength).and_then(Value::as_u64)
            && len > max
        {
            self.fail(
                Severity::Constraint,
                at,
                format!("must be at most {max} characters long (is {len})"),
            );
        }
        if let Some(p) = get(Keyword::Pattern).and_then(Value::as_str)
            && let Some(re) = regex(p)
            && !re.is_match(s)
        {
            self.fail(
                Severity::Constraint,
                at,
                format!("must match the pattern {p}"),
            );
        }
        if let Some(f) = format
            && let Some(problem) = check_format(f, s)
        {
            self.fail(Severity::Constraint, at, problem);
        }
    }

    fn number(&mut self, v: f64, r: &serde_json::Map<String, Value>, at: &str) {
        let get = |k: Keyword| r.get(k.name());
        // OpenAPI 3.0 writes exclusiveness as a boolean beside
        // minimum/maximum; JSON Schema 2020-12 (OpenAPI 3.1) as a number.
        let excl_min_flag = get(Keyword::ExclusiveMinimum) == Some(&Value::Bool(true));
        let excl_max_flag = get(Keyword::ExclusiveMaximum) == Some(&Value::Bool(true));
        if let Some(min) = get(Keyword::Minimum).and_then(Value::as_f64) {
            if excl_min_flag && v <= min {
                self.fail(
                    Severity::Constraint,
                    at,
                    format!("must be greater than {}", r["minimum"]),
                );
            } else if v < min {
                self.fail(
                    Severity::Constraint,
                    at,
                    format!("must be at least {}", r["minimum"]),
                );
            }
        }
        if let Some(max) = get(Keyword::Maximum).and_then(Value::as_f64) {
            if excl_max_flag && v >= max {
                self.fail(
                    Severity::Constraint,
                    at,
                    format!("must be less than {}", r["maximum"]),
                );
            } else if v > max {
                self.fail(
                    Severity::Constraint,
                    at,
                    format!("must be at most {}", r["maximum"]),
                );
            }
        }
        if let Some(min) = get(Keyword::ExclusiveMinimum).and_then(Value::as_f64)
            && v <= min
        {
            self.fail(
                Severity::Constraint,
                at,
                format!("must be greater than {}", r["exclusiveMinimum"]),
            );
        }
        if let Some(max) = get(Keyword::ExclusiveMaximum).and_then(Value::as_f64)
            && v >= max
        {
            self.fail(
                Severity::Constraint,
                at,
                format!("must be less than {}", r["exclusiveMaximum"]),
            );
        }
        if let Some(m) = get(Keyword::MultipleOf).and_then(Value::as_f64)
            && m > 0.0
        {
            let q = v / m;
            // Tolerate binary floating-point error in decimal steps (0.01).
            if (q - q.round()).abs() > 1e-9 * q.abs().max(1.0) {
                self.fail(
                    Severity::Constraint,
                    at,
                    format!("must be a multiple of {}", r["multipleOf"]),
                );
            }
        }
    }

    fn array(
        &mut self,
        items: &[Value],
        r: &serde_json::Map<String, Value>,
        at: &str,
        depth: usize,
    ) {
        let get = |k: Keyword| r.get(k.name());
        let len = items.len() as u64;
        if let Some(min) = get(Keyword::MinItems).and_then(Value::as_u64)
            && len < min
        {
            self.fail(
                Severity::Constraint,
                at,
                format!("must have at least {min} item(s) (has {len})"),
            );
        }
        if let Some(max) = get(Keyword::MaxItems).and_then(Value::as_u64)
            && len > max
        {
            self.fail(
                Severity::Constraint,
                at,
                format!("must have at most {max} items (has {len})"),
            );
        }
        if get(Keyword::UniqueItems) == Some(&Value::Bool(true)) {
            for (i, item) in items.iter().enumerate() {
                if let Some(first) = items[..i].iter().position(|earlier| earlier == item) {
                    self.fail(
                        Severity::Constraint,
                        &child(at, &i.to_string(), self.mode),
                        format!("repeats item {first}; items must be unique"),
                    );
                }
            }
        }
        if let Some(item_rules) = get(Keyword::Items) {
            for (i, item) in items.iter().enumerate() {
                let at = child(at, &i.to_string(), self.mode);
                self.walk(item, item_rules, &at, depth + 1);
            }
        }
    }

    fn object(
        &mut self,
        members: &serde_json::Map<String, Value>,
        r: &serde_json::Map<String, Value>,
        at: &str,
        depth: usize,
    ) {
        if let Some(Value::Array(required)) = r.get(Keyword::Required.name()) {
            for name in required.iter().filter_map(Value::as_str) {
                if !members.contains_key(name) {
                    self.fail(
                        Severity::Shape,
                        &child(at, name, self.mode),
                        "is required".into(),
                    );
                }
            }
        }
        // Undeclared members are ignored, whatever their value: clients
        // may send members a later version of the API knows.
        if let Some(Value::Object(props)) = r.get(Keyword::Properties.name()) {
            for (name, prop_rules) in props {
                if let Some(v) = members.get(name) {
                    let at = child(at, name, self.mode);
                    self.walk(v, prop_rules, &at, depth + 1);
                }
            }
        }
    }
}

/// Why `s` is not of format `f`, for the formats that constrain.
fn check_format(f: &str, s: &str) -> Option<String> {
    let ok = match f {
        "uuid" => {
            let b = s.as_bytes();
            b.len() == 36
                && b.iter().enumerate().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => *c == b'-',
                    _ => c.is_ascii_hexdigit(),
                })
        }
        "date-time" => is_date_time(s),
        "date" => is_date(s),
        "email" => {
            let mut parts = s.splitn(2, '@');
            let local = parts.next().unwrap_or("");
            let domain = parts.next().unwrap_or("");
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        _ => return None,
    };
    (!ok).then(|| format!("must be a valid {f} (RFC 3339 / RFC 4122 / RFC 5321 syntax)"))
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD` with a real month and day (RFC 3339 `full-date`).
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(&s[0..4]), digits(&s[5..7]), digits(&s[8..10]))
    else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// RFC 3339 `date-time`: full-date "T" time with seconds, optional
/// fraction, and `Z` or a numeric offset.
fn is_date_time(s: &str) -> bool {
    if s.len() < 20 || !s.is_char_boundary(10) || !is_date(&s[..10]) {
        return false;
    }
    let rest = &s[10..];
    let Some(rest) = rest.strip_prefix(['T', 't']) else {
        return false;
    };
    let b = rest.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(h), Some(mi), Some(sec)) = (
        digits(&rest[0..2]),
        digits(&rest[3..5]),
        digits(&rest[6..8]),
    ) else {
        return false;
    };
    if h > 23 || mi > 59 || sec > 60 {
        return false;
    }
    let mut tail = &rest[8..];
    if let Some(frac) = tail.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        tail = &frac[n..];
    }
    match tail {
        "Z" | "z" => true,
        _ => {
            let b = tail.as_bytes();
            b.len() == 6
                && (b[0] == b'+' || b[0] == b'-')
                && b[3] == b':'
                && digits(&tail[1..3]).is_some_and(|h| h <= 23)
                && digits(&tail[4..6]).is_some_and(|m| m <= 59)
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn patterns_mean_what_ecma_262_says() {
        let email = regex("^[^@\\s]+@[^@\\s]+$").expect("compiles");
        assert!(email.is_match("ada@example.com"));
        assert!(!email.is_match("a da@example.com"));
        // U+0085 is Unicode white space but not ECMA-262's: allowed here,
        // as a JSON Schema validator allows it.
        assert!(email.is_match("\u{85}a@b"));
        // U+FEFF is ECMA-262 white space: refused.
        assert!(!email.is_match("\u{feff}a@b"));
        let digits = regex("^\\d+$").expect("compiles");
        assert!(digits.is_match("0123"));
        assert!(
            !digits.is_match("\u{663}"),
            "Arabic-Indic digits are not \\d"
        );
        let word = regex("^\\w+$").expect("compiles");
        assert!(!word.is_match("é"), "\\w is ASCII");
        let not_space = regex("^[\\S]+$").expect("compiles");
        assert!(not_space.is_match("\u{85}x"));
        assert!(!not_space.is_match("a b"));
        let dot = regex("^a.b$").expect("compiles");
        assert!(dot.is_match("a-b"));
        assert!(!dot.is_match("a\u{2028}b"), ". stops at line terminators");
        assert_eq!(
            ecma_to_rust("^[A-Z]{3}$"),
            "^[A-Z]{3}$",
            "plain patterns are kept"
        );
        assert_eq!(ecma_to_rust("a\\.b\\\\"), "a\\.b\\\\", "escapes are kept");
    }

    use super::*;
    use serde_json::json;

    /// (value, rules, expected (severity, pointer) list) through one helper.
    fn check(value: Value, rules: Value, want: &[(Severity, &str)]) {
        let components = json!({
            "Line": {"type": "object", "required": ["quantity"],
                     "properties": {"quantity": {"type": "integer", "format": "uint32", "minimum": 1}}}
        });
        let got: Vec<(Severity, String)> = validate(&value, &rules, &components, Mode::Body)
            .into_iter()
            .map(|v| (v.severity, v.error.pointer))
            .collect();
        let want: Vec<(Severity, String)> = want.iter().map(|(s, p)| (*s, p.to_string())).collect();
        assert_eq!(got, want, "{value} against {rules}");
    }

    use Severity::{Constraint as C, Shape as S};

    #[test]
    fn a_value_outside_its_format_is_told_the_specs_own_bound_when_it_breaks_one() {
        let detail = |value: Value, rules: Value| -> Vec<String> {
            validate(&value, &rules, &json!({}), Mode::Parameters)
                .into_iter()
                .map(|v| v.error.detail)
                .collect()
        };
        let page_size =
            json!({"type": "integer", "format": "uint32", "minimum": 1, "maximum": 100});
        assert_eq!(
            detail(json!(-3), page_size.clone()),
            vec!["must be at least 1"]
        );
        assert_eq!(
            detail(json!(5_000_000_000_i64), page_size),
            vec!["must be at most 100"]
        );
        // With no bound of its own to break, the format's range is the news.
        assert_eq!(
            detail(json!(-3), json!({"type": "integer", "format": "uint32"})),
            vec!["-3 is out of range for uint32 (from 0 to 4294967295)"]
        );
    }

    #[test]
    fn every_constraint_keyword_is_enforced() {
        type Expected = Vec<(Severity, &'static str)>;
        let cases: Vec<(Value, Value, Expected)> = vec![
            (
                json!(5),
                json!({"type": "integer", "multipleOf": 5}),
                vec![],
            ),
            (
                json!(7),
                json!({"type": "integer", "multipleOf": 5}),
                vec![(C, "#")],
            ),
            (
                json!(0.3),
                json!({"type": "number", "multipleOf": 0.1}),
                vec![],
            ),
            (
                json!(0.35),
                json!({"type": "number", "multipleOf": 0.1}),
                vec![(C, "#")],
            ),
            (
                json!(1),
                json!({"type": "integer", "minimum": 1, "exclusiveMinimum": true}),
                vec![(C, "#")],
            ),
            (
                json!(2),
                json!({"type": "integer", "minimum": 1, "exclusiveMinimum": true}),
                vec![],
            ),
            (
                json!(10),
                json!({"type": "integer", "maximum": 10, "exclusiveMaximum": true}),
                vec![(C, "#")],
            ),
            (
                json!(9),
                json!({"type": "integer", "maximum": 10, "exclusiveMaximum": true}),
                vec![],
            ),
            (
                json!(1),
                json!({"type": "integer", "exclusiveMinimum": 1}),
                vec![(C, "#")],
            ),
            (
                json!(10),
                json!({"type": "integer", "exclusiveMaximum": 10}),
                vec![(C, "#")],
            ),
            (
                json!([1, 2, 1]),
                json!({"type": "array", "uniqueItems": true}),
                vec![(C, "#/2")],
            ),
            (
                json!([1, 2]),
                json!({"type": "array", "uniqueItems": true}),
                vec![],
            ),
            (
                json!([]),
                json!({"type": "array", "minItems": 1}),
                vec![(C, "#")],
            ),
            (
                json!([1, 2]),
                json!({"type": "array", "maxItems": 1}),
                vec![(C, "#")],
            ),
            (
                json!(""),
                json!({"type": "string", "minLength": 1}),
                vec![(C, "#")],
            ),
            (
                json!("abc"),
                json!({"type": "string", "maxLength": 2}),
                vec![(C, "#")],
            ),
            (
                json!("äöü"),
                json!({"type": "string", "maxLength": 3}),
                vec![],
            ),
            (
                json!("a b"),
                json!({"type": "string", "pattern": "^[a-z]+$"}),
                vec![(C, "#")],
            ),
            (
                json!(0),
                json!({"type": "integer", "minimum": 1}),
                vec![(C, "#")],
            ),
            (
                json!(11),
                json!({"type": "integer", "maximum": 10}),
                vec![(C, "#")],
            ),
            (
                json!("x"),
                json!({"type": "string", "enum": ["a", "b"]}),
                vec![(S, "#")],
            ),
            (
                json!("a"),
                json!({"type": "string", "enum": ["a", "b"]}),
                vec![],
            ),
            (
                json!("not-a-uuid"),
                json!({"type": "string", "format": "uuid"}),
                vec![(C, "#")],
            ),
            (
                json!("8e03978e-40d5-43e8-bc93-6894a57f9324"),
                json!({"type": "string", "format": "uuid"}),
                vec![],
            ),
            (
                json!("2026-02-30T00:00:00Z"),
                json!({"type": "string", "format": "date-time"}),
                vec![(C, "#")],
            ),
            (
                json!("2026-02-28T23:59:60.5+01:00"),
                json!({"type": "string", "format": "date-time"}),
                vec![],
            ),
            (
                json!("2024-02-29"),
                json!({"type": "string", "format": "date"}),
                vec![],
            ),
            (
                json!("2023-02-29"),
                json!({"type": "string", "format": "date"}),
                vec![(C, "#")],
            ),
            (
                json!("a@b"),
                json!({"type": "string", "format": "email"}),
                vec![],
            ),
            (
                json!("a b@c"),
                json!({"type": "string", "format": "email"}),
                vec![(C, "#")],
            ),
        ];
        for (value, rules, want) in cases {
            check(value, rules, &want);
        }
    }

    #[test]
    fn integers_out_of_their_formats_range_are_constraint_violations() {
        let line = json!({"$ref": "#/components/schemas/Line"});
        check(json!({"quantity": -1}), line.clone(), &[(C, "#/quantity")]);
        check(
            json!({"quantity": 4294967297u64}),
            line.clone(),
            &[(C, "#/quantity")],
        );
        check(json!({"quantity": 0}), line.clone(), &[(C, "#/quantity")]);
        check(
            json!({"quantity": 1e40}),
            line.clone(),
            &[(C, "#/quantity")],
        );
        check(json!({"quantity": 1.5}), line.clone(), &[(S, "#/quantity")]);
        check(json!({"quantity": 4294967295u64}), line, &[]);
        check(json!(i64::MAX), json!({"type": "integer"}), &[]);
        check(json!(u64::MAX), json!({"type": "integer"}), &[(C, "#")]);
    }

    #[test]
    fn shapes_nulls_and_required_members() {
        let obj = json!({"type": "object", "required": ["a"], "properties": {
            "a": {"type": "string"},
            "b": {"type": "string", "nullable": true},
            "c": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}}
        }});
        check(json!({"a": "x"}), obj.clone(), &[]);
        check(json!({"a": null}), obj.clone(), &[(S, "#/a")]);
        check(json!({"a": "x", "b": null}), obj.clone(), &[]);
        check(json!({}), obj.clone(), &[(S, "#/a")]);
        check(json!({"a": 1}), obj.clone(), &[(S, "#/a")]);
        check(json!({"a": "x", "undeclared": null}), obj.clone(), &[]);
        check(
            json!({"a": "x", "c": [{"quantity": null}, {}]}),
            obj.clone(),
            &[(S, "#/c/0/quantity"), (S, "#/c/1/quantity")],
        );
        check(json!([]), obj, &[(S, "#")]);
    }

    #[test]
    fn parameters_are_named_not_pointed() {
        let rules =
            json!({"properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100}}});
        let got = validate(
            &json!({"limit": 101}),
            &rules,
            &Value::Null,
            Mode::Parameters,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].error.pointer, "limit");
        assert_eq!(got[0].error.detail, "must be at most 100");
        assert!(validate(&json!({}), &rules, &Value::Null, Mode::Parameters).is_empty());
    }

    #[test]
    fn the_keyword_list_is_consistent() {
        for k in Keyword::ALL {
            assert_eq!(Keyword::parse(k.name()), Some(*k));
        }
        for unsupported in [
            "oneOf",
            "allOf",
            "anyOf",
            "not",
            "additionalProperties",
            "const",
        ] {
            assert_eq!(Keyword::parse(unsupported), None, "{unsupported}");
        }
        for f in CONSTRAINING_FORMATS {
            assert!(FORMATS.contains(f));
        }
    }
}
