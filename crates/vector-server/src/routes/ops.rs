//! Operational routes: liveness, readiness, metrics, the OpenAPI document. None touches the
//! backend more than once a second, whatever the number of probes and scrapers.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::model::{Health, HealthStatus, Ready};
use crate::state::AppState;

#[utoipa::path(get, path = "/health", tag = "operations",
    summary = "Liveness: 200 while the process serves (never touches the backend)",
    responses((status = 200, description = "Serving", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: HealthStatus::Ok,
    })
}

#[utoipa::path(get, path = "/ready", tag = "operations",
    summary = "Readiness: the backend's health check, at most one per second (answers are cached for 1 s)",
    responses((status = 200, description = "The backend is healthy", body = Ready),
        (status = 503, description = "The backend's health check failed or took longer than 5 s", body = Ready)))]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let (healthy, body) = state.readiness().await;
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    summary = "Prometheus metrics; namespace gauges are refreshed in the background every --metrics-refresh-secs, never by a scrape",
    responses((status = 200, description = "Prometheus text format", body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
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

#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    summary = "This OpenAPI document",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub(crate) async fn openapi() -> Json<serde_json::Value> {
    Json(crate::routes::docs::document())
}
