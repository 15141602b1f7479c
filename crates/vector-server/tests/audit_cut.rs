//! The finding: a write cut by the request timeout or by a client that went away was applied
//! but never audited (the handler, which wrote the audit event after the backend call, was
//! dropped in between). Writes now finish in their own task, which writes the event. A test
//! binary of its own, because it installs a tracing subscriber (see `audit.rs`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use common::probe::{Calls, Probe};
use serde_json::Value;
use tower::ServiceExt as _;
use vector_server::{AppConfig, AppState, parse_tokens, router};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn audit_events(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["fields"]["message"] == "audit")
            .map(|e| e["fields"].clone())
            .collect()
    }
}

fn put(key: &str) -> Request<Body> {
    Request::put(format!("/v1/namespaces/cut/vectors/{key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer secret-token-1")
        .body(Body::from(r#"{"embedding":[1.0,0.5]}"#))
        .unwrap()
}

#[tokio::test]
async fn cut_writes_are_applied_and_audited() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("vtier::audit=info"))
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (mut backend, calls) = Probe::new();
    backend.write_delay = Duration::from_millis(300);
    let backend = Arc::new(backend);
    let config = AppConfig::default()
        .with_tokens(parse_tokens("ingest:secret-token-1").unwrap())
        .with_request_timeout(Duration::from_millis(100));
    let state = AppState::new(backend.clone(), config);
    let app = router(state);

    // Cut by the request timeout: the client gets 503 `timeout`...
    let response = app.clone().oneshot(put("by-timeout")).await.unwrap();
    assert_eq!(response.status(), 503);
    // ... cut by the client: the request future is dropped (hyper does this when the
    // connection closes).
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        app.clone().oneshot(put("by-client")),
    )
    .await;
    assert!(dropped.is_err(), "the request should still be running");

    // Both writes finish and are audited.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while Calls::get(&calls.writes_done) < 2 || captured.audit_events().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "writes: {}, events: {:?}",
            Calls::get(&calls.writes_done),
            captured.audit_events()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = captured.audit_events();
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        assert_eq!(
            (
                e["who"].as_str(),
                e["operation"].as_str(),
                e["outcome"].as_str()
            ),
            (Some("ingest"), Some("upsert"), Some("ok")),
            "{e}"
        );
    }
    // And they were applied.
    use vector_tier::VectorBackendExt as _;
    for key in ["by-timeout", "by-client"] {
        assert!(backend.get("cut", key).await.unwrap().is_some(), "{key}");
    }
}
