//! The rule catalog: what a rule is, and the registry of all of them.
//!
//! Each rule is one file in this folder named after its id, holding a
//! `pub const RULE: Rule` with its metadata as data and its check. The
//! `rules!` list below both declares the modules and builds [`ALL`], so a
//! rule is registered by adding one line; a test in `tests/it` fails when a
//! file in this folder is missing from the list. This module does not
//! traverse documents: the walker in [`crate::walk`] calls the checks.

use crate::Level;
use crate::document::Node;
use crate::walk::{
    ContentSite, Cx, NodeSite, OperationPair, Pair, ParameterSite, PropertySite, SchemaSite,
};

/// Which part of a document a rule is about; groups the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// Paths and operations.
    Operations,
    /// Path, query, header and cookie parameters.
    Parameters,
    /// Request bodies and their media types.
    RequestBodies,
    /// Response statuses, media types and headers.
    Responses,
    /// JSON Schema keywords, judged by direction.
    Schemas,
    /// Security requirements.
    Security,
    /// Servers.
    Servers,
    /// Deprecation and sunset.
    Lifecycle,
}

impl Family {
    /// Heading used in the catalog.
    pub fn title(self) -> &'static str {
        match self {
            Family::Operations => "Paths and operations",
            Family::Parameters => "Parameters",
            Family::RequestBodies => "Request bodies",
            Family::Responses => "Responses",
            Family::Schemas => "Schemas",
            Family::Security => "Security",
            Family::Servers => "Servers",
            Family::Lifecycle => "Lifecycle",
        }
    }
}

/// The request/response counterpart of a directional rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirror {
    /// The rule is not about one direction.
    NotDirectional,
    /// The rule id that checks the same keyword in the other direction.
    Rule(&'static str),
    /// No counterpart, and why that is right.
    Waived(&'static str),
}

/// What a change can break: the HTTP exchange, or code written against
/// the generated SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// Requests or responses that followed the base contract fail on the
    /// wire, whatever the client is written in.
    Wire,
    /// Code written against the generated Rust SDK (progenitor builders,
    /// typify types) stops compiling or deserializing, even where the wire
    /// exchange would still work (a renamed operationId, a struct gaining
    /// a field, an enum gaining a variant).
    Sdk,
}

impl Layer {
    /// The lowercase name used by `--layer` and the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Wire => "wire",
            Layer::Sdk => "sdk",
        }
    }
}

/// Breaks the wire exchange only.
pub const WIRE: &[Layer] = &[Layer::Wire];
/// Breaks code written against the generated SDK only.
pub const SDK: &[Layer] = &[Layer::Sdk];
/// Breaks both.
pub const WIRE_AND_SDK: &[Layer] = &[Layer::Wire, Layer::Sdk];
/// Breaks neither: worth knowing.
pub const NO_LAYER: &[Layer] = &[];

/// A rule's metadata. Everything the catalog, `rules` and `explain` show
/// comes from here.
#[derive(Debug, Clone, Copy)]
pub struct RuleMeta {
    /// Stable id, equal to the file name.
    pub id: &'static str,
    /// Severity of every finding of this rule.
    pub level: Level,
    /// Catalog group.
    pub family: Family,
    /// What the rule detects, one sentence.
    pub description: &'static str,
    /// Why such a change breaks (or may break) clients.
    pub why: &'static str,
    /// How to make the change without breaking anyone.
    pub fix: &'static str,
    /// A link to the part of the OpenAPI or JSON Schema specification that
    /// the rule is about.
    pub reference: &'static str,
    /// The mirror rule in the other direction.
    pub mirror: Mirror,
    /// The layers a change of this kind can break.
    pub layers: &'static [Layer],
    /// Where the default level deliberately differs from oasdiff's for the
    /// same change: oasdiff's level and why break-diff chose otherwise.
    /// `None` when they agree or oasdiff has no such check.
    pub oasdiff: Option<&'static str>,
}

