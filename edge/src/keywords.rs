//! The one typed list of schema keywords (and `format`s) the edge
//! supports, with no dependencies: the generator's lint reads it without
//! building the runtime (`default-features = false`), the runtime's
//! validator enforces it, and the drift check compares by it.

/// What a keyword does for the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordKind {
    /// Shapes the type: kept in the generated types (typify) and checked by
    /// the validator as a decoding rule (a violation is a 400).
    Structure,
    /// Constrains values of a type: stripped from the generated types and
    /// enforced by the validator from the generated rules (a violation in a
    /// body is a 422, in a parameter a 400).
    Constraint,
    /// Prose and hints with no effect on what is accepted.
    Annotation,
}

macro_rules! keywords {
    ($($variant:ident => $name:literal, $kind:ident;)*) => {
        /// Every JSON Schema / OpenAPI 3.0 schema keyword the edge supports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Keyword { $($variant,)* }

        impl Keyword {
            /// Every supported keyword, in a fixed order.
            pub const ALL: &'static [Keyword] = &[$(Keyword::$variant,)*];

            /// The keyword as written in a spec.
            pub fn name(self) -> &'static str {
                match self { $(Keyword::$variant => $name,)* }
            }

            pub fn kind(self) -> KeywordKind {
                match self { $(Keyword::$variant => KeywordKind::$kind,)* }
            }

            /// The keyword written as `name`, if the edge supports it.
            pub fn parse(name: &str) -> Option<Keyword> {
                match name { $($name => Some(Keyword::$variant),)* _ => None }
            }
        }
    };
}

keywords! {
    Type => "type", Structure;
    Format => "format", Structure;
    Nullable => "nullable", Structure;
    Properties => "properties", Structure;
    Required => "required", Structure;
    Items => "items", Structure;
    Ref => "$ref", Structure;
    Enum => "enum", Structure;
    MinLength => "minLength", Constraint;
    MaxLength => "maxLength", Constraint;
    Pattern => "pattern", Constraint;
    Minimum => "minimum", Constraint;
    Maximum => "maximum", Constraint;
    ExclusiveMinimum => "exclusiveMinimum", Constraint;
    ExclusiveMaximum => "exclusiveMaximum", Constraint;
    MultipleOf => "multipleOf", Constraint;
    MinItems => "minItems", Constraint;
    MaxItems => "maxItems", Constraint;
    UniqueItems => "uniqueItems", Constraint;
    Description => "description", Annotation;
    Title => "title", Annotation;
    Example => "example", Annotation;
    Examples => "examples", Annotation;
    Default => "default", Annotation;
    ReadOnly => "readOnly", Annotation;
    WriteOnly => "writeOnly", Annotation;
    Deprecated => "deprecated", Annotation;
}

/// String formats that constrain values; any other `format` is an
/// annotation (the lint refuses formats outside [`FORMATS`]).
pub const CONSTRAINING_FORMATS: &[&str] = &["uuid", "date-time", "date", "email"];

/// Every `format` the edge accepts: the constraining ones plus the integer
/// and number widths (which bound the value's range).
pub const FORMATS: &[&str] = &[
    "uuid",
    "date-time",
    "date",
    "email",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float",
    "double",
];
