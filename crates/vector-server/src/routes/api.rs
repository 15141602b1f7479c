//! Handlers of the `/v1` JSON API: one per trait operation. Writes are audited.

use axum::Json;
use axum::extract::{Extension, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vector_tier::{
    Filter, Metadata, NamespaceConfig, QueryRequest, Record, ScanRequest, StoredVector,
    VectorBackend as _,
};

use crate::audit;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

type ApiResult = Result<Json<Value>, ApiError>;

/// Body of `PUT .../vectors/{key}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VectorBody {
    embedding: Vec<f32>,
    #[serde(default)]
    metadata: Metadata,
}

/// Body of `POST .../vectors:upsert`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordList {
    records: Vec<Record>,
}

/// Body of `POST .../vectors:get` and `.../vectors:delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyList {
    keys: Vec<String>,
}

fn default_k() -> usize {
    10
}

/// Body of `POST .../query`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryBody {
    embedding: Vec<f32>,
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    threshold: Option<f64>,
    #[serde(default)]
    filter: Option<Filter>,
    #[serde(default)]
    include_embedding: bool,
}

/// Body of `POST .../count`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterBody {
    #[serde(default)]
    filter: Option<Filter>,
}

/// Body of `POST .../delete-by-filter`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequiredFilterBody {
    filter: Filter,
}

/// Body of `POST .../scan`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanBody {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    page_size: usize,
    #[serde(default)]
    filter: Option<Filter>,
}

/// A stored vector with its key.
#[derive(Debug, Serialize)]
struct KeyedVector<'a> {
    key: &'a str,
    embedding: &'a [f32],
    metadata: &'a Metadata,
}

fn keyed<'a>(key: &'a str, v: &'a StoredVector) -> KeyedVector<'a> {
    KeyedVector {
        key,
        embedding: &v.embedding,
        metadata: &v.metadata,
    }
}

pub(crate) async fn list_namespaces(State(state): State<AppState>) -> ApiResult {
    let names = state.backend().list_namespaces().await?;
    Ok(Json(json!({ "namespaces": names })))
}

pub(crate) async fn create_namespace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(config): ApiJson<NamespaceConfig>,
) -> ApiResult {
    let result = state.backend().create_namespace(&namespace, &config).await;
    audit::write(&caller, "create_namespace", &namespace, 0, &result);
    result?;
    Ok(Json(json!({ "namespace": namespace, "config": config })))
}

pub(crate) async fn namespace_info(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
) -> ApiResult {
    match state.backend().namespace_info(&namespace).await? {
        Some(info) => Ok(Json(json!(info))),
        None => Err(ApiError::not_found(format!(
            "namespace {namespace:?} does not exist"
        ))),
    }
}

pub(crate) async fn drop_namespace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(namespace): ApiPath<String>,
) -> ApiResult {
    let result = state.backend().drop_namespace(&namespace).await;
    audit::write(&caller, "drop_namespace", &namespace, 0, &result);
    Ok(Json(json!({ "dropped": result? })))
}

pub(crate) async fn clear_namespace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(namespace): ApiPath<String>,
) -> ApiResult {
    let result = state.backend().clear_namespace(&namespace).await;
    audit::write(&caller, "clear_namespace", &namespace, 0, &result);
    Ok(Json(json!({ "deleted": result? })))
}

pub(crate) async fn upsert(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((namespace, key)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<VectorBody>,
) -> ApiResult {
    let result = state
        .backend()
        .upsert(&namespace, &key, body.embedding, body.metadata)
        .await;
    audit::write(&caller, "upsert", &namespace, 1, &result);
    result?;
    Ok(Json(json!({ "upserted": 1 })))
}

pub(crate) async fn get_vector(
    State(state): State<AppState>,
    ApiPath((namespace, key)): ApiPath<(String, String)>,
) -> ApiResult {
    match state.backend().get(&namespace, &key).await? {
        Some(v) => Ok(Json(json!(keyed(&key, &v)))),
        None => Err(ApiError::not_found("no vector with this key")),
    }
}

pub(crate) async fn delete_vector(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath((namespace, key)): ApiPath<(String, String)>,
) -> ApiResult {
    let result = state.backend().delete(&namespace, &key).await;
    audit::write(&caller, "delete", &namespace, 1, &result);
    Ok(Json(json!({ "deleted": result? })))
}

pub(crate) async fn upsert_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<RecordList>,
) -> ApiResult {
    let n = body.records.len();
    let result = state.backend().upsert_batch(&namespace, body.records).await;
    audit::write(&caller, "upsert_batch", &namespace, n, &result);
    result?;
    Ok(Json(json!({ "upserted": n })))
}

pub(crate) async fn get_batch(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<KeyList>,
) -> ApiResult {
    let got = state.backend().get_batch(&namespace, &body.keys).await?;
    let vectors: Vec<Option<KeyedVector<'_>>> = body
        .keys
        .iter()
        .zip(&got)
        .map(|(k, v)| v.as_ref().map(|v| keyed(k, v)))
        .collect();
    Ok(Json(json!({ "vectors": vectors })))
}

pub(crate) async fn delete_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<KeyList>,
) -> ApiResult {
    let result = state.backend().delete_batch(&namespace, &body.keys).await;
    audit::write(
        &caller,
        "delete_batch",
        &namespace,
        body.keys.len(),
        &result,
    );
    Ok(Json(json!({ "deleted": result? })))
}

pub(crate) async fn query(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<QueryBody>,
) -> ApiResult {
    let mut request = QueryRequest::new(body.embedding, body.k);
    request.threshold = body.threshold;
    request.filter = body.filter;
    request.include_embedding = body.include_embedding;
    let results = state.backend().search(&namespace, &request).await?;
    Ok(Json(json!({ "results": results })))
}

pub(crate) async fn count(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<FilterBody>,
) -> ApiResult {
    let n = state
        .backend()
        .count(&namespace, body.filter.as_ref())
        .await?;
    Ok(Json(json!({ "count": n })))
}

pub(crate) async fn scan(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<ScanBody>,
) -> ApiResult {
    let mut request = ScanRequest::new(body.page_size).with_cursor(body.cursor);
    request.filter = body.filter;
    let page = state.backend().scan_page(&namespace, &request).await?;
    Ok(Json(json!(page)))
}

pub(crate) async fn delete_by_filter(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<RequiredFilterBody>,
) -> ApiResult {
    let result = state
        .backend()
        .delete_by_filter(&namespace, &body.filter)
        .await;
    audit::write(&caller, "delete_by_filter", &namespace, 0, &result);
    Ok(Json(json!({ "deleted": result? })))
}