/// The kind of site a rule checks, with its check function.
#[derive(Clone, Copy)]
pub enum Check {
    /// Whole documents (servers, global settings).
    Document(fn(&mut Cx<'_>, &Pair<Node<'_>>)),
    /// An operation, present on one or both sides.
    Operation(fn(&mut Cx<'_>, &OperationPair<'_>)),
    /// A webhook or callback operation (sent by the server), present on
    /// one or both sides.
    Callback(fn(&mut Cx<'_>, &OperationPair<'_>)),
    /// A parameter of an operation present on both sides.
    Parameter(fn(&mut Cx<'_>, &ParameterSite<'_>)),
    /// The request body of an operation present on both sides.
    RequestBody(fn(&mut Cx<'_>, &NodeSite<'_>)),
    /// A response of an operation present on both sides.
    Response(fn(&mut Cx<'_>, &NodeSite<'_>)),
    /// A header of a response present on both sides.
    Header(fn(&mut Cx<'_>, &NodeSite<'_>)),
    /// A media type of a body present on both sides.
    Content(fn(&mut Cx<'_>, &ContentSite<'_>)),
    /// A schema present on both sides.
    Schema(fn(&mut Cx<'_>, &SchemaSite<'_>)),
    /// A property of an object schema present on both sides.
    Property(fn(&mut Cx<'_>, &PropertySite<'_>)),
}

/// A rule: metadata plus check.
pub struct Rule {
    /// What the rule is.
    pub meta: RuleMeta,
    /// What it looks at and how.
    pub check: Check,
}

/// Declares each rule module and lists its `RULE` in [`ALL`].
macro_rules! rules {
    ($($id:ident),* $(,)?) => {
        $(pub mod $id;)*
        /// Every registered rule, in catalog order.
        pub static ALL: &[&Rule] = &[$(&$id::RULE),*];
    };
}

rules! {
    // Paths and operations.
    operation_removed,
    operation_added,
    operation_id_changed,
    callback_removed,
    callback_added,
    callback_parameter_removed,
    callback_parameter_became_optional,
    callback_success_status_removed,
    operation_tags_changed,
    rate_limit_policy_added,
    rate_limit_policy_changed,
    openapi_version_changed,
    // Parameters.
    request_parameter_added_required,
    request_parameter_added_optional,
    request_parameter_removed,
    request_parameter_became_required,
    request_parameter_became_optional,
    request_parameter_style_changed,
    request_parameter_allow_empty_value_removed,
    request_parameter_allow_reserved_removed,
    request_parameter_content_type_changed,
    request_parameter_default_added,
    // Request bodies.
    request_body_became_required,
    request_body_became_optional,
    request_body_added_optional,
    request_body_removed,
    request_media_type_removed,
    request_media_type_added,
    request_schema_added,
    request_multipart_encoding_changed,
    // Responses.
    response_success_status_removed,
    response_success_status_added,
    response_error_status_added,
    response_error_status_removed,
    response_media_type_removed,
    response_media_type_added,
    response_header_removed,
    response_header_became_optional,
    response_header_added,
    response_schema_removed,
    response_link_removed,
    // Schemas, request side then response side of each keyword.
    request_property_became_required,
    response_property_became_optional,
    request_required_property_added,
    request_property_removed,
    response_property_removed,
    request_optional_property_added,
    response_property_added,
    request_property_became_read_only,
    response_property_became_write_only,
    request_type_narrowed,
    response_type_widened,
    request_type_widened,
    response_type_narrowed,
    request_became_non_nullable,
    response_became_nullable,
    request_enum_value_removed,
    response_enum_value_added,
    request_enum_value_added,
    response_enum_value_removed,
    request_extensible_enum_value_removed,
    request_format_narrowed,
    response_format_widened,
    request_numeric_range_narrowed,
    response_numeric_range_widened,
    request_length_range_narrowed,
    response_length_range_widened,
    request_pattern_changed,
    response_pattern_changed,
    request_additional_properties_restricted,
    response_additional_properties_allowed,
    request_union_variant_removed,
    response_union_variant_added,
    request_all_of_member_added,
    response_all_of_member_removed,
    request_all_of_member_removed,
    request_discriminator_changed,
    response_discriminator_changed,
    request_unique_items_added,
    response_unique_items_removed,
    request_multiple_of_changed,
    response_multiple_of_changed,
    request_const_changed,
    response_const_changed,
    request_unevaluated_properties_restricted,
    response_unevaluated_properties_allowed,
    request_property_names_restricted,
    response_property_names_relaxed,
    request_content_encoding_changed,
    response_content_encoding_changed,
    request_items_constrained,
    response_items_unconstrained,
    request_contains_added,
    response_contains_removed,
    request_xml_changed,
    response_xml_changed,
    request_not_added,
    response_not_removed,
    request_dependent_required_added,
    response_dependent_required_removed,
    request_subschema_constraint_added,
    response_subschema_constraint_removed,
    request_default_changed,
    external_ref_changed,
    // Security.
    security_requirement_tightened,
    security_requirement_relaxed,
    security_scheme_changed,
    security_scope_removed,
    // Servers.
    server_removed,
    server_added,
    server_url_changed,
    server_variable_changed,
    operation_server_removed,
    path_server_removed,
    // Lifecycle.
    operation_stability_decreased,
    operation_stability_level_invalid,
    operation_removed_after_sunset,
    request_parameter_removed_after_sunset,
    request_property_removed_after_sunset,
    response_property_removed_after_sunset,
    response_header_removed_after_sunset,
    response_header_became_deprecated,
    operation_became_deprecated,
    request_parameter_became_deprecated,
    request_parameter_deprecated_without_sunset,
    request_property_became_deprecated,
    response_property_became_deprecated,
    operation_deprecated_without_sunset,
    operation_sunset_too_soon,
    operation_sunset_moved_earlier,
    operation_sunset_postponed,
    request_parameter_sunset_too_soon,
    request_parameter_sunset_moved_earlier,
    request_parameter_sunset_removed,
    request_property_sunset_policy_violated,
    response_property_sunset_policy_violated,
}

