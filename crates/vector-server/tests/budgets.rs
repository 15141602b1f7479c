//! Issue 12, the service half: every request has a budget checked before the backend is called;
//! duplicate keys are answered once; `/ready` and `/metrics` cost the backend (almost) nothing
//! however often they are hit; made-up namespace names cannot use up metric label values.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use common::probe::{Calls, Probe};
use common::{assert_error, call, get, send};
use serde_json::{Value, json};
use vector_server::{AppConfig, AppState, Limits, router};
use vector_tier::memory::{MemoryBackend, MemoryConfig};

fn probe_app(config: AppConfig) -> (Router, Arc<Calls>) {
    let (backend, calls) = Probe::new();
    (router(AppState::new(Arc::new(backend), config)), calls)
}

fn limited(f: impl FnOnce(&mut Limits)) -> AppConfig {
    let mut limits = Limits::default();
    f(&mut limits);
    AppConfig::default().with_limits(limits)
}

/// Over-budget requests are refused with 400 `limit_exceeded`, the message names the limit and
/// its flag, and the backend is never called.
#[tokio::test]
async fn over_budget_requests_do_nothing() {
    let (app, calls) = probe_app(AppConfig::default());
    let ns = "/v1/namespaces/b";
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            format!("{ns}/vectors:get"),
            json!({ "keys": vec!["k"; 1001] }),
            "--max-batch-keys",
        ),
        (
            "POST",
            format!("{ns}/vectors:delete"),
            json!({ "keys": (0..1001).map(|i| format!("k{i}")).collect::<Vec<_>>() }),
            "--max-batch-keys",
        ),
        (
            "POST",
            format!("{ns}/vectors:upsert"),
            json!({ "records": (0..1001).map(|i| json!({"key": format!("k{i}"), "embedding": [1.0]})).collect::<Vec<_>>() }),
            "--max-batch-records",
        ),
        (
            "POST",
            format!("{ns}/query"),
            json!({ "embedding": [1.0, 2.0], "k": 1001 }),
            "--max-k",
        ),
        (
            "POST",
            format!("{ns}/scan"),
            json!({ "page_size": 1001 }),
            "--max-scan-page",
        ),
        // 1000 hits x 1024 values x 16 bytes = 16 MB > 8 MiB.
        (
            "POST",
            format!("{ns}/query"),
            json!({ "embedding": vec![0.5; 1024], "k": 1000, "include_embedding": true }),
            "--max-response-bytes",
        ),
    ];
    for (method, uri, body, flag) in cases {
        let r = send(&app, method, &uri, Some(&body.to_string()), None).await;
        assert_error(&r, 400, "limit_exceeded");
        let message = r.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(flag), "{uri}: {message}");
        assert_eq!(
            Calls::get(&calls.data),
            0,
            "{uri}: the backend was called for an over-budget request"
        );
    }
    // The same query without embeddings fits.
    let r = call(
        &app,
        "POST",
        &format!("{ns}/query"),
        json!({ "embedding": vec![0.5; 1024], "k": 1000 }),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// The finding: one `vectors:get` with a key repeated a million times (4 MB, under the body
/// limit) made the service fetch and build a million copies. Now the list is refused while it
/// is parsed.
#[tokio::test]
async fn a_key_repeated_a_million_times_is_refused_while_parsing() {
    let (app, calls) = probe_app(AppConfig::default());
    let body = format!(r#"{{"keys":[{}"k"]}}"#, r#""k","#.repeat(1_000_000));
    assert!(body.len() < 8 * 1024 * 1024);
    let started = Instant::now();
    let r = send(
        &app,
        "POST",
        "/v1/namespaces/b/vectors:get",
        Some(&body),
        None,
    )
    .await;
    assert_error(&r, 400, "limit_exceeded");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 1000 keys")
    );
    assert_eq!(Calls::get(&calls.data), 0);
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Duplicate keys in a batch read are answered once: one entry per distinct key, in order of
/// first appearance. Batch deletes count a key once.
#[tokio::test]
async fn duplicate_keys_are_answered_once() {
    let app = router(AppState::new(
        Arc::new(MemoryBackend::new(MemoryConfig::default())),
        AppConfig::default(),
    ));
    for key in ["a", "b"] {
        let r = call(
            &app,
            "PUT",
            &format!("/v1/namespaces/d/vectors/{key}"),
            json!({ "embedding": [1.0, 0.5] }),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/d/vectors:get",
        json!({ "keys": ["b", "a", "b", "zz", "a", "zz"] }),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json["vectors"].as_array().unwrap();
    assert_eq!(v.len(), 3, "{r:?}");
    assert_eq!(
        (v[0]["key"].as_str(), v[1]["key"].as_str(), v[2].is_null()),
        (Some("b"), Some("a"), true)
    );
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/d/vectors:delete",
        json!({ "keys": ["a", "a", "a"] }),
    )
    .await;
    assert_eq!(r.json["deleted"], 1, "{r:?}");
}

/// A scan page or batch get whose answer would exceed the byte budget at the namespace's
/// dimension is refused before the page is read (one record is read to learn the dimension).
#[tokio::test]
async fn scan_and_get_answers_are_bounded_by_bytes() {
    let config = limited(|l| l.max_response_bytes = 64 * 1024);
    let (app, calls) = probe_app(config);
    let records: Vec<Value> = (0..50)
        .map(|i| json!({ "key": format!("k{i:02}"), "embedding": vec![0.25; 512] }))
        .collect();
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/s/vectors:upsert",
        json!({ "records": records }),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let before = Calls::get(&calls.data);
    // 50 x 512 x 16 = 400 KB > 64 KiB.
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/s/scan",
        json!({ "page_size": 50 }),
    )
    .await;
    assert_error(&r, 400, "limit_exceeded");
    assert!(r.text.contains("--max-response-bytes"), "{r:?}");
    assert_eq!(
        Calls::get(&calls.data),
        before + 1,
        "only the dimension probe"
    );
    let keys: Vec<String> = (0..50).map(|i| format!("k{i:02}")).collect();
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/s/vectors:get",
        json!({ "keys": keys }),
    )
    .await;
    assert_error(&r, 400, "limit_exceeded");
    // A page that fits is served: 5 x 512 x 16 = 40 KB.
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/s/scan",
        json!({ "page_size": 5 }),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["records"].as_array().unwrap().len(), 5);
    // page_size 0 means the limit (1000 by default), not the core's 1000 when lower.
    let config = limited(|l| l.max_scan_page = 7);
    let (app, _) = probe_app(config);
    call(
        &app,
        "POST",
        "/v1/namespaces/s/vectors:upsert",
        json!({ "records": (0..20).map(|i| json!({"key": format!("k{i:02}"), "embedding": [1.0]})).collect::<Vec<_>>() }),
    )
    .await;
    let r = call(&app, "POST", "/v1/namespaces/s/scan", json!({})).await;
    assert_eq!(r.json["records"].as_array().unwrap().len(), 7, "{r:?}");
}

