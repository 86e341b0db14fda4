//! The engine's traversal: walks two documents in parallel and hands each
//! matched pair of things (operations, parameters, bodies, responses,
//! headers, media types, schemas, properties) to the rules that check
//! that kind of thing.
//!
//! Rules never traverse; they look at one site and report. The walker
//! owns pairing (what counts as "the same" operation or property across
//! revisions), direction (request or response) and cycle detection, so
//! every rule gets those right for free. It does not decide what is
//! breaking.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde_json::Value;

use crate::document::{Document, Node, local_ref_target, ref_of};
use crate::hash::{FastMap, FastSet};
use crate::model::{self, Operation, Parameter};
use crate::rules::{Check, Rule, RuleMeta};
use crate::schema::{self, ObjectView};
use crate::unchanged::Unchanged;
use crate::{Finding, Location, Options};

/// Which way data flows. The same schema change means opposite things in
/// a request (the client writes, the server must accept) and in a
/// response (the server writes, the client must understand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server: parameters and request bodies.
    Request,
    /// Server to client: response bodies and headers.
    Response,
}

/// Deepest schema nesting followed. Deeper than this, the walk stops
/// silently: it bounds work on adversarial input.
const MAX_SCHEMA_DEPTH: usize = 64;

/// Two optional sides of one thing.
#[derive(Debug, Clone)]
pub struct Pair<T> {
    /// The thing in the base document.
    pub base: Option<T>,
    /// The thing in the revision.
    pub rev: Option<T>,
}

/// Two sides of one operation.
pub type OperationPair<'a> = Pair<&'a Operation<'a>>;

/// Two sides of one parameter, with the operations it belongs to.
#[derive(Debug)]
pub struct ParameterSite<'a> {
    /// The operations (both present).
    pub op: (&'a Operation<'a>, &'a Operation<'a>),
    /// The parameter on each side.
    pub param: Pair<&'a Parameter<'a>>,
}

/// Two sides of a request body, response or response header (resolved).
#[derive(Debug)]
pub struct NodeSite<'a> {
    /// Status code for responses, header name for headers, empty for
    /// request bodies.
    pub name: &'a str,
    /// What it is, for messages: `response 200`, `request body`.
    pub at: String,
    /// The thing on each side.
    pub pair: Pair<Node<'a>>,
    /// The names of this thing's siblings in the revision (every status
    /// of the operation, every header of the response), so that a rule
    /// can see that `200` became `2XX`.
    pub rev_names: Vec<&'a str>,
    /// The same for the base.
    pub base_names: Vec<&'a str>,
}

/// Two sides of one media type entry under `content`.
#[derive(Debug)]
pub struct ContentSite<'a> {
    /// Request body or response content.
    pub dir: Direction,
    /// The media type, lowercased.
    pub media_type: &'a str,
    /// What holds it, for messages: `request body`, `response 200`.
    pub at: &'a str,
    /// The media type object on each side.
    pub pair: Pair<Node<'a>>,
    /// Every media type of the revision's body, normalized, so that a
    /// rule can see a wildcard that covers a removed type.
    pub rev_types: Vec<&'a str>,
}

/// Two sides of one schema, both present and resolved.
#[derive(Debug)]
pub struct SchemaSite<'a> {
    /// Which way the data flows.
    pub dir: Direction,
    /// Human path of the schema: `request body application/json: items[]`.
    pub at: String,
    /// Base schema.
    pub base: Node<'a>,
    /// Revision schema.
    pub rev: Node<'a>,
    /// Whether `null` is accepted, per side: [`schema::nullable`], or a
    /// wrapper such as `oneOf: [{type: "null"}, X]` that the walker
    /// looked through to compare `X` (see [`schema::unwrap_single`]).
    pub nullable: (bool, bool),
    /// Where each side's nullability is written: the schema, or the
    /// wrapper around it.
    pub null_at: (String, String),
}

/// Two sides of one property of an object schema.
#[derive(Debug)]
pub struct PropertySite<'a> {
    /// Which way the data flows.
    pub dir: Direction,
    /// Human path of the parent object; messages add the property name.
    pub at: String,
    /// Property name.
    pub name: &'a str,
    /// The parent object schemas (both present, resolved).
    pub parent: (Node<'a>, Node<'a>),
    /// The property schema on each side, resolved.
    pub pair: Pair<Node<'a>>,
    /// Whether the property is in the parent's `required` list, per side.
    pub required: (bool, bool),
}

/// What a rule's check gets: both documents, the options, and a way to
/// report. One `Cx` is shared by all rules; the walker sets the rule and
/// the operation before each call.
pub struct Cx<'a> {
    /// The base document.
    pub base_doc: &'a Document,
    /// The revision.
    pub rev_doc: &'a Document,
    /// Comparison options (today, minimum deprecation period).
    pub options: &'a Options,
    operation: Option<String>,
    rule: Option<&'static RuleMeta>,
    findings: Vec<Finding>,
}

impl Cx<'_> {
    /// Records a finding of the current rule. `base` and `rev` are JSON
    /// pointers into each side, when the thing exists there.
    pub fn report(&mut self, base: Option<&str>, rev: Option<&str>, message: String) {
        let Some(rule) = self.rule else { return };
        let base = base.map(|p| Location {
            pointer: p.to_owned(),
            line: self.base_doc.line(p),
        });
        let revision = rev.map(|p| Location {
            pointer: p.to_owned(),
            line: self.rev_doc.line(p),
        });
        self.findings.push(Finding {
            rule: rule.id,
            level: rule.level,
            operation: self.operation.clone(),
            base,
            revision,
            message,
            fingerprint: String::new(),
            copy_key: None,
            alike_key: None,
        });
    }

    /// Gives the findings from `start` on their fingerprints. `at` is the
    /// route of the site they were reported at, which the fingerprint
    /// leaves out (see [`crate::change`]).
    fn seal(&mut self, start: usize, at: &str) {
        let (base_doc, rev_doc) = (self.base_doc, self.rev_doc);
        for f in &mut self.findings[start..] {
            let keys = crate::change::keys(
                f.rule,
                f.base.as_ref().map(|l| (base_doc, l.pointer.as_str())),
                f.revision.as_ref().map(|l| (rev_doc, l.pointer.as_str())),
                &f.message,
                at,
            );
            (f.fingerprint, f.copy_key, f.alike_key) = (keys.fingerprint, keys.copy, keys.alike);
        }
    }
}

