//! openapi-doc: reads one OpenAPI document from text into a JSON value
//! plus the source line of every JSON pointer, and resolves its local
//! `$ref`s.
//!
//! YAML and JSON both go through one YAML 1.2 event parser (JSON is a
//! subset of YAML 1.2 flow style), so both kinds of input get line numbers.
//! The crate does no I/O: callers hand it the text and a display name, and
//! every error names that file, the line and what was expected. It
//! deliberately does not follow remote or file `$ref`s; those stay opaque
//! for the caller to judge. It is shared by break-diff, xtask and the
//! contract tests, so that all three agree on lines, pointers and
//! references.

use std::collections::{HashMap, HashSet};
use std::hash::Hasher;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Why a document could not be read. Each variant names the file and the
/// line, so a user can go straight to the problem; none of them is helped
/// by retrying (the text itself must change).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The text is not well-formed YAML or JSON.
    #[error("{file}:{line}:{column}: not valid YAML or JSON: {message}")]
    Syntax {
        /// Display name of the input.
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What the parser objected to.
        message: String,
    },
    /// Well-formed, but not an OpenAPI 3.x document.
    #[error("{file}:{line}: not an OpenAPI 3.x document: {reason}")]
    NotOpenApi {
        /// Display name of the input.
        file: String,
        /// 1-based line.
        line: u32,
        /// What is missing or wrong.
        reason: String,
    },
    /// A local `$ref` leads nowhere in the document.
    #[error(
        "{file}:{line}: `$ref` at {pointer} points to `{reference}`, which is not in the document; expected a JSON pointer to a node of this document (`#/components/...`)"
    )]
    DanglingRef {
        /// Display name of the input.
        file: String,
        /// 1-based line of the `$ref`.
        line: u32,
        /// JSON pointer of the `$ref`.
        pointer: String,
        /// The reference as written (or the hop of its chain that fails).
        reference: String,
    },
    /// A chain of local `$ref`s that never reaches anything but references.
    #[error(
        "{file}:{line}: `$ref` at {pointer} starts a cycle of references with no schema or object in it ({chain}); expected the chain to end on a definition"
    )]
    RefCycle {
        /// Display name of the input.
        file: String,
        /// 1-based line of the `$ref`.
        line: u32,
        /// JSON pointer of the `$ref`.
        pointer: String,
        /// The pointers visited, in order, ending with the repeated one.
        chain: String,
    },
    /// An OpenAPI version that the readers were not written for.
    #[error(
        "{file}:{line}: unsupported OpenAPI version `{version}`: break-diff reads 3.0.x and 3.1.x"
    )]
    UnsupportedVersion {
        /// Display name of the input.
        file: String,
        /// 1-based line of the `openapi` field.
        line: u32,
        /// The version found.
        version: String,
    },
}

/// Upper bound on nodes, counted after alias expansion. It keeps a
/// "billion laughs" document from exhausting memory; real specs are far
/// below it (the OrderFlow spec has a few thousand nodes).
const MAX_NODES: usize = 2_000_000;

/// Upper bound on nesting, so that recursion over the tree (here and in
/// its callers) cannot overflow the stack on adversarial input.
const MAX_DEPTH: usize = 200;

/// Maximum number of `$ref` hops followed in one resolution. A chain longer
/// than this is treated as a cycle.
const MAX_REF_HOPS: usize = 32;

/// Which major OpenAPI line a document belongs to. It matters for
/// `nullable` (3.0) versus `type: [.., "null"]` (3.1) and for the shape of
/// `exclusiveMinimum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecVersion {
    /// OpenAPI 3.0.x.
    V30,
    /// OpenAPI 3.1.x.
    V31,
}

/// One parsed OpenAPI document.
#[derive(Debug, Clone)]
pub struct Document {
    name: String,
    root: Value,
    lines: Lines,
    version: SpecVersion,
    /// Whether a key or string holds U+0001 (see [`Document::holds_mark`]).
    marked: bool,
}

