//! Property tests of the filter JSON parser: `Filter` deserialisation and `Filter::validate`,
//! the code every HTTP request with a filter reaches.
//!
//! - Arbitrary JSON (biased towards filter-shaped objects) never panics the parser or the
//!   validator, and whatever parses serialises back to the same filter.
//! - Every filter tree round-trips through its JSON form exactly.
//! - `validate` accepts a tree exactly when an independent model of the rules does
//!   (declared fields with the right types, ranges on numbers only, non-empty lists, finite
//!   numbers, bounded strings, depth and node limits).
//! - Nesting far beyond any limit is an error, never a stack overflow.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};
use vector_backend::filter::{MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_IN_VALUES};
use vector_backend::{FieldType, Filter, FilterOp, FilterValue};

/// The declared fields the validator checks against.
fn fields() -> BTreeMap<String, FieldType> {
    BTreeMap::from([
        ("kw".to_owned(), FieldType::Keyword),
        ("num".to_owned(), FieldType::Number),
        ("flag".to_owned(), FieldType::Bool),
    ])
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["kw", "num", "flag"]).prop_map(str::to_owned),
        1 => "[a-z]{0,3}".prop_map(String::from),
    ]
}

fn filter_value() -> impl Strategy<Value = FilterValue> {
    prop_oneof![
        any::<bool>().prop_map(FilterValue::Bool),
        prop_oneof![
            (-1e12f64..1e12).boxed(),
            Just(0.0).boxed(),
            Just(-0.0).boxed(),
            Just(f64::MAX).boxed(),
            Just(f64::MIN_POSITIVE).boxed(),
        ]
        .prop_map(FilterValue::Number),
        prop_oneof![
            "[a-z\u{e9}\u{1F511} ]{0,8}".prop_map(String::from),
            Just("x".repeat(4097)),
            Just("nul\0".to_owned()),
        ]
        .prop_map(FilterValue::String),
    ]
}

/// Filter trees: well-typed and ill-typed, small and (sometimes) over the limits.
fn filter_tree() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (field_name(), filter_value()).prop_map(|(f, v)| Filter::Eq { field: f, value: v }),
        (field_name(), filter_value()).prop_map(|(f, v)| Filter::Ne { field: f, value: v }),
        (field_name(), filter_value()).prop_map(|(f, v)| Filter::Gt { field: f, value: v }),
        (field_name(), filter_value()).prop_map(|(f, v)| Filter::Gte { field: f, value: v }),
        (field_name(), filter_value()).prop_map(|(f, v)| Filter::Lt { field: f, value: v }),
        (field_name(), filter_value()).prop_map(|(f, v)| Filter::Lte { field: f, value: v }),
        (field_name(), prop::collection::vec(filter_value(), 0..4)).prop_map(|(f, v)| Filter::In {
            field: f,
            values: v
        }),
        (field_name(), prop::collection::vec(filter_value(), 0..4)).prop_map(|(f, v)| {
            Filter::Nin {
                field: f,
                values: v,
            }
        }),
        field_name().prop_map(|f| Filter::Exists { field: f }),
    ];
    leaf.prop_recursive(20, 200, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|f| Filter::And { filters: f }),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|f| Filter::Or { filters: f }),
            inner.prop_map(|f| Filter::Not {
                filter: Box::new(f)
            }),
        ]
    })
}

/// The rules of `Filter::validate`, written independently: `Ok` iff the tree is valid.
fn model_valid(f: &Filter) -> bool {
    fn value_ok(ty: FieldType, v: &FilterValue) -> bool {
        match (ty, v) {
            (FieldType::Bool, FilterValue::Bool(_)) => true,
            (FieldType::Number, FilterValue::Number(n)) => n.is_finite(),
            (FieldType::Keyword, FilterValue::String(s)) => !s.contains('\0') && s.len() <= 4096,
            _ => false,
        }
    }
    fn walk(f: &Filter, depth: usize, nodes: &mut usize) -> bool {
        *nodes += 1;
        if depth > MAX_FILTER_DEPTH || *nodes > MAX_FILTER_NODES {
            return false;
        }
        let fields = fields();
        let ty = |name: &str| fields.get(name).copied();
        match f {
            Filter::Eq { field, value } | Filter::Ne { field, value } => {
                ty(field).is_some_and(|t| value_ok(t, value))
            }
            Filter::Gt { field, value }
            | Filter::Gte { field, value }
            | Filter::Lt { field, value }
            | Filter::Lte { field, value } => {
                ty(field) == Some(FieldType::Number) && value_ok(FieldType::Number, value)
            }
            Filter::In { field, values } | Filter::Nin { field, values } => {
                ty(field).is_some_and(|t| {
                    !values.is_empty()
                        && values.len() <= MAX_IN_VALUES
                        && values.iter().all(|v| value_ok(t, v))
                })
            }
            Filter::Exists { field } => ty(field).is_some(),
            Filter::And { filters } | Filter::Or { filters } => {
                // Children are checked in order and the first failure stops the walk, as the
                // node count depends on the order.
                !filters.is_empty() && filters.iter().all(|c| walk(c, depth + 1, nodes))
            }
            Filter::Not { filter } => walk(filter, depth + 1, nodes),
        }
    }
    walk(f, 1, &mut 0)
}