/// The route of a site, as its messages spell it (`response 200
/// application/json: items[]`); empty for sites that have none.
trait Route {
    fn route(&self) -> &str {
        ""
    }
}

impl<T> Route for Pair<T> {}
impl Route for ParameterSite<'_> {}
impl Route for NodeSite<'_> {
    fn route(&self) -> &str {
        &self.at
    }
}
impl Route for ContentSite<'_> {
    fn route(&self) -> &str {
        self.at
    }
}
impl Route for SchemaSite<'_> {
    fn route(&self) -> &str {
        &self.at
    }
}
impl Route for PropertySite<'_> {
    fn route(&self) -> &str {
        &self.at
    }
}

/// A media type without parameters, lowercased: `application/json;
/// charset=utf-8` and `application/json` are paired as one.
pub fn media_essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The schema of a parameter: its `schema`, or for a parameter described
/// with `content` (exactly one media type, per OpenAPI), that entry's.
fn parameter_schema<'a>(param: &Node<'a>) -> Option<Node<'a>> {
    param.get("schema").or_else(|| {
        param
            .get("content")?
            .entries()
            .into_iter()
            .next()
            .and_then(|(_, media)| media.get("schema"))
    })
}

/// How a comparison is carried out. No field changes the findings, only
/// the time taken: the test suite compares every strategy's findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strategy {
    /// Operations are shared out over this many threads (at least one).
    pub threads: usize,
    /// Skip schemas that are the same in both documents, references
    /// included (see [`crate::unchanged`]).
    pub skip_unchanged: bool,
    /// Compare each pair of schemas (in a direction) once per thread and
    /// replay the recorded comparison for every operation that reaches it,
    /// with that operation's route in the messages; without it, the
    /// comparisons are recorded per operation only.
    pub memoize: bool,
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy {
            threads: 1,
            skip_unchanged: true,
            memoize: true,
        }
    }
}

/// Runs `rules` over the pair of documents and returns sorted, de-duplicated
/// findings.
pub fn run(
    rules: &[&'static Rule],
    base: &Document,
    rev: &Document,
    options: &Options,
) -> Vec<Finding> {
    run_with(rules, base, rev, options, Strategy::default())
}

/// [`run`] with an explicit strategy.
pub fn run_with(
    rules: &[&'static Rule],
    base: &Document,
    rev: &Document,
    options: &Options,
    strategy: Strategy,
) -> Vec<Finding> {
    run_counted(rules, base, rev, options, strategy).0
}

/// [`run_with`], and how many schema comparisons (pairs of schemas handed
/// to the schema and property rules) were made, over every thread. A cost
/// that does not depend on the machine: with memoizing, a changed schema
/// reached from many operations is compared once per thread, so the count
/// does not grow with the number of operations that reach it.
pub fn run_counted<'d>(
    rules: &[&'static Rule],
    base: &'d Document,
    rev: &'d Document,
    options: &Options,
    strategy: Strategy,
) -> (Vec<Finding>, usize) {
    let parts = strategy.threads.max(1);
    // Built once and shared: every part looks operations up by key. Each
    // side's are built on a thread of their own when there are threads.
    let side = |doc: &'d Document| {
        let ops = model::operations(doc);
        let reversed = model::reversed_operations_of(doc, &ops);
        (ops, reversed)
    };
    let ((base_ops, base_reversed), (rev_ops, rev_reversed)) = if parts == 1 {
        (side(base), side(rev))
    } else {
        std::thread::scope(|scope| {
            let b = scope.spawn(|| side(base));
            let r = side(rev);
            (b.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), r)
        })
    };
    let (base_ops, rev_ops) = match &options.map {
        Some((from, to)) => (
            model::map_prefix(base_ops, from, to),
            model::under_prefix(rev_ops, to),
        ),
        None => (base_ops, rev_ops),
    };
    let ops = Operations {
        base: base_ops,
        rev: rev_ops,
        base_reversed,
        rev_reversed,
    };
    let ops = &ops;
    let part = |index: usize| {
        let mut w = Walker {
            rules,
            cx: Cx {
                base_doc: base,
                rev_doc: rev,
                options,
                operation: None,
                rule: None,
                findings: Vec::new(),
            },
            seen: Vec::new(),
            visit: 0,
            base_views: FastMap::default(),
            rev_views: FastMap::default(),
            base_refs: FastMap::default(),
            rev_refs: FastMap::default(),
            memo: Memo::default(),
            memoize: strategy.memoize,
            comparisons: 0,
            marks: base.holds_mark() || rev.holds_mark(),
            unchanged: strategy.skip_unchanged.then(|| Unchanged::new(base, rev)),
        };
        w.walk(ops, index, parts);
        (w.cx.findings, w.comparisons)
    };
    // Operations are independent of each other (the walker's memory of
    // compared schemas is per operation, and a replayed comparison gives
    // what comparing again would), so they can be split freely.
    let (mut findings, comparisons) = if parts == 1 {
        part(0)
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..parts)
                .map(|index| scope.spawn(move || part(index)))
                .collect();
            let mut all = (Vec::new(), 0);
            for h in handles {
                let (findings, count) = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                all.0.extend(findings);
                all.1 += count;
            }
            all
        })
    };
    // Operations at `draft` or `alpha` stability in the base may change
    // without notice: only the stability rules speak about them.
    let exempt: FastSet<String> = ops
        .base
        .iter()
        .filter(|(_, op)| {
            crate::rules::operation_stability_decreased::rank(&op.node).is_some_and(|r| r <= 1)
        })
        .map(|(key, op)| ops.rev.get(key).unwrap_or(op).label())
        .collect();
    if !exempt.is_empty() {
        findings.retain(|f| {
            f.rule.starts_with("operation_stability_")
                || f.operation.as_ref().is_none_or(|op| !exempt.contains(op))
        });
    }
    // Comparing one version with its successor (`--map`), the base's own
    // lifecycle is what clients migrate away from, not a difference to
    // migrate: its deprecation, its Deprecation and Sunset headers and its
    // 410 for after the sunset are left out.
    if options.map.is_some() {
        // Labels of the revision's operations whose base is deprecated.
        let deprecated: FastSet<String> = ops
            .base
            .iter()
            .filter(|(_, op)| op.deprecated())
            .map(|(key, op)| ops.rev.get(key).unwrap_or(op).label())
            .collect();
        findings.retain(|f| {
            let base_deprecated = f.operation.as_ref().is_some_and(|o| deprecated.contains(o));
            !(base_deprecated && is_base_lifecycle(f))
        });
    }
    // A schema shared by several places is visited once per place; the same
    // finding at the same pointers for the same operation is said once.
    findings.sort_by(|a, b| {
        (&a.operation, a.rule, &a.base, &a.revision, &a.message).cmp(&(
            &b.operation,
            b.rule,
            &b.base,
            &b.revision,
            &b.message,
        ))
    });
    findings.dedup();
    (findings, comparisons)
}