/// The exact check happens while the answer is written: metadata counts too.
#[tokio::test]
async fn large_metadata_is_caught_by_the_exact_check() {
    let config = limited(|l| l.max_response_bytes = 16 * 1024);
    let app = router(AppState::new(
        Arc::new(MemoryBackend::new(MemoryConfig::default())),
        config,
    ));
    for i in 0..4 {
        let r = call(
            &app,
            "PUT",
            &format!("/v1/namespaces/m/vectors/k{i}"),
            json!({ "embedding": [1.0, 0.0], "metadata": { "text": "x".repeat(8000) } }),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/m/query",
        json!({ "embedding": [1.0, 0.0], "k": 4 }),
    )
    .await;
    assert_error(&r, 400, "limit_exceeded");
    let r = call(
        &app,
        "POST",
        "/v1/namespaces/m/query",
        json!({ "embedding": [1.0, 0.0], "k": 1 }),
    )
    .await;
    assert_eq!(r.status, 200);
}

/// `/ready` costs the backend at most one health check per second, however many probes come
/// (before: one per probe).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_one_light_call_per_second() {
    let (mut backend, calls) = Probe::new();
    backend.health_delay = Duration::from_millis(50);
    let app = router(AppState::new(Arc::new(backend), AppConfig::default()));
    let probes: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { get(&app, "/ready").await.status.as_u16() })
        })
        .collect();
    for p in probes {
        assert_eq!(p.await.unwrap(), 200);
    }
    assert_eq!(get(&app, "/ready").await.status, 200);
    assert_eq!(Calls::get(&calls.health), 1, "one check for 51 probes");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(&app, "/ready").await.status, 200);
    assert_eq!(Calls::get(&calls.health), 2, "a second later, one more");
    assert_eq!(Calls::get(&calls.list) + Calls::get(&calls.info), 0);
}

