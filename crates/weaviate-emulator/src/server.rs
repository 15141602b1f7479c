//! The HTTP layer: one dispatcher for every route (so 404/405/400 bodies have go-openapi's
//! shapes), authentication, spec validation of request bodies, the test switches (pause,
//! injected failures), and the reply helpers. The handlers are in `rest.rs` (schema, objects)
//! and `batch.rs`; GraphQL in `graphql/`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::batch::consistency_check;
use crate::graphql;
use crate::settings::Settings;
use crate::spec::Spec;
use crate::store::{ApiError, Db, canonical_uuid, is_uuid};

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

pub(crate) type Reply = (u16, Option<Value>);

pub(crate) fn error_body(message: &str) -> Value {
    json!({"error": [{"message": message}]})
}

pub(crate) fn api_error(e: ApiError) -> Reply {
    (e.status, Some(error_body(&e.message)))
}

/// go-openapi's `{"code", "message"}` shape.
pub(crate) fn openapi_error(status: u16, code: u16, message: String) -> Reply {
    (status, Some(json!({"code": code, "message": message})))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
                let out = graphql::execute(&lock(&self.db), &self.settings, &b);
                (out.status, Some(out.body))
            }),
            (["graphql"], _) => not_allowed("POST"),
            _ => not_found(),
        }
    }
}

pub(crate) fn not_emulated(what: &str) -> Reply {
    (
        501,
        Some(error_body(&format!(
            "the Weaviate emulator does not emulate {what}"
        ))),
    )
}