/// The operations of both documents, keyed as [`model::operations`] keys
/// them, and the operations the server sends (webhooks and callbacks).
struct Operations<'a> {
    base: BTreeMap<String, Operation<'a>>,
    rev: BTreeMap<String, Operation<'a>>,
    base_reversed: BTreeMap<String, Operation<'a>>,
    rev_reversed: BTreeMap<String, Operation<'a>>,
}

struct Walker<'r, 'a> {
    rules: &'r [&'static Rule],
    cx: Cx<'a>,
    /// Schema pairs already compared for the current operation: the
    /// number of the operation's visit, by [`Compared::seen`]. A schema
    /// shared by many places (or a diamond of references) is compared once
    /// per operation and direction, which bounds the work by the number of
    /// distinct pairs instead of the number of paths to them.
    seen: Vec<u32>,
    /// The number of the current operation's visit (from 1).
    visit: u32,
    /// Which schemas are the same on both sides; `None` when skipping is
    /// off.
    unchanged: Option<Unchanged<'a>>,
    /// Object views already built, by pointer, per document.
    base_views: FastMap<String, Rc<ObjectView<'a>>>,
    rev_views: FastMap<String, Rc<ObjectView<'a>>>,
    /// Where each reference object resolves to, by the address of its
    /// value, per document (`None`: to itself). A schema reached from many
    /// operations has its references followed many times, and each
    /// [`Document::resolve`] walks the pointer down from the root.
    base_refs: FastMap<usize, Option<Node<'a>>>,
    rev_refs: FastMap<usize, Option<Node<'a>>>,
    /// Schema comparisons already made (see [`Memo`]).
    memo: Memo<'a>,
    /// Whether comparisons are kept across operations ([`Strategy::memoize`]);
    /// otherwise the memo is emptied at each operation.
    memoize: bool,
    /// Schema comparisons made (see [`run_counted`]).
    comparisons: usize,
    /// Whether either document holds [`MARK`]: then routes cannot be
    /// stood for by a placeholder, and comparisons are kept per route.
    marks: bool,
}

/// The character that marks a placeholder. Placeholders are used only
/// when neither document holds it anywhere ([`Document::holds_mark`]), so
/// a placeholder in a message can only have come from the walker.
const MARK: char = '\u{1}';

/// What a schema comparison knows of its route (`at`, the human path
/// from the operation). Rules only copy `at` into messages, and the walker
/// asks it two questions only (whether it ends with `:` or contains `: `,
/// to join property names), so a comparison is the same for every route
/// with the same answers: it is made once with a placeholder that gives
/// them, and its messages get the real route when they are reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Form {
    /// Any route with these answers: (contains `: `, ends with `:`).
    Mark(bool, bool),
    /// This route exactly (when the documents hold [`MARK`]).
    Exact(String),
}

impl Form {
    fn of(at: &str, marks: bool) -> Form {
        if marks {
            Form::Exact(at.to_owned())
        } else {
            Form::Mark(at.contains(": "), at.ends_with(':'))
        }
    }

    /// The route's form once `suffix` is appended to it.
    fn then(&self, suffix: &str) -> Form {
        match self {
            Form::Exact(at) => Form::Exact(format!("{at}{suffix}")),
            Form::Mark(colon_space, colon) => Form::Mark(
                *colon_space || suffix.contains(": ") || (*colon && suffix.starts_with(' ')),
                if suffix.is_empty() {
                    *colon
                } else {
                    suffix.ends_with(':')
                },
            ),
        }
    }

    /// Whether property names join with `.` (`body: a.b`) rather than
    /// `: ` (`body: a`).
    fn dotted(&self) -> bool {
        match self {
            Form::Exact(at) => at.ends_with(':') || at.contains(": "),
            Form::Mark(colon_space, colon) => *colon_space || *colon,
        }
    }

    /// What stands for the route in the comparison: the placeholder, or
    /// the route itself.
    fn text(&self) -> String {
        match self {
            Form::Exact(at) => at.clone(),
            Form::Mark(colon_space, colon) => {
                let mut mark = format!("{MARK}at{MARK}");
                if *colon_space {
                    mark.push_str(": ");
                    mark.push(MARK);
                }
                if *colon {
                    mark.push(':');
                }
                mark
            }
        }
    }
}