/// The 1-based source line of each JSON pointer of a document.
///
/// Keyed by a 64-bit FNV-1a hash of the pointer rather than the pointer
/// itself: a multi-megabyte spec has hundreds of thousands of nodes, and
/// storing each pointer as a string cost more time and memory than the
/// rest of parsing. The hash is built incrementally while parsing, so no
/// pointer string is ever made. A collision (odds about 1 in 10^7 for a
/// million pointers) could only give a finding a wrong line number, never
/// a wrong finding.
///
/// Held as a vector sorted by hash: while parsing, each recording is
/// appended in order (writes in sequence, where a hash table was written
/// at random places of a multi-megabyte table) and the vector is sorted
/// once at the end.
#[derive(Debug, Clone, Default)]
pub struct Lines(Vec<(u64, u32)>);

impl Lines {
    /// The line recorded for `ptr`, if any.
    pub fn get(&self, ptr: &str) -> Option<u32> {
        let hash = PtrHash::ROOT.feed_raw(ptr).0;
        self.0
            .binary_search_by_key(&hash, |&(h, _)| h)
            .ok()
            .map(|i| self.0[i].1)
    }

    /// The index from the recordings made while parsing, in the order
    /// made: `(hash, line, overwrite)`. An overwriting recording replaces
    /// the line recorded before it for the same pointer; another keeps
    /// the earlier one (as `HashMap::insert` and `entry().or_insert` did).
    fn from_recordings(mut recorded: Vec<(u64, u32, bool)>) -> Lines {
        // Stable: recordings of one pointer stay in the order made.
        recorded.sort_by_key(|&(hash, _, _)| hash);
        let mut lines: Vec<(u64, u32)> = Vec::with_capacity(recorded.len());
        for (hash, line, overwrite) in recorded {
            match lines.last_mut() {
                Some(last) if last.0 == hash => {
                    if overwrite {
                        last.1 = line;
                    }
                }
                _ => lines.push((hash, line)),
            }
        }
        Lines(lines)
    }
}

/// A `Hasher` for keys that are already hashes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the keys are `u64`); this keeps the
        // trait's contract for anything else.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The FNV-1a state after the bytes of a JSON pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PtrHash(u64);

impl PtrHash {
    /// The empty pointer (the root).
    const ROOT: PtrHash = PtrHash(FNV_OFFSET);

    fn byte(self, b: u8) -> PtrHash {
        PtrHash((self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME))
    }

    /// Continues with bytes already in pointer form.
    fn feed_raw(self, text: &str) -> PtrHash {
        text.bytes().fold(self, PtrHash::byte)
    }

    /// The child pointer `self/segment`, escaping `~` and `/` as RFC 6901
    /// does (the same bytes [`escape`] produces).
    fn key(self, segment: &str) -> PtrHash {
        segment.bytes().fold(self.byte(b'/'), |h, b| match b {
            b'~' => h.byte(b'~').byte(b'0'),
            b'/' => h.byte(b'~').byte(b'1'),
            _ => h.byte(b),
        })
    }

    /// The child pointer `self/index`.
    fn index(self, index: usize) -> PtrHash {
        let mut digits = [0u8; 20];
        let mut n = index;
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        digits[at..].iter().fold(self.byte(b'/'), |h, &b| h.byte(b))
    }
}

/// A JSON value inside a document together with the JSON pointer at which
/// it lives, so that findings can point at both sides.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    /// The value.
    pub value: &'a Value,
    /// Its JSON pointer (RFC 6901) from the document root.
    pub ptr: String,
}

