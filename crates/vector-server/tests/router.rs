//! The router without a socket, on the memory backend: every route, error mapping, limits,
//! authentication, rate limiting, timeouts, the audit log, the OpenAPI document and metrics.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use common::{assert_error, call, get, send};
use serde_json::json;
use vector_server::{AppConfig, AppState, RateLimit, parse_tokens, router};
use vector_tier::{
    Capabilities, DynBackend, Filter, NamespaceConfig, NamespaceInfo, QueryRequest, Record, Result,
    ScanPage, ScanRequest, SearchResult, StoredVector, VectorBackend, async_trait,
    memory::{MemoryBackend, MemoryConfig},
};

fn memory() -> DynBackend {
    Arc::new(MemoryBackend::new(MemoryConfig::default()))
}

fn app(config: AppConfig) -> Router {
    router(AppState::new(memory(), config))
}

#[tokio::test]
async fn every_api_route_and_error_mapping() {
    common::api_suite(&app(AppConfig::default()), "docs").await;
}

#[tokio::test]
async fn health_ready_and_openapi() {
    let app = app(AppConfig::default());
    let r = get(&app, "/health").await;
    assert_eq!((r.status.as_u16(), &r.json["status"]), (200, &json!("ok")));
    let r = get(&app, "/ready").await;
    assert_eq!(
        (r.status.as_u16(), &r.json["backend"]),
        (200, &json!("memory")),
        "{r:?}"
    );

    let doc = get(&app, "/openapi.json").await.json;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            documented.push(format!("{} {path}", method.to_uppercase()));
            // Every documented route exists in the router: no 404/405 from routing.
            let uri = path.replace("{namespace}", "ns").replace("{key}", "k");
            let r = send(&app, &method.to_uppercase(), &uri, None, None).await;
            assert!(
                r.status != 404
                    || r.json["error"]["kind"] != "not_found"
                    || r.json["error"]["message"] != "no such route",
                "{method} {path}: {r:?}"
            );
            assert_ne!(r.status, 405, "{method} {path}");
            // Every referenced schema exists.
            for reference in op.to_string().split("#/components/schemas/").skip(1) {
                let name = reference.split('"').next().unwrap();
                assert!(
                    doc["components"]["schemas"].get(name).is_some(),
                    "missing schema {name}"
                );
            }
        }
    }
    documented.sort();
    // The routes the issue asks for, by hand, so dropping one from the table fails here.
    let mut expected = vec![
        "GET /health",
        "GET /ready",
        "GET /metrics",
        "GET /openapi.json",
        "GET /v1/namespaces",
        "PUT /v1/namespaces/{namespace}",
        "GET /v1/namespaces/{namespace}",
        "DELETE /v1/namespaces/{namespace}",
        "DELETE /v1/namespaces/{namespace}/vectors",
        "PUT /v1/namespaces/{namespace}/vectors/{key}",
        "GET /v1/namespaces/{namespace}/vectors/{key}",
        "DELETE /v1/namespaces/{namespace}/vectors/{key}",
        "POST /v1/namespaces/{namespace}/vectors:upsert",
        "POST /v1/namespaces/{namespace}/vectors:get",
        "POST /v1/namespaces/{namespace}/vectors:delete",
        "POST /v1/namespaces/{namespace}/query",
        "POST /v1/namespaces/{namespace}/query:batch",
        "POST /v1/namespaces/{namespace}/count",
        "POST /v1/namespaces/{namespace}/scan",
        "POST /v1/namespaces/{namespace}/delete-by-filter",
    ];
    expected.sort_unstable();
    assert_eq!(documented, expected);
}

