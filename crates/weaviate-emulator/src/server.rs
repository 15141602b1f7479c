//! The HTTP layer: one dispatcher for every route (so 404/405/400 bodies have go-openapi's
//! shapes), authentication, spec validation of request bodies, and the REST handlers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::filter;
use crate::query::{self, vector_json};
use crate::spec::Spec;
use crate::store::{
    ApiError, Db, Settings, StoredObject, canonical_uuid, is_uuid, uppercase_class_name,
};

/// Largest request body accepted (a batch of large vectors is big, but not this big).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Shared server state.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) db: Mutex<Db>,
    pub(crate) settings: Settings,
    pub(crate) api_key: Option<String>,
    pub(crate) spec: Option<Spec>,
    pub(crate) violations: Mutex<Vec<String>>,
    pub(crate) validated: AtomicUsize,
    /// The test switches: pause and injected failures (see [`crate::Emulator::pause`]).
    pub(crate) control: Control,
}

/// Switches a test flips to make the emulator behave like a server in trouble.
#[derive(Debug)]
pub(crate) struct Control {
    /// True while requests are held unanswered, like a server whose process is stopped.
    pub(crate) paused: tokio::sync::watch::Sender<bool>,
    /// When set, every request is answered with this status and body instead.
    pub(crate) fault: Mutex<Option<(u16, Option<Value>)>>,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            paused: tokio::sync::watch::Sender::new(false),
            fault: Mutex::new(None),
        }
    }
}

type Reply = (u16, Option<Value>);

fn error_body(message: &str) -> Value {
    json!({"error": [{"message": message}]})
}

fn api_error(e: ApiError) -> Reply {
    (e.status, Some(error_body(&e.message)))
}

/// go-openapi's `{"code", "message"}` shape.
fn openapi_error(status: u16, code: u16, message: String) -> Reply {
    (status, Some(json!({"code": code, "message": message})))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a handler must not wedge every later request.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    // A paused server accepted the connection (the kernel does that) but answers nothing, not
    // even the request line, until it is resumed.
    let mut paused = app.control.paused.subscribe();
    let _ = paused.wait_for(|p| !*p).await;
    if let Some(fault) = lock(&app.control.fault).clone() {
        return respond(fault);
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return respond(openapi_error(413, 413, format!("reading body failed: {e}"))),
    };
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let reply = app.dispatch(
        &parts.method,
        parts.uri.path(),
        &query,
        &parts.headers,
        &bytes,
    );
    respond(reply)
}