impl<'a> Node<'a> {
    /// A child of this node by object key.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        self.value.get(key).map(|value| Node {
            value,
            ptr: child_ptr(&self.ptr, key),
        })
    }

    /// A child of this node by array index.
    pub fn index(&self, i: usize) -> Option<Node<'a>> {
        self.value.get(i).map(|value| Node {
            value,
            ptr: format!("{}/{}", self.ptr, i),
        })
    }

    /// The entries of this node when it is an object, each as a node.
    pub fn entries(&self) -> Vec<(&'a str, Node<'a>)> {
        match self.value {
            Value::Object(map) => map
                .iter()
                .map(|(k, value)| {
                    (
                        k.as_str(),
                        Node {
                            value,
                            ptr: child_ptr(&self.ptr, k),
                        },
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The items of this node when it is an array, each as a node.
    pub fn items(&self) -> Vec<Node<'a>> {
        match self.value {
            Value::Array(items) => (0..items.len()).filter_map(|i| self.index(i)).collect(),
            _ => Vec::new(),
        }
    }

    /// A string-valued child.
    pub fn str(&self, key: &str) -> Option<&'a str> {
        self.value.get(key).and_then(Value::as_str)
    }

    /// A boolean-valued child, `false` when absent or not a boolean.
    pub fn flag(&self, key: &str) -> bool {
        self.value
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// Escapes one JSON pointer segment (RFC 6901: `~` then `/`).
pub fn escape(segment: &str) -> String {
    if segment.contains(['~', '/']) {
        segment.replace('~', "~0").replace('/', "~1")
    } else {
        segment.to_owned()
    }
}

/// The pointer `parent/key`, `key` escaped: what `format!("{parent}/{}",
/// escape(key))` gives, in one allocation. Pointers are built for every
/// node the walker and the rules look at.
fn child_ptr(parent: &str, key: &str) -> String {
    let mut ptr = String::with_capacity(parent.len() + 1 + key.len());
    ptr.push_str(parent);
    ptr.push('/');
    if key.contains(['~', '/']) {
        for c in key.chars() {
            match c {
                '~' => ptr.push_str("~0"),
                '/' => ptr.push_str("~1"),
                c => ptr.push(c),
            }
        }
    } else {
        ptr.push_str(key);
    }
    ptr
}

impl Document {
    /// Parses `text` (YAML or JSON). `name` is used in error messages only.
    pub fn parse(name: &str, text: &str) -> Result<Document, Error> {
        let Some((root, lines, marked)) = parse_marked(name, text)? else {
            return Err(Error::NotOpenApi {
                file: name.to_owned(),
                line: 1,
                reason: "the input is empty".to_owned(),
            });
        };
        let version = detect_version(name, &root, &lines)?;
        Ok(Document {
            name: name.to_owned(),
            root,
            lines,
            version,
            marked,
        })
    }

    /// Whether any key or string of the document holds U+0001 (recorded
    /// while parsing, where every scalar passes by anyway). break-diff's
    /// walker builds placeholders from that character and must know when
    /// a document could collide with them.
    pub fn holds_mark(&self) -> bool {
        self.marked
    }

    /// The display name given at parse time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Which OpenAPI line the document declares.
    pub fn version(&self) -> SpecVersion {
        self.version
    }

    /// The root node.
    pub fn root(&self) -> Node<'_> {
        Node {
            value: &self.root,
            ptr: String::new(),
        }
    }

    /// The node at a JSON pointer, if any.
    pub fn at(&self, ptr: &str) -> Option<Node<'_>> {
        lookup(&self.root, ptr).map(|value| Node {
            value,
            ptr: ptr.to_owned(),
        })
    }

    /// The 1-based source line of the node at `ptr`. A pointer that has no
    /// line of its own (a value made by alias expansion) gets the line of
    /// its nearest ancestor that has one, so a finding always has a line.
    pub fn line(&self, ptr: &str) -> u32 {
        let mut p = ptr;
        loop {
            if let Some(line) = self.lines.get(p) {
                return line;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return 1,
            }
        }
    }

    /// Follows a chain of local `$ref`s from `node`. Returns the target, or
    /// the last node reached when a reference is remote, dangling or part
    /// of a cycle: the rules then compare what is there instead of failing.
    pub fn resolve<'a>(&'a self, node: Node<'a>) -> Node<'a> {
        let mut current = node;
        for _ in 0..MAX_REF_HOPS {
            let Some(reference) = ref_of(current.value) else {
                return current;
            };
            let Some(target) = reference.strip_prefix('#') else {
                return current;
            };
            let ptr = decode_uri_fragment(target);
            match self.at(&ptr) {
                Some(next) => current = next,
                None => return current,
            }
        }
        current
    }

    /// Checks every local `$ref` of the document: each must lead to a node
    /// of the document, and a chain of references must end on something
    /// that is not a reference. The first problem, in document order, is
    /// the error, with the line and pointer of the `$ref`.
    ///
    /// Remote and relative references (`other.yaml#/A`) are not followed
    /// and not judged. A fragment that is not a JSON pointer (`#foo`, an
    /// OpenAPI 3.1 `$anchor`) is not judged either. Literal data is not
    /// read as references: the values of `example`, `examples` lists,
    /// an Example Object's `value`, `default`, `enum`, `const` and `x-`
    /// extensions may hold a `$ref` key that means nothing.
    pub fn check_references(&self) -> Result<(), Error> {
        // A reference string is judged once: the same `$ref` written in a
        // thousand places leads to the same place.
        self.check_refs_in(&self.root, &mut Vec::new(), &mut HashSet::new(), false)
    }

    /// [`Document::check_structure`] then [`Document::check_references`]:
    /// what a reader that compares or generates from the document needs
    /// before it can trust what it reads.
    pub fn validate(&self) -> Result<(), Error> {
        self.check_structure()?;
        self.check_references()
    }

    /// Checks the top level: at least one of `paths`, `components` and
    /// `webhooks`, and each of them, when present, a mapping. A document
    /// without any describes no API, and a list where a mapping belongs
    /// would otherwise read as an API with no operations.
    pub fn check_structure(&self) -> Result<(), Error> {
        let sections = ["paths", "components", "webhooks"];
        for key in sections {
            if let Some(value) = self.root.get(key)
                && !value.is_object()
                && !value.is_null()
            {
                return Err(Error::NotOpenApi {
                    file: self.name.clone(),
                    line: self.line(&format!("/{key}")),
                    reason: format!("`{key}` must be a mapping"),
                });
            }
        }
        if sections.iter().all(|k| self.root.get(*k).is_none()) {
            return Err(Error::NotOpenApi {
                file: self.name.clone(),
                line: 1,
                reason: "it has none of `paths`, `components` and `webhooks`".to_owned(),
            });
        }
        Ok(())
    }

    fn check_refs_in<'v>(
        &self,
        value: &'v Value,
        path: &mut Vec<Segment<'v>>,
        checked: &mut HashSet<&'v str>,
        names: bool,
    ) -> Result<(), Error> {
        // Pointers are built only for an error: a large spec has hundreds
        // of thousands of nodes and few problems.
        if path.len() > MAX_DEPTH {
            return Ok(());
        }
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref")
                    && checked.insert(reference.as_str())
                {
                    path.push(Segment::Key("$ref"));
                    let at = pointer_of(path);
                    path.pop();
                    self.check_chain(reference, &at)?;
                }
                for (key, child) in map {
                    // Keys of a map of names (`properties`, `schemas`)
                    // are names, never keywords.
                    if !names && is_literal(key, child) {
                        continue;
                    }
                    let child_names = !names && NAME_MAPS.contains(&key.as_str());
                    path.push(Segment::Key(key));
                    let result = self.check_refs_in(child, path, checked, child_names);
                    path.pop();
                    result?;
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(Segment::Index(i));
                    let result = self.check_refs_in(child, path, checked, false);
                    path.pop();
                    result?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Follows the chain that starts with `reference` (written at `at`).
    fn check_chain(&self, reference: &str, at: &str) -> Result<(), Error> {
        let mut seen: Vec<String> = Vec::new();
        let mut current = reference.to_owned();
        loop {
            let Some(fragment) = current.strip_prefix('#') else {
                return Ok(());
            };
            if !fragment.is_empty() && !fragment.starts_with('/') {
                return Ok(());
            }
            let target = decode_uri_fragment(fragment);
            let Some(node) = self.at(&target) else {
                return Err(Error::DanglingRef {
                    file: self.name.clone(),
                    line: self.line(at),
                    pointer: at.to_owned(),
                    reference: current,
                });
            };
            if seen.contains(&target) || seen.len() >= MAX_REF_HOPS {
                seen.push(target);
                return Err(Error::RefCycle {
                    file: self.name.clone(),
                    line: self.line(at),
                    pointer: at.to_owned(),
                    chain: seen.join(" -> "),
                });
            }
            seen.push(target);
            match ref_of(node.value) {
                Some(next) => current = next.to_owned(),
                None => return Ok(()),
            }
        }
    }
}

/// One step of a JSON pointer while the tree is walked.
#[derive(Debug, Clone, Copy)]
enum Segment<'v> {
    Key(&'v str),
    Index(usize),
}

/// The JSON pointer of `path`.
fn pointer_of(path: &[Segment<'_>]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => out = child_ptr(&out, key),
            Segment::Index(i) => out = format!("{out}/{i}"),
        }
    }
    out
}

/// Keys whose value is a map from names to things (schemas, responses,
/// ...): below them, a key such as `default` or `example` is a name.
const NAME_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "schemas",
    "responses",
    "parameters",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
    "paths",
    "webhooks",
    "content",
    "encoding",
];

/// Whether the value under `key` is literal data rather than OpenAPI or
/// JSON Schema structure.
fn is_literal(key: &str, value: &Value) -> bool {
    matches!(key, "example" | "default" | "enum" | "const" | "value")
        || key.starts_with("x-")
        || (key == "examples" && value.is_array())
}

/// The value at JSON pointer `ptr` under `root`, as
/// `serde_json::Value::pointer` finds it, without allocating for segments
/// that need no unescaping: reference resolution is on the walker's hot
/// path.
fn lookup<'v>(root: &'v Value, ptr: &str) -> Option<&'v Value> {
    if ptr.is_empty() {
        return Some(root);
    }
    ptr.strip_prefix('/')?
        .split('/')
        .try_fold(root, |value, segment| {
            let segment = if segment.contains('~') {
                std::borrow::Cow::Owned(segment.replace("~1", "/").replace("~0", "~"))
            } else {
                std::borrow::Cow::Borrowed(segment)
            };
            match value {
                Value::Object(map) => map.get(segment.as_ref()),
                Value::Array(items) => {
                    let s = segment.as_ref();
                    if s.starts_with('+') || (s.starts_with('0') && s.len() > 1) {
                        return None;
                    }
                    items.get(s.parse::<usize>().ok()?)
                }
                _ => None,
            }
        })
}