/// What rule files import.
pub mod prelude {
    pub use super::{
        Check, Deprecation, Family, Mirror, NO_LAYER, Retirement, Rule, RuleMeta, SDK, WIRE,
        WIRE_AND_SDK, key_ptr, node_retirement, removal_refused, retirement, sunset_problem,
    };
    pub use crate::Level;
    pub use crate::document::Node;
    pub use crate::schema;
    pub use crate::walk::{
        ContentSite, Cx, Direction, NodeSite, OperationPair, Pair, ParameterSite, PropertySite,
        SchemaSite,
    };
}

/// Where a thing stands in its deprecation lifecycle on a given day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retirement {
    /// Not marked deprecated.
    NotDeprecated,
    /// Deprecated without an `x-sunset` date.
    NoSunset,
    /// Deprecated with an `x-sunset` or `x-deprecated-since` value that
    /// is not a `YYYY-MM-DD` date: (field, value).
    BadDate(&'static str, String),
    /// Deprecated, and the sunset date is still ahead.
    Before(chrono::NaiveDate),
    /// The sunset date has come, but the deprecation (`x-deprecated-since`)
    /// is younger than the minimum deprecation period: (since, days ago).
    TooRecent(chrono::NaiveDate, i64),
    /// Deprecated long enough and the sunset date has come: removal is
    /// allowed.
    Passed(chrono::NaiveDate),
}

/// The lifecycle fields of an operation or parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deprecation<'a> {
    /// `deprecated: true`.
    pub deprecated: bool,
    /// `x-sunset: YYYY-MM-DD`, the announced removal day.
    pub sunset: Option<&'a str>,
    /// `x-deprecated-since: YYYY-MM-DD`, when the deprecation was
    /// announced; optional, and when present the minimum deprecation
    /// period is enforced on removal too.
    pub since: Option<&'a str>,
}

