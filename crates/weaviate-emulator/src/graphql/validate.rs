//! Validation before execution, as graphql-go does it: unknown top-level fields, classes,
//! properties, `_additional` fields and arguments, and argument types, each with Weaviate's
//! message and the field's location.

use super::GqlError;
use super::syntax::{Field, Value as GValue};
use crate::store::{ClassData, Db};

const ADDITIONAL: &[&str] = &[
    "id",
    "distance",
    "certainty",
    "vector",
    "creationTimeUnix",
    "lastUpdateTimeUnix",
    "score",
];
const GET_ARGS: &[&str] = &[
    "nearVector",
    "bm25",
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

fn err(field: &Field, message: String) -> GqlError {
    GqlError {
        message,
        pos: field.pos,
        path: None,
    }
}

pub(super) fn validate_get(db: &Db, get: &Field, errors: &mut Vec<GqlError>) {
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
        "bm25" => {
            let GValue::Object(fields) = v else {
                return expected("GetObjectsHybridGetBm25InpObj");
            };
            for (k, fv) in fields {
                let ok = match k.as_str() {
                    "query" => matches!(fv, GValue::String(_) | GValue::Null),
                    // A single value is coerced to a one-element list (GraphQL input coercion).
                    "properties" => match fv {
                        GValue::List(items) => items.iter().all(|i| matches!(i, GValue::String(_))),
                        GValue::String(_) | GValue::Null => true,
                        _ => false,
                    },
                    "searchOperator" => {
                        return Some(
                            "the Weaviate emulator does not emulate bm25 searchOperator".into(),
                        );
                    }
                    _ => {
                        return Some(format!(
                            "Argument \"bm25\" has invalid value {}.\nIn field \"{k}\": Unknown field.",
                            show(v)
                        ));
                    }
                };
                if !ok {
                    return Some(format!(
                        "Argument \"bm25\" has invalid value {}.\nIn field \"{k}\": Expected type \"{}\", found {}.",
                        show(v),
                        if k == "query" { "String" } else { "[String]" },
                        show(fv)
                    ));
                }
            }
            None
        }
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

pub(super) fn validate_aggregate(db: &Db, agg: &Field, errors: &mut Vec<GqlError>) {
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
