//! Handlers of the `/v1` JSON API: one per trait operation, each with its OpenAPI description.
//! Budgets are checked before the backend is called; writes are audited even when the client
//! goes away or the request times out (they run to completion in their own task).

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Extension, State};
use axum::response::Response;
use vector_tier::{
    Filter, NamespaceConfig, QueryRequest, Record, ScanRequest, VectorBackend as _,
    VectorBackendExt as _,
};

use crate::audit;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::model::{
    Count, CountBody, DeleteByFilterBody, Deleted, DeletedOne, Dropped, KeyList,
    NamespaceConfigBody, NamespaceCreated, NamespaceInfoBody, NamespaceList, QueryBatchBody,
    QueryBatchResponse, QueryBody, QueryResponse, RecordList, ScanBody, ScanPageOut, Upserted,
    VectorBody, VectorList, VectorOut,
};
use crate::routes::Held;
use crate::routes::docs::{
    BodyErrors, Capacity, Common, Conflict, NamespaceMissing, RecordMissing, Unsupported,
};
use crate::state::AppState;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Runs a write in its own task, so that it finishes and is audited even when the request is
/// cut (client gone, request timeout): a write that reached the backend is never applied
/// unaudited. The task holds the request's admission permits until it ends.
async fn audited<T, F, Fut>(
    state: &AppState,
    held: Held,
    caller: Caller,
    operation: &'static str,
    namespace: String,
    keys: usize,
    write: F,
) -> vector_tier::Result<T>
where
    T: Send + 'static,
    F: FnOnce(AppState, String) -> Fut + Send + 'static,
    Fut: Future<Output = vector_tier::Result<T>> + Send + 'static,
{
    let state = state.clone();
    let task = tokio::spawn(async move {
        let guard = audit::Pending::new(caller, operation, namespace.clone(), keys);
        let result = write(state, namespace).await;
        guard.done(&result);
        drop(held);
        result
    });
    match task.await {
        Ok(result) => result,
        Err(e) => Err(vector_tier::Error::new(
            vector_tier::ErrorKind::Backend,
            format!("the write failed: {e}"),
        )),
    }
}

#[utoipa::path(get, path = "/v1/namespaces", tag = "api",
    summary = "Names of every namespace, sorted",
    security(("bearer" = []), ()),
    responses((status = 200, description = "The namespaces", body = NamespaceList), Common))]
pub(crate) async fn list_namespaces(State(state): State<AppState>) -> ApiResult<NamespaceList> {
    let namespaces = state.backend().list_namespaces().await?;
    Ok(Json(NamespaceList { namespaces }))
}

#[utoipa::path(put, path = "/v1/namespaces/{namespace}", tag = "api",
    summary = "Create a namespace with a config (the same config again is a no-op)",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = NamespaceConfigBody,
    security(("bearer" = []), ()),
    responses((status = 200, description = "Created, or already there with this config", body = NamespaceCreated),
        Common, BodyErrors, Conflict, Unsupported, Capacity))]
pub(crate) async fn create_namespace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(held): Extension<Held>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<NamespaceConfigBody>,
) -> ApiResult<NamespaceCreated> {
    let config: NamespaceConfig = body.into();
    let echo = (&config).into();
    audited(
        &state,
        held,
        caller,
        "create_namespace",
        namespace.clone(),
        0,
        move |state, ns| async move { state.backend().create_namespace(&ns, &config).await },
    )
    .await?;
    Ok(Json(NamespaceCreated {
        namespace,
        config: echo,
    }))
}

#[utoipa::path(get, path = "/v1/namespaces/{namespace}", tag = "api",
    summary = "A namespace's config and vector count",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("bearer" = []), ()),
    responses((status = 200, description = "The namespace", body = NamespaceInfoBody), Common, NamespaceMissing))]
pub(crate) async fn namespace_info(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
) -> ApiResult<NamespaceInfoBody> {
    match state.backend().namespace_info(&namespace).await? {
        Some(info) => Ok(Json((&info).into())),
        None => Err(ApiError::not_found(format!(
            "namespace {namespace:?} does not exist"
        ))),
    }
}

#[utoipa::path(delete, path = "/v1/namespaces/{namespace}", tag = "api",
    summary = "Drop a namespace with its config and vectors",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("bearer" = []), ()),
    responses((status = 200, description = "Whether it existed", body = Dropped), Common))]
