//! The route table and [`router`]. Every route is declared once, in [`routes`], with the
//! facts the OpenAPI document is built from, so the document cannot miss a route.

mod api;
mod ops;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{MethodRouter, delete, get, post, put};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// One route: what the OpenAPI document says about it, and its handler.
pub(crate) struct Route {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) operation_id: &'static str,
    pub(crate) summary: &'static str,
    /// Request body schema (a name under `components/schemas`).
    pub(crate) request: Option<&'static str>,
    /// Success response: status and schema name (`None`: plain text).
    pub(crate) response: (u16, Option<&'static str>),
    /// Under `/v1`: authenticated, rate limited.
    pub(crate) api: bool,
    pub(crate) handler: MethodRouter<AppState>,
}

macro_rules! route {
    ($method:ident $path:literal $id:literal $summary:literal, $request:expr, $response:expr, $api:expr, $mr:expr) => {
        Route {
            method: Method::$method,
            path: $path,
            operation_id: $id,
            summary: $summary,
            request: $request,
            response: $response,
            api: $api,
            handler: $mr,
        }
    };
}

/// Every route of the service.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(GET "/health" "health" "Liveness: 200 while the process serves", None, (200, Some("Status")), false, get(ops::health)),
        route!(GET "/ready" "ready" "Readiness: 200 when the backend's health check passes, else 503", None, (200, Some("Status")), false, get(ops::ready)),
        route!(GET "/metrics" "metrics" "Prometheus metrics (text format)", None, (200, None), false, get(ops::metrics)),
        route!(GET "/openapi.json" "openapi" "This OpenAPI document", None, (200, Some("Object")), false, get(ops::openapi)),
        route!(GET "/v1/namespaces" "listNamespaces" "Names of every namespace, sorted", None, (200, Some("NamespaceList")), true, get(api::list_namespaces)),
        route!(PUT "/v1/namespaces/{namespace}" "createNamespace" "Create a namespace with a config (same config again is a no-op)", Some("NamespaceConfig"), (200, Some("NamespaceCreated")), true, put(api::create_namespace)),
        route!(GET "/v1/namespaces/{namespace}" "namespaceInfo" "A namespace's config and vector count (404 when absent)", None, (200, Some("NamespaceInfo")), true, get(api::namespace_info)),
        route!(DELETE "/v1/namespaces/{namespace}" "dropNamespace" "Drop a namespace with its config and vectors", None, (200, Some("Dropped")), true, delete(api::drop_namespace)),
        route!(DELETE "/v1/namespaces/{namespace}/vectors" "clearNamespace" "Delete every vector, keep the namespace; returns how many", None, (200, Some("Deleted")), true, delete(api::clear_namespace)),
        route!(PUT "/v1/namespaces/{namespace}/vectors/{key}" "upsertVector" "Insert or replace one vector (key percent-encoded; `/` as %2F)", Some("VectorBody"), (200, Some("Upserted")), true, put(api::upsert)),
        route!(GET "/v1/namespaces/{namespace}/vectors/{key}" "getVector" "One vector and its metadata (404 when absent)", None, (200, Some("Vector")), true, get(api::get_vector)),
        route!(DELETE "/v1/namespaces/{namespace}/vectors/{key}" "deleteVector" "Delete one vector", None, (200, Some("DeletedOne")), true, delete(api::delete_vector)),
        route!(POST "/v1/namespaces/{namespace}/vectors:upsert" "upsertBatch" "Insert or replace many vectors atomically with respect to validation", Some("RecordList"), (200, Some("Upserted")), true, post(api::upsert_batch)),
        route!(POST "/v1/namespaces/{namespace}/vectors:get" "getBatch" "Many vectors by key, in order (null when absent)", Some("KeyList"), (200, Some("VectorList")), true, post(api::get_batch)),
        route!(POST "/v1/namespaces/{namespace}/vectors:delete" "deleteBatch" "Delete many vectors; returns how many existed", Some("KeyList"), (200, Some("Deleted")), true, post(api::delete_batch)),
        route!(POST "/v1/namespaces/{namespace}/query" "query" "Nearest neighbours with optional threshold and filter", Some("QueryBody"), (200, Some("QueryResponse")), true, post(api::query)),
        route!(POST "/v1/namespaces/{namespace}/count" "count" "How many vectors (optionally matching a filter)", Some("FilterBody"), (200, Some("Count")), true, post(api::count)),
        route!(POST "/v1/namespaces/{namespace}/scan" "scan" "One page of records in key order; pass next_cursor back for the next", Some("ScanBody"), (200, Some("ScanPage")), true, post(api::scan)),
        route!(POST "/v1/namespaces/{namespace}/delete-by-filter" "deleteByFilter" "Delete every vector matching a filter", Some("RequiredFilterBody"), (200, Some("Deleted")), true, post(api::delete_by_filter)),
    ]
}

/// The service's router. Tests call it without a socket (`tower::ServiceExt::oneshot`).
pub fn router(state: AppState) -> Router {
    let mut public = Router::new();
    let mut api = Router::new();
    for route in routes() {
        if route.api {
            api = api.route(route.path, route.handler);
        } else {
            public = public.route(route.path, route.handler);
        }
    }
    // Route layers run after routing, so `log_request` sees the matched route template.
    let api = api
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .route_layer(middleware::from_fn(log_request));
    let public = public.route_layer(middleware::from_fn(log_request));
    let limit = state.inner.config.max_body_bytes;
    public
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// Checks the bearer token (when tokens are configured) and the caller's rate limit, and
/// passes the [`Caller`] to the handler for the audit log.
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let auth = &state.inner.auth;
    let caller = if auth.enabled() {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        match presented.and_then(|t| auth.verify(t.trim())) {
            Some(caller) => caller,
            None => {
                tracing::info!(target: crate::audit::AUDIT_TARGET, "rejected request without a valid token");
                return ApiError::unauthorized("a valid bearer token is required").into_response();
            }
        }
    } else {
        Caller::anonymous()
    };
    if let Some(limiter) = &state.inner.limiter
        && let Err(wait) = limiter.check(&caller.id)
    {
        return ApiError::rate_limited(wait).into_response();
    }
    if req.method() != Method::GET {
        state.mark_gauges_dirty();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Answers 503 (`timeout`) when a request takes longer than the configured limit.
async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.inner.config.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {limit:?}"),
        )
        .into_response(),
    }
}

/// One log line per request: method, route template (not the raw path, which holds keys),
/// status and latency.
async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let route = route.as_deref().unwrap_or("(unmatched)");
    let micros = started.elapsed().as_micros() as u64;
    if response.status().is_server_error() {
        tracing::warn!(%method, route, status, micros, "request");
    } else {
        tracing::debug!(%method, route, status, micros, "request");
    }
    response
}
