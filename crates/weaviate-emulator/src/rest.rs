//! The REST handlers for meta, schema and single objects (`/v1/meta`, `/v1/schema[/{c}]`,
//! `/v1/objects[/{c}/{id}]`, the cursor listing), with Weaviate's status codes and bodies.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::graphql::vector_json;
use crate::schema::uppercase_class_name;
use crate::server::{App, Reply, api_error, error_body, lock, openapi_error};
use crate::store::{ApiError, Db, StoredObject, canonical_uuid, is_uuid};

impl App {
    pub(crate) fn meta(&self) -> Value {
        let mut meta = json!({
            "hostname": "http://[::]:8080",
            "version": self.settings.version_string,
            "modules": {},
        });
        if self.settings.version >= crate::settings::Version(1, 30, 0) {
            meta["grpcMaxMessageSize"] = json!(104_858_000);
        }
        meta
    }

    pub(crate) fn list_classes(&self) -> Value {
        let db = lock(&self.db);
        json!({"classes": db.classes.values().map(|c| c.def.clone()).collect::<Vec<_>>()})
    }

    pub(crate) fn create_class(&self, body: &Value) -> Reply {
        match lock(&self.db).create_class(body, &self.settings) {
            Ok(def) => (200, Some(def)),
            Err(e) => api_error(e),
        }
    }

    pub(crate) fn tenant_error(class: &str, q: &BTreeMap<String, String>) -> Option<Reply> {
        q.get("tenant").filter(|t| !t.is_empty()).map(|_| {
            api_error(ApiError::unprocessable(format!(
                "class {class} has multi-tenancy disabled, but request was with tenant"
            )))
        })
    }

    pub(crate) fn get_object(&self, class: &str, id: &str, q: &BTreeMap<String, String>) -> Reply {
        let db = lock(&self.db);
        let Some(c) = db.class(class) else {
            return (404, None);
        };
        if let Some(r) = Self::tenant_error(c.name(), q) {
            return r;
        }
        let include_vector = q
            .get("include")
            .is_some_and(|i| i.split(',').any(|p| p.trim() == "vector"));
        match c.objects.get(id) {
            Some(o) => (200, Some(object_json(c.name(), o, include_vector))),
            None => (404, None),
        }
    }

    pub(crate) fn head_object(&self, class: &str, id: &str, q: &BTreeMap<String, String>) -> Reply {
        let db = lock(&self.db);
        let Some(c) = db.class(class) else {
            return (404, None);
        };
        if let Some(r) = Self::tenant_error(c.name(), q) {
            return r;
        }
        if c.objects.contains_key(id) {
            (204, None)
        } else {
            (404, None)
        }
    }

    pub(crate) fn delete_object(
        &self,
        class: &str,
        id: &str,
        q: &BTreeMap<String, String>,
    ) -> Reply {
        let mut db = lock(&self.db);
        let Some(c) = db.class_mut(class) else {
            return (404, None);
        };
        if let Some(r) = Self::tenant_error(c.name(), q) {
            return r;
        }
        if c.objects.remove(id).is_some() {
            (204, None)
        } else {
            (404, None)
        }
    }

    pub(crate) fn create_object(&self, body: &Value) -> Reply {
        if let Some(r) = body_id_format(body, "id") {
            return r;
        }
        let mut db = lock(&self.db);
        let p = match db.prepare_object(body, &self.settings) {
            Ok(p) => p,
            Err(e) => return api_error(ApiError::unprocessable(e)),
        };
        if db
            .class(&p.class)
            .is_some_and(|c| c.objects.contains_key(&p.id))
        {
            return api_error(ApiError::unprocessable(format!(
                "id '{}' already exists",
                p.id
            )));
        }
        let class = p.class.clone();
        match db.write(p) {
            Ok(o) => (200, Some(object_json(&class, &o, true))),
            Err(e) => api_error(ApiError::unprocessable(e)),
        }
    }

    pub(crate) fn replace_object(&self, class: &str, id: &str, body: &Value) -> Reply {
        if let Some(r) = body_id_format(body, "id") {
            return r;
        }
        let Some(obj) = body.as_object() else {
            return openapi_error(
                400,
                400,
                "parsing body body from \"\" failed: expected a JSON object".into(),
            );
        };
        let class = uppercase_class_name(class);
        if let Some(given) = obj.get("id").and_then(Value::as_str)
            && canonical_uuid(given) != id
        {
            return api_error(ApiError::unprocessable(
                "invalid update: field 'id' is immutable",
            ));
        }
        if let Some(given) = obj
            .get("class")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            && uppercase_class_name(given) != class
        {
            return api_error(ApiError::unprocessable(
                "invalid update: field 'class' is immutable",
            ));
        }
        let mut db = lock(&self.db);
        let exists = db.class(&class).is_some_and(|c| c.objects.contains_key(id));
        if !exists {
            return match Db::put_missing_status(&self.settings) {
                404 => (404, None),
                s => (s, Some(error_body(&format!("no object with id '{id}'")))),
            };
        }
        let mut obj = obj.clone();
        obj.insert("class".into(), Value::String(class.clone()));
        obj.insert("id".into(), Value::String(id.to_owned()));
        let p = match db.prepare_object(&Value::Object(obj), &self.settings) {
            Ok(p) => p,
            Err(e) => return api_error(ApiError::unprocessable(e)),
        };
        match db.write(p) {
            Ok(o) => (200, Some(object_json(&class, &o, true))),
            Err(e) => api_error(ApiError::unprocessable(e)),
        }
    }

