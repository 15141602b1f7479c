//! Translation of the portable [`Filter`] into Weaviate `where` filters, rendered as GraphQL
//! argument text or as REST JSON.
//!
//! Only operators whose meaning is the same in every Weaviate version from 1.25 to 1.39 are used:
//! `And`, `Or`, `Equal` (on arrays: "contains"), and the four range operators. Negation is pushed
//! down to the leaves (De Morgan) and expressed positively with the stored presence lists:
//! "not (price > 5)" becomes "price absent, or price <= 5". `NotEqual` is never sent: on array
//! properties it changed meaning between versions, and Weaviate has no `Not` before 1.40.
//!
//! One leaf has no positive form: "keyword field does not contain v" (a keyword field may hold
//! an array). There the translation widens to "match everything" and marks the result inexact;
//! the backend then re-checks every candidate with [`Filter::matches`], the contract's reference
//! semantics, and fetches further candidates until the answer is complete.
//!
//! Keys are matched through `vt_kx`, the hex of the key: see [`Where::any_key`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};
use vector_backend::{FieldType, Filter, FilterValue};

use crate::graphql::{float as graphql_float, string as graphql_string};
use crate::schema::{P_ABSENT, P_KEY_HEX, P_PRESENT, field_property, hex, keyword_token};

/// A Weaviate comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Equal,
    GreaterThan,
    GreaterThanEqual,
    LessThan,
    LessThanEqual,
    Like,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "Equal",
            Self::GreaterThan => "GreaterThan",
            Self::GreaterThanEqual => "GreaterThanEqual",
            Self::LessThan => "LessThan",
            Self::LessThanEqual => "LessThanEqual",
            Self::Like => "Like",
        }
    }
}

/// A literal in a `where` leaf.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
}

/// A Weaviate `where` filter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Where {
    And(Vec<Where>),
    Or(Vec<Where>),
    Leaf {
        property: String,
        op: Op,
        value: Literal,
    },
}

impl Where {
    pub(crate) fn leaf(property: impl Into<String>, op: Op, value: Literal) -> Self {
        Self::Leaf {
            property: property.into(),
            op,
            value,
        }
    }

    /// A comparison with a text value.
    pub(crate) fn text(property: &str, op: Op, value: &str) -> Self {
        Self::leaf(property, op, Literal::Text(value.to_owned()))
    }

    /// Every record (`vt_kx Like "*"`: every key has a hex form).
    pub(crate) fn every_record() -> Self {
        Self::text(P_KEY_HEX, Op::Like, "*")
    }

    /// The records with one of `keys` (an `Or` of `vt_kx` equalities).
    pub(crate) fn any_key<S: AsRef<str>>(keys: &[S]) -> Self {
        let mut parts: Vec<Where> = keys
            .iter()
            .map(|k| Self::text(P_KEY_HEX, Op::Equal, &hex(k.as_ref().as_bytes())))
            .collect();
        if parts.len() == 1 {
            parts.pop().unwrap_or(Self::Or(Vec::new()))
        } else {
            Self::Or(parts)
        }
    }

    /// GraphQL input-object syntax. Property names come from [`crate::schema`] (`[a-z0-9_]`),
    /// strings are escaped by [`crate::graphql::string`], numbers are finite.
    pub(crate) fn to_graphql(&self) -> String {
        let mut out = String::new();
        self.write_graphql(&mut out);
        out
    }

    fn write_graphql(&self, out: &mut String) {
        match self {
            Self::And(children) | Self::Or(children) => {
                let op = if matches!(self, Self::And(_)) {
                    "And"
                } else {
                    "Or"
                };
                let _ = write!(out, "{{operator: {op}, operands: [");
                for (i, c) in children.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    c.write_graphql(out);
                }
                out.push_str("]}");
            }
            Self::Leaf {
                property,
                op,
                value,
            } => {
                let _ = write!(
                    out,
                    "{{path: [{}], operator: {}, ",
                    graphql_string(property),
                    op.as_str()
                );
                match value {
                    Literal::Text(s) => {
                        let _ = write!(out, "valueText: {}}}", graphql_string(s));
                    }
                    Literal::Number(n) => {
                        let _ = write!(out, "valueNumber: {}}}", graphql_float(*n));
                    }
                    Literal::Bool(b) => {
                        let _ = write!(out, "valueBoolean: {b}}}");
                    }
                }
            }
        }
    }

    /// The REST `WhereFilter` JSON (batch delete).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::And(children) => {
                json!({"operator": "And", "operands": children.iter().map(Self::to_json).collect::<Vec<_>>()})
            }
            Self::Or(children) => {
                json!({"operator": "Or", "operands": children.iter().map(Self::to_json).collect::<Vec<_>>()})
            }
            Self::Leaf {
                property,
                op,
                value,
            } => {
                let mut v = json!({"path": [property], "operator": op.as_str()});
                match value {
                    Literal::Text(s) => v["valueText"] = json!(s),
                    Literal::Number(n) => v["valueNumber"] = json!(n),
                    Literal::Bool(b) => v["valueBoolean"] = json!(b),
                }
                v
            }
        }
    }
}

