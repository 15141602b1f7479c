//! The audit log: every write is logged (who, what, when, outcome) and nothing secret is. A
//! test binary of its own, because it installs a tracing subscriber: sharing a process with
//! other tests that log made the capture miss events (tracing's callsite interest is global).

mod common;

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use axum::Router;
use common::send;
use serde_json::Value;
use vector_server::{AppConfig, AppState, parse_tokens, router};
use vector_tier::{
    DynBackend,
    memory::{MemoryBackend, MemoryConfig},
};

fn memory() -> DynBackend {
    Arc::new(MemoryBackend::new(MemoryConfig::default()))
}

fn app(config: AppConfig) -> Router {
    router(AppState::new(memory(), config))
}

/// Log lines written by the subscriber, for inspection.
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

#[tokio::test]
async fn every_write_is_audited_without_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("vtier::audit=info"))
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let tokens = parse_tokens("alice:super-secret-token-1").unwrap();
    let app = app(AppConfig::default().with_tokens(tokens));
    let t = Some("super-secret-token-1");
    let put = |key: &'static str| {
        let app = app.clone();
        async move {
            send(
                &app,
                "PUT",
                &format!("/v1/namespaces/audited/vectors/{key}"),
                Some(r#"{"embedding":[0.123456,0.654321],"metadata":{"ssn":"999-11-2222"}}"#),
                t,
            )
            .await
        }
    };
    assert_eq!(put("k1").await.status, 200);
    assert_eq!(
        send(
            &app,
            "POST",
            "/v1/namespaces/audited/vectors:upsert",
            Some(r#"{"records":[{"key":"k2","embedding":[1,2]},{"key":"k3","embedding":[2,1]}]}"#),
            t
        )
        .await
        .status,
        200
    );
    assert_eq!(
        send(
            &app,
            "POST",
            "/v1/namespaces/audited/query",
            Some(r#"{"embedding":[1,2]}"#),
            t
        )
        .await
        .status,
        200
    );
    assert_eq!(
        send(
            &app,
            "PUT",
            "/v1/namespaces/audited/vectors/k4",
            Some(r#"{"embedding":[1,2,3]}"#),
            t
        )
        .await
        .status,
        422
    );
    assert_eq!(
        send(&app, "DELETE", "/v1/namespaces/audited/vectors/k1", None, t)
            .await
            .status,
        200
    );
    assert_eq!(
        send(
            &app,
            "DELETE",
            "/v1/namespaces/audited",
            None,
            Some("wrong")
        )
        .await
        .status,
        401
    );
    assert_eq!(
        send(&app, "DELETE", "/v1/namespaces/audited", None, t)
            .await
            .status,
        200
    );

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let writes: Vec<(String, String, u64, String)> = events
        .iter()
        .filter(|e| e["fields"]["message"] == "audit")
        .map(|e| {
            let f = &e["fields"];
            assert_eq!(f["who"], "alice", "{e}");
            assert!(f["at_ms"].as_u64().unwrap() > 1_700_000_000_000, "{e}");
            assert!(e["timestamp"].is_string(), "{e}");
            (
                f["operation"].as_str().unwrap().to_owned(),
                f["namespace"].as_str().unwrap().to_owned(),
                f["keys"].as_u64().unwrap(),
                f["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let w = |op: &str, keys: u64, outcome: &str| {
        (
            op.to_owned(),
            "audited".to_owned(),
            keys,
            outcome.to_owned(),
        )
    };
    assert_eq!(
        writes,
        [
            w("upsert", 1, "ok"),
            w("upsert_batch", 2, "ok"),
            w("upsert", 1, "dimension_mismatch"),
            w("delete", 1, "ok"),
            w("drop_namespace", 0, "ok")
        ],
        "reads are not audited; every write is: {text}"
    );
    assert!(
        text.contains("rejected request without a valid token"),
        "{text}"
    );
    for secret in [
        "super-secret-token-1",
        "0.123456",
        "999-11-2222",
        "k1",
        "k2",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the log: {text}"
        );
    }
    let _ = std::io::stderr().flush();
}