/// A parsed value and the 1-based line of each of its JSON pointers.
pub type Tree = (Value, Lines);

/// Parses YAML or JSON text into a value and a map from JSON pointer to
/// 1-based line. `None` when the text holds no document. Used for specs
/// and for every other input break-diff reads (waiver files).
pub fn parse_tree(name: &str, text: &str) -> Result<Option<Tree>, Error> {
    Ok(parse_marked(name, text)?.map(|(root, lines, _)| (root, lines)))
}

/// [`parse_tree`], and whether any scalar held U+0001.
fn parse_marked(name: &str, text: &str) -> Result<Option<(Value, Lines, bool)>, Error> {
    let mut builder = Builder {
        name,
        // About one node per 16 bytes of YAML, two recordings for most:
        // sized up front, the vector is not copied over and over while a
        // large spec is read.
        lines: Vec::with_capacity(text.len() / 8),
        anchors: HashMap::new(),
        nodes: 0,
        marked: false,
    };
    let mut parser = Parser::new_from_str(text);
    let root = builder.document(&mut parser)?;
    let marked = builder.marked;
    Ok(root.map(|root| (root, Lines::from_recordings(builder.lines), marked)))
}

/// The `$ref` string of a reference object, if `value` is one.
pub fn ref_of(value: &Value) -> Option<&str> {
    value.get("$ref").and_then(Value::as_str)
}

