//! Shared by the router tests: requests without a socket, and the route-by-route suite that
//! runs against the memory backend and every live backend.

#![allow(dead_code, unreachable_pub)] // Each test target uses a different part.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// A response: status, headers and body (JSON when it parses, else a string).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
    pub json: Value,
}

/// Sends one request through the router (no socket).
pub async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

pub async fn call(app: &Router, method: &str, uri: &str, body: Value) -> Reply {
    send(app, method, uri, Some(&body.to_string()), None).await
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    send(app, "GET", uri, None, None).await
}

/// Asserts an error answer: status, JSON body with the kind.
#[track_caller]
pub fn assert_error(r: &Reply, status: u16, kind: &str) {
    assert_eq!(r.status.as_u16(), status, "{r:?}");
    assert_eq!(r.json["error"]["kind"], kind, "{r:?}");
    assert!(r.json["error"]["message"].is_string(), "{r:?}");
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json", "{r:?}");
}

/// A namespace name unique to this process and test.
pub fn unique_ns(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("svc_{test}_{}_{nanos}", std::process::id())
}

/// Percent-encodes a path segment (everything but unreserved characters).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every `/v1` route, its results and its error mapping, in namespace `ns`.
pub async fn api_suite(app: &Router, ns: &str) {
    let base = format!("/v1/namespaces/{ns}");

    // Namespaces: create with config, info, list.
    let config = json!({ "dimension": 3, "metric": "cosine", "filterable": { "category": "keyword", "rank": "number" } });
    let r = call(app, "PUT", &base, config.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["config"]["dimension"], 3);
    let r = call(app, "PUT", &base, json!({ "dimension": 4 })).await;
    assert_error(&r, 409, "config_mismatch");
    let r = get(app, &base).await;
    assert_eq!(
        (
            r.status.as_u16(),
            r.json["count"].as_u64(),
            r.json["name"].as_str()
        ),
        (200, Some(0), Some(ns)),
        "{r:?}"
    );
    let r = get(app, "/v1/namespaces").await;
    assert!(
        r.json["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == ns),
        "{r:?}"
    );

    // Single vectors, with keys that need encoding.
    let hostile = [
        "doc1",
        "a/b",
        "with space?#&=+",
        "../../etc/passwd",
        "ключ-🔑",
        "%2F",
        "batch",
        "get",
    ];
    for (i, key) in hostile.iter().enumerate() {
        let body = json!({ "embedding": [1.0, i as f32 * 0.25, 0.5], "metadata": { "category": if i % 2 == 0 { "even" } else { "odd" }, "rank": i } });
        let r = call(app, "PUT", &format!("{base}/vectors/{}", enc(key)), body).await;
        assert_eq!(r.status, 200, "PUT {key:?}: {r:?}");
    }
    for (i, key) in hostile.iter().enumerate() {
        let r = get(app, &format!("{base}/vectors/{}", enc(key))).await;
        assert_eq!(r.status, 200, "GET {key:?}: {r:?}");
        assert_eq!(r.json["key"], *key);
        assert_eq!(r.json["metadata"]["rank"], i);
        assert_eq!(r.json["embedding"].as_array().unwrap().len(), 3);
    }
    let r = get(app, &format!("{base}/vectors/absent")).await;
    assert_error(&r, 404, "not_found");

    // Query: ordered results with key, score, distance, metadata.
    let r = call(
        app,
        "POST",
        &format!("{base}/query"),
        json!({ "embedding": [1.0, 0.0, 0.5], "k": 3 }),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let results = r.json["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["key"], "doc1");
    for hit in results {
        assert!(
            hit["score"].is_number() && hit["distance"].is_number() && hit["metadata"].is_object(),
            "{hit}"
        );
        assert!(hit.get("embedding").is_none());
    }
    let scores: Vec<f64> = results
        .iter()
        .map(|h| h["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let r = call(
        app,
        "POST",
        &format!("{base}/query"),
        json!({
            "embedding": [1.0, 0.0, 0.5], "k": 10, "threshold": -1.0, "include_embedding": true,
            "filter": { "op": "eq", "field": "category", "value": "odd" }
        }),
    )
    .await;
    let results = r.json["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{r:?}");
    assert!(
        results
            .iter()
            .all(|h| h["metadata"]["category"] == "odd" && h["embedding"].is_array())
    );

    // Batches, count, scan.
    let records: Vec<Value> = (0..5).map(|i| json!({ "key": format!("b{i}"), "embedding": [0.5, 1.0, i as f32], "metadata": { "category": "batch", "rank": 100 + i } })).collect();
    let r = call(
        app,
        "POST",
        &format!("{base}/vectors:upsert"),
        json!({ "records": records }),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.json["upserted"].as_u64()),
        (200, Some(5)),
        "{r:?}"
    );
    let r = call(
        app,
        "POST",
        &format!("{base}/vectors:get"),
        json!({ "keys": ["b1", "nope", "a/b"] }),
    )
    .await;
    let v = r.json["vectors"].as_array().unwrap();
    assert_eq!(
        (v[0]["key"].as_str(), v[1].is_null(), v[2]["key"].as_str()),
        (Some("b1"), true, Some("a/b")),
        "{r:?}"
    );
    let r = call(app, "POST", &format!("{base}/count"), json!({})).await;
    assert_eq!(r.json["count"], 13, "{r:?}");
    let r = call(
        app,
        "POST",
        &format!("{base}/count"),
        json!({ "filter": { "op": "gte", "field": "rank", "value": 100 } }),
    )
    .await;
    assert_eq!(r.json["count"], 5, "{r:?}");
    let mut cursor = Value::Null;
    let mut scanned = Vec::new();
    loop {
        let r = call(
            app,
            "POST",
            &format!("{base}/scan"),
            json!({ "page_size": 4, "cursor": cursor }),
        )
        .await;
        assert_eq!(r.status, 200, "{r:?}");
        scanned.extend(
            r.json["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["key"].as_str().unwrap().to_owned()),
        );
        cursor = r.json["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    let mut expected: Vec<String> = hostile
        .iter()
        .map(|s| (*s).to_owned())
        .chain((0..5).map(|i| format!("b{i}")))
        .collect();
    expected.sort();
    assert_eq!(scanned, expected);

    // Deletes.
    let r = call(
        app,
        "POST",
        &format!("{base}/delete-by-filter"),
        json!({ "filter": { "op": "eq", "field": "category", "value": "batch" } }),
    )
    .await;
    assert_eq!(r.json["deleted"], 5, "{r:?}");
    let r = call(
        app,
        "POST",
        &format!("{base}/vectors:delete"),
        json!({ "keys": ["doc1", "nope"] }),
    )
    .await;
    assert_eq!(r.json["deleted"], 1, "{r:?}");
    let r = send(
        app,
        "DELETE",
        &format!("{base}/vectors/{}", enc("a/b")),
        None,
        None,
    )
    .await;
    assert_eq!(r.json["deleted"], true, "{r:?}");
    let r = send(
        app,
        "DELETE",
        &format!("{base}/vectors/{}", enc("a/b")),
        None,
        None,
    )
    .await;
    assert_eq!(r.json["deleted"], false, "{r:?}");

    // Error mapping: never a 500 for bad input, always a JSON body.
    let r = call(
        app,
        "POST",
        &format!("{base}/query"),
        json!({ "embedding": [1.0, 0.0] }),
    )
    .await;
    assert_error(&r, 422, "dimension_mismatch");
    let r = call(
        app,
        "PUT",
        &format!("{base}/vectors/x"),
        json!({ "embedding": [1.0, 0.0, 0.0, 1.0] }),
    )
    .await;
    assert_error(&r, 422, "dimension_mismatch");
    let r = call(
        app,
        "POST",
        &format!("{base}/query"),
        json!({ "embedding": [1.0, 0.0, 0.5], "k": 0 }),
    )
    .await;
    assert_error(&r, 400, "invalid_argument");
    let r = call(
        app,
        "POST",
        &format!("{base}/query"),
        json!({ "embedding": [0.0, 0.0, 0.0] }),
    )
    .await;
    assert_error(&r, 400, "invalid_embedding");
    let r = call(app, "POST", &format!("{base}/query"), json!({ "embedding": [1.0, 0.0, 0.5], "filter": { "op": "eq", "field": "undeclared", "value": 1 } })).await;
    assert_error(&r, 400, "invalid_argument");
    let r = call(
        app,
        "PUT",
        &format!("{base}/vectors/x"),
        json!({ "embedding": [1.0, 0.0, 1e39] }),
    )
    .await;
    assert!(r.status == 400 || r.status == 422, "{r:?}");
    assert!(r.json["error"]["kind"].is_string(), "{r:?}");
    let r = call(
        app,
        "PUT",
        &format!("{base}/vectors/x"),
        json!({ "embedding": [1.0, 0.0, 0.5], "metadata": { "rank": "not a number" } }),
    )
    .await;
    assert_error(&r, 400, "invalid_metadata");
    let r = call(
        app,
        "PUT",
        &format!("{base}/vectors/{}", enc("nul\0key")),
        json!({ "embedding": [1.0, 0.0, 0.5] }),
    )
    .await;
    assert_error(&r, 400, "invalid_key");
    let r = call(
        app,
        "PUT",
        &format!("{base}/vectors/{}", "k".repeat(600)),
        json!({ "embedding": [1.0, 0.0, 0.5] }),
    )
    .await;
    assert_error(&r, 400, "invalid_key");
    let r = call(
        app,
        "PUT",
        "/v1/namespaces/bad.name/vectors/x",
        json!({ "embedding": [1.0] }),
    )
    .await;
    assert_error(&r, 400, "invalid_namespace");
    let r = call(
        app,
        "PUT",
        &format!("/v1/namespaces/{}/vectors/x", "n".repeat(65)),
        json!({ "embedding": [1.0] }),
    )
    .await;
    assert_error(&r, 400, "invalid_namespace");
    let r = send(
        app,
        "POST",
        &format!("{base}/query"),
        Some(r#"{"embedding": [1.0, 0.0"#),
        None,
    )
    .await;
    assert_error(&r, 400, "invalid_json");
    let r = send(
        app,
        "POST",
        &format!("{base}/query"),
        Some("not json at all"),
        None,
    )
    .await;
    assert_error(&r, 400, "invalid_json");
    let r = call(
        app,
        "POST",
        &format!("{base}/query"),
        json!({ "embedding": "one two three" }),
    )
    .await;
    assert_error(&r, 422, "invalid_request");
    let r = call(
        app,
        "POST",
        &format!("{base}/query"),
        json!({ "embedding": [1.0, 0.0, 0.5], "k": -1 }),
    )
    .await;
    assert_error(&r, 422, "invalid_request");
    let r = call(
        app,
        "POST",
        &format!("{base}/query"),
        json!({ "embedding": [1.0, 0.0, 0.5], "kk": 3 }),
    )
    .await;
    assert_error(&r, 422, "invalid_request");
    let r = call(app, "POST", &format!("{base}/query"), json!([1, 2, 3])).await;
    assert_error(&r, 422, "invalid_request");
    let r = send(app, "POST", &format!("{base}/count"), None, None).await;
    assert_error(&r, 415, "unsupported_media_type");
    let r = send(app, "GET", &format!("{base}/vectors/%FF%FE"), None, None).await;
    assert_error(&r, 400, "invalid_path");
    let r = get(app, "/v1/nothing/here").await;
    assert_error(&r, 404, "not_found");
    let r = send(app, "PATCH", &base, None, None).await;
    assert_error(&r, 405, "method_not_allowed");

    // Clear and drop.
    let r = get(app, &base).await;
    assert_eq!(r.json["count"], 6, "{r:?}");
    let r = send(app, "DELETE", &format!("{base}/vectors"), None, None).await;
    assert_eq!(
        (r.status.as_u16(), r.json["deleted"].as_u64()),
        (200, Some(6)),
        "{r:?}"
    );
    let r = get(app, &base).await;
    assert_eq!(r.json["count"], 0, "{r:?}");
    let r = send(app, "DELETE", &base, None, None).await;
    assert_eq!(r.json["dropped"], true, "{r:?}");
    let r = get(app, &base).await;
    assert_error(&r, 404, "not_found");
    let r = send(app, "DELETE", &base, None, None).await;
    assert_eq!(r.json["dropped"], false, "{r:?}");
}

/// A memory backend that counts calls and can be slowed down: for tests of budgets (nothing
/// reaches the backend), probe and scrape costs, and writes cut by timeouts.
pub mod probe {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use vector_tier::{
        Capabilities, Filter, NamespaceConfig, NamespaceInfo, QueryRequest, Record, Result,
        ScanPage, ScanRequest, SearchResult, StoredVector, VectorBackend, async_trait,
        memory::{MemoryBackend, MemoryConfig},
    };

    /// Calls per operation.
    #[derive(Debug, Default)]
    pub struct Calls {
        pub health: AtomicUsize,
        pub list: AtomicUsize,
        pub info: AtomicUsize,
        pub count: AtomicUsize,
        pub data: AtomicUsize,
        pub writes_done: AtomicUsize,
    }

    impl Calls {
        pub fn get(n: &AtomicUsize) -> usize {
            n.load(Ordering::SeqCst)
        }
    }

    #[derive(Debug)]
    pub struct Probe {
        pub inner: MemoryBackend,
        pub calls: Arc<Calls>,
        /// Delay of writes (`upsert_batch`, `delete_batch`).
        pub write_delay: Duration,
        /// Delay of `health_check`.
        pub health_delay: Duration,
        /// Delay of `search`.
        pub read_delay: Duration,
    }

    impl Probe {
        pub fn new() -> (Self, Arc<Calls>) {
            let calls = Arc::new(Calls::default());
            (
                Self {
                    inner: MemoryBackend::new(MemoryConfig::default()),
                    calls: calls.clone(),
                    write_delay: Duration::ZERO,
                    health_delay: Duration::ZERO,
                    read_delay: Duration::ZERO,
                },
                calls,
            )
        }
    }

    fn bump(n: &AtomicUsize) {
        n.fetch_add(1, Ordering::SeqCst);
    }

    #[async_trait]
    impl VectorBackend for Probe {
        fn backend_type(&self) -> &'static str {
            "memory"
        }
        fn capabilities(&self) -> Capabilities {
            self.inner.capabilities()
        }
        async fn health_check(&self) -> bool {
            bump(&self.calls.health);
            tokio::time::sleep(self.health_delay).await;
            true
        }
        async fn create_namespace(&self, ns: &str, config: &NamespaceConfig) -> Result<()> {
            bump(&self.calls.data);
            self.inner.create_namespace(ns, config).await
        }
        async fn namespace_info(&self, ns: &str) -> Result<Option<NamespaceInfo>> {
            bump(&self.calls.info);
            self.inner.namespace_info(ns).await
        }
        async fn drop_namespace(&self, ns: &str) -> Result<bool> {
            bump(&self.calls.data);
            self.inner.drop_namespace(ns).await
        }
        async fn list_namespaces(&self) -> Result<Vec<String>> {
            bump(&self.calls.list);
            self.inner.list_namespaces().await
        }
        async fn clear_namespace(&self, ns: &str) -> Result<u64> {
            bump(&self.calls.data);
            self.inner.clear_namespace(ns).await
        }
        async fn upsert_batch(&self, ns: &str, records: Vec<Record>) -> Result<()> {
            bump(&self.calls.data);
            tokio::time::sleep(self.write_delay).await;
            let r = self.inner.upsert_batch(ns, records).await;
            bump(&self.calls.writes_done);
            r
        }
        async fn get_batch(&self, ns: &str, keys: &[String]) -> Result<Vec<Option<StoredVector>>> {
            bump(&self.calls.data);
            self.inner.get_batch(ns, keys).await
        }
        async fn delete_batch(&self, ns: &str, keys: &[String]) -> Result<u64> {
            bump(&self.calls.data);
            tokio::time::sleep(self.write_delay).await;
            let r = self.inner.delete_batch(ns, keys).await;
            bump(&self.calls.writes_done);
            r
        }
        async fn search(&self, ns: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
            bump(&self.calls.data);
            tokio::time::sleep(self.read_delay).await;
            self.inner.search(ns, request).await
        }
        async fn count(&self, ns: &str, filter: Option<&Filter>) -> Result<u64> {
            bump(&self.calls.count);
            self.inner.count(ns, filter).await
        }
        async fn scan_page(&self, ns: &str, request: &ScanRequest) -> Result<ScanPage> {
            bump(&self.calls.data);
            self.inner.scan_page(ns, request).await
        }
        async fn delete_by_filter(&self, ns: &str, filter: &Filter) -> Result<u64> {
            bump(&self.calls.data);
            self.inner.delete_by_filter(ns, filter).await
        }
        async fn search_batch(
            &self,
            ns: &str,
            requests: &[QueryRequest],
        ) -> Result<Vec<Vec<SearchResult>>> {
            bump(&self.calls.data);
            tokio::time::sleep(self.read_delay).await;
            self.inner.search_batch(ns, requests).await
        }
        async fn close(&self) {
            self.inner.close().await;
        }
    }
}