pub(crate) async fn drop_namespace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(held): Extension<Held>,
    ApiPath(namespace): ApiPath<String>,
) -> ApiResult<Dropped> {
    let dropped = audited(
        &state,
        held,
        caller,
        "drop_namespace",
        namespace,
        0,
        move |state, ns| async move { state.backend().drop_namespace(&ns).await },
    )
    .await?;
    Ok(Json(Dropped { dropped }))
}

#[utoipa::path(delete, path = "/v1/namespaces/{namespace}/vectors", tag = "api",
    summary = "Delete every vector, keep the namespace; returns how many",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    security(("bearer" = []), ()),
    responses((status = 200, description = "How many were deleted", body = Deleted), Common))]
pub(crate) async fn clear_namespace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(held): Extension<Held>,
    ApiPath(namespace): ApiPath<String>,
) -> ApiResult<Deleted> {
    let deleted = audited(
        &state,
        held,
        caller,
        "clear_namespace",
        namespace,
        0,
        move |state, ns| async move { state.backend().clear_namespace(&ns).await },
    )
    .await?;
    Ok(Json(Deleted { deleted }))
}

#[utoipa::path(put, path = "/v1/namespaces/{namespace}/vectors/{key}", tag = "api",
    summary = "Insert or replace one vector (creates the namespace on first write)",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$"),
        ("key" = String, Path, description = "Any UTF-8 key of 1..=512 bytes without NUL, percent-encoded (`/` as %2F)", min_length = 1, max_length = 512)),
    request_body = VectorBody,
    security(("bearer" = []), ()),
    responses((status = 200, description = "Written", body = Upserted), Common, BodyErrors, Capacity))]
pub(crate) async fn upsert(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(held): Extension<Held>,
    ApiPath((namespace, key)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<VectorBody>,
) -> ApiResult<Upserted> {
    let record = Record::new(key, body.embedding, body.metadata);
    audited(
        &state,
        held,
        caller,
        "upsert",
        namespace,
        1,
        move |state, ns| async move {
            state
                .backend()
                .upsert(&ns, &record.key, record.embedding, record.metadata)
                .await
        },
    )
    .await?;
    Ok(Json(Upserted { upserted: 1 }))
}

#[utoipa::path(get, path = "/v1/namespaces/{namespace}/vectors/{key}", tag = "api",
    summary = "One vector and its metadata",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$"),
        ("key" = String, Path, description = "Any UTF-8 key of 1..=512 bytes without NUL, percent-encoded (`/` as %2F)", min_length = 1, max_length = 512)),
    security(("bearer" = []), ()),
    responses((status = 200, description = "The vector", body = VectorOut), Common, RecordMissing))]
pub(crate) async fn get_vector(
    State(state): State<AppState>,
    ApiPath((namespace, key)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    match state.backend().get(&namespace, &key).await? {
        Some(v) => state.inner.config.limits.json(&VectorOut::new(key, v)),
        None => Err(ApiError::not_found("no vector with this key")),
    }
}

#[utoipa::path(delete, path = "/v1/namespaces/{namespace}/vectors/{key}", tag = "api",
    summary = "Delete one vector",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$"),
        ("key" = String, Path, description = "Any UTF-8 key of 1..=512 bytes without NUL, percent-encoded (`/` as %2F)", min_length = 1, max_length = 512)),
    security(("bearer" = []), ()),
    responses((status = 200, description = "Whether it existed", body = DeletedOne), Common))]
pub(crate) async fn delete_vector(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(held): Extension<Held>,
    ApiPath((namespace, key)): ApiPath<(String, String)>,
) -> ApiResult<DeletedOne> {
    let deleted = audited(
        &state,
        held,
        caller,
        "delete",
        namespace,
        1,
        move |state, ns| async move { state.backend().delete(&ns, &key).await },
    )
    .await?;
    Ok(Json(DeletedOne { deleted }))
}

#[utoipa::path(post, path = "/v1/namespaces/{namespace}/vectors:upsert", tag = "api",
    summary = "Insert or replace many vectors; one invalid record writes nothing",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = RecordList,
    security(("bearer" = []), ()),
    responses((status = 200, description = "How many records were written", body = Upserted), Common, BodyErrors, Capacity))]