/// A schema comparison to make: both sides as reached (references not yet
/// followed), direction, whether properties are walked, and the route's
/// form. Identified in [`Memo`] by the pointers instead of the nodes.
type Input<'a> = (Node<'a>, Node<'a>, Direction, bool, Form);

/// What one schema comparison found, whatever operation and route reached
/// it: the pair compared (after references and single-member wrappers),
/// the findings at this pair (with the route's placeholder), and the
/// comparisons below it, in the order they are made, with what each adds
/// to the route.
struct Compared {
    /// The pair, for the recursion check.
    pair: u32,
    /// The pair with direction and property walking: compared once per
    /// operation.
    seen: u32,
    /// What stood for the route in `findings` ([`Form::text`]).
    mark: String,
    findings: Vec<Finding>,
    children: Vec<(String, u32)>,
}

/// Schema comparisons by input, made once per thread (or per operation
/// when memoizing is off) and then only replayed: a changed schema shared
/// by hundreds of operations is compared once, and each operation that
/// reaches it walks the recorded results, which costs a lookup per pair.
///
/// A comparison depends only on its input: rules see their site and not
/// the operation, the other memos cache pure answers, and what the route
/// contributes is its [`Form`]. What does depend on the operation (which
/// pairs it compared already, the recursion stack, the depth bound, the
/// real route) is left to [`Walker::visit`], which applies it as the
/// recursive walk did.
#[derive(Default)]
struct Memo<'a> {
    ids: FastMap<(String, String, Direction, bool, Form), u32>,
    inputs: Vec<Option<Input<'a>>>,
    /// `None` until made; `Some(None)`: nothing to compare (unchanged).
    done: Vec<Option<Option<Rc<Compared>>>>,
    pairs: FastMap<(String, String), u32>,
    seen: FastMap<(u32, Direction, bool), u32>,
}

impl<'a> Memo<'a> {
    fn id(&mut self, input: Input<'a>) -> u32 {
        let key = (
            input.0.ptr.clone(),
            input.1.ptr.clone(),
            input.2,
            input.3,
            input.4.clone(),
        );
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.inputs.len() as u32;
        self.ids.insert(key, id);
        self.inputs.push(Some(input));
        self.done.push(None);
        id
    }

    fn pair(&mut self, b: &str, r: &str) -> u32 {
        let next = self.pairs.len() as u32;
        *self
            .pairs
            .entry((b.to_owned(), r.to_owned()))
            .or_insert(next)
    }

    fn seen(&mut self, pair: u32, dir: Direction, with_properties: bool) -> u32 {
        let next = self.seen.len() as u32;
        *self
            .seen
            .entry((pair, dir, with_properties))
            .or_insert(next)
    }
}

/// [`Document::resolve`], memoized in `memo` by the address of the
/// reference object. The result depends only on where the node is in the
/// document (its value's address), so the memo gives the same answers.
fn resolve_in<'a>(
    memo: &mut FastMap<usize, Option<Node<'a>>>,
    doc: &'a Document,
    node: Node<'a>,
) -> Node<'a> {
    let Some(reference) = ref_of(node.value) else {
        return node;
    };
    let key = std::ptr::from_ref::<Value>(node.value) as usize;
    match memo.get(&key) {
        Some(Some(target)) => target.clone(),
        Some(None) => node,
        None => {
            // When the first hop fails (a remote or dangling reference),
            // `resolve` returns the node itself, pointer included, so that
            // answer is remembered as "itself". Otherwise the answer comes
            // from the reference chain alone, whatever `node.ptr` is.
            let hops = local_ref_target(reference).is_some_and(|ptr| doc.at(&ptr).is_some());
            let target = doc.resolve(node.clone());
            memo.insert(key, hops.then(|| target.clone()));
            target
        }
    }
}

/// Calls every rule whose check has the given variant on the given site.
macro_rules! dispatch {
    ($self:ident, $variant:ident, $site:expr) => {{
        let site = &$site;
        let start = $self.cx.findings.len();
        for rule in $self.rules {
            if let Check::$variant(check) = rule.check {
                $self.cx.rule = Some(&rule.meta);
                check(&mut $self.cx, site);
            }
        }
        $self.cx.rule = None;
        if $self.cx.findings.len() > start {
            $self.cx.seal(start, Route::route(site));
        }
    }};
}