fn date(raw: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

/// Classifies a thing on `options.today`. The sunset day itself counts
/// as passed: it is the announced removal day.
pub fn retirement(d: Deprecation<'_>, options: &crate::Options) -> Retirement {
    if !d.deprecated {
        return Retirement::NotDeprecated;
    }
    let Some(raw) = d.sunset else {
        return Retirement::NoSunset;
    };
    let Some(sunset) = date(raw) else {
        return Retirement::BadDate("x-sunset", raw.to_owned());
    };
    if sunset > options.today {
        return Retirement::Before(sunset);
    }
    if let Some(raw) = d.since {
        let Some(since) = date(raw) else {
            return Retirement::BadDate("x-deprecated-since", raw.to_owned());
        };
        let days = (options.today - since).num_days();
        if days < i64::from(options.min_deprecation_days) {
            return Retirement::TooRecent(since, days);
        }
    }
    Retirement::Passed(sunset)
}

/// The lifecycle state of a schema property or header from its own
/// `deprecated`, `x-sunset` and `x-deprecated-since`.
pub fn node_retirement(node: &Node<'_>, options: &crate::Options) -> Retirement {
    retirement(
        Deprecation {
            deprecated: node.flag("deprecated"),
            sunset: node.str("x-sunset"),
            since: node.str("x-deprecated-since"),
        },
        options,
    )
}

/// Why removing something in state `r` is not allowed, or `None` when it
/// is. Shared by the removal rules so that they explain alike.
pub fn removal_refused(r: &Retirement, options: &crate::Options) -> Option<String> {
    Some(match r {
        Retirement::Passed(_) => return None,
        Retirement::NotDeprecated => "it was not deprecated in the base".to_owned(),
        Retirement::NoSunset => "it was deprecated but had no `x-sunset` date".to_owned(),
        Retirement::BadDate(field, raw) => {
            format!("its `{field}` value `{raw}` is not a YYYY-MM-DD date")
        }
        Retirement::Before(date) => format!(
            "it was deprecated, but its sunset date {date} is after today ({})",
            options.today
        ),
        Retirement::TooRecent(since, days) => format!(
            "it was deprecated on {since}, only {days} day(s) ago; the minimum deprecation period is {} days",
            options.min_deprecation_days
        ),
    })
}

/// What is wrong with the sunset of a thing deprecated in the revision
/// (`rev`, with `base` its counterpart when it existed), judged only where
/// the revision changed something, so an old problem is not reported on
/// every later comparison: deprecated without an `x-sunset`, an `x-sunset`
/// deleted or made unparsable, or a new date closer than the minimum
/// deprecation period. `None` when the sunset is in order or not the
/// revision's doing.
pub fn sunset_problem(
    base: Option<&Node<'_>>,
    rev: &Node<'_>,
    options: &crate::Options,
) -> Option<String> {
    if !rev.flag("deprecated") {
        return None;
    }
    let was_deprecated = base.is_some_and(|b| b.flag("deprecated"));
    let old = base.and_then(|b| b.str("x-sunset"));
    let Some(raw) = rev.str("x-sunset") else {
        return match (was_deprecated, old) {
            (false, _) => Some("was deprecated without an `x-sunset` date".to_owned()),
            (true, Some(old)) => Some(format!(
                "is still deprecated but its `x-sunset` ({old}) was deleted, so clients no longer know when it goes"
            )),
            (true, None) => None,
        };
    };
    if was_deprecated && old == Some(raw) {
        return None;
    }
    let Some(sunset) = date(raw) else {
        return Some(format!(
            "has an `x-sunset` `{raw}` that is not a YYYY-MM-DD date"
        ));
    };
    let days = (sunset - options.today).num_days();
    let min = i64::from(options.min_deprecation_days);
    (days < min).then(|| {
        format!(
            "sunsets on {sunset}, {days} day(s) after {}; the minimum deprecation period is {min} days",
            options.today
        )
    })
}

/// The pointer of `node`'s `key` when present, else of `node` itself: a
/// finding then points at `maximum:` rather than at the whole schema.
pub fn key_ptr(node: &Node<'_>, key: &str) -> String {
    node.get(key)
        .map(|n| n.ptr)
        .unwrap_or_else(|| node.ptr.clone())
}

/// Up to three rule ids that share the most `_`-separated words with
/// `query`, best first: suggestions for a mistyped id.
pub fn similar(query: &str) -> Vec<&'static str> {
    let words: Vec<&str> = query
        .split(['_', '-', ' '])
        .filter(|w| !w.is_empty())
        .collect();
    let mut scored: Vec<(usize, &'static str)> = ALL
        .iter()
        .map(|r| {
            let id = r.meta.id;
            let score = words
                .iter()
                .filter(|w| id.split('_').any(|p| p == **w))
                .count();
            (score, id)
        })
        .filter(|(score, _)| *score > 0)
        .collect();
    // Highest score first; ties stay in catalog order (the sort is stable).
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    scored.into_iter().take(3).map(|(_, id)| id).collect()
}

/// Looks a rule up by id.
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.meta.id == id)
}
