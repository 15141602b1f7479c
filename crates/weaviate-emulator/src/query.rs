//! Execution of GraphQL `Get` and `Aggregate` queries, with Weaviate's limit and threshold
//! rules: filter first (allow-list), then top-k by distance, then the inclusive distance or
//! certainty cut-off; `QUERY_DEFAULTS_LIMIT` without limit or threshold, up to
//! `QUERY_MAXIMUM_RESULTS` with a threshold alone.

use serde_json::{Map, Value, json};

use crate::distance::{self, Metric};
use crate::filter;
use crate::graphql::{self, Field, Pos, Value as GValue};
use crate::store::{ClassData, Db, Settings, StoredObject, canonical_uuid, is_uuid};

/// One GraphQL error in Weaviate's response shape.
#[derive(Clone, Debug)]
struct GqlError {
    message: String,
    pos: Pos,
    path: Option<Vec<String>>,
}

impl GqlError {
    fn to_json(&self) -> Value {
        json!({
            "locations": [{"column": self.pos.column, "line": self.pos.line}],
            "message": self.message,
            "path": self.path,
        })
    }
}

/// The outcome of a GraphQL request: an HTTP status and a body.
pub(crate) struct GraphqlOutcome {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

const ADDITIONAL: &[&str] = &[
    "id",
    "distance",
    "certainty",
    "vector",
    "creationTimeUnix",
    "lastUpdateTimeUnix",
];
const GET_ARGS: &[&str] = &[
    "nearVector",
    "limit",
    "offset",
    "where",
    "after",
    "tenant",
    "consistencyLevel",
];
const GET_ARGS_NOT_EMULATED: &[&str] = &[
    "autocut",
    "nearObject",
    "nearText",
    "nearImage",
    "bm25",
    "hybrid",
    "sort",
    "group",
    "groupBy",
    "ask",
    "nearMedia",
    "nearAudio",
    "nearVideo",
    "nearDepth",
    "nearThermal",
    "nearIMU",
];

/// Runs a `POST /v1/graphql` body.
pub(crate) fn execute(db: &Db, settings: &Settings, body: &Value) -> GraphqlOutcome {
    let unprocessable = |m: &str| GraphqlOutcome {
        status: 422,
        body: json!({"error": [{"message": m}]}),
    };
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if query.trim().is_empty() {
        return unprocessable("query cannot be empty");
    }
    if db.classes.is_empty() {
        return unprocessable(
            "no graphql provider present, this is most likely because no schema is present. Import a schema first!",
        );
    }
    let op_name = body
        .get("operationName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let op = match graphql::parse(query, op_name) {
        Ok(op) => op,
        Err(e) => {
            return validation_failure(vec![GqlError {
                message: e.to_string(),
                pos: e.pos,
                path: None,
            }]);
        }
    };
    // Validation (unknown fields/arguments/types) happens before any execution, as in graphql-go.
    let mut errors = Vec::new();
    for top in &op.selection {
        match top.name.as_str() {
            "Get" => validate_get(db, top, &mut errors),
            "Aggregate" => validate_aggregate(db, top, &mut errors),
            other => errors.push(GqlError {
                message: format!("Cannot query field \"{other}\" on type \"WeaviateObj\"."),
                pos: top.pos,
                path: None,
            }),
        }
    }
    if !errors.is_empty() {
        return validation_failure(errors);
    }
    let mut data = Map::new();
    let mut exec_errors = Vec::new();
    for top in &op.selection {
        let mut out = Map::new();
        for class_field in &top.selection {
            let class = db.class_exact(&class_field.name);
            let path = vec![
                top.response_key().to_owned(),
                class_field.response_key().to_owned(),
            ];
            let result = match (top.name.as_str(), class) {
                ("Get", Some(c)) => run_get(c, settings, class_field),
                ("Aggregate", Some(c)) => run_aggregate(c, settings, class_field),
                _ => Err("class not found".to_owned()),
            };
            match result {
                Ok(v) => {
                    out.insert(class_field.response_key().to_owned(), v);
                }
                Err(message) => {
                    out.insert(class_field.response_key().to_owned(), Value::Null);
                    exec_errors.push(GqlError {
                        message,
                        pos: class_field.pos,
                        path: Some(path),
                    });
                }
            }
        }
        data.insert(top.response_key().to_owned(), Value::Object(out));
    }
    let mut body = json!({"data": data});
    if !exec_errors.is_empty() {
        body["errors"] = exec_errors.iter().map(GqlError::to_json).collect();
    }
    GraphqlOutcome { status: 200, body }
}

fn validation_failure(errors: Vec<GqlError>) -> GraphqlOutcome {
    GraphqlOutcome {
        status: 200,
        body: json!({"errors": errors.iter().map(GqlError::to_json).collect::<Vec<_>>()}),
    }
}

fn err(field: &Field, message: String) -> GqlError {
    GqlError {
        message,
        pos: field.pos,
        path: None,
    }
}

fn validate_get(db: &Db, get: &Field, errors: &mut Vec<GqlError>) {
    if !get.arguments.is_empty() {
        errors.push(err(
            get,
            format!(
                "Unknown argument \"{}\" on field \"Get\" of type \"WeaviateObj\".",
                get.arguments[0].name
            ),
        ));
    }
    if !get.has_selection_set {
        errors.push(err(
            get,
            "Field \"Get\" of type \"GetObjectsObj\" must have a sub selection.".into(),
        ));
    }
    for cf in &get.selection {
        let Some(class) = db.class_exact(&cf.name) else {
            errors.push(err(
                cf,
                format!(
                    "Cannot query field \"{}\" on type \"GetObjectsObj\".",
                    cf.name
                ),
            ));
            continue;
        };
        for a in &cf.arguments {
            if GET_ARGS_NOT_EMULATED.contains(&a.name.as_str()) {
                errors.push(GqlError {
                    message: format!(
                        "the Weaviate emulator does not emulate the \"{}\" argument",
                        a.name
                    ),
                    pos: a.pos,
                    path: None,
                });
            } else if !GET_ARGS.contains(&a.name.as_str()) {
                errors.push(GqlError {
                    message: format!(
                        "Unknown argument \"{}\" on field \"{}\" of type \"GetObjectsObj\".",
                        a.name, cf.name
                    ),
                    pos: a.pos,
                    path: None,
                });
            } else if let Some(m) = argument_type_error(&a.name, &a.value) {
                errors.push(GqlError {
                    message: m,
                    pos: a.pos,
                    path: None,
                });
            }
        }
        if !cf.has_selection_set {
            errors.push(err(
                cf,
                format!(
                    "Field \"{0}\" of type \"[{0}]\" must have a sub selection.",
                    cf.name
                ),
            ));
        }
        for f in &cf.selection {
            validate_selected_field(class, f, errors);
        }
    }
}

fn validate_selected_field(class: &ClassData, f: &Field, errors: &mut Vec<GqlError>) {
    if !f.arguments.is_empty() {
        errors.push(err(
            f,
            format!(
                "Unknown argument \"{}\" on field \"{}\" of type \"{}\".",
                f.arguments[0].name,
                f.name,
                class.name()
            ),
        ));
    }
    if f.name == "_additional" {
        if !f.has_selection_set {
            errors.push(err(f, format!("Field \"_additional\" of type \"{}AdditionalFields\" must have a sub selection.", class.name())));
        }
        for a in &f.selection {
            if !ADDITIONAL.contains(&a.name.as_str()) {
                errors.push(err(
                    a,
                    format!(
                        "Cannot query field \"{}\" on type \"{}AdditionalFields\".",
                        a.name,
                        class.name()
                    ),
                ));
            } else if a.has_selection_set {
                errors.push(err(
                    a,
                    format!(
                        "Field \"{}\" must not have a selection since type has no subfields.",
                        a.name
                    ),
                ));
            }
        }
        return;
    }
    if f.name == "__typename" {
        return;
    }
    if class.prop(&f.name).is_none() {
        errors.push(err(
            f,
            format!(
                "Cannot query field \"{}\" on type \"{}\".",
                f.name,
                class.name()
            ),
        ));
    } else if f.has_selection_set {
        errors.push(err(
            f,
            format!(
                "Field \"{}\" must not have a selection since type has no subfields.",
                f.name
            ),
        ));
    }
}

/// GraphQL input coercion errors for the arguments the emulator understands.
fn argument_type_error(name: &str, v: &GValue) -> Option<String> {
    let expected = |t: &str| {
        Some(format!(
            "Argument \"{name}\" has invalid value {}.\nExpected type \"{t}\", found {}.",
            show(v),
            show(v)
        ))
    };
    match name {
        "limit" | "offset" => {
            (!matches!(v, GValue::Int(_) | GValue::Null)).then(|| expected("Int"))?
        }
        "after" | "tenant" => {
            (!matches!(v, GValue::String(_) | GValue::Null)).then(|| expected("String"))?
        }
        "consistencyLevel" => match v {
            GValue::Enum(e) if ["ONE", "QUORUM", "ALL"].contains(&e.as_str()) => None,
            _ => expected("ConsistencyLevelEnum"),
        },
        "where" => (!matches!(v, GValue::Object(_))).then(|| expected("WhereInpObj"))?,
        "nearVector" => {
            let GValue::Object(fields) = v else {
                return expected("NearVectorInpObj");
            };
            for (k, fv) in fields {
                let ok = match k.as_str() {
                    "vector" => match fv {
                        GValue::List(items) => items.iter().all(|i| i.as_f64().is_some()),
                        _ => false,
                    },
                    "distance" | "certainty" => fv.as_f64().is_some(),
                    "targetVectors" | "targets" | "vectorPerTarget" => {
                        return Some(
                            "the Weaviate emulator does not emulate named vectors (targetVectors)"
                                .into(),
                        );
                    }
                    _ => {
                        return Some(format!(
                            "Argument \"nearVector\" has invalid value {}.\nIn field \"{k}\": Unknown field.",
                            show(v)
                        ));
                    }
                };
                if !ok {
                    return Some(format!(
                        "Argument \"nearVector\" has invalid value {}.\nIn field \"{k}\": Expected type \"{}\", found {}.",
                        show(v),
                        if k == "vector" { "[Float]" } else { "Float" },
                        show(fv)
                    ));
                }
            }
            if !fields.iter().any(|(k, _)| k == "vector") {
                return Some(format!(
                    "Argument \"nearVector\" has invalid value {}.\nIn field \"vector\": Expected \"[Float]!\", found null.",
                    show(v)
                ));
            }
            None
        }
        _ => None,
    }
}

fn show(v: &GValue) -> String {
    match v {
        GValue::Null => "null".into(),
        GValue::Int(s) | GValue::Float(s) | GValue::Enum(s) => s.clone(),
        GValue::String(s) => serde_json::to_string(s).unwrap_or_default(),
        GValue::Bool(b) => b.to_string(),
        GValue::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        GValue::Object(fields) => {
            format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", show(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

fn validate_aggregate(db: &Db, agg: &Field, errors: &mut Vec<GqlError>) {
    for cf in &agg.selection {
        if db.class_exact(&cf.name).is_none() {
            errors.push(err(
                cf,
                format!(
                    "Cannot query field \"{}\" on type \"AggregateObjectsObj\".",
                    cf.name
                ),
            ));
            continue;
        }
        for a in &cf.arguments {
            match a.name.as_str() {
                "where" | "tenant" | "consistencyLevel" => {
                    if let Some(m) = argument_type_error(&a.name, &a.value) {
                        errors.push(GqlError {
                            message: m,
                            pos: a.pos,
                            path: None,
                        });
                    }
                }
                other => errors.push(GqlError {
                    message: format!(
                        "the Weaviate emulator does not emulate the Aggregate argument \"{other}\""
                    ),
                    pos: a.pos,
                    path: None,
                }),
            }
        }
        for f in &cf.selection {
            let ok = f.name == "meta"
                && f.selection.iter().all(|m| m.name == "count")
                && f.has_selection_set;
            if !ok {
                errors.push(err(f, format!("the Weaviate emulator only emulates Aggregate {{ {} {{ meta {{ count }} }} }}", cf.name)));
            }
        }
    }
}

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

fn run_aggregate(class: &ClassData, settings: &Settings, f: &Field) -> Result<Value, String> {
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

fn run_get(class: &ClassData, settings: &Settings, f: &Field) -> Result<Value, String> {
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

    let mut rows: Vec<(&StoredObject, Option<f32>)> = Vec::new();
    if let Some(after) = after {
        // Cursor API: UUID order, only with a limit and without other search parameters.
        if near.is_some() || filter.is_some() || offset > 0 {
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
                .map(|(_, o)| (o, None)),
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
        rows.extend(scored.into_iter().skip(offset).map(|(o, d)| (o, Some(d))));
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
                .map(|o| (o, None)),
        );
    }
    Ok(Value::Array(
        rows.into_iter()
            .map(|(o, d)| render(class, f, o, d))
            .collect(),
    ))
}

fn render(class: &ClassData, f: &Field, o: &StoredObject, d: Option<f32>) -> Value {
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