impl<'a> Walker<'_, 'a> {
    /// Walks the share `part` of `parts`: document-level rules in part 0,
    /// the operations of the `part`-th run of paths (in sorted order), and
    /// every `parts`-th callback.
    fn walk<'o>(&mut self, ops: &'o Operations<'a>, part: usize, parts: usize) {
        let (base, rev) = (self.cx.base_doc, self.cx.rev_doc);
        if part == 0 {
            dispatch!(
                self,
                Document,
                Pair {
                    base: Some(base.root()),
                    rev: Some(rev.root()),
                }
            );
        }
        let (base_ops, rev_ops) = (&ops.base, &ops.rev);
        let keys: BTreeSet<&String> = base_ops.keys().chain(rev_ops.keys()).collect();
        // Parts take runs of neighbouring paths (all methods of a path in
        // one part): operations on nearby paths tend to reach the same
        // schemas, and each part memoizes on its own.
        let path_of = |key: &str| key.split_once(' ').map_or(key, |(_, path)| path).to_owned();
        let paths: BTreeSet<String> = keys.iter().map(|k| path_of(k)).collect();
        let mine: BTreeSet<&String> = paths
            .iter()
            .enumerate()
            .filter(|(i, _)| i * parts / paths.len().max(1) == part)
            .map(|(_, p)| p)
            .collect();
        for key in keys.into_iter().filter(|k| mine.contains(&path_of(k))) {
            let pair = Pair {
                base: base_ops.get(key),
                rev: rev_ops.get(key),
            };
            self.cx.operation = pair.rev.or(pair.base).map(Operation::label);
            dispatch!(self, Operation, pair.clone());
            if let (Some(b), Some(r)) = (pair.base, pair.rev) {
                self.operation(b, r);
            }
        }
        // Webhooks and callbacks: the server sends the request and the
        // client answers, so request data is judged as response data and
        // the other way round. Only content schemas are compared there;
        // parameter, status and header rules are written for requests
        // that clients send and would misjudge these.
        let (base_rev, rev_rev) = (&ops.base_reversed, &ops.rev_reversed);
        let keys: BTreeSet<&String> = base_rev.keys().chain(rev_rev.keys()).collect();
        for key in keys.into_iter().skip(part).step_by(parts) {
            let pair = Pair {
                base: base_rev.get(key),
                rev: rev_rev.get(key),
            };
            self.cx.operation = Some(key.clone());
            dispatch!(self, Callback, pair.clone());
            if let (Some(b), Some(r)) = (pair.base, pair.rev) {
                self.reversed_operation(b, r);
            }
        }
        self.cx.operation = None;
    }

    fn reversed_operation<'o>(&mut self, b: &'o Operation<'a>, r: &'o Operation<'a>) {
        self.begin_operation();
        for (key, bp) in &b.parameters {
            if let Some(rp) = r.parameters.get(key)
                && let (Some(bs), Some(rs)) =
                    (parameter_schema(&bp.node), parameter_schema(&rp.node))
            {
                let at = format!("{} sent by the server", bp.describe());
                self.root_schema(Direction::Response, at, bs, rs);
            }
        }
        let (base_doc, rev_doc) = (self.cx.base_doc, self.cx.rev_doc);
        if let (Some(bb), Some(rb)) = (b.node.get("requestBody"), r.node.get("requestBody")) {
            let (bb, rb) = (base_doc.resolve(bb), rev_doc.resolve(rb));
            self.content(
                Direction::Response,
                "request body sent by the server",
                &bb,
                &rb,
            );
        }
        let (Some(bresp), Some(rresp)) = (b.node.get("responses"), r.node.get("responses")) else {
            return;
        };
        for (status, bn) in bresp.entries() {
            if let Some(rn) = rresp.get(status) {
                let (bn, rn) = (base_doc.resolve(bn), rev_doc.resolve(rn));
                let at = format!("response {status} sent by the receiver");
                self.content(Direction::Request, &at, &bn, &rn);
            }
        }
    }

    fn operation<'o>(&mut self, b: &'o Operation<'a>, r: &'o Operation<'a>) {
        self.begin_operation();
        let keys: BTreeSet<&String> = b.parameters.keys().chain(r.parameters.keys()).collect();
        for key in keys {
            let site = ParameterSite {
                op: (b, r),
                param: Pair {
                    base: b.parameters.get(key),
                    rev: r.parameters.get(key),
                },
            };
            dispatch!(self, Parameter, site);
            if let (Some(bp), Some(rp)) = (b.parameters.get(key), r.parameters.get(key))
                && let (Some(bs), Some(rs)) =
                    (parameter_schema(&bp.node), parameter_schema(&rp.node))
            {
                self.root_schema(Direction::Request, bp.describe(), bs, rs);
            }
        }

        let body = Pair {
            base: b
                .node
                .get("requestBody")
                .map(|n| self.cx.base_doc.resolve(n)),
            rev: r
                .node
                .get("requestBody")
                .map(|n| self.cx.rev_doc.resolve(n)),
        };
        dispatch!(
            self,
            RequestBody,
            NodeSite {
                name: "",
                at: "request body".to_owned(),
                pair: body.clone(),
                rev_names: Vec::new(),
                base_names: Vec::new(),
            }
        );
        if let (Some(bb), Some(rb)) = (body.base, body.rev) {
            self.content(Direction::Request, "request body", &bb, &rb);
        }

        let (Some(bresp), Some(rresp)) = (b.node.get("responses"), r.node.get("responses")) else {
            return;
        };
        let bmap = bresp.entries();
        let rmap = rresp.entries();
        let statuses: BTreeSet<&str> = bmap.iter().chain(rmap.iter()).map(|(k, _)| *k).collect();
        for status in statuses {
            let find = |m: &Vec<(&'a str, Node<'a>)>| {
                m.iter().find(|(k, _)| *k == status).map(|(_, n)| n.clone())
            };
            let pair = Pair {
                base: find(&bmap).map(|n| self.cx.base_doc.resolve(n)),
                rev: find(&rmap).map(|n| self.cx.rev_doc.resolve(n)),
            };
            let at = format!("response {status}");
            dispatch!(
                self,
                Response,
                NodeSite {
                    name: status,
                    at: at.clone(),
                    pair: pair.clone(),
                    rev_names: rmap.iter().map(|(k, _)| *k).collect(),
                    base_names: bmap.iter().map(|(k, _)| *k).collect(),
                }
            );
            if let (Some(bn), Some(rn)) = (pair.base, pair.rev) {
                self.headers(&at, &bn, &rn);
                self.content(Direction::Response, &at, &bn, &rn);
            }
        }

        // A status on one side and its range (`200` and `2XX`) on the
        // other describe the same responses: compare their bodies and
        // headers too, or a change hidden behind the switch goes unseen.
        let range_of = |status: &str| -> Option<String> {
            let first = status.chars().next()?;
            (status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("{first}XX"))
        };
        let find = |m: &Vec<(&'a str, Node<'a>)>, key: &str| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, n)| n.clone())
        };
        for (status, bn) in &bmap {
            if find(&rmap, status).is_some() {
                continue;
            }
            if let Some(range) = range_of(status)
                && find(&bmap, &range).is_none()
                && let Some(rn) = find(&rmap, &range)
            {
                let (bn, rn) = (
                    self.cx.base_doc.resolve(bn.clone()),
                    self.cx.rev_doc.resolve(rn),
                );
                let at = format!("response {status}/{range}");
                self.headers(&at, &bn, &rn);
                self.content(Direction::Response, &at, &bn, &rn);
            }
        }
        for (status, rn) in &rmap {
            if find(&bmap, status).is_some() {
                continue;
            }
            if let Some(range) = range_of(status)
                && find(&rmap, &range).is_none()
                && let Some(bn) = find(&bmap, &range)
            {
                let (bn, rn) = (
                    self.cx.base_doc.resolve(bn),
                    self.cx.rev_doc.resolve(rn.clone()),
                );
                let at = format!("response {range}/{status}");
                self.headers(&at, &bn, &rn);
                self.content(Direction::Response, &at, &bn, &rn);
            }
        }
    }

    fn headers(&mut self, at: &str, b: &Node<'a>, r: &Node<'a>) {
        let lower = |n: &Node<'a>| -> Vec<(String, &'a str, Node<'a>)> {
            n.get("headers")
                .map(|h| h.entries())
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), k, v))
                .collect()
        };
        let bh = lower(b);
        let rh = lower(r);
        let names: BTreeSet<&String> = bh.iter().chain(rh.iter()).map(|(k, _, _)| k).collect();
        for name in names {
            let bn = bh.iter().find(|(k, _, _)| k == name);
            let rn = rh.iter().find(|(k, _, _)| k == name);
            let shown = rn.or(bn).map(|(_, s, _)| *s).unwrap_or("");
            let pair = Pair {
                base: bn.map(|(_, _, n)| self.cx.base_doc.resolve(n.clone())),
                rev: rn.map(|(_, _, n)| self.cx.rev_doc.resolve(n.clone())),
            };
            let hat = format!("{at} header `{shown}`");
            dispatch!(
                self,
                Header,
                NodeSite {
                    name: shown,
                    at: hat.clone(),
                    pair: pair.clone(),
                    rev_names: rh.iter().map(|(_, s, _)| *s).collect(),
                    base_names: bh.iter().map(|(_, s, _)| *s).collect(),
                }
            );
            if let (Some(bn), Some(rn)) = (pair.base, pair.rev)
                && let (Some(bs), Some(rs)) = (bn.get("schema"), rn.get("schema"))
            {
                self.root_schema(Direction::Response, hat, bs, rs);
            }
        }
    }

    fn content(&mut self, dir: Direction, at: &str, b: &Node<'a>, r: &Node<'a>) {
        let norm = |n: &Node<'a>| -> Vec<(String, Node<'a>)> {
            n.get("content")
                .map(|c| c.entries())
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (media_essence(k), v))
                .collect()
        };
        let bc = norm(b);
        let rc = norm(r);
        let types: BTreeSet<&String> = bc.iter().chain(rc.iter()).map(|(k, _)| k).collect();
        for media_type in types {
            let pair = Pair {
                base: bc
                    .iter()
                    .find(|(k, _)| k == media_type)
                    .map(|(_, n)| n.clone()),
                rev: rc
                    .iter()
                    .find(|(k, _)| k == media_type)
                    .map(|(_, n)| n.clone()),
            };
            dispatch!(
                self,
                Content,
                ContentSite {
                    dir,
                    media_type,
                    at,
                    pair: pair.clone(),
                    rev_types: rc.iter().map(|(k, _)| k.as_str()).collect(),
                }
            );
            if let (Some(bm), Some(rm)) = (pair.base, pair.rev)
                && let (Some(bs), Some(rs)) = (bm.get("schema"), rm.get("schema"))
            {
                self.root_schema(dir, format!("{at} {media_type}"), bs, rs);
            }
        }

        // A media type on one side and a wildcard covering it on the other
        // (`application/json` and `application/*`) describe the same
        // bodies: compare their schemas too.
        let covering = |media_type: &str| -> [String; 2] {
            let kind = media_type.split('/').next().unwrap_or("");
            [format!("{kind}/*"), "*/*".to_owned()]
        };
        let lookup = |m: &Vec<(String, Node<'a>)>, key: &str| {
            m.iter().find(|(k, _)| k == key).map(|(_, n)| n.clone())
        };
        let mut pairs = Vec::new();
        for (media_type, bm) in &bc {
            if media_type.contains('*') || lookup(&rc, media_type).is_some() {
                continue;
            }
            let wild = covering(media_type)
                .into_iter()
                .find(|w| lookup(&bc, w).is_none() && lookup(&rc, w).is_some());
            if let Some(w) = wild
                && let Some(rm) = lookup(&rc, &w)
            {
                pairs.push((format!("{at} {media_type}/{w}"), bm.clone(), rm));
            }
        }
        for (media_type, rm) in &rc {
            if media_type.contains('*') || lookup(&bc, media_type).is_some() {
                continue;
            }
            let wild = covering(media_type)
                .into_iter()
                .find(|w| lookup(&rc, w).is_none() && lookup(&bc, w).is_some());
            if let Some(w) = wild
                && let Some(bm) = lookup(&bc, &w)
            {
                pairs.push((format!("{at} {w}/{media_type}"), bm, rm.clone()));
            }
        }
        for (label, bm, rm) in pairs {
            if let (Some(bs), Some(rs)) = (bm.get("schema"), rm.get("schema")) {
                self.root_schema(dir, label, bs, rs);
            }
        }
    }

    /// The flattened object view of `node`, built once per schema and
    /// thread: a schema reached from many operations is viewed many times.
    fn view(
        views: &mut FastMap<String, Rc<ObjectView<'a>>>,
        doc: &'a Document,
        node: &Node<'a>,
    ) -> Rc<ObjectView<'a>> {
        if let Some(view) = views.get(&node.ptr) {
            return Rc::clone(view);
        }
        let view = Rc::new(schema::object_view(doc, node));
        views.insert(node.ptr.clone(), Rc::clone(&view));
        view
    }

    /// Whether `b` and `r` are one schema, unchanged between the documents
    /// (references included). Always false when skipping is off.
    fn same(&mut self, b: &Node<'a>, r: &Node<'a>) -> bool {
        b.ptr == r.ptr
            && self
                .unchanged
                .as_mut()
                .is_some_and(|unchanged| unchanged.at(&b.ptr))
    }

    /// Starts the comparisons of one operation: nothing is compared in it
    /// yet. Without memoizing, nothing is remembered from the others.
    fn begin_operation(&mut self) {
        self.visit += 1;
        if !self.memoize {
            self.memo = Memo::default();
            self.seen.clear();
        }
    }

    /// Compares two schemas reached from an operation (a body, parameter
    /// or header schema) and everything below them, and reports what
    /// differs for the current operation.
    fn root_schema(&mut self, dir: Direction, at: String, b: Node<'a>, r: Node<'a>) {
        let form = Form::of(&at, self.marks);
        // Keyed by what the references lead to, so that every operation
        // reaching a component finds the same comparison.
        let b = resolve_in(&mut self.base_refs, self.cx.base_doc, b);
        let r = resolve_in(&mut self.rev_refs, self.cx.rev_doc, r);
        let id = self.memo.id((b, r, dir, true, form));
        let mut route = at;
        self.visit(id, &mut Vec::new(), &mut route);
    }

    /// Walks comparison `id` for the current operation, reached by
    /// `route`. `stack` holds the pairs being compared further up: meeting
    /// one again means a recursive schema, and the walk stops there. A
    /// pair the operation compared already is not compared again.
    fn visit(&mut self, id: u32, stack: &mut Vec<u32>, route: &mut String) {
        // The stack holds one entry per level, so its length is the depth.
        if stack.len() > MAX_SCHEMA_DEPTH {
            return;
        }
        let Some(compared) = self.compared(id) else {
            return;
        };
        if stack.contains(&compared.pair) {
            return;
        }
        let seen = compared.seen as usize;
        if self.seen.len() <= seen {
            self.seen.resize(seen + 1, 0);
        }
        if self.seen[seen] == self.visit {
            return;
        }
        self.seen[seen] = self.visit;
        stack.push(compared.pair);
        if !compared.findings.is_empty() {
            let operation = &self.cx.operation;
            let exact = self.marks;
            self.cx
                .findings
                .extend(compared.findings.iter().map(|f| Finding {
                    operation: operation.clone(),
                    message: if exact {
                        f.message.clone()
                    } else {
                        f.message.replace(&compared.mark, route)
                    },
                    ..f.clone()
                }));
        }
        for (suffix, child) in &compared.children {
            let len = route.len();
            route.push_str(suffix);
            self.visit(*child, stack, route);
            route.truncate(len);
        }
        stack.pop();
    }

    /// The result of comparison `id`, made now if it was not yet.
    fn compared(&mut self, id: u32) -> Option<Rc<Compared>> {
        if let Some(done) = &self.memo.done[id as usize] {
            return done.clone();
        }
        let input = self.memo.inputs[id as usize]
            .take()
            .expect("a comparison not made yet keeps its input");
        let done = self.compare(input).map(Rc::new);
        self.memo.done[id as usize] = Some(done.clone());
        done
    }

    /// Compares two schemas: reports what rules find at this pair and
    /// lists the comparisons below it, without making them (see [`Memo`]).
    /// `None` when there is nothing to compare: the same schema on both
    /// sides, references included.
    fn compare(&mut self, input: Input<'a>) -> Option<Compared> {
        let (b, r, dir, with_properties, form) = input;
        let (base_doc, rev_doc) = (self.cx.base_doc, self.cx.rev_doc);
        let b = resolve_in(&mut self.base_refs, base_doc, b);
        let r = resolve_in(&mut self.rev_refs, rev_doc, r);
        // The same schema on both sides, references included, cannot hold
        // a change: nothing below it is reported, so it is not walked.
        if self.same(&b, &r) {
            return None;
        }
        // A side that only wraps one schema (`oneOf: [X]`, or the nullable
        // `oneOf: [{type: "null"}, X]`) while the other does not is
        // compared through the wrapper; the `null` it may add is kept.
        // A side that is a union itself (`oneOf: [A, B]` becoming `oneOf:
        // [A]`) is compared member by member instead.
        let nullable = (schema::nullable(b.value), schema::nullable(r.value));
        let null_at = (b.ptr.clone(), r.ptr.clone());
        let union = |n: &Node<'_>| n.value.get("oneOf").is_some() || n.value.get("anyOf").is_some();
        let unwrap = |doc, n: &Node<'a>, other: &Node<'a>| {
            if union(other) {
                None
            } else {
                schema::unwrap_single(doc, n)
            }
        };
        let (b, r, nullable) = match (unwrap(base_doc, &b, &r), unwrap(rev_doc, &r, &b)) {
            (Some((inner, null)), None) => (inner, r, (nullable.0 || null, nullable.1)),
            (None, Some((inner, null))) => (b, inner, (nullable.0, nullable.1 || null)),
            _ => (b, r, nullable),
        };
        if self.same(&b, &r) && nullable.0 == nullable.1 {
            return None;
        }
        self.comparisons += 1;
        let pair = self.memo.pair(&b.ptr, &r.ptr);
        let seen = self.memo.seen(pair, dir, with_properties);
        let at = form.text();
        let start = self.cx.findings.len();
        let mut children: Vec<(String, Node<'a>, Node<'a>, bool)> = Vec::new();
        dispatch!(
            self,
            Schema,
            SchemaSite {
                dir,
                at: at.clone(),
                base: b.clone(),
                rev: r.clone(),
                nullable,
                null_at,
            }
        );

        // Properties: pair by name, then recurse into those on both sides.
        // Properties come from the flattened view (own plus `allOf`), and
        // are walked only at the schema that owns the `allOf`, not again in
        // each member: `with_properties` is false inside members.
        let (bv, rv) = if with_properties {
            (
                Self::view(&mut self.base_views, base_doc, &b),
                Self::view(&mut self.rev_views, rev_doc, &r),
            )
        } else {
            Default::default()
        };
        let (bp, rp) = (&bv.properties, &rv.properties);
        let (breq, rreq) = (&bv.required, &rv.required);
        let names: BTreeSet<&'a str> = bp.iter().chain(rp.iter()).map(|(k, _)| *k).collect();
        let dotted = form.dotted();
        for name in names {
            let pair = Pair {
                base: bp
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, n)| resolve_in(&mut self.base_refs, base_doc, n.clone())),
                rev: rp
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, n)| resolve_in(&mut self.rev_refs, rev_doc, n.clone())),
            };
            let required = (breq.contains(name), rreq.contains(name));
            // An unchanged property schema, required or not on both sides
            // alike, gives the property rules nothing to report.
            if let (Some(bn), Some(rn)) = (&pair.base, &pair.rev)
                && required.0 == required.1
                && self.same(bn, rn)
            {
                continue;
            }
            dispatch!(
                self,
                Property,
                PropertySite {
                    dir,
                    at: at.clone(),
                    name,
                    parent: (b.clone(), r.clone()),
                    pair: pair.clone(),
                    required,
                }
            );
            if let (Some(bn), Some(rn)) = (pair.base, pair.rev) {
                // A property that never travels in this direction on either
                // side cannot break anyone there.
                let hidden = match dir {
                    Direction::Request => bn.flag("readOnly") && rn.flag("readOnly"),
                    Direction::Response => bn.flag("writeOnly") && rn.flag("writeOnly"),
                };
                if !hidden {
                    let suffix = if dotted {
                        format!(".{name}")
                    } else {
                        format!(": {name}")
                    };
                    children.push((suffix, bn, rn, true));
                }
            }
        }

        if let (Some(bi), Some(ri)) = (b.get("items"), r.get("items"))
            && bi.value.is_object()
            && ri.value.is_object()
        {
            children.push(("[]".to_owned(), bi, ri, true));
        }
        if let (Some(ba), Some(ra)) = (b.get("additionalProperties"), r.get("additionalProperties"))
            && ba.value.is_object()
            && ra.value.is_object()
        {
            children.push(("{*}".to_owned(), ba, ra, true));
        }
        // Subschema keywords present on both sides: compared in the same
        // direction (`if` is a condition, not a shape: its changes are
        // judged by the `*_subschema_constraint_*` rules, not recursed).
        for keyword in ["patternProperties", "dependentSchemas"] {
            let (Some(bm), Some(rm)) = (b.get(keyword), r.get(keyword)) else {
                continue;
            };
            for (key, bs) in bm.entries() {
                if let Some(rs) = rm.get(key)
                    && bs.value.is_object()
                    && rs.value.is_object()
                {
                    let label = match keyword {
                        "patternProperties" => format!("{{~{key}}}"),
                        _ => format!(" (when `{key}` is present)"),
                    };
                    children.push((label, bs, rs, true));
                }
            }
        }
        if let (Some(bp), Some(rp)) = (b.get("prefixItems"), r.get("prefixItems")) {
            for (i, (bi, ri)) in bp.items().into_iter().zip(rp.items()).enumerate() {
                if bi.value.is_object() && ri.value.is_object() {
                    children.push((format!("[{i}]"), bi, ri, true));
                }
            }
        }
        for (keyword, label) in [
            ("then", " (then)"),
            ("else", " (else)"),
            ("unevaluatedItems", "[unevaluated]"),
            ("contentSchema", " (content)"),
        ] {
            if let (Some(bs), Some(rs)) = (b.get(keyword), r.get(keyword))
                && bs.value.is_object()
                && rs.value.is_object()
            {
                children.push((label.to_owned(), bs, rs, true));
            }
        }
        for keyword in ["allOf", "oneOf", "anyOf"] {
            let m = schema::members(base_doc, rev_doc, &b, &r, keyword);
            for (bm, rm) in m.paired {
                let name = schema::member_name(&rm);
                children.push((format!(" ({keyword} {name})"), bm, rm, keyword != "allOf"));
            }
        }
        let findings = self.cx.findings.split_off(start);
        let children = children
            .into_iter()
            .map(|(suffix, bn, rn, with_properties)| {
                let form = form.then(&suffix);
                let bn = resolve_in(&mut self.base_refs, base_doc, bn);
                let rn = resolve_in(&mut self.rev_refs, rev_doc, rn);
                let id = self.memo.id((bn, rn, dir, with_properties, form));
                (suffix, id)
            })
            .collect();
        Some(Compared {
            pair,
            seen,
            mark: at,
            findings,
            children,
        })
    }
}

/// Whether a finding is about the base version's own lifecycle (see the
/// `--map` filter in [`run_counted`]).
/// A deprecated base operation's lifecycle: its deprecation itself, the
/// `Deprecation` and `Sunset` headers, the lifecycle `Link` where the
/// successor sends none, and the 410 it answers after its sunset.
fn is_base_lifecycle(f: &Finding) -> bool {
    let m = f.message.as_str();
    matches!(
        f.rule,
        "operation_sunset_postponed" | "operation_became_deprecated"
    ) || (f.rule == "response_header_removed"
        && ["`Deprecation`", "`Sunset`", "`Link`"]
            .iter()
            .any(|h| m.contains(&format!("header {h} was removed"))))
        || (f.rule == "response_error_status_removed" && m.starts_with("error response 410 "))
}