fn respond((status, body): Reply) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match body {
        Some(v) => {
            let mut r = Response::new(Body::from(serde_json::to_vec(&v).unwrap_or_default()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        None => Response::new(Body::empty()),
    };
    *resp.status_mut() = status;
    resp
}

impl App {
    fn record(&self, violations: Vec<String>) {
        if !violations.is_empty() {
            lock(&self.violations).extend(violations);
        }
    }

    /// Validates a request body against the spec's body parameter for this operation.
    fn validate_body(&self, method: &Method, path: &str, bytes: &[u8]) {
        let Some(spec) = &self.spec else { return };
        if bytes.is_empty() {
            return;
        }
        let Some(schema) = spec.body_schema(method.as_str(), path) else {
            return;
        };
        self.validated.fetch_add(1, Ordering::Relaxed);
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => {
                let mut out = Vec::new();
                spec.validate(schema, &v, &mut out);
                self.record(
                    out.into_iter()
                        .map(|m| format!("{method} {path}: {m}"))
                        .collect(),
                );
            }
            Err(e) => self.record(vec![format!(
                "{method} {path}: body is not valid JSON: {e}"
            )]),
        }
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(key) = &self.api_key else {
            return true;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|k| k == key)
    }

    pub(crate) fn dispatch(
        &self,
        method: &Method,
        path: &str,
        q: &BTreeMap<String, String>,
        headers: &HeaderMap,
        bytes: &[u8],
    ) -> Reply {
        let not_found = || openapi_error(404, 404, format!("path {path} was not found"));
        let Some(rest) = path.strip_prefix("/v1/") else {
            return not_found();
        };
        let seg: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let public = seg.first() == Some(&".well-known");
        if !public && !self.authorized(headers) {
            return (401, None);
        }
        if matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ) {
            self.validate_body(method, path, bytes);
        }
        let m = method.as_str();
        let not_allowed = |allowed: &str| {
            openapi_error(
                405,
                405,
                format!("method {m} is not allowed, but [{allowed}] are"),
            )
        };
        let body = || -> Result<Value, Reply> {
            serde_json::from_slice(bytes).map_err(|e| {
                openapi_error(
                    400,
                    400,
                    format!("parsing body body from \"\" failed, because {e}"),
                )
            })
        };
        macro_rules! with_body {
            ($f:expr) => {
                match body() {
                    Ok(b) => $f(b),
                    Err(r) => r,
                }
            };
        }
        match (seg.as_slice(), m) {
            ([".well-known", "live"], "GET") | ([".well-known", "ready"], "GET") => (200, None),
            ([".well-known", "live" | "ready"], _) => not_allowed("GET"),
            (["meta"], "GET") => (200, Some(self.meta())),
            (["meta"], _) => not_allowed("GET"),
            (["schema"], "GET") => (200, Some(self.list_classes())),
            (["schema"], "POST") => with_body!(|b| self.create_class(&b)),
            (["schema"], _) => not_allowed("GET,POST"),
            (["schema", class], "GET") => {
                match lock(&self.db).schema_path_class(class, &self.settings) {
                    Some(c) => (200, Some(c.def.clone())),
                    None => (404, None),
                }
            }
            (["schema", class], "DELETE") => {
                lock(&self.db).delete_class(class, &self.settings);
                (200, None)
            }
            (["schema", _], "PUT") => not_emulated("class updates (PUT /v1/schema/{className})"),
            (["schema", _], _) => not_allowed("DELETE,GET,PUT"),
            (["objects"], "GET") => self.list_objects(q),
            (["objects"], "POST") => with_body!(|b| self.create_object(&b)),
            (["objects"], _) => not_allowed("GET,POST"),
            (["objects", class, id], "GET" | "HEAD" | "DELETE" | "PUT") => {
                if !is_uuid(id) {
                    return openapi_error(
                        422,
                        605,
                        format!("id in path must be of type uuid: \"{id}\""),
                    );
                }
                let id = canonical_uuid(id);
                match m {
                    "GET" => self.get_object(class, &id, q),
                    "HEAD" => self.head_object(class, &id, q),
                    "DELETE" => self.delete_object(class, &id, q),
                    _ => with_body!(|b| self.replace_object(class, &id, &b)),
                }
            }
            (["objects", _, _], "PATCH") => not_emulated("PATCH /v1/objects/{className}/{id}"),
            (["objects", _, _], _) => not_allowed("DELETE,GET,HEAD,PATCH,PUT"),
            (["objects", _], _) => not_emulated("the deprecated /v1/objects/{id} endpoints"),
            (["batch", "objects"], "POST") => {
                if let Some(r) = consistency_check(q) {
                    return r;
                }
                with_body!(|b| self.batch_objects(&b))
            }
            (["batch", "objects"], "DELETE") => {
                if let Some(r) = consistency_check(q) {
                    return r;
                }
                with_body!(|b| self.batch_delete(&b, q))
            }
            (["batch", "objects"], _) => not_allowed("DELETE,POST"),
            (["graphql"], "POST") => with_body!(|b: Value| {
                let out = query::execute(&lock(&self.db), &self.settings, &b);
                (out.status, Some(out.body))
            }),
            (["graphql"], _) => not_allowed("POST"),
            _ => not_found(),
        }
    }

    fn meta(&self) -> Value {
        let mut meta = json!({
            "hostname": "http://[::]:8080",
            "version": self.settings.version_string,
            "modules": {},
        });
        if self.settings.version >= crate::store::Version(1, 30, 0) {
            meta["grpcMaxMessageSize"] = json!(104_858_000);
        }
        meta
    }

    fn list_classes(&self) -> Value {
        let db = lock(&self.db);
        json!({"classes": db.classes.values().map(|c| c.def.clone()).collect::<Vec<_>>()})
    }

    fn create_class(&self, body: &Value) -> Reply {
        match lock(&self.db).create_class(body, &self.settings) {
            Ok(def) => (200, Some(def)),
            Err(e) => api_error(e),
        }
    }

    fn tenant_error(class: &str, q: &BTreeMap<String, String>) -> Option<Reply> {
        q.get("tenant").filter(|t| !t.is_empty()).map(|_| {
            api_error(ApiError::unprocessable(format!(
                "class {class} has multi-tenancy disabled, but request was with tenant"
            )))
        })
    }

    fn get_object(&self, class: &str, id: &str, q: &BTreeMap<String, String>) -> Reply {
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

    fn head_object(&self, class: &str, id: &str, q: &BTreeMap<String, String>) -> Reply {
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

    fn delete_object(&self, class: &str, id: &str, q: &BTreeMap<String, String>) -> Reply {
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

    fn create_object(&self, body: &Value) -> Reply {
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

    fn replace_object(&self, class: &str, id: &str, body: &Value) -> Reply {
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

    fn list_objects(&self, q: &BTreeMap<String, String>) -> Reply {
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

    fn batch_objects(&self, body: &Value) -> Reply {
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

    fn batch_delete(&self, body: &Value, q: &BTreeMap<String, String>) -> Reply {
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

fn body_id_format(body: &Value, field: &str) -> Option<Reply> {
    match body.get(field) {
        Some(Value::String(id)) if !is_uuid(id) => Some(openapi_error(
            422,
            606,
            format!("{field} in body must be of type uuid: \"{id}\""),
        )),
        _ => None,
    }
}

fn consistency_check(q: &BTreeMap<String, String>) -> Option<Reply> {
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

fn not_emulated(what: &str) -> Reply {
    (
        501,
        Some(error_body(&format!(
            "the Weaviate emulator does not emulate {what}"
        ))),
    )
}

/// An object as the REST endpoints return it.
fn object_json(class: &str, o: &StoredObject, include_vector: bool) -> Value {
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