/// The JSON pointer that a local reference (`#/...`) leads to; `None` for
/// a remote or relative one, which break-diff does not follow.
pub fn local_ref_target(reference: &str) -> Option<String> {
    reference.strip_prefix('#').map(decode_uri_fragment)
}

/// `$ref` fragments are URI fragments, so `%7B` and friends may appear in
/// pointers to paths such as `#/paths/~1orders~1%7Bid%7D`.
fn decode_uri_fragment(fragment: &str) -> String {
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Checking both bytes for ASCII hex first keeps the slice on char
        // boundaries, so a `%` before a multi-byte character cannot panic.
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
            && let Ok(b) = u8::from_str_radix(&fragment[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn detect_version(name: &str, root: &Value, lines: &Lines) -> Result<SpecVersion, Error> {
    let Some(obj) = root.as_object() else {
        return Err(Error::NotOpenApi {
            file: name.to_owned(),
            line: 1,
            reason: "the top level is not a mapping".to_owned(),
        });
    };
    let line = lines.get("/openapi").unwrap_or(1);
    let version = match obj.get("openapi") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(Error::NotOpenApi {
                file: name.to_owned(),
                line,
                reason: "`openapi` is not a version string".to_owned(),
            });
        }
        None => {
            let reason = if obj.contains_key("swagger") {
                "it is a Swagger 2.0 document; break-diff reads OpenAPI 3.0.x and 3.1.x"
            } else {
                "the top-level `openapi` field is missing"
            };
            return Err(Error::NotOpenApi {
                file: name.to_owned(),
                line: 1,
                reason: reason.to_owned(),
            });
        }
    };
    if version == "3.0" || version.starts_with("3.0.") {
        Ok(SpecVersion::V30)
    } else if version == "3.1" || version.starts_with("3.1.") {
        Ok(SpecVersion::V31)
    } else {
        Err(Error::UnsupportedVersion {
            file: name.to_owned(),
            line,
            version,
        })
    }
}

/// Turns parser events into a `serde_json::Value` while recording the line
/// of every node under its JSON pointer.
struct Builder<'n> {
    name: &'n str,
    /// Line recordings `(hash, line, overwrite)`, see
    /// [`Lines::from_recordings`].
    lines: Vec<(u64, u32, bool)>,
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    /// Whether a scalar (key or value) held U+0001.
    marked: bool,
}

