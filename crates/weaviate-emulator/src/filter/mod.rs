//! `where` filters (REST `WhereFilter` JSON and GraphQL input objects share one model):
//! validation against the class schema, and evaluation with Weaviate's inverted-index
//! semantics (tokenised text, arrays as "contains", `NotEqual` as the complement of `Equal`
//! so objects lacking the property match it, comparisons on a missing property are false).
//!
//! `parse.rs` turns JSON into a [`Filter`] (value keys against property types, with Weaviate's
//! messages); `eval.rs` evaluates it on an object.

mod eval;
mod parse;

pub(crate) use eval::tokenize;
pub(crate) use parse::parse;
use serde_json::Value;

use crate::store::PropDef;

/// A validated filter.
#[derive(Clone, Debug)]
pub(crate) enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Leaf {
        op: Op,
        target: Target,
        values: Vec<Value>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Equal,
    NotEqual,
    GreaterThan,
    GreaterThanEqual,
    LessThan,
    LessThanEqual,
    Like,
    IsNull,
    ContainsAny,
    ContainsAll,
    ContainsNone,
}

#[derive(Clone, Debug)]
pub(crate) enum Target {
    Id,
    Prop(PropDef),
}

#[cfg(test)]
mod tests {
    use super::eval::like;
    use super::*;
    use crate::settings::{Settings, Version};
    use crate::store::Db;
    use serde_json::json;

    fn settings(version: Version) -> Settings {
        Settings {
            version,
            version_string: String::new(),
            auto_schema: false,
            default_limit: 10,
            max_results: 10_000,
        }
    }

    fn db() -> Db {
        let mut db = Db::default();
        db.create_class(
            &json!({"class": "C", "invertedIndexConfig": {"indexNullState": true}, "properties": [
                {"name": "key", "dataType": ["text"], "tokenization": "field"},
                {"name": "title", "dataType": ["text"]},
                {"name": "tags", "dataType": ["text[]"], "tokenization": "field"},
                {"name": "n", "dataType": ["number"]},
                {"name": "i", "dataType": ["int"]},
                {"name": "b", "dataType": ["boolean"]},
                {"name": "meta", "dataType": ["text"], "indexFilterable": false, "indexSearchable": false}
            ]}),
            &settings(Version(1, 39, 0)),
        )
        .unwrap();
        let objs = [
            json!({"key": "k1", "title": "Hello test_domain World", "tags": ["a", "b"], "n": 1.5, "i": 1, "b": true}),
            json!({"key": " k2 ", "title": "other", "tags": ["b"], "n": 3, "i": 3}),
            json!({"key": "k3"}),
        ];
        let s = settings(Version(1, 39, 0));
        for (i, props) in objs.into_iter().enumerate() {
            let p = db
                .prepare_object(&json!({"class": "C", "id": format!("00000000-0000-0000-0000-00000000000{}", i + 1), "properties": props}), &s)
                .unwrap();
            db.write(p).unwrap();
        }
        db
    }

    fn matching(db: &Db, f: Value) -> Result<Vec<String>, String> {
        let class = db.class("C").unwrap();
        let f = parse(&f, class, &settings(Version(1, 39, 0)))?;
        Ok(class
            .objects_by_doc_id()
            .into_iter()
            .filter(|o| f.matches(o))
            .map(|o| o.props["key"].as_str().unwrap().trim().to_owned())
            .collect())
    }

    #[test]
    fn equality_and_missing_properties() {
        let db = db();
        let m = |f| matching(&db, f).unwrap();
        assert_eq!(
            m(json!({"path": ["key"], "operator": "Equal", "valueText": "k2"})),
            ["k2"],
            "field values are trimmed"
        );
        assert_eq!(
            m(json!({"path": ["key"], "operator": "Equal", "valueText": "K2"})),
            Vec::<String>::new()
        );
        assert_eq!(
            m(json!({"path": ["n"], "operator": "Equal", "valueNumber": 3})),
            ["k2"]
        );
        // NotEqual is the complement of Equal: objects without the property match.
        assert_eq!(
            m(json!({"path": ["n"], "operator": "NotEqual", "valueNumber": 3})),
            ["k1", "k3"]
        );
        assert_eq!(
            m(json!({"path": ["b"], "operator": "NotEqual", "valueBoolean": true})),
            ["k2", "k3"]
        );
        // Range comparisons on a missing property are false.
        assert_eq!(
            m(json!({"path": ["n"], "operator": "LessThan", "valueNumber": 100})),
            ["k1", "k2"]
        );
        assert_eq!(
            m(json!({"path": ["i"], "operator": "GreaterThanEqual", "valueInt": 3})),
            ["k2"]
        );
        assert_eq!(
            m(json!({"path": ["n"], "operator": "IsNull", "valueBoolean": true})),
            ["k3"]
        );
        assert_eq!(
            m(
                json!({"path": ["id"], "operator": "Equal", "valueText": "00000000-0000-0000-0000-000000000002"})
            ),
            ["k2"]
        );
    }