#[tokio::test]
async fn metrics_scrape_has_exact_counts() {
    let app = app(AppConfig::default());
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        let r = call(
            &app,
            "PUT",
            &format!("/v1/namespaces/m/vectors/{key}"),
            json!({ "embedding": [1.0, i as f32] }),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    for _ in 0..2 {
        let r = call(
            &app,
            "POST",
            "/v1/namespaces/m/query",
            json!({ "embedding": [1.0, 0.0], "k": 2 }),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/m/query",
        json!({ "embedding": [1.0, 0.0, 0.0] }),
    )
    .await;
    assert_eq!(r.status, 422);
    // A page this large could exceed the response cap at some dimension, so the service looks
    // the namespace's dimension up first; that lookup is not a second `scan` in the metrics.
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/m/scan",
        json!({ "page_size": 1000 }),
    )
    .await;
    assert_eq!(r.status, 200);

    let r = get(&app, "/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text;
    let value = |series: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    };
    assert_eq!(
        value(r#"vector_query_total{backend_type="memory",namespace="m",operation="upsert"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(r#"vector_query_total{backend_type="memory",namespace="m",operation="query"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(
            r#"vector_query_errors_total{backend_type="memory",error_kind="dimension_mismatch",namespace="m",operation="query"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            r#"vector_query_duration_seconds_count{backend_type="memory",namespace="m",operation="upsert"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        value(r#"vector_backend_connections_active{backend_type="memory"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(r#"vector_query_total{backend_type="memory",namespace="m",operation="scan"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("vector_query_total{"))
            .count(),
        3,
        "nothing else was counted: {text}"
    );
    for (name, _, _) in vector_metrics::METRIC_NAMES {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
    }
}

#[tokio::test]
async fn body_limit_gives_413_json() {
    let app = app(AppConfig::default().with_max_body_bytes(1024));
    let big = json!({ "embedding": vec![0.5_f32; 2000] }).to_string();
    assert!(big.len() > 1024);
    let r = send(&app, "PUT", "/v1/namespaces/n/vectors/k", Some(&big), None).await;
    assert_error(&r, 413, "payload_too_large");
    let r = call(
        &app,
        "PUT",
        "/v1/namespaces/n/vectors/k",
        json!({ "embedding": [0.5, 1.0] }),
    )
    .await;
    assert_eq!(r.status, 200, "small bodies still pass");
}

#[tokio::test]
async fn bearer_tokens_are_required_when_configured() {
    let tokens = parse_tokens("alice:tok-alice-123\nanon:tok-anon-456").unwrap();
    let app = app(AppConfig::default().with_tokens(tokens));
    let r = send(&app, "GET", "/v1/namespaces", None, None).await;
    assert_error(&r, 401, "unauthorized");
    assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
    let r = send(&app, "GET", "/v1/namespaces", None, Some("tok-alice-12")).await;
    assert_error(&r, 401, "unauthorized");
    let r = send(&app, "GET", "/v1/namespaces", None, Some("tok-alice-1234")).await;
    assert_error(&r, 401, "unauthorized");
    let r = send(&app, "GET", "/v1/namespaces", None, Some("tok-alice-123")).await;
    assert_eq!(r.status, 200);
    let r = send(&app, "GET", "/v1/namespaces", None, Some("tok-anon-456")).await;
    assert_eq!(r.status, 200);
    // Basic auth or a bare token is not a bearer token.
    let req = axum::http::Request::get("/v1/namespaces")
        .header(header::AUTHORIZATION, "tok-alice-123")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
    assert_eq!(response.status(), 401);
    // Probes, metrics and the document stay open (Kubernetes and Prometheus have no token).
    for path in ["/health", "/ready", "/metrics", "/openapi.json"] {
        assert_eq!(get(&app, path).await.status, 200, "{path}");
    }
}

#[tokio::test]
async fn rate_limit_is_per_token() {
    let tokens = parse_tokens("alice:ta,bob:tb").unwrap();
    let config = AppConfig::default()
        .with_tokens(tokens)
        .with_rate_limit(RateLimit {
            per_second: 0.01,
            burst: 2,
        });
    let app = app(config);
    for _ in 0..2 {
        assert_eq!(
            send(&app, "GET", "/v1/namespaces", None, Some("ta"))
                .await
                .status,
            200
        );
    }
    let r = send(&app, "GET", "/v1/namespaces", None, Some("ta")).await;
    assert_error(&r, 429, "rate_limited");
    let retry: u64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=100).contains(&retry), "{retry}");
    assert_eq!(
        send(&app, "GET", "/v1/namespaces", None, Some("tb"))
            .await
            .status,
        200,
        "bob has his own bucket"
    );
    assert_eq!(
        get(&app, "/health").await.status,
        200,
        "probes are not limited"
    );
}

/// A backend that delegates to memory, with a delay on `list_namespaces` and a fixed health.
#[derive(Debug)]
struct Slow {
    inner: MemoryBackend,
    delay: Duration,
    healthy: bool,
}

#[async_trait]
impl VectorBackend for Slow {
    fn backend_type(&self) -> &'static str {
        "memory"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn health_check(&self) -> bool {
        self.healthy
    }
    async fn create_namespace(&self, ns: &str, config: &NamespaceConfig) -> Result<()> {
        self.inner.create_namespace(ns, config).await
    }
    async fn namespace_info(&self, ns: &str) -> Result<Option<NamespaceInfo>> {
        self.inner.namespace_info(ns).await
    }
    async fn drop_namespace(&self, ns: &str) -> Result<bool> {
        self.inner.drop_namespace(ns).await
    }
    async fn list_namespaces(&self) -> Result<Vec<String>> {
        tokio::time::sleep(self.delay).await;
        self.inner.list_namespaces().await
    }
    async fn clear_namespace(&self, ns: &str) -> Result<u64> {
        self.inner.clear_namespace(ns).await
    }
    async fn upsert_batch(&self, ns: &str, records: Vec<Record>) -> Result<()> {
        self.inner.upsert_batch(ns, records).await
    }
    async fn get_batch(&self, ns: &str, keys: &[String]) -> Result<Vec<Option<StoredVector>>> {
        self.inner.get_batch(ns, keys).await
    }
    async fn delete_batch(&self, ns: &str, keys: &[String]) -> Result<u64> {
        self.inner.delete_batch(ns, keys).await
    }
    async fn search(&self, ns: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
        self.inner.search(ns, request).await
    }
    async fn count(&self, ns: &str, filter: Option<&Filter>) -> Result<u64> {
        self.inner.count(ns, filter).await
    }
    async fn scan_page(&self, ns: &str, request: &ScanRequest) -> Result<ScanPage> {
        self.inner.scan_page(ns, request).await
    }
    async fn delete_by_filter(&self, ns: &str, filter: &Filter) -> Result<u64> {
        self.inner.delete_by_filter(ns, filter).await
    }
    async fn search_batch(
        &self,
        ns: &str,
        requests: &[QueryRequest],
    ) -> Result<Vec<Vec<SearchResult>>> {
        self.inner.search_batch(ns, requests).await
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}

#[tokio::test]
async fn slow_requests_time_out_and_unhealthy_backends_are_not_ready() {
    let slow = Slow {
        inner: MemoryBackend::new(MemoryConfig::default()),
        delay: Duration::from_secs(5),
        healthy: false,
    };
    let config = AppConfig::default().with_request_timeout(Duration::from_millis(100));
    let app = router(AppState::new(Arc::new(slow), config));
    let started = std::time::Instant::now();
    let r = get(&app, "/v1/namespaces").await;
    assert_error(&r, 503, "timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
    let r = get(&app, "/ready").await;
    assert_eq!(
        (r.status.as_u16(), &r.json["status"]),
        (503, &json!("unavailable")),
        "{r:?}"
    );
    assert_eq!(
        get(&app, "/health").await.status,
        200,
        "liveness does not depend on the backend"
    );
}
