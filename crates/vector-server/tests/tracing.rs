//! Tracing: every backend operation is one span (named after the operation) carrying the
//! backend, the namespace and the outcome, and nothing else of the request: no keys, no
//! vectors, no tokens. Shown with OpenTelemetry's in-memory exporter, and end to end with the
//! service's own OTLP/HTTP exporter against an in-process collector.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;
use vector_server::{AppConfig, AppState, router};
use vector_tier::memory::{MemoryBackend, MemoryConfig};

const KEY: &str = "secret-key-4711";
const VALUE: f32 = 0.123_456_7;

fn app() -> Router {
    router(AppState::new(
        Arc::new(MemoryBackend::new(MemoryConfig::default())),
        AppConfig::default(),
    ))
}

/// Creates a namespace, upserts, gets, queries, and fails one upsert (wrong dimension).
async fn traffic(app: &Router) {
    let r = common::call(app, "PUT", "/v1/namespaces/docs", json!({"dimension": 3})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let body = json!({"embedding": [VALUE, 0.5, 0.25], "metadata": {"title": "private"}});
    let r = common::call(
        app,
        "PUT",
        &format!("/v1/namespaces/docs/vectors/{KEY}"),
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = common::get(app, &format!("/v1/namespaces/docs/vectors/{KEY}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    let q = json!({"embedding": [VALUE, 0.5, 0.25], "k": 3});
    let r = common::call(app, "POST", "/v1/namespaces/docs/query", q).await;
    assert_eq!(r.status, 200, "{r:?}");
    let bad = json!({"embedding": [VALUE, 0.5], "metadata": {}});
    let r = common::call(
        app,
        "PUT",
        &format!("/v1/namespaces/docs/vectors/{KEY}"),
        bad,
    )
    .await;
    assert_eq!(r.status, 422, "{r:?}");
}

#[tokio::test]
async fn every_operation_is_a_span_with_backend_namespace_and_outcome() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let guard = tracing::subscriber::set_default(subscriber);
    traffic(&app()).await;
    drop(guard);
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let described: Vec<(String, Vec<(String, String)>)> = spans
        .iter()
        .map(|s| {
            let attrs = s
                .attributes
                .iter()
                .filter(|kv| ["backend", "namespace", "outcome"].contains(&kv.key.as_str()))
                .map(|kv| (kv.key.as_str().to_owned(), kv.value.as_str().into_owned()))
                .collect();
            (s.name.to_string(), attrs)
        })
        .collect();
    let expect = |name: &str, outcome: &str| {
        let want = vec![
            ("backend".to_owned(), "memory".to_owned()),
            ("namespace".to_owned(), "docs".to_owned()),
            ("outcome".to_owned(), outcome.to_owned()),
        ];
        assert!(
            described.iter().any(|(n, a)| {
                let mut a = a.clone();
                a.sort();
                n == name && a == want
            }),
            "no {name} span with {want:?} in {described:#?}"
        );
    };
    expect("create_namespace", "ok");
    expect("upsert", "ok");
    expect("get", "ok");
    expect("query", "ok");
    expect("upsert", "dimension_mismatch");
    // Nothing of the request's content: no key, no vector component, no metadata.
    for s in &spans {
        for kv in &s.attributes {
            let v = kv.value.as_str();
            assert!(
                !v.contains(KEY) && !v.contains("0.1234") && !v.contains("private"),
                "span {} has {}={v}",
                s.name,
                kv.key
            );
        }
        assert!(!s.name.contains(KEY));
    }
}

/// A minimal OTLP/HTTP collector: answers every request with 200 and hands over its request
/// line, headers and body.
fn collector() -> (u16, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let mut stream = reader.into_inner();
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            let _ = tx.send((head, body));
        }
    });
    (port, rx)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn spans_are_exported_with_otlp_over_http_when_an_endpoint_is_set() {
    let (port, received) = collector();
    let (layer, guard) = vector_server::telemetry::otlp_layer::<tracing_subscriber::Registry>(
        &format!("http://127.0.0.1:{port}"),
    )
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(traffic(&app()));
    });
    guard.shutdown();
    let (head, body) = received
        .recv_timeout(Duration::from_secs(20))
        .expect("the collector received no export");
    assert!(head.starts_with("POST /v1/traces "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-protobuf"),
        "{head}"
    );
    for word in [
        "create_namespace",
        "upsert",
        "query",
        "docs",
        "memory",
        "outcome",
        "dimension_mismatch",
        "vtier",
    ] {
        assert!(
            contains(&body, word.as_bytes()),
            "no {word:?} in the exported spans"
        );
    }
    assert!(!contains(&body, KEY.as_bytes()), "the key was exported");
    assert!(!contains(&body, b"private"), "metadata was exported");
}

#[test]
fn no_endpoint_means_no_export() {
    let args = vector_server::ServeArgs::default();
    assert!(args.otlp_endpoint.is_none(), "off by default");
}
