//! Evaluating a filter on an object the way Weaviate's inverted index does: tokenised text,
//! arrays as "contains", `NotEqual` as the complement of `Equal`, comparisons on a missing
//! property false.

use serde_json::Value;

use super::{Filter, Op, Target};
use crate::store::StoredObject;

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

pub(super) fn like(pattern: &[char], text: &[char]) -> bool {
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
