//! The syntax tree of a query: fields with aliases, arguments and selection sets, and values as
//! the GraphQL spec (October 2021) defines them; positions for error locations.

use std::fmt;

/// A position in the query text, 1-based, as GraphQL errors report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// A syntax (or unsupported-construct) error with its location.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SyntaxError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // graphql-go's wording, which Weaviate passes through unchanged.
        write!(
            f,
            "Syntax Error GraphQL request ({}:{}) {}",
            self.pos.line, self.pos.column, self.message
        )
    }
}

/// A GraphQL input value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    /// An IntValue, kept as written so large values are not silently rounded.
    Int(String),
    /// A FloatValue, as written.
    Float(String),
    String(String),
    Bool(bool),
    Enum(String),
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The value as JSON; enums become strings (Weaviate's filter operators are enums).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Int(s) => match s.parse::<i64>() {
                Ok(i) => serde_json::Value::from(i),
                Err(_) => s
                    .parse::<f64>()
                    .map_or(serde_json::Value::Null, serde_json::Value::from),
            },
            Self::Float(s) => s
                .parse::<f64>()
                .map_or(serde_json::Value::Null, serde_json::Value::from),
            Self::String(s) | Self::Enum(s) => serde_json::Value::String(s.clone()),
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::List(items) => items.iter().map(Self::to_json).collect(),
            Self::Object(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The value as a number (Int or Float literal).
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(s) | Self::Float(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// An argument `name: value`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Argument {
    pub(crate) name: String,
    pub(crate) value: Value,
    pub(crate) pos: Pos,
}

/// A field selection.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Field {
    pub(crate) alias: Option<String>,
    pub(crate) name: String,
    pub(crate) arguments: Vec<Argument>,
    pub(crate) selection: Vec<Field>,
    /// Whether the field was written with braces (even empty ones, which are a syntax error).
    pub(crate) has_selection_set: bool,
    pub(crate) pos: Pos,
}

impl Field {
    /// The key of this field in the response.
    pub(crate) fn response_key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    /// The argument called `name`, if given.
    pub(crate) fn argument(&self, name: &str) -> Option<&Argument> {
        self.arguments.iter().find(|a| a.name == name)
    }
}

/// A parsed query operation: its top-level selection set.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Operation {
    pub(crate) name: Option<String>,
    pub(crate) selection: Vec<Field>,
}