type Events<'i> = Parser<'i, saphyr_parser::StrInput<'i>>;

impl Builder<'_> {
    fn syntax(&self, line: usize, column: usize, message: impl Into<String>) -> Error {
        Error::Syntax {
            file: self.name.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
            message: message.into(),
        }
    }

    fn next<'i>(&mut self, parser: &mut Events<'i>) -> Result<(Event<'i>, usize, usize), Error> {
        match parser.next_event() {
            Some(Ok((event, span))) => {
                // Every string of the document, key or value, comes from a
                // scalar event (aliases copy values already read).
                if let Event::Scalar(text, ..) = &event
                    && text.contains('\u{1}')
                {
                    self.marked = true;
                }
                Ok((event, span.start.line(), span.start.col()))
            }
            Some(Err(e)) => Err(self.syntax(e.marker().line(), e.marker().col(), e.info())),
            None => Err(self.syntax(0, 0, "unexpected end of input")),
        }
    }

    fn document(&mut self, parser: &mut Events<'_>) -> Result<Option<Value>, Error> {
        loop {
            let (event, line, col) = self.next(parser)?;
            match event {
                Event::StreamStart => {}
                Event::StreamEnd => return Ok(None),
                Event::DocumentStart(_) => {
                    let (event, line, col) = self.next(parser)?;
                    if matches!(event, Event::DocumentEnd) {
                        return Ok(None);
                    }
                    let value = self.node(parser, event, line, col, PtrHash::ROOT, 0)?;
                    // Only the first document of a stream is read; a spec is
                    // one document, and trailing ones are ignored on purpose.
                    return Ok(Some(value));
                }
                _ => return Err(self.syntax(line, col, "expected the start of a document")),
            }
        }
    }

    fn count(&mut self, n: usize, line: usize, col: usize) -> Result<(), Error> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(self.syntax(
                line,
                col,
                format!("document too large: more than {MAX_NODES} nodes after alias expansion"),
            ));
        }
        Ok(())
    }

    fn node(
        &mut self,
        parser: &mut Events<'_>,
        event: Event<'_>,
        line: usize,
        col: usize,
        ptr: PtrHash,
        depth: usize,
    ) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.syntax(line, col, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.lines
            .push((ptr.0, u32::try_from(line).unwrap_or(u32::MAX), false));
        self.count(1, line, col)?;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref());
                self.remember(anchor, &value, 1);
                Ok(value)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((value, size)) => {
                    let (value, size) = (value.clone(), *size);
                    self.count(size, line, col)?;
                    Ok(value)
                }
                None => Err(self.syntax(line, col, "alias to an unknown anchor")),
            },
            Event::SequenceStart(anchor, _) => {
                let before = self.nodes;
                let mut items = Vec::new();
                loop {
                    let (event, l, c) = self.next(parser)?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    let child = ptr.index(items.len());
                    items.push(self.node(parser, event, l, c, child, depth + 1)?);
                }
                let value = Value::Array(items);
                self.remember(anchor, &value, self.nodes - before);
                Ok(value)
            }
            Event::MappingStart(anchor, _) => {
                let before = self.nodes;
                let mut map = Map::new();
                let mut merged: Vec<Value> = Vec::new();
                loop {
                    let (event, kl, kc) = self.next(parser)?;
                    let key = match event {
                        Event::MappingEnd => break,
                        // `<<` is the YAML 1.1 merge key. YAML 1.2 dropped
                        // it, but hand-written specs use it to share
                        // responses and parameters, and treating it as a
                        // literal key would invent a status named `<<`.
                        Event::Scalar(text, ScalarStyle::Plain, ..) if text == "<<" => {
                            let (event, l, c) = self.next(parser)?;
                            let child = ptr.key("<<");
                            match self.node(parser, event, l, c, child, depth + 1)? {
                                Value::Object(m) => merged.push(Value::Object(m)),
                                Value::Array(items) if items.iter().all(Value::is_object) => {
                                    merged.extend(items);
                                }
                                _ => {
                                    return Err(self.syntax(
                                        kl,
                                        kc,
                                        "a merge key `<<` must refer to a mapping or a list of mappings",
                                    ));
                                }
                            }
                            continue;
                        }
                        Event::Scalar(text, ..) => text.into_owned(),
                        Event::Alias(id) => match self.anchors.get(&id) {
                            Some((Value::String(s), _)) => s.clone(),
                            Some((other, _)) if !other.is_object() && !other.is_array() => {
                                other.to_string()
                            }
                            _ => {
                                return Err(self.syntax(kl, kc, "mapping key is not a scalar"));
                            }
                        },
                        _ => return Err(self.syntax(kl, kc, "mapping key is not a scalar")),
                    };
                    // One search of the map for both the duplicate check
                    // and the insertion.
                    let slot = match map.entry(key) {
                        Entry::Vacant(slot) => slot,
                        Entry::Occupied(entry) => {
                            let key = entry.key();
                            return Err(self.syntax(
                                kl,
                                kc,
                                format!("duplicate mapping key `{key}`"),
                            ));
                        }
                    };
                    let child = ptr.key(slot.key());
                    // The key's line is the useful one for a mapping entry:
                    // it is where `get:` or `required:` is written.
                    self.lines
                        .push((child.0, u32::try_from(kl).unwrap_or(u32::MAX), true));
                    let (event, l, c) = self.next(parser)?;
                    let value = self.node(parser, event, l, c, child, depth + 1)?;
                    slot.insert(value);
                }
                // Explicit keys win over merged ones, and earlier merged
                // mappings over later ones, as YAML 1.1 specifies.
                for m in merged {
                    if let Value::Object(m) = m {
                        for (k, v) in m {
                            map.entry(k).or_insert(v);
                        }
                    }
                }
                let value = Value::Object(map);
                self.remember(anchor, &value, self.nodes - before);
                Ok(value)
            }
            _ => Err(self.syntax(line, col, "unexpected YAML event")),
        }
    }

    fn remember(&mut self, anchor: usize, value: &Value, size: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), size.max(1)));
        }
    }
}

