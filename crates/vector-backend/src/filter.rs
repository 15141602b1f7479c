//! The portable metadata filter tree, its validation against a namespace's declared fields,
//! and its reference evaluation (the oracle the conformance suite and the memory backend use).
//!
//! Missing fields follow MongoDB's rules: a comparison on a missing field is false, while
//! `Ne`, `Nin` and `Not` match records that lack the field. A keyword field may hold an array
//! of strings; `Eq` then means "contains" and `Ne` means "contains no element equal to".

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{FieldType, FilterOp, Metadata};

/// A literal in a filter: a string, a number or a boolean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FilterValue {
    /// A boolean, for bool fields.
    Bool(bool),
    /// A number, for number fields (compared as f64).
    Number(f64),
    /// A string, for keyword fields.
    String(String),
}

impl FilterValue {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Bool(_) => "bool",
            Self::Number(_) => "number",
            Self::String(_) => "string",
        }
    }

    fn fits(&self, ty: FieldType) -> bool {
        matches!(
            (self, ty),
            (Self::Bool(_), FieldType::Bool)
                | (Self::Number(_), FieldType::Number)
                | (Self::String(_), FieldType::Keyword)
        )
    }
}

impl From<&str> for FilterValue {
    fn from(v: &str) -> Self {
        Self::String(v.to_owned())
    }
}
impl From<String> for FilterValue {
    fn from(v: String) -> Self {
        Self::String(v)
    }
}
impl From<f64> for FilterValue {
    fn from(v: f64) -> Self {
        Self::Number(v)
    }
}
impl From<i64> for FilterValue {
    fn from(v: i64) -> Self {
        Self::Number(v as f64)
    }
}
impl From<i32> for FilterValue {
    fn from(v: i32) -> Self {
        Self::Number(f64::from(v))
    }
}
impl From<bool> for FilterValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

/// A filter over declared metadata fields. JSON form: `{"op": "eq", "field": "f", "value": 1}`,
/// `{"op": "in", "field": "f", "values": [..]}`, `{"op": "exists", "field": "f"}`,
/// `{"op": "and", "filters": [..]}`, `{"op": "not", "filter": {..}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[allow(missing_docs)] // Fields are described on the variants.
pub enum Filter {
    /// Field equals value (keyword arrays: contains). False when the field is missing.
    Eq { field: String, value: FilterValue },
    /// Negation of `Eq`: true when the field is missing.
    Ne { field: String, value: FilterValue },
    /// Number field greater than value. False when missing.
    Gt { field: String, value: FilterValue },
    /// Number field greater than or equal to value. False when missing.
    Gte { field: String, value: FilterValue },
    /// Number field less than value. False when missing.
    Lt { field: String, value: FilterValue },
    /// Number field less than or equal to value. False when missing.
    Lte { field: String, value: FilterValue },
    /// Field equals one of the values (keyword arrays: contains one). False when missing.
    In {
        field: String,
        values: Vec<FilterValue>,
    },
    /// Negation of `In`: true when the field is missing.
    Nin {
        field: String,
        values: Vec<FilterValue>,
    },
    /// The field is present in the metadata.
    Exists { field: String },
    /// All of the filters (at least one).
    And { filters: Vec<Filter> },
    /// Any of the filters (at least one).
    Or { filters: Vec<Filter> },
    /// The negation of the filter.
    Not { filter: Box<Filter> },
}

/// Nesting depth and node count limits, so a hostile filter cannot exhaust a backend.
pub const MAX_FILTER_DEPTH: usize = 16;
/// See [`MAX_FILTER_DEPTH`].
pub const MAX_FILTER_NODES: usize = 1024;
/// Longest value list of `In`/`Nin`.
pub const MAX_IN_VALUES: usize = 1024;