pub(crate) async fn upsert_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(held): Extension<Held>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<RecordList>,
) -> ApiResult<Upserted> {
    // The record count was bounded while parsing (`--max-batch-records`).
    let records: Vec<Record> = body.records.into_iter().map(Into::into).collect();
    let n = records.len();
    audited(
        &state,
        held,
        caller,
        "upsert_batch",
        namespace,
        n,
        move |state, ns| async move { state.backend().upsert_batch(&ns, records).await },
    )
    .await?;
    Ok(Json(Upserted { upserted: n as u64 }))
}

/// The distinct keys, in order of first appearance.
fn distinct(keys: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(keys.len());
    keys.into_iter()
        .filter(|k| seen.insert(k.clone()))
        .collect()
}

/// The dimension of a namespace's vectors, from one record (a light call on every backend;
/// `namespace_info` would count the rows); `None` when it holds none. It goes to the backend
/// under the metrics layer: a sizing lookup is not the caller's operation, and counting it
/// would make `vector_query_total{operation="scan"}` disagree with the requests served.
async fn dimension(state: &AppState, namespace: &str) -> Result<Option<usize>, ApiError> {
    let page = state
        .backend()
        .inner()
        .scan_page(namespace, &ScanRequest::new(1))
        .await?;
    Ok(page.records.first().map(|r| r.embedding.len()))
}

#[utoipa::path(post, path = "/v1/namespaces/{namespace}/vectors:get", tag = "api",
    summary = "Many vectors by key: one entry per distinct key, in order of first appearance (null when absent)",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = KeyList,
    security(("bearer" = []), ()),
    responses((status = 200, description = "The vectors", body = VectorList), Common, BodyErrors))]
pub(crate) async fn get_batch(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<KeyList>,
) -> Result<Response, ApiError> {
    let limits = state.inner.config.limits;
    let keys = distinct(body.keys);
    let key_bytes: usize = keys.iter().map(String::len).sum();
    if !limits.fits_any_dimension(keys.len(), key_bytes)
        && let Some(dim) = dimension(&state, &namespace).await?
    {
        limits.check_answer("vectors:get", keys.len(), dim, key_bytes)?;
    }
    let got = state.backend().get_batch(&namespace, &keys).await?;
    let vectors: Vec<Option<VectorOut>> = keys
        .into_iter()
        .zip(got)
        .map(|(k, v)| v.map(|v| VectorOut::new(k, v)))
        .collect();
    limits.json(&VectorList { vectors })
}

#[utoipa::path(post, path = "/v1/namespaces/{namespace}/vectors:delete", tag = "api",
    summary = "Delete many vectors; returns how many existed (a key given twice counts once)",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = KeyList,
    security(("bearer" = []), ()),
    responses((status = 200, description = "How many were deleted", body = Deleted), Common, BodyErrors))]
pub(crate) async fn delete_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(held): Extension<Held>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<KeyList>,
) -> ApiResult<Deleted> {
    let keys = distinct(body.keys);
    let n = keys.len();
    let deleted = audited(
        &state,
        held,
        caller,
        "delete_batch",
        namespace,
        n,
        move |state, ns| async move { state.backend().delete_batch(&ns, &keys).await },
    )
    .await?;
    Ok(Json(Deleted { deleted }))
}

#[utoipa::path(post, path = "/v1/namespaces/{namespace}/query", tag = "api",
    summary = "Nearest neighbours with optional threshold and filter",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = QueryBody,
    security(("bearer" = []), ()),
    responses((status = 200, description = "Best first", body = QueryResponse), Common, BodyErrors, Unsupported))]
pub(crate) async fn query(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<QueryBody>,
) -> Result<Response, ApiError> {
    let limits = state.inner.config.limits;
    let request = query_request(&limits, body, "query")?;
    let results = state.backend().search(&namespace, &request).await?;
    limits.json(&QueryResponse {
        results: results.into_iter().map(Into::into).collect(),
    })
}