fn is_finite_everywhere(f: &Filter) -> bool {
    let ok = |v: &FilterValue| !matches!(v, FilterValue::Number(n) if !n.is_finite());
    match f {
        Filter::Eq { value, .. }
        | Filter::Ne { value, .. }
        | Filter::Gt { value, .. }
        | Filter::Gte { value, .. }
        | Filter::Lt { value, .. }
        | Filter::Lte { value, .. } => ok(value),
        Filter::In { values, .. } | Filter::Nin { values, .. } => values.iter().all(ok),
        Filter::Exists { .. } => true,
        Filter::And { filters } | Filter::Or { filters } => {
            filters.iter().all(is_finite_everywhere)
        }
        Filter::Not { filter } => is_finite_everywhere(filter),
    }
}

/// Arbitrary JSON, biased towards objects with an `op` and the filter's field names.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|n| json!(n)),
        "[a-z]{0,6}".prop_map(Value::String),
        prop::sample::select(vec![
            "eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "exists", "and", "or", "not", "EQ",
            "",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(8, 128, 6, |inner| {
        let key = prop::sample::select(vec![
            "op", "field", "value", "values", "filters", "filter", "extra",
        ])
        .prop_map(str::to_owned);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_never_panics_and_what_parses_round_trips(v in json_value()) {
        let text = v.to_string();
        if let Ok(f) = serde_json::from_str::<Filter>(&text) {
            let _ = f.validate(&fields(), &FilterOp::ALL);
            let _ = f.matches(&serde_json::Map::new());
            let again: Filter = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
            prop_assert_eq!(again, f);
        }
    }

    #[test]
    fn every_tree_round_trips(f in filter_tree()) {
        prop_assume!(is_finite_everywhere(&f));
        let text = serde_json::to_string(&f).unwrap();
        let back: Filter = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &f, "{}", text);
        // And through a `serde_json::Value`, as the service's extractors see it.
        let value = serde_json::to_value(&f).unwrap();
        prop_assert_eq!(serde_json::from_value::<Filter>(value).unwrap(), f);
    }

    #[test]
    fn validate_agrees_with_the_model(f in filter_tree()) {
        let got = f.validate(&fields(), &FilterOp::ALL);
        prop_assert_eq!(got.is_ok(), model_valid(&f), "{:?} -> {:?}", f, got);
        if let Err(e) = got {
            prop_assert_eq!(e.kind(), vector_backend::ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn unsupported_operators_are_unsupported(f in filter_tree()) {
        // With only `exists` supported, anything valid that uses another operator is refused.
        let got = f.validate(&fields(), &[FilterOp::Exists]);
        if model_valid(&f) && f.op() != FilterOp::Exists {
            prop_assert_eq!(got.unwrap_err().kind(), vector_backend::ErrorKind::Unsupported);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [17, 200, 100_000] {
        let text = format!(
            "{}{}{}",
            r#"{"op":"not","filter":"#.repeat(depth),
            r#"{"op":"exists","field":"kw"}"#,
            "}".repeat(depth)
        );
        match serde_json::from_str::<Filter>(&text) {
            // serde_json stops at its recursion limit (128) ...
            Err(e) => assert!(e.to_string().contains("recursion"), "{e}"),
            // ... and below it the validator refuses more than 16 levels.
            Ok(f) => assert!(f.validate(&fields(), &FilterOp::ALL).is_err()),
        }
    }
    let wide = Filter::Or {
        filters: vec![Filter::exists("kw"); MAX_FILTER_NODES + 1],
    };
    assert!(wide.validate(&fields(), &FilterOp::ALL).is_err());
}
