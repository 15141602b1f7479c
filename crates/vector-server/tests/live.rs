//! The router suite of `tests/router.rs` against every live backend: Redis Stack
//! (`REDIS_URL`), PostgreSQL + pgvector (`PG_CONNECTION_STRING`) and Weaviate (`WEAVIATE_URL`,
//! else the in-process emulator). Without the variable a test prints "not run: X unset" and
//! passes, unless `VTIER_REQUIRE` names the backend or `all` (as `cargo xtask ci` does).

mod common;

use std::io::Write as _;

use common::{api_suite, get, unique_ns};
use serde_json::json;
use vector_server::{AppConfig, AppState, router};
use vector_tier::{BackendConfig, BackendKind, VectorBackendFactory};

fn required(kind: BackendKind) -> bool {
    vector_backend::conformance::required(kind.as_str())
}

/// Reports a test that cannot run; fails it when the backend is required.
fn not_run(kind: BackendKind, reason: &str) {
    assert!(!required(kind), "VTIER_REQUIRE names {kind} but {reason}");
    let _ = writeln!(std::io::stderr(), "not run: {reason}");
}

async fn run(kind: BackendKind, config: BackendConfig) {
    let backend = match VectorBackendFactory::create(kind, &config).await {
        Ok(b) => b,
        Err(e) => return not_run(kind, &format!("cannot open the {kind} backend: {e}")),
    };
    let app = router(AppState::new(backend, AppConfig::default()));
    let r = get(&app, "/ready").await;
    assert_eq!(
        (r.status.as_u16(), &r.json["backend"]),
        (200, &json!(kind.as_str())),
        "{r:?}"
    );
    let ns = unique_ns(kind.as_str());
    api_suite(&app, &ns).await;
    // The metrics carry the backend's type: the suite's 8 successful single upserts are the
    // upserts counted minus the rejected ones.
    let text = get(&app, "/metrics").await.text;
    let upserts_in_ns = |l: &&str| {
        l.contains(&format!(r#"backend_type="{kind}""#))
            && l.contains(&format!(r#"namespace="{ns}""#))
            && l.contains(r#"operation="upsert""#)
    };
    let sum = |prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter(upserts_in_ns)
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let (total, failed) = (
        sum("vector_query_total{"),
        sum("vector_query_errors_total{"),
    );
    assert!(
        failed >= 4.0,
        "the suite's rejected upserts are counted as errors: {text}"
    );
    assert_eq!(total - failed, 8.0, "{text}");
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    match env("REDIS_URL") {
        Some(url) => {
            run(
                BackendKind::Redis,
                BackendConfig::default().with_redis_url(url),
            )
            .await
        }
        None => not_run(BackendKind::Redis, "REDIS_URL unset"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgvector() {
    match env("PG_CONNECTION_STRING") {
        Some(url) => {
            run(
                BackendKind::Pgvector,
                BackendConfig::default().with_pg_connection_string(url),
            )
            .await
        }
        None => not_run(BackendKind::Pgvector, "PG_CONNECTION_STRING unset"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weaviate() {
    // Like the Weaviate conformance target: a real server when named, else the emulator.
    let (url, _emulator) = match env("WEAVIATE_URL") {
        Some(url) => (url, None),
        None => {
            let emulator = weaviate_emulator::Emulator::start()
                .await
                .expect("the Weaviate emulator starts");
            (emulator.url(), Some(emulator))
        }
    };
    run(
        BackendKind::Weaviate,
        BackendConfig::default().with_weaviate_url(url),
    )
    .await;
}
