//! Operational routes: liveness, readiness, metrics, the OpenAPI document.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vector_tier::VectorBackend as _;

use crate::state::AppState;

/// How long readiness waits for the backend's health check. Backends bound their own checks
/// by their timeouts; this keeps a probe from hanging on one that does not.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let backend = state.backend();
    let healthy = tokio::time::timeout(READY_TIMEOUT, backend.health_check())
        .await
        .unwrap_or(false);
    let body = json!({
        "status": if healthy { "ready" } else { "unavailable" },
        "backend": backend.backend_type(),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// A scrape refreshes the namespace gauges after writes, or when they are older than this, so
/// they match the counters; the refresh may take at most [`SCRAPE_REFRESH_TIMEOUT`].
const SCRAPE_REFRESH_MAX_AGE: Duration = Duration::from_secs(10);
const SCRAPE_REFRESH_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    state
        .refresh_gauges_if_stale(SCRAPE_REFRESH_MAX_AGE, SCRAPE_REFRESH_TIMEOUT)
        .await;
    let text = state.metrics().render();
    (
        [(
            header::CONTENT_TYPE,
            vector_metrics::PrometheusMetrics::CONTENT_TYPE,
        )],
        text,
    )
        .into_response()
}

pub(crate) async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}