/// A translated filter: a server-side condition (`None` = everything) that selects a superset of
/// the matching records, and whether it selects exactly them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Translated {
    pub(crate) condition: Option<Where>,
    pub(crate) exact: bool,
}

/// Translates a validated filter for a namespace with `fields` declared.
pub(crate) fn translate(filter: &Filter, fields: &BTreeMap<String, FieldType>) -> Translated {
    tr(filter, false, fields)
}

fn exact(w: Where) -> Translated {
    Translated {
        condition: Some(w),
        exact: true,
    }
}

fn present(field: &str) -> Where {
    Where::leaf(P_PRESENT, Op::Equal, Literal::Text(field_property(field)))
}

fn absent(field: &str) -> Where {
    Where::leaf(P_ABSENT, Op::Equal, Literal::Text(field_property(field)))
}

fn literal(v: &FilterValue) -> Literal {
    match v {
        FilterValue::String(s) => Literal::Text(keyword_token(s)),
        FilterValue::Number(n) => Literal::Number(if *n == 0.0 { 0.0 } else { *n }),
        FilterValue::Bool(b) => Literal::Bool(*b),
    }
}

/// Conjunction: a superset of each child's set intersected; `None` children (everything) drop out.
fn all(children: Vec<Translated>) -> Translated {
    let exact = children.iter().all(|c| c.exact);
    let mut conds: Vec<Where> = children.into_iter().filter_map(|c| c.condition).collect();
    let condition = match conds.len() {
        0 => None,
        1 => conds.pop(),
        _ => Some(Where::And(conds)),
    };
    Translated { condition, exact }
}

/// Disjunction: one child meaning "everything" makes the whole "everything".
fn any(children: Vec<Translated>) -> Translated {
    let exact = children.iter().all(|c| c.exact);
    let mut conds = Vec::with_capacity(children.len());
    for c in children {
        match c.condition {
            Some(w) => conds.push(w),
            None => {
                return Translated {
                    condition: None,
                    exact,
                };
            }
        }
    }
    let condition = match conds.len() {
        0 => None,
        1 => conds.pop(),
        _ => Some(Where::Or(conds)),
    };
    Translated { condition, exact }
}

/// `field == value` (keyword arrays: contains), or its negation.
fn equal(field: &str, value: &FilterValue, negate: bool, ty: Option<FieldType>) -> Translated {
    let prop = field_property(field);
    if !negate {
        return exact(Where::leaf(prop, Op::Equal, literal(value)));
    }
    match (ty, value) {
        (Some(FieldType::Number), FilterValue::Number(_)) => exact(Where::Or(vec![
            absent(field),
            Where::leaf(prop.clone(), Op::LessThan, literal(value)),
            Where::leaf(prop, Op::GreaterThan, literal(value)),
        ])),
        (Some(FieldType::Bool), FilterValue::Bool(b)) => exact(Where::Or(vec![
            absent(field),
            Where::leaf(prop, Op::Equal, Literal::Bool(!b)),
        ])),
        // "No element equals v" has no positive form over an array: widen and re-check.
        _ => Translated {
            condition: None,
            exact: false,
        },
    }
}

fn range(field: &str, op: Op, value: &FilterValue, negate: bool) -> Translated {
    let prop = field_property(field);
    if !negate {
        return exact(Where::leaf(prop, op, literal(value)));
    }
    // Numbers are finite and totally ordered, so the complement of a range is a range, plus
    // the records that lack the field.
    let complement = match op {
        Op::GreaterThan => Op::LessThanEqual,
        Op::GreaterThanEqual => Op::LessThan,
        Op::LessThan => Op::GreaterThanEqual,
        Op::LessThanEqual => Op::GreaterThan,
        Op::Equal | Op::Like => op,
    };
    exact(Where::Or(vec![
        absent(field),
        Where::leaf(prop, complement, literal(value)),
    ]))
}