/// A scrape never calls the backend (before: every scrape after a write listed the namespaces
/// and counted each, a full `count(*)` on PostgreSQL).
#[tokio::test]
async fn scrapes_do_not_touch_the_backend() {
    let (app, calls) = probe_app(AppConfig::default());
    for i in 0..5 {
        let r = call(
            &app,
            "PUT",
            &format!("/v1/namespaces/n{i}/vectors/k"),
            json!({ "embedding": [1.0] }),
        )
        .await;
        assert_eq!(r.status, 200);
        let r = get(&app, "/metrics").await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(
        Calls::get(&calls.list) + Calls::get(&calls.info) + Calls::get(&calls.count),
        0,
        "scrapes called the backend"
    );
}

/// Gauges are refreshed by `AppState::refresh_gauges` (the server runs it every
/// `--metrics-refresh-secs`): one list, then the counts of the listed namespaces.
#[tokio::test]
async fn the_background_refresh_sets_the_gauges() {
    let (backend, calls) = Probe::new();
    let state = AppState::new(Arc::new(backend), AppConfig::default());
    let app = router(state.clone());
    call(
        &app,
        "PUT",
        "/v1/namespaces/g/vectors/k",
        json!({ "embedding": [1.0] }),
    )
    .await;
    state.refresh_gauges().await.unwrap();
    assert_eq!(Calls::get(&calls.list), 1);
    let text = get(&app, "/metrics").await.text;
    assert!(
        text.contains(r#"vector_count_per_namespace{backend_type="memory",namespace="g"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"vector_namespaces_total{backend_type="memory"} 1"#));
}

/// The finding: reads of made-up namespace names (which succeed with empty answers) took the
/// bounded `namespace` label values, so real namespaces created later were reported as
/// `__other__`. Only namespaces known to exist take a value now.
#[tokio::test]
async fn made_up_namespaces_do_not_use_label_values() {
    let mut config = AppConfig::default();
    config.metrics_max_namespaces = 3;
    let app = router(AppState::new(
        Arc::new(MemoryBackend::new(MemoryConfig::default())),
        config,
    ));
    for i in 0..20 {
        let r = get(&app, &format!("/v1/namespaces/made_up_{i}/vectors/k")).await;
        assert_eq!(r.status, 404);
        let r = call(
            &app,
            "POST",
            &format!("/v1/namespaces/made_up_{i}/count"),
            json!({}),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    for ns in ["real_a", "real_b", "real_c"] {
        let r = call(
            &app,
            "PUT",
            &format!("/v1/namespaces/{ns}/vectors/k"),
            json!({ "embedding": [1.0] }),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let text = get(&app, "/metrics").await.text;
    for ns in ["real_a", "real_b", "real_c"] {
        assert!(
            text.contains(&format!(r#"namespace="{ns}",operation="upsert""#)),
            "{ns} has no label value of its own: {text}"
        );
    }
    assert!(!text.contains("made_up_"), "{text}");
    assert!(
        text.contains(r#"namespace="__other__",operation="get""#),
        "{text}"
    );
}

/// At most `--max-concurrent-requests` requests are handled at once: with 1, two slow queries
/// and two slow writes run one after the other, and a request that waits past its timeout
/// gets 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_capped() {
    let (mut backend, _) = Probe::new();
    backend.read_delay = Duration::from_millis(300);
    let config = limited(|l| l.max_concurrent_requests = 1);
    let app = router(AppState::new(Arc::new(backend), config));
    let started = Instant::now();
    let reads: Vec<_> = (0..2)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                call(
                    &app,
                    "POST",
                    "/v1/namespaces/c/query",
                    json!({ "embedding": [1.0] }),
                )
                .await
                .status
            })
        })
        .collect();
    for r in reads {
        assert_eq!(r.await.unwrap(), 200);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(550),
        "the queries overlapped: {:?}",
        started.elapsed()
    );

    let (mut backend, calls) = Probe::new();
    backend.write_delay = Duration::from_millis(300);
    let config = limited(|l| l.max_concurrent_requests = 1);
    let app = router(AppState::new(Arc::new(backend), config));
    let started = Instant::now();
    let writes: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|k| {
            let app = app.clone();
            tokio::spawn(async move {
                call(
                    &app,
                    "PUT",
                    &format!("/v1/namespaces/c/vectors/{k}"),
                    json!({ "embedding": [1.0] }),
                )
                .await
                .status
            })
        })
        .collect();
    for w in writes {
        assert_eq!(w.await.unwrap(), 200);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(550),
        "the writes overlapped: {:?}",
        started.elapsed()
    );
    assert_eq!(Calls::get(&calls.writes_done), 2);

    let (mut backend, _) = Probe::new();
    backend.write_delay = Duration::from_millis(500);
    let config =
        limited(|l| l.max_concurrent_requests = 1).with_request_timeout(Duration::from_millis(200));
    let app = router(AppState::new(Arc::new(backend), config));
    let slow = {
        let app = app.clone();
        tokio::spawn(async move {
            call(
                &app,
                "PUT",
                "/v1/namespaces/c/vectors/a",
                json!({ "embedding": [1.0] }),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = get(&app, "/v1/namespaces").await;
    assert_error(&r, 503, "timeout");
    assert_eq!(
        get(&app, "/health").await.status,
        200,
        "probes are not admitted"
    );
    let _ = slow.await;
}
