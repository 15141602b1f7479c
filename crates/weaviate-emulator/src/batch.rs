//! The batch endpoints: `POST /v1/batch/objects` (HTTP 200 with one result per object, the last
//! duplicate wins) and `DELETE /v1/batch/objects` (a `where` match, capped per call at
//! `QUERY_MAXIMUM_RESULTS`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::filter;
use crate::schema::uppercase_class_name;
use crate::server::{App, Reply, api_error, error_body, lock, openapi_error};
use crate::store::{ApiError, is_uuid};

impl App {
    pub(crate) fn batch_objects(&self, body: &Value) -> Reply {
        let objects = body
            .get("objects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if objects.is_empty() {
            return api_error(ApiError::unprocessable(
                "invalid param 'objects': cannot be empty, need at least one object for batching",
            ));
        }
        for (i, o) in objects.iter().enumerate() {
            if let Some(id) = o.get("id").and_then(Value::as_str)
                && !is_uuid(id)
            {
                return openapi_error(
                    422,
                    606,
                    format!("objects.{i}.id in body must be of type uuid: \"{id}\""),
                );
            }
        }
        let mut db = lock(&self.db);
        let prepared: Vec<_> = objects
            .iter()
            .map(|o| db.prepare_object(o, &self.settings))
            .collect();
        // Duplicates inside one batch: only the last valid occurrence is written.
        let mut last: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (i, p) in prepared.iter().enumerate() {
            if let Ok(p) = p {
                last.insert((p.class.clone(), p.id.clone()), i);
            }
        }
        let now = crate::store::now_ms();
        let mut out = Vec::with_capacity(objects.len());
        for (i, (orig, p)) in objects.iter().zip(prepared).enumerate() {
            let mut echo = orig.as_object().cloned().unwrap_or_default();
            let result = match p {
                Err(e) => Err(e),
                Ok(p) => {
                    echo.insert("class".into(), Value::String(p.class.clone()));
                    echo.insert("id".into(), Value::String(p.id.clone()));
                    if last.get(&(p.class.clone(), p.id.clone())) == Some(&i) {
                        db.write(p).map(|o| (o.created, o.updated))
                    } else {
                        Ok((now, now))
                    }
                }
            };
            let (created, updated) = result.as_ref().map_or((now, now), |t| *t);
            echo.insert("creationTimeUnix".into(), json!(created));
            echo.insert("lastUpdateTimeUnix".into(), json!(updated));
            echo.insert("deprecations".into(), Value::Null);
            let res = match result {
                Ok(_) => json!({"status": "SUCCESS"}),
                Err(e) => json!({"errors": error_body(&e), "status": "FAILED"}),
            };
            echo.insert("result".into(), res);
            out.push(Value::Object(echo));
        }
        (200, Some(Value::Array(out)))
    }

    pub(crate) fn batch_delete(&self, body: &Value, q: &BTreeMap<String, String>) -> Reply {
        let output = body
            .get("output")
            .and_then(Value::as_str)
            .unwrap_or("minimal");
        if output != "minimal" && output != "verbose" {
            return api_error(ApiError::unprocessable(format!(
                "invalid output: \"{output}\", possible values are: \"minimal\", \"verbose\""
            )));
        }
        let dry_run = body.get("dryRun").and_then(Value::as_bool).unwrap_or(false);
        let Some(matcher) = body.get("match").and_then(Value::as_object) else {
            return api_error(ApiError::unprocessable("validate: empty match clause"));
        };
        let class_name = matcher
            .get("class")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if class_name.is_empty() {
            return api_error(ApiError::unprocessable(
                "validate: empty match.class clause",
            ));
        }
        let Some(where_json) = matcher.get("where").filter(|w| !w.is_null()) else {
            return api_error(ApiError::unprocessable(
                "validate: empty match.where clause",
            ));
        };
        let mut db = lock(&self.db);
        let Some(class) = db.class_mut(class_name) else {
            return api_error(ApiError::unprocessable(format!(
                "validate: class: {} doesn't exist",
                uppercase_class_name(class_name)
            )));
        };
        if let Some(r) = Self::tenant_error(class.name(), q) {
            return r;
        }
        let f = match filter::parse(where_json, class, &self.settings) {
            Ok(f) => f,
            Err(e) => {
                return api_error(ApiError::unprocessable(format!(
                    "validate: invalid 'where' filter: {e}"
                )));
            }
        };
        let limit = self.settings.max_results;
        let ids: Vec<String> = class
            .objects_by_doc_id()
            .into_iter()
            .filter(|o| f.matches(o))
            .take(limit)
            .map(|o| o.id.clone())
            .collect();
        if !dry_run {
            for id in &ids {
                class.objects.remove(id);
            }
        }
        let mut results =
            json!({"matches": ids.len(), "limit": limit, "successful": ids.len(), "failed": 0});
        if output == "verbose" {
            let status = if dry_run { "DRYRUN" } else { "SUCCESS" };
            results["objects"] = ids
                .iter()
                .map(|id| json!({"id": id, "status": status}))
                .collect();
        } else {
            results["objects"] = Value::Null;
        }
        let echo_match = Value::Object(matcher.clone());
        (
            200,
            Some(
                json!({"match": echo_match, "output": output, "dryRun": dry_run,
                "deletionTimeUnixMilli": null, "results": results}),
            ),
        )
    }
}

pub(crate) fn consistency_check(q: &BTreeMap<String, String>) -> Option<Reply> {
    match q.get("consistency_level").map(String::as_str) {
        None | Some("ONE" | "QUORUM" | "ALL") => None,
        Some(other) => Some(api_error(ApiError::new(
            400,
            format!(
                "unrecognized consistency level \"{other}\", try one of the following: ['ONE', 'QUORUM', 'ALL']"
            ),
        ))),
    }
}