impl Filter {
    /// `field == value`.
    pub fn eq(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::Eq {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field != value`.
    pub fn ne(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::Ne {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field > value`.
    pub fn gt(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::Gt {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field >= value`.
    pub fn gte(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::Gte {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field < value`.
    pub fn lt(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::Lt {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field <= value`.
    pub fn lte(field: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::Lte {
            field: field.into(),
            value: value.into(),
        }
    }
    /// `field in values`.
    pub fn is_in<V: Into<FilterValue>>(
        field: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Self::In {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
    /// `field not in values`.
    pub fn nin<V: Into<FilterValue>>(
        field: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Self::Nin {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
    /// `field` is present.
    pub fn exists(field: impl Into<String>) -> Self {
        Self::Exists {
            field: field.into(),
        }
    }
    /// All of `filters`.
    pub fn and(filters: impl IntoIterator<Item = Filter>) -> Self {
        Self::And {
            filters: filters.into_iter().collect(),
        }
    }
    /// Any of `filters`.
    pub fn or(filters: impl IntoIterator<Item = Filter>) -> Self {
        Self::Or {
            filters: filters.into_iter().collect(),
        }
    }
    /// Not `filter`.
    #[allow(clippy::should_implement_trait)] // A constructor, not negation of a value.
    pub fn not(filter: Filter) -> Self {
        Self::Not {
            filter: Box::new(filter),
        }
    }

    /// The operator at the root of this filter.
    pub fn op(&self) -> FilterOp {
        match self {
            Self::Eq { .. } => FilterOp::Eq,
            Self::Ne { .. } => FilterOp::Ne,
            Self::Gt { .. } => FilterOp::Gt,
            Self::Gte { .. } => FilterOp::Gte,
            Self::Lt { .. } => FilterOp::Lt,
            Self::Lte { .. } => FilterOp::Lte,
            Self::In { .. } => FilterOp::In,
            Self::Nin { .. } => FilterOp::Nin,
            Self::Exists { .. } => FilterOp::Exists,
            Self::And { .. } => FilterOp::And,
            Self::Or { .. } => FilterOp::Or,
            Self::Not { .. } => FilterOp::Not,
        }
    }

    /// Checks the filter against the namespace's declared fields and the operators a backend
    /// supports: fields must be declared, values must have the field's type, ranges apply to
    /// number fields only, lists and boolean groups must not be empty, and size limits hold.
    ///
    /// # Errors
    /// `InvalidArgument` for any violation, `Unsupported` for an operator not in `supported`.
    pub fn validate(
        &self,
        fields: &BTreeMap<String, FieldType>,
        supported: &[FilterOp],
    ) -> Result<()> {
        let mut nodes = 0;
        self.validate_inner(fields, supported, 1, &mut nodes)
    }

    fn validate_inner(
        &self,
        fields: &BTreeMap<String, FieldType>,
        supported: &[FilterOp],
        depth: usize,
        nodes: &mut usize,
    ) -> Result<()> {
        *nodes += 1;
        if depth > MAX_FILTER_DEPTH {
            return Err(Error::invalid_argument(format!(
                "filter nests deeper than {MAX_FILTER_DEPTH} levels"
            )));
        }
        if *nodes > MAX_FILTER_NODES {
            return Err(Error::invalid_argument(format!(
                "filter has more than {MAX_FILTER_NODES} nodes"
            )));
        }
        if !supported.contains(&self.op()) {
            return Err(Error::unsupported(format!(
                "this backend does not support the filter operator {:?}",
                self.op()
            )));
        }
        let field_type = |field: &str| -> Result<FieldType> {
            match fields.get(field).copied() {
                Some(FieldType::Text) => Err(Error::invalid_argument(format!(
                    "filter uses text field {:?}; text fields are for keyword search, \
                     declare a keyword field to filter on",
                    truncate(field)
                ))),
                Some(ty) => Ok(ty),
                None => Err(Error::invalid_argument(format!(
                    "filter uses field {:?}, which the namespace did not declare filterable",
                    truncate(field)
                ))),
            }
        };
        let check_value = |field: &str, ty: FieldType, v: &FilterValue| -> Result<()> {
            if !v.fits(ty) {
                return Err(Error::invalid_argument(format!(
                    "filter compares {} field {:?} with a {}",
                    ty.as_str(),
                    truncate(field),
                    v.type_name()
                )));
            }
            match v {
                FilterValue::Number(n) if !n.is_finite() => {
                    Err(Error::invalid_argument("filter numbers must be finite"))
                }
                FilterValue::String(s) if s.contains('\0') || s.len() > 4096 => {
                    Err(Error::invalid_argument(
                        "filter strings must be at most 4096 bytes without NUL",
                    ))
                }
                _ => Ok(()),
            }
        };
        match self {
            Self::Eq { field, value } | Self::Ne { field, value } => {
                let ty = field_type(field)?;
                check_value(field, ty, value)
            }
            Self::Gt { field, value }
            | Self::Gte { field, value }
            | Self::Lt { field, value }
            | Self::Lte { field, value } => {
                let ty = field_type(field)?;
                if ty != FieldType::Number {
                    return Err(Error::invalid_argument(format!(
                        "range comparisons apply to number fields only; {:?} is {}",
                        truncate(field),
                        ty.as_str()
                    )));
                }
                check_value(field, ty, value)
            }
            Self::In { field, values } | Self::Nin { field, values } => {
                let ty = field_type(field)?;
                if values.is_empty() || values.len() > MAX_IN_VALUES {
                    return Err(Error::invalid_argument(format!(
                        "in/nin take 1..={MAX_IN_VALUES} values"
                    )));
                }
                values.iter().try_for_each(|v| check_value(field, ty, v))
            }
            Self::Exists { field } => field_type(field).map(|_| ()),
            Self::And { filters } | Self::Or { filters } => {
                if filters.is_empty() {
                    return Err(Error::invalid_argument("and/or take at least one filter"));
                }
                filters
                    .iter()
                    .try_for_each(|f| f.validate_inner(fields, supported, depth + 1, nodes))
            }
            Self::Not { filter } => filter.validate_inner(fields, supported, depth + 1, nodes),
        }
    }

    /// Evaluates the filter on a record's metadata: the reference semantics.
    pub fn matches(&self, metadata: &Metadata) -> bool {
        match self {
            Self::Eq { field, value } => field_eq(metadata.get(field), value),
            Self::Ne { field, value } => !field_eq(metadata.get(field), value),
            Self::Gt { field, value } => cmp(metadata.get(field), value, |a, b| a > b),
            Self::Gte { field, value } => cmp(metadata.get(field), value, |a, b| a >= b),
            Self::Lt { field, value } => cmp(metadata.get(field), value, |a, b| a < b),
            Self::Lte { field, value } => cmp(metadata.get(field), value, |a, b| a <= b),
            Self::In { field, values } => values.iter().any(|v| field_eq(metadata.get(field), v)),
            Self::Nin { field, values } => !values.iter().any(|v| field_eq(metadata.get(field), v)),
            Self::Exists { field } => metadata.get(field).is_some_and(|v| !v.is_null()),
            Self::And { filters } => filters.iter().all(|f| f.matches(metadata)),
            Self::Or { filters } => filters.iter().any(|f| f.matches(metadata)),
            Self::Not { filter } => !filter.matches(metadata),
        }
    }

    /// Every field name the filter mentions, in order of appearance.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Self::Eq { field, .. }
            | Self::Ne { field, .. }
            | Self::Gt { field, .. }
            | Self::Gte { field, .. }
            | Self::Lt { field, .. }
            | Self::Lte { field, .. }
            | Self::In { field, .. }
            | Self::Nin { field, .. }
            | Self::Exists { field } => out.push(field),
            Self::And { filters } | Self::Or { filters } => {
                filters.iter().for_each(|f| f.collect_fields(out));
            }
            Self::Not { filter } => filter.collect_fields(out),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // JSON is the canonical, unambiguous text form.
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => f.write_str("<filter>"),
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

fn scalar_eq(v: &serde_json::Value, x: &FilterValue) -> bool {
    match (v, x) {
        (serde_json::Value::String(a), FilterValue::String(b)) => a == b,
        (serde_json::Value::Number(a), FilterValue::Number(b)) => a.as_f64() == Some(*b),
        (serde_json::Value::Bool(a), FilterValue::Bool(b)) => a == b,
        _ => false,
    }
}

fn field_eq(v: Option<&serde_json::Value>, x: &FilterValue) -> bool {
    match v {
        None => false,
        Some(serde_json::Value::Array(items)) => items.iter().any(|i| scalar_eq(i, x)),
        Some(v) => scalar_eq(v, x),
    }
}

fn cmp(v: Option<&serde_json::Value>, x: &FilterValue, op: fn(f64, f64) -> bool) -> bool {
    match (v.and_then(serde_json::Value::as_f64), x) {
        (Some(a), FilterValue::Number(b)) => op(a, *b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: serde_json::Value) -> Metadata {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn missing_fields_follow_mongodb_rules() {
        let m = meta(json!({"tags": ["a", "b"], "n": 3}));
        assert!(Filter::eq("tags", "a").matches(&m));
        assert!(!Filter::ne("tags", "a").matches(&m));
        assert!(Filter::ne("tags", "z").matches(&m));
        assert!(!Filter::eq("color", "red").matches(&m));
        assert!(Filter::ne("color", "red").matches(&m));
        assert!(Filter::nin("color", ["red"]).matches(&m));
        assert!(!Filter::gt("missing", 1).matches(&m));
        assert!(Filter::not(Filter::gt("missing", 1)).matches(&m));
        assert!(Filter::gte("n", 3).matches(&m) && !Filter::gt("n", 3).matches(&m));
        assert!(Filter::exists("n").matches(&m) && !Filter::exists("x").matches(&m));
    }

    #[test]
    fn json_form_round_trips_and_validates() {
        let f = Filter::and([
            Filter::eq("c", "x"),
            Filter::not(Filter::is_in("n", [1, 2])),
        ]);
        let text = serde_json::to_string(&f).unwrap();
        assert_eq!(
            text,
            r#"{"op":"and","filters":[{"op":"eq","field":"c","value":"x"},{"op":"not","filter":{"op":"in","field":"n","values":[1.0,2.0]}}]}"#
        );
        assert_eq!(serde_json::from_str::<Filter>(&text).unwrap(), f);
        let fields = BTreeMap::from([
            ("c".to_owned(), FieldType::Keyword),
            ("n".to_owned(), FieldType::Number),
        ]);
        f.validate(&fields, &FilterOp::ALL).unwrap();
        assert!(
            Filter::eq("zz", "x")
                .validate(&fields, &FilterOp::ALL)
                .is_err()
        );
        assert!(
            Filter::gt("c", 1)
                .validate(&fields, &FilterOp::ALL)
                .is_err()
        );
        assert!(
            Filter::eq("n", "1")
                .validate(&fields, &FilterOp::ALL)
                .is_err()
        );
        assert!(Filter::and([]).validate(&fields, &FilterOp::ALL).is_err());
    }
}
