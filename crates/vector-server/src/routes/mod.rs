//! The route table and [`router`]. Every route is declared once, in [`routes`]; the OpenAPI
//! document ([`docs`]) is generated from the handlers' annotations and the wire types, and a
//! test checks that it lists exactly the routes of this table.

mod api;
pub(crate) mod docs;
mod ops;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use tokio::sync::OwnedSemaphorePermit;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// One route and its handler.
pub(crate) struct Route {
    #[cfg_attr(not(test), allow(dead_code))] // Checked against the document in a test.
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    /// Under `/v1`: authenticated, rate limited, admitted against the concurrency budgets.
    pub(crate) api: bool,
    pub(crate) handler: MethodRouter<AppState>,
}

macro_rules! route {
    ($method:ident $path:literal, $api:expr, $mr:expr) => {
        Route {
            method: Method::$method,
            path: $path,
            api: $api,
            handler: $mr,
        }
    };
}

/// Every route of the service.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        route!(GET "/health", false, get(ops::health)),
        route!(GET "/ready", false, get(ops::ready)),
        route!(GET "/metrics", false, get(ops::metrics)),
        route!(GET "/openapi.json", false, get(ops::openapi)),
        route!(GET "/v1/namespaces", true, get(api::list_namespaces)),
        route!(PUT "/v1/namespaces/{namespace}", true, put(api::create_namespace)),
        route!(GET "/v1/namespaces/{namespace}", true, get(api::namespace_info)),
        route!(DELETE "/v1/namespaces/{namespace}", true, delete(api::drop_namespace)),
        route!(DELETE "/v1/namespaces/{namespace}/vectors", true, delete(api::clear_namespace)),
        route!(PUT "/v1/namespaces/{namespace}/vectors/{key}", true, put(api::upsert)),
        route!(GET "/v1/namespaces/{namespace}/vectors/{key}", true, get(api::get_vector)),
        route!(DELETE "/v1/namespaces/{namespace}/vectors/{key}", true, delete(api::delete_vector)),
        route!(POST "/v1/namespaces/{namespace}/vectors:upsert", true, post(api::upsert_batch)),
        route!(POST "/v1/namespaces/{namespace}/vectors:get", true, post(api::get_batch)),
        route!(POST "/v1/namespaces/{namespace}/vectors:delete", true, post(api::delete_batch)),
        route!(POST "/v1/namespaces/{namespace}/query", true, post(api::query)),
        route!(POST "/v1/namespaces/{namespace}/query:batch", true, post(api::query_batch)),
        route!(POST "/v1/namespaces/{namespace}/count", true, post(api::count)),
        route!(POST "/v1/namespaces/{namespace}/scan", true, post(api::scan)),
        route!(POST "/v1/namespaces/{namespace}/delete-by-filter", true, post(api::delete_by_filter)),
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
    // Outermost last: log, then authenticate and rate-limit, then admit.
    let api = api
        .route_layer(middleware::from_fn_with_state(state.clone(), admit))
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
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The admission permits of one `/v1` request: one of `--max-concurrent-requests` and its
/// body's bytes of `--max-inflight-body-bytes`. Writes hand them to the task that finishes the
/// write, so a write cut from its request still counts until it ends.
#[derive(Clone, Debug)]
pub(crate) struct Held(
    #[allow(dead_code)] Arc<(OwnedSemaphorePermit, Option<OwnedSemaphorePermit>)>,
);

/// Waits for a request slot and for room for the body (within the request timeout, which
/// wraps this), then runs the handler.
async fn admit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let inner = &state.inner;
    let Ok(slot) = inner.requests.clone().acquire_owned().await else {
        return unavailable();
    };
    // The body's size: its Content-Length (hyper enforces it), else the body limit.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let has_body =
        declared.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING);
    let bytes = if has_body {
        let n = declared
            .unwrap_or(inner.config.max_body_bytes)
            .min(inner.config.max_body_bytes)
            .clamp(1, inner.config.limits.max_inflight_body_bytes.max(1));
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        match inner.body_bytes.clone().acquire_many_owned(n).await {
            Ok(p) => Some(p),
            Err(_) => return unavailable(),
        }
    } else {
        None
    };
    // Held here until the answer is built (extractors drop the request, and its extensions,
    // before the handler's work), and by the task of a write until the write ends.
    let held = Held(Arc::new((slot, bytes)));
    req.extensions_mut().insert(held.clone());
    let response = next.run(req).await;
    drop(held);
    response
}

fn unavailable() -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the service is shutting down",
    )
    .into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The document lists exactly the routes of the table: no route undocumented, no
    /// documented route missing.
    #[test]
    fn the_document_lists_exactly_the_routes() {
        let doc = docs::document();
        let mut documented: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| format!("{} {path}", m.to_uppercase()))
            })
            .collect();
        let mut table: Vec<String> = routes()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        documented.sort();
        table.sort();
        assert_eq!(documented, table);
    }
}