/// A query body checked against the budgets (k, estimated answer) and turned into a request.
fn query_request(
    limits: &crate::limits::Limits,
    body: QueryBody,
    what: &str,
) -> Result<QueryRequest, ApiError> {
    let k = limits.check_k(body.k)?;
    let dim = if body.include_embedding {
        body.embedding.len()
    } else {
        0
    };
    // Keys are at most 512 bytes each.
    limits.check_answer(what, k, dim, k.saturating_mul(512))?;
    let mut request = QueryRequest::new(body.embedding, k);
    request.threshold = body.threshold;
    request.filter = body.filter.map(Filter::from);
    request.include_embedding = body.include_embedding;
    request.text = body.text;
    request.hybrid = body.hybrid.map(Into::into);
    Ok(request)
}

#[utoipa::path(post, path = "/v1/namespaces/{namespace}/query:batch", tag = "api",
    summary = "Several queries on one namespace in one call; each answer equals the single query's",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = QueryBatchBody,
    security(("bearer" = []), ()),
    responses((status = 200, description = "One answer per query, in order", body = QueryBatchResponse), Common, BodyErrors, Unsupported))]
pub(crate) async fn query_batch(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<QueryBatchBody>,
) -> Result<Response, ApiError> {
    let limits = state.inner.config.limits;
    let mut total = 0usize;
    let mut requests = Vec::with_capacity(body.queries.len());
    for q in body.queries {
        let dim = if q.include_embedding {
            q.embedding.len()
        } else {
            0
        };
        let r = query_request(&limits, q, "query:batch")?;
        total = total.saturating_add(r.k);
        limits.check_answer("query:batch", total, dim, total.saturating_mul(512))?;
        requests.push(r);
    }
    let answers = state.backend().search_batch(&namespace, &requests).await?;
    limits.json(&QueryBatchResponse {
        results: answers
            .into_iter()
            .map(|results| QueryResponse {
                results: results.into_iter().map(Into::into).collect(),
            })
            .collect(),
    })
}

#[utoipa::path(post, path = "/v1/namespaces/{namespace}/count", tag = "api",
    summary = "How many vectors (optionally matching a filter)",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = CountBody,
    security(("bearer" = []), ()),
    responses((status = 200, description = "The count", body = Count), Common, BodyErrors, Unsupported))]
pub(crate) async fn count(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<CountBody>,
) -> ApiResult<Count> {
    let filter = body.filter.map(Filter::from);
    let count = state.backend().count(&namespace, filter.as_ref()).await?;
    Ok(Json(Count { count }))
}

#[utoipa::path(post, path = "/v1/namespaces/{namespace}/scan", tag = "api",
    summary = "One page of records in key order; pass next_cursor back for the next",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = ScanBody,
    security(("bearer" = []), ()),
    responses((status = 200, description = "The page", body = ScanPageOut), Common, BodyErrors, Unsupported))]
pub(crate) async fn scan(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<ScanBody>,
) -> Result<Response, ApiError> {
    let limits = state.inner.config.limits;
    let page_size = limits.scan_page(body.page_size)?;
    let max_keys = page_size.saturating_mul(vector_tier::validate::MAX_KEY_BYTES);
    if !limits.fits_any_dimension(page_size, max_keys)
        && let Some(dim) = dimension(&state, &namespace).await?
    {
        limits.check_answer("scan", page_size, dim, max_keys)?;
    }
    let mut request = ScanRequest::new(page_size).with_cursor(body.cursor);
    request.filter = body.filter.map(Filter::from);
    let page = state.backend().scan_page(&namespace, &request).await?;
    limits.json(&ScanPageOut {
        records: page.records.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
}

#[utoipa::path(post, path = "/v1/namespaces/{namespace}/delete-by-filter", tag = "api",
    summary = "Delete every vector matching a filter",
    params(("namespace" = String, Path, description = "1..=64 characters of [A-Za-z0-9_-]", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = DeleteByFilterBody,
    security(("bearer" = []), ()),
    responses((status = 200, description = "How many were deleted", body = Deleted), Common, BodyErrors, Unsupported))]
pub(crate) async fn delete_by_filter(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(held): Extension<Held>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<DeleteByFilterBody>,
) -> ApiResult<Deleted> {
    let filter = Filter::from(body.filter);
    let deleted = audited(
        &state,
        held,
        caller,
        "delete_by_filter",
        namespace,
        0,
        move |state, ns| async move { state.backend().delete_by_filter(&ns, &filter).await },
    )
    .await?;
    Ok(Json(Deleted { deleted }))
}
