//! Execution of `Get` (near-vector search, the cursor API, filtered listings) and `Aggregate`
//! counts, and the rendering of objects as GraphQL returns them.

use serde_json::{Map, Value, json};

use super::syntax::{Field, Value as GValue};
use crate::distance::{self, Metric};
use crate::filter;
use crate::settings::Settings;
use crate::store::{ClassData, StoredObject, canonical_uuid, is_uuid};

fn int_arg(f: &Field, name: &str) -> Option<i64> {
    match f.argument(name).map(|a| &a.value) {
        Some(GValue::Int(s)) => s.parse().ok(),
        _ => None,
    }
}

fn tenant_check(class: &ClassData, f: &Field) -> Result<(), String> {
    match f.argument("tenant").map(|a| &a.value) {
        Some(GValue::String(t)) if !t.is_empty() => Err(format!(
            "class {} has multi-tenancy disabled, but request was with tenant",
            class.name()
        )),
        _ => Ok(()),
    }
}

fn where_filter(
    class: &ClassData,
    settings: &Settings,
    f: &Field,
) -> Result<Option<filter::Filter>, String> {
    match f.argument("where") {
        Some(a) => filter::parse(&a.value.to_json(), class, settings)
            .map(Some)
            .map_err(|e| format!("invalid 'where' filter: {e}")),
        None => Ok(None),
    }
}

pub(super) fn run_aggregate(
    class: &ClassData,
    settings: &Settings,
    f: &Field,
) -> Result<Value, String> {
    tenant_check(class, f)?;
    let filter = where_filter(class, settings, f)?;
    let count = class
        .objects
        .values()
        .filter(|o| filter.as_ref().is_none_or(|w| w.matches(o)))
        .count();
    let mut entry = Map::new();
    for sel in &f.selection {
        let mut meta = Map::new();
        for m in &sel.selection {
            meta.insert(m.response_key().to_owned(), json!(count));
        }
        entry.insert(sel.response_key().to_owned(), Value::Object(meta));
    }
    Ok(json!([entry]))
}

/// An `f32` as JSON the way Go prints a float32 (shortest representation that round-trips).
pub(crate) fn f32_json(x: f32) -> Value {
    format!("{x}")
        .parse::<f64>()
        .map_or(Value::Null, Value::from)
}

pub(crate) fn vector_json(v: &[f32]) -> Value {
    Value::Array(v.iter().map(|x| f32_json(*x)).collect())
}