    #[test]
    fn word_tokenization_arrays_and_like() {
        let db = db();
        let m = |f| matching(&db, f).unwrap();
        // `word` tokenisation: "test" matches "test_domain" (split on non-alphanumerics).
        assert_eq!(
            m(json!({"path": ["title"], "operator": "Equal", "valueText": "TEST"})),
            ["k1"]
        );
        assert_eq!(
            m(json!({"path": ["title"], "operator": "Equal", "valueText": "world hello"})),
            ["k1"]
        );
        // Arrays: Equal means contains.
        assert_eq!(
            m(json!({"path": ["tags"], "operator": "Equal", "valueText": "b"})),
            ["k1", "k2"]
        );
        assert_eq!(
            m(json!({"path": ["tags"], "operator": "NotEqual", "valueText": "a"})),
            ["k2", "k3"]
        );
        assert_eq!(
            m(json!({"path": ["tags"], "operator": "ContainsAll", "valueTextArray": ["a", "b"]})),
            ["k1"]
        );
        assert_eq!(
            m(json!({"path": ["key"], "operator": "ContainsAny", "valueTextArray": ["k1", "k3"]})),
            ["k1", "k3"]
        );
        assert_eq!(
            m(json!({"path": ["key"], "operator": "ContainsNone", "valueTextArray": ["k1", "k3"]})),
            ["k2"]
        );
        assert_eq!(
            m(json!({"path": ["key"], "operator": "Like", "valueText": "k*"})),
            ["k1", "k2", "k3"]
        );
        assert_eq!(
            m(json!({"path": ["key"], "operator": "Like", "valueText": "?3"})),
            ["k3"]
        );
        assert_eq!(
            m(json!({"path": ["title"], "operator": "Like", "valueText": "wor*"})),
            ["k1"]
        );
    }

    #[test]
    fn boolean_combinations() {
        let db = db();
        let m = |f| matching(&db, f).unwrap();
        let eq = |k: &str| json!({"path": ["key"], "operator": "Equal", "valueText": k});
        assert_eq!(
            m(json!({"operator": "Or", "operands": [eq("k1"), eq("k3")]})),
            ["k1", "k3"]
        );
        assert_eq!(
            m(json!({"operator": "And", "operands": [eq("k1"), eq("k3")]})),
            Vec::<String>::new()
        );
        assert_eq!(
            m(json!({"operator": "Not", "operands": [eq("k1")]})),
            ["k2", "k3"]
        );
        assert!(
            matching(&db, json!({"operator": "And", "operands": []}))
                .unwrap_err()
                .contains("no children")
        );
        assert!(
            matching(
                &db,
                json!({"operator": "Not", "operands": [eq("k1"), eq("k2")]})
            )
            .unwrap_err()
            .contains("Expected 1, given 2")
        );
    }

    #[test]
    fn not_operator_depends_on_version() {
        let db = db();
        let class = db.class("C").unwrap();
        let f = json!({"operator": "Not", "operands": [{"path": ["key"], "operator": "Equal", "valueText": "k1"}]});
        assert!(parse(&f, class, &settings(Version(1, 32, 9))).is_err());
        assert!(parse(&f, class, &settings(Version(1, 33, 0))).is_ok());
        let f = json!({"path": ["key"], "operator": "ContainsNone", "valueTextArray": ["k1"]});
        assert!(parse(&f, class, &settings(Version(1, 25, 0))).is_err());
    }

    #[test]
    fn validation_errors() {
        let db = db();
        let e = |f| matching(&db, f).unwrap_err();
        assert!(
            e(json!({"path": ["nope"], "operator": "Equal", "valueText": "x"}))
                .starts_with("no such prop with name 'nope' found in class 'C'")
        );
        assert_eq!(
            e(json!({"path": ["n"], "operator": "Equal", "valueInt": 3})),
            r#"data type filter cannot use "valueInt" on type "number", use "valueNumber" instead"#
        );
        assert!(
            e(json!({"path": ["key"], "operator": "Equal", "valueNumber": 3}))
                .contains("use \"valueText\"")
        );
        assert!(
            e(json!({"path": ["meta"], "operator": "Equal", "valueText": "x"}))
                .contains("requires inverted index")
        );
        assert!(e(json!({"path": ["key"], "operator": "Equal"})).contains("without a value"));
        assert!(
            e(json!({"path": ["key"], "operator": "Bogus", "valueText": "x"}))
                .contains("unrecognized operator")
        );
        assert!(
            e(json!({"path": ["key"], "operator": "IsNull", "valueText": "x"}))
                .contains("IsNull requires a booleanValue")
        );
    }

    #[test]
    fn is_null_requires_index_null_state() {
        let s = settings(Version(1, 39, 0));
        let mut db = Db::default();
        db.create_class(
            &json!({"class": "D", "properties": [{"name": "x", "dataType": ["text"]}]}),
            &s,
        )
        .unwrap();
        let f = json!({"path": ["x"], "operator": "IsNull", "valueBoolean": true});
        assert!(
            parse(&f, db.class("D").unwrap(), &s)
                .unwrap_err()
                .starts_with("Nullstate must be indexed")
        );
    }

    #[test]
    fn like_patterns() {
        let l = |p: &str, t: &str| {
            like(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
            )
        };
        assert!(l("*", ""));
        assert!(l("a*c", "abbbc"));
        assert!(l("a?c", "abc"));
        assert!(!l("a?c", "ac"));
        assert!(l("*é*", "café!"));
        assert!(!l("abc", "abcd"));
        assert_eq!(
            tokenize("  Hello, WORLD-x  ", None),
            ["hello", "world", "x"]
        );
        assert_eq!(tokenize("  a b  ", Some("field")), ["a b"]);
        assert_eq!(tokenize("A b", Some("whitespace")), ["A", "b"]);
    }
}