fn tr(f: &Filter, negate: bool, fields: &BTreeMap<String, FieldType>) -> Translated {
    let ty = |field: &str| fields.get(field).copied();
    match f {
        Filter::Eq { field, value } => equal(field, value, negate, ty(field)),
        Filter::Ne { field, value } => equal(field, value, !negate, ty(field)),
        Filter::Gt { field, value } => range(field, Op::GreaterThan, value, negate),
        Filter::Gte { field, value } => range(field, Op::GreaterThanEqual, value, negate),
        Filter::Lt { field, value } => range(field, Op::LessThan, value, negate),
        Filter::Lte { field, value } => range(field, Op::LessThanEqual, value, negate),
        Filter::In { field, values } | Filter::Nin { field, values } => {
            let negate = negate ^ matches!(f, Filter::Nin { .. });
            let parts = values
                .iter()
                .map(|v| equal(field, v, negate, ty(field)))
                .collect();
            if negate { all(parts) } else { any(parts) }
        }
        Filter::Exists { field } => exact(if negate {
            absent(field)
        } else {
            present(field)
        }),
        Filter::And { filters } | Filter::Or { filters } => {
            let parts = filters.iter().map(|c| tr(c, negate, fields)).collect();
            // De Morgan: a negated And is an Or of negations, and vice versa.
            if matches!(f, Filter::And { .. }) != negate {
                all(parts)
            } else {
                any(parts)
            }
        }
        Filter::Not { filter } => tr(filter, !negate, fields),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> BTreeMap<String, FieldType> {
        BTreeMap::from([
            ("color".to_owned(), FieldType::Keyword),
            ("price".to_owned(), FieldType::Number),
            ("ok".to_owned(), FieldType::Bool),
        ])
    }

    #[test]
    fn keyword_values_are_encoded_before_they_reach_a_query() {
        let t = translate(&Filter::eq("color", "\") { id } } 'x"), &fields());
        assert!(t.exact);
        let q = t.condition.expect("condition").to_graphql();
        // The user's text never appears; only its hex token does.
        assert!(!q.contains("id }") && !q.contains('\''), "{q}");
        assert_eq!(
            q,
            format!(
                "{{path: [\"{}\"], operator: Equal, valueText: \"{}\"}}",
                field_property("color"),
                keyword_token("\") { id } } 'x")
            )
        );
    }

    #[test]
    fn negations_become_positive_and_exact_where_possible() {
        let f = fields();
        let price = field_property("price");
        let t = translate(&Filter::not(Filter::gt("price", 5)), &f);
        assert!(t.exact);
        assert_eq!(
            t.condition,
            Some(Where::Or(vec![
                Where::leaf(P_ABSENT, Op::Equal, Literal::Text(field_property("price"))),
                Where::leaf(price.clone(), Op::LessThanEqual, Literal::Number(5.0)),
            ]))
        );
        let t = translate(&Filter::ne("price", 4), &f);
        assert!(t.exact);
        assert!(matches!(&t.condition, Some(Where::Or(parts)) if parts.len() == 3));
        let t = translate(&Filter::ne("ok", true), &f);
        assert!(t.exact);
        assert_eq!(
            t.condition,
            Some(Where::Or(vec![
                Where::leaf(P_ABSENT, Op::Equal, Literal::Text(field_property("ok"))),
                Where::leaf(field_property("ok"), Op::Equal, Literal::Bool(false)),
            ]))
        );
        assert_eq!(
            translate(&Filter::not(Filter::exists("color")), &f),
            exact(Where::leaf(
                P_ABSENT,
                Op::Equal,
                Literal::Text(field_property("color"))
            ))
        );
        // Double negation is the original.
        assert_eq!(
            translate(&Filter::not(Filter::not(Filter::eq("color", "blue"))), &f),
            translate(&Filter::eq("color", "blue"), &f)
        );
    }

    #[test]
    fn keyword_negation_widens_and_is_marked_inexact() {
        let f = fields();
        let t = translate(&Filter::ne("color", "red"), &f);
        assert_eq!(
            t,
            Translated {
                condition: None,
                exact: false
            }
        );
        // An And keeps its other, positive part as a narrowing condition.
        let t = translate(
            &Filter::and([Filter::ne("color", "red"), Filter::gt("price", 1)]),
            &f,
        );
        assert!(!t.exact);
        assert_eq!(
            t.condition,
            Some(Where::leaf(
                field_property("price"),
                Op::GreaterThan,
                Literal::Number(1.0)
            ))
        );
        // An Or with an unbounded part is unbounded.
        let t = translate(
            &Filter::or([Filter::nin("color", ["a"]), Filter::gt("price", 1)]),
            &f,
        );
        assert_eq!(
            t,
            Translated {
                condition: None,
                exact: false
            }
        );
        // De Morgan: not(a and b) = not a or not b.
        let t = translate(
            &Filter::not(Filter::and([
                Filter::exists("price"),
                Filter::lt("price", 0),
            ])),
            &f,
        );
        assert!(t.exact);
        assert!(matches!(t.condition, Some(Where::Or(_))));
    }

    #[test]
    fn renders_graphql_and_json() {
        let w = Where::And(vec![
            Where::leaf("p", Op::GreaterThanEqual, Literal::Number(-0.0)),
            Where::leaf("q", Op::Equal, Literal::Bool(true)),
        ]);
        assert_eq!(
            w.to_graphql(),
            "{operator: And, operands: [{path: [\"p\"], operator: GreaterThanEqual, valueNumber: 0.0}, {path: [\"q\"], operator: Equal, valueBoolean: true}]}"
        );
        assert_eq!(
            w.to_json(),
            json!({"operator": "And", "operands": [
                {"path": ["p"], "operator": "GreaterThanEqual", "valueNumber": 0.0},
                {"path": ["q"], "operator": "Equal", "valueBoolean": true}
            ]})
        );
        assert_eq!(
            Where::any_key(&["k"]),
            Where::text(P_KEY_HEX, Op::Equal, "6b")
        );
    }
}