pub(super) fn run_get(class: &ClassData, settings: &Settings, f: &Field) -> Result<Value, String> {
    tenant_check(class, f)?;
    let limit = int_arg(f, "limit");
    let offset = int_arg(f, "offset").unwrap_or(0);
    if limit.is_some_and(|l| l < 0) || offset < 0 {
        return Err("limit and offset must not be negative".into());
    }
    let (limit, offset) = (limit.map(|l| l as usize), offset as usize);
    let after = match f.argument("after").map(|a| &a.value) {
        Some(GValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let near = f.argument("nearVector").map(|a| &a.value);
    let bm25 = f.argument("bm25").map(|a| &a.value);
    let filter = where_filter(class, settings, f)?;
    let wants = |name: &str| {
        f.selection
            .iter()
            .any(|s| s.name == "_additional" && s.selection.iter().any(|a| a.name == name))
    };
    if wants("certainty") && class.metric != Metric::Cosine {
        return Err(format!(
            "can't compute and return certainty when vector index is configured with {} distance",
            class.metric.name()
        ));
    }

    // (object, distance, bm25 score)
    let mut rows: Vec<(&StoredObject, Option<f32>, Option<f32>)> = Vec::new();
    if let Some(after) = after {
        // Cursor API: UUID order, only with a limit and without other search parameters.
        if near.is_some() || bm25.is_some() || filter.is_some() || offset > 0 {
            return Err("other params cannot be set with after and limit parameters".into());
        }
        let Some(limit) = limit else {
            return Err(
                "cursor api: invalid 'after' parameter: limit parameter must be set".into(),
            );
        };
        if !after.is_empty() && !is_uuid(&after) {
            return Err(format!(
                "cursor api: invalid 'after' parameter: '{after}' is not a valid uuid"
            ));
        }
        let start = if after.is_empty() {
            String::new()
        } else {
            canonical_uuid(&after)
        };
        rows.extend(
            class
                .objects
                .range::<String, _>((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
                .take(limit)
                .map(|(_, o)| (o, None, None)),
        );
    } else if let Some(GValue::Object(args)) = bm25 {
        // Keyword search wins over nearVector when both are given (`Explorer.getClass`).
        let get = |k: &str| args.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        let query = match get("query") {
            Some(GValue::String(q)) => q.as_str(),
            _ => "",
        };
        let properties: Option<Vec<String>> = match get("properties") {
            Some(GValue::List(items)) => Some(
                items
                    .iter()
                    .filter_map(|i| match i {
                        GValue::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            Some(GValue::String(s)) => Some(vec![s.clone()]),
            _ => None,
        };
        let k = limit.unwrap_or(settings.default_limit) + offset;
        if k > settings.max_results {
            return Err("query maximum results exceeded".into());
        }
        let scored = crate::bm25::search(class, settings, query, properties.as_deref(), |o| {
            filter.as_ref().is_none_or(|w| w.matches(o))
        })?;
        rows.extend(
            scored
                .into_iter()
                .take(k)
                .skip(offset)
                .map(|(o, s)| (o, None, Some(s))),
        );
    } else if let Some(GValue::Object(nv)) = near {
        let get = |k: &str| nv.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        let query: Vec<f32> = match get("vector") {
            Some(GValue::List(items)) => items
                .iter()
                .filter_map(GValue::as_f64)
                .map(|x| x as f32)
                .collect(),
            _ => vec![],
        };
        let max_distance = get("distance").and_then(GValue::as_f64);
        let min_certainty = get("certainty").and_then(GValue::as_f64);
        if max_distance.is_some() && min_certainty.is_some() {
            return Err("cannot provide distance and certainty".into());
        }
        if min_certainty.is_some() && class.metric != Metric::Cosine {
            return Err(format!(
                "can't compute and return certainty when vector index is configured with {} distance",
                class.metric.name()
            ));
        }
        let has_threshold = max_distance.is_some() || min_certainty.is_some();
        let k = match limit {
            Some(l) => l + offset,
            None if has_threshold => settings.max_results,
            None => settings.default_limit + offset,
        };
        if k > settings.max_results {
            return Err("query maximum results exceeded".into());
        }
        if query.is_empty() {
            return Err("nearVector: vector cannot be empty".into());
        }
        if let Some(d) = class.dims
            && d != query.len()
        {
            return Err(format!(
                "vector search: knn search: distance between entrypoint and query node: vector lengths don't match: {} vs {d}",
                query.len()
            ));
        }
        // Allow-list first (pre-filtering), then exact top-k, then the threshold.
        let mut scored: Vec<(&StoredObject, f32)> = class
            .objects
            .values()
            .filter(|o| filter.as_ref().is_none_or(|w| w.matches(o)))
            .filter_map(|o| {
                o.vector
                    .as_ref()
                    .map(|v| (o, class.metric.distance(v, &query)))
            })
            .collect();
        // Ties are broken by doc id here; a real server breaks them arbitrarily.
        scored.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.doc_id.cmp(&b.0.doc_id)));
        scored.truncate(k);
        scored.retain(|(_, d)| {
            max_distance.is_none_or(|m| distance::within_distance(*d, m))
                && min_certainty.is_none_or(|c| distance::within_certainty(*d, c))
        });
        rows.extend(
            scored
                .into_iter()
                .skip(offset)
                .map(|(o, d)| (o, Some(d), None)),
        );
    } else {
        let limit = limit.unwrap_or(settings.default_limit);
        if limit + offset > settings.max_results {
            return Err("query maximum results exceeded".into());
        }
        rows.extend(
            class
                .objects_by_doc_id()
                .into_iter()
                .filter(|o| filter.as_ref().is_none_or(|w| w.matches(o)))
                .skip(offset)
                .take(limit)
                .map(|o| (o, None, None)),
        );
    }
    Ok(Value::Array(
        rows.into_iter()
            .map(|(o, d, s)| render(class, f, o, d, s))
            .collect(),
    ))
}

fn render(
    class: &ClassData,
    f: &Field,
    o: &StoredObject,
    d: Option<f32>,
    score: Option<f32>,
) -> Value {
    let mut out = Map::new();
    for sel in &f.selection {
        let v = match sel.name.as_str() {
            "__typename" => Value::String(class.name().to_owned()),
            "_additional" => {
                let mut add = Map::new();
                for a in &sel.selection {
                    let v = match a.name.as_str() {
                        "id" => Value::String(o.id.clone()),
                        "distance" => d.map_or(Value::Null, f32_json),
                        "certainty" => {
                            d.map_or(Value::Null, |d| Value::from(distance::certainty(d)))
                        }
                        "vector" => o.vector.as_deref().map_or(Value::Null, vector_json),
                        // A GraphQL String holding the float32 (graphql-go prints it with %v).
                        "score" => {
                            score.map_or(Value::Null, |s| Value::String(crate::bm25::go_f32(s)))
                        }
                        "creationTimeUnix" => Value::String(o.created.to_string()),
                        "lastUpdateTimeUnix" => Value::String(o.updated.to_string()),
                        _ => Value::Null,
                    };
                    add.insert(a.response_key().to_owned(), v);
                }
                Value::Object(add)
            }
            name => o.props.get(name).cloned().unwrap_or(Value::Null),
        };
        out.insert(sel.response_key().to_owned(), v);
    }
    Value::Object(out)
}