/// Resolves a scalar by the YAML 1.2 core schema. Quoted scalars and
/// `!!str` are strings; plain ones may be null, booleans or numbers.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag
        && tag.is_yaml_core_schema()
        && tag.suffix == "str"
    {
        return Value::String(text.to_string());
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    let t = text;
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if looks_like_int(t) {
        if let Ok(i) = t.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = t.parse::<u64>() {
            return Value::Number(u.into());
        }
    }
    if looks_like_float(t)
        && let Ok(f) = t.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(t.to_owned())
}

fn looks_like_int(t: &str) -> bool {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn looks_like_float(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let int_ok = int.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()));
    let has_digits = !int.is_empty() || frac.is_some_and(|f| !f.is_empty());
    let exp_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    int_ok && frac_ok && has_digits && exp_ok
}

/// The OpenAPI 3.0 -> JSON Schema conversion, written once (the generator and
/// the provider-verification validator both use it): `nullable: true` becomes a
/// type union (and admits `null` to an `enum`); OpenAPI-only annotations
/// (`example`, `discriminator`, `xml`, `externalDocs`, `deprecated`, `x-`
/// extensions) are dropped. `$ref`s are kept; they resolve inside the bundle.
pub fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                match k.as_str() {
                    // Keyword maps and lists whose values are schemas.
                    "properties" | "patternProperties" | "definitions" => {
                        let converted = match v {
                            Value::Object(m) => Value::Object(
                                m.iter()
                                    .map(|(name, s)| (name.clone(), to_json_schema(s)))
                                    .collect(),
                            ),
                            other => other.clone(),
                        };
                        out.insert(k.clone(), converted);
                    }
                    "nullable" | "example" | "discriminator" | "xml" | "externalDocs"
                    | "deprecated" => {}
                    _ if k.starts_with("x-") => {}
                    // `enum` and `required` are data, not schemas.
                    "enum" | "required" | "default" => {
                        out.insert(k.clone(), v.clone());
                    }
                    _ => {
                        out.insert(k.clone(), to_json_schema(v));
                    }
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) && !map.contains_key("$ref") {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), Value::Array(vec![t.into(), "null".into()]));
                    }
                    Some(Value::Array(mut ts)) => {
                        if !ts.contains(&Value::from("null")) {
                            ts.push("null".into());
                        }
                        out.insert("type".into(), Value::Array(ts));
                    }
                    _ => {
                        let inner = Value::Object(out);
                        let mut wrapped = Map::new();
                        wrapped.insert(
                            "anyOf".into(),
                            Value::Array(vec![inner, serde_json::json!({"type": "null"})]),
                        );
                        return Value::Object(wrapped);
                    }
                }
                if let Some(Value::Array(values)) = out.get_mut("enum")
                    && !values.contains(&Value::Null)
                {
                    values.push(Value::Null);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