    pub(crate) fn list_objects(&self, q: &BTreeMap<String, String>) -> Reply {
        let parse = |k: &str| -> Result<Option<usize>, Reply> {
            match q.get(k) {
                None => Ok(None),
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .map(|n| Some(n as usize))
                    .ok_or_else(|| {
                        openapi_error(
                            422,
                            605,
                            format!("{k} in query must be of type int64: \"{v}\""),
                        )
                    }),
            }
        };
        let (limit, offset) = match (parse("limit"), parse("offset")) {
            (Ok(l), Ok(o)) => (l, o.unwrap_or(0)),
            (Err(r), _) | (_, Err(r)) => return r,
        };
        let include_vector = q
            .get("include")
            .is_some_and(|i| i.split(',').any(|p| p.trim() == "vector"));
        let db = lock(&self.db);
        let class = q.get("class").filter(|c| !c.is_empty());
        let limit = limit.unwrap_or(self.settings.default_limit);
        let objects: Vec<Value> = if let Some(after) = q.get("after") {
            let Some(class) = class else {
                return api_error(ApiError::new(
                    400,
                    "cursor api: invalid 'after' parameter: class parameter must be set",
                ));
            };
            if offset > 0 || q.contains_key("sort") {
                return api_error(ApiError::new(
                    400,
                    "cursor api: invalid 'after' parameter: offset or sort cannot be set with after and limit parameters",
                ));
            }
            if !after.is_empty() && !is_uuid(after) {
                return api_error(ApiError::new(
                    400,
                    format!("cursor api: invalid 'after' parameter: '{after}' is not a valid uuid"),
                ));
            }
            let Some(c) = db.class(class) else {
                return api_error(ApiError::new(404, format!("class {class} not found")));
            };
            let start = if after.is_empty() {
                String::new()
            } else {
                canonical_uuid(after)
            };
            c.objects
                .range::<String, _>((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
                .take(limit)
                .map(|(_, o)| object_json(c.name(), o, include_vector))
                .collect()
        } else {
            if offset + limit > self.settings.max_results {
                return api_error(ApiError::unprocessable("query maximum results exceeded"));
            }
            let classes: Vec<_> = match class {
                Some(name) => match db.class(name) {
                    Some(c) => vec![c],
                    None => {
                        return api_error(ApiError::new(404, format!("class {name} not found")));
                    }
                },
                None => db.classes.values().collect(),
            };
            let mut all: Vec<(&str, &StoredObject)> = classes
                .iter()
                .flat_map(|c| c.objects.values().map(move |o| (c.name(), o)))
                .collect();
            all.sort_by_key(|(_, o)| o.doc_id);
            all.into_iter()
                .skip(offset)
                .take(limit)
                .map(|(c, o)| object_json(c, o, include_vector))
                .collect()
        };
        let total = objects.len();
        (
            200,
            Some(json!({"objects": objects, "totalResults": total, "deprecations": null})),
        )
    }
}

pub(crate) fn body_id_format(body: &Value, field: &str) -> Option<Reply> {
    match body.get(field) {
        Some(Value::String(id)) if !is_uuid(id) => Some(openapi_error(
            422,
            606,
            format!("{field} in body must be of type uuid: \"{id}\""),
        )),
        _ => None,
    }
}

/// An object as the REST endpoints return it.
pub(crate) fn object_json(class: &str, o: &StoredObject, include_vector: bool) -> Value {
    let mut m = Map::new();
    m.insert("class".into(), Value::String(class.to_owned()));
    m.insert("id".into(), Value::String(o.id.clone()));
    m.insert("properties".into(), Value::Object(o.props.clone()));
    m.insert("creationTimeUnix".into(), json!(o.created));
    m.insert("lastUpdateTimeUnix".into(), json!(o.updated));
    if include_vector && let Some(v) = &o.vector {
        m.insert("vector".into(), vector_json(v));
    }
    Value::Object(m)
}
