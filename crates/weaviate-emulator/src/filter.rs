//! `where` filters (REST `WhereFilter` JSON and GraphQL input objects share one model):
//! validation against the class schema, and evaluation with Weaviate's inverted-index
//! semantics (tokenised text, arrays as "contains", `NotEqual` as the complement of `Equal`
//! so objects lacking the property match it, comparisons on a missing property are false).

use serde_json::Value;

use crate::store::{ClassData, PropDef, Settings, StoredObject};

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

const VALUE_KEYS: &[(&str, &str, bool)] = &[
    ("valueText", "text", false),
    ("valueString", "text", false),
    ("valueInt", "int", false),
    ("valueNumber", "number", false),
    ("valueBoolean", "boolean", false),
    ("valueDate", "date", false),
    ("valueTextArray", "text", true),
    ("valueStringArray", "text", true),
    ("valueIntArray", "int", true),
    ("valueNumberArray", "number", true),
    ("valueBooleanArray", "boolean", true),
    ("valueDateArray", "date", true),
];

fn value_name(dt: &str) -> String {
    let mut c = dt.chars();
    match c.next() {
        Some(f) => format!("value{}{}", f.to_uppercase(), c.as_str()),
        None => "value".into(),
    }
}

/// Parses and validates a filter against `class`.
pub(crate) fn parse(v: &Value, class: &ClassData, settings: &Settings) -> Result<Filter, String> {
    parse_at(v, class, settings, 0)
}

fn parse_at(
    v: &Value,
    class: &ClassData,
    settings: &Settings,
    depth: usize,
) -> Result<Filter, String> {
    if depth > 64 {
        return Err("filter is nested too deeply".into());
    }
    let Some(obj) = v.as_object() else {
        return Err("a where filter must be an object".into());
    };
    let Some(op_name) = obj.get("operator").and_then(Value::as_str) else {
        return Err("operator is not set".into());
    };
    let operands = || -> Result<Vec<Filter>, String> {
        let ops = obj
            .get("operands")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if ops.is_empty() {
            return Err(format!("no children for operator: {op_name}"));
        }
        let mut out = Vec::new();
        let mut errs = Vec::new();
        for (i, o) in ops.iter().enumerate() {
            match parse_at(o, class, settings, depth + 1) {
                Ok(f) => out.push(f),
                Err(e) => errs.push(format!("child operand at position {i}: {e}")),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(errs.join(", "))
        }
    };
    let op = match op_name {
        "And" => return operands().map(Filter::And),
        "Or" => return operands().map(Filter::Or),
        "Not" if settings.has_not_operator() => {
            let mut ops = operands()?;
            if ops.len() != 1 {
                return Err(format!(
                    "too many children for operator: Not. Expected 1, given {}",
                    ops.len()
                ));
            }
            return Ok(Filter::Not(Box::new(ops.remove(0))));
        }
        "Equal" => Op::Equal,
        "NotEqual" => Op::NotEqual,
        "GreaterThan" => Op::GreaterThan,
        "GreaterThanEqual" => Op::GreaterThanEqual,
        "LessThan" => Op::LessThan,
        "LessThanEqual" => Op::LessThanEqual,
        "Like" => Op::Like,
        "IsNull" => Op::IsNull,
        "ContainsAny" => Op::ContainsAny,
        "ContainsAll" => Op::ContainsAll,
        "ContainsNone" if settings.has_not_operator() => Op::ContainsNone,
        "WithinGeoRange" => {
            return Err("the Weaviate emulator does not emulate WithinGeoRange".into());
        }
        other => return Err(format!("unrecognized operator: {other}")),
    };
    let path: Vec<&str> = obj
        .get("path")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let prop_name = match path.as_slice() {
        [p] => *p,
        [] => return Err("filter path is empty".into()),
        _ => {
            return Err(
                "the Weaviate emulator does not emulate filters on cross-references".into(),
            );
        }
    };
    let given: Vec<(&str, &str, bool, &Value)> = VALUE_KEYS
        .iter()
        .filter_map(|(k, t, arr)| {
            obj.get(*k)
                .filter(|v| !v.is_null())
                .map(|v| (*k, *t, *arr, v))
        })
        .collect();
    let [(key, vtype, is_array, raw)] = given.as_slice() else {
        return Err(if given.is_empty() {
            format!("got operator {op_name:?} without a value")
        } else {
            "a filter must have exactly one value".into()
        });
    };
    let values: Vec<Value> = if *is_array {
        raw.as_array()
            .cloned()
            .ok_or_else(|| format!("{key} must be an array"))?
    } else {
        vec![(*raw).clone()]
    };
    let target = if prop_name == "id" || prop_name == "_id" {
        if *vtype != "text" {
            return Err(
                r#"using ["_id"] to filter by uuid: must use "valueText" to specify the id"#.into(),
            );
        }
        Target::Id
    } else {
        let Some(prop) = class.prop(prop_name) else {
            return Err(format!(
                "no such prop with name '{prop_name}' found in class '{}' in the schema. Check your schema files for which properties in this class are available",
                class.name()
            ));
        };
        if op == Op::IsNull {
            if *vtype != "boolean" {
                return Err(format!(
                    "operator IsNull requires a booleanValue, got {:?} instead",
                    value_name(vtype)
                ));
            }
            if !class.index_null_state {
                return Err("Nullstate must be indexed to be filterable! Add `indexNullState: true` to the invertedIndexConfig".into());
            }
        } else {
            let base = prop.base_type();
            let base = if base == "uuid" { "text" } else { base };
            if *vtype != base {
                return Err(format!(
                    "data type filter cannot use {:?} on type {:?}, use {:?} instead",
                    value_name(vtype),
                    prop.data_type,
                    value_name(prop.base_type())
                ));
            }
            let text = prop.base_type() == "text";
            let ranged = matches!(
                op,
                Op::GreaterThan | Op::GreaterThanEqual | Op::LessThan | Op::LessThanEqual
            );
            let indexed = prop.filterable
                || (text && prop.searchable && !ranged)
                || (ranged && prop.rangeable);
            if !indexed {
                return Err(format!(
                    "Filtering by property '{prop_name}' requires inverted index. Is `indexFilterable` option of property '{prop_name}' enabled? Set it to 'true' or leave empty"
                ));
            }
            if op == Op::Like && !text {
                return Err(format!(
                    "operator Like is not supported for data type {:?}",
                    prop.data_type
                ));
            }
        }
        Target::Prop(prop.clone())
    };
    for v in &values {
        let ok = match *vtype {
            "text" | "date" => v.is_string(),
            "int" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => false,
        };
        if !ok {
            return Err(format!("{key}: invalid value {v}"));
        }
    }
    Ok(Filter::Leaf { op, target, values })
}

/// Splits text into the terms the inverted index stores for this tokenization.
pub(crate) fn tokenize(s: &str, tokenization: Option<&str>) -> Vec<String> {
    match tokenization.unwrap_or("word") {
        "field" => {
            let t = s.trim();
            if t.is_empty() {
                vec![]
            } else {
                vec![t.to_owned()]
            }
        }
        "whitespace" => s.split_whitespace().map(str::to_owned).collect(),
        "lowercase" => s.split_whitespace().map(str::to_lowercase).collect(),
        _ => s
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase)
            .collect(),
    }
}

fn like(pattern: &[char], text: &[char]) -> bool {
    // `*` any sequence, `?` exactly one character; iterative with backtracking.
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

impl Filter {
    /// Whether `obj` matches.
    pub(crate) fn matches(&self, obj: &StoredObject) -> bool {
        match self {
            Self::And(fs) => fs.iter().all(|f| f.matches(obj)),
            Self::Or(fs) => fs.iter().any(|f| f.matches(obj)),
            Self::Not(f) => !f.matches(obj),
            Self::Leaf { op, target, values } => leaf(*op, target, values, obj),
        }
    }
}

fn leaf(op: Op, target: &Target, values: &[Value], obj: &StoredObject) -> bool {
    let prop = match target {
        Target::Id => {
            let eq = |v: &Value| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&obj.id));
            return match op {
                Op::Equal | Op::ContainsAny => values.iter().any(eq),
                Op::ContainsAll => values.iter().all(eq),
                Op::NotEqual | Op::ContainsNone => !values.iter().any(eq),
                Op::Like => values.iter().any(|v| {
                    v.as_str().is_some_and(|p| {
                        like(
                            &p.chars().collect::<Vec<_>>(),
                            &obj.id.chars().collect::<Vec<_>>(),
                        )
                    })
                }),
                _ => values.iter().any(|v| {
                    v.as_str()
                        .is_some_and(|s| compare(op, obj.id.as_str().cmp(&s.to_ascii_lowercase())))
                }),
            };
        }
        Target::Prop(p) => p,
    };
    let stored = obj.props.get(&prop.name).filter(|v| !v.is_null());
    let elements: Vec<&Value> = match stored {
        None => vec![],
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
    };
    if op == Op::IsNull {
        return values[0].as_bool() == Some(elements.is_empty());
    }
    let text = prop.base_type() == "text";
    let tok = prop.tokenization.as_deref();
    let terms: Vec<String> = if text {
        elements
            .iter()
            .filter_map(|v| v.as_str())
            .flat_map(|s| tokenize(s, tok))
            .collect()
    } else {
        vec![]
    };
    let equal = |v: &Value| -> bool {
        if text {
            let q = tokenize(v.as_str().unwrap_or_default(), tok);
            !q.is_empty() && q.iter().all(|t| terms.contains(t))
        } else {
            elements.iter().any(|e| same(e, v))
        }
    };
    match op {
        Op::Equal => equal(&values[0]),
        Op::NotEqual => !equal(&values[0]),
        Op::ContainsAny => values.iter().any(equal),
        Op::ContainsAll => values.iter().all(equal),
        Op::ContainsNone => !values.iter().any(equal),
        Op::Like => {
            let raw = values[0].as_str().unwrap_or_default();
            let lowered = !matches!(tok, Some("field" | "whitespace"));
            let pat = if lowered {
                raw.to_lowercase()
            } else {
                raw.trim().to_owned()
            };
            let pat: Vec<char> = pat.chars().collect();
            terms
                .iter()
                .any(|t| like(&pat, &t.chars().collect::<Vec<_>>()))
        }
        Op::GreaterThan | Op::GreaterThanEqual | Op::LessThan | Op::LessThanEqual => {
            let q = &values[0];
            if text {
                let qs = q.as_str().unwrap_or_default();
                terms.iter().any(|t| compare(op, t.as_str().cmp(qs)))
            } else {
                elements
                    .iter()
                    .any(|e| order(e, q).is_some_and(|o| compare(op, o)))
            }
        }
        Op::IsNull => unreachable!("handled above"),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn compare(op: Op, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        Op::GreaterThan => o == Greater,
        Op::GreaterThanEqual => o != Less,
        Op::LessThan => o == Less,
        Op::LessThanEqual => o != Greater,
        _ => o == Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Db, Version};
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
