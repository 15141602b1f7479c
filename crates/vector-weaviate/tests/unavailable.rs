//! An unreachable or silent server: `Unavailable` with the design's wording and the cause, or
//! `Timeout`, within the configured timeouts; `health_check` false, never a hang; the API key
//! never in an error or in `Debug` output. Needs no Weaviate.

use std::time::{Duration, Instant};

use vector_backend::{ErrorKind, Metadata, OpenBackend, VectorBackend};
use vector_weaviate::{WeaviateBackend, WeaviateConfig};

const SECRET: &str = "sekret-api-key-4711";

/// A port on which nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

#[tokio::test]
async fn closed_port_is_unavailable_quickly_with_the_design_wording() {
    let url = format!(
        "weaviate+http://127.0.0.1:{}?api_key={SECRET}&timeout_ms=3000&connect_timeout_ms=1000",
        closed_port()
    );
    let started = Instant::now();
    let e = WeaviateBackend::open(&url)
        .await
        .expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable());
    let text = e.to_string();
    assert!(
        text.starts_with("Weaviate client not available: "),
        "{text}"
    );
    assert!(
        text.len() > "Weaviate client not available: ".len() + 3,
        "the cause follows: {text}"
    );
    assert!(
        !text.contains(SECRET) && !format!("{e:?}").contains(SECRET),
        "{e:?}"
    );
}

#[tokio::test]
async fn every_operation_on_a_lazy_backend_is_unavailable() {
    let config = WeaviateConfig::from_url(&format!(
        "http://127.0.0.1:{}?timeout_ms=2000",
        closed_port()
    ))
    .expect("config")
    .with_api_key(SECRET);
    let b = WeaviateBackend::new(config).expect("no I/O yet");
    assert!(!format!("{b:?}").contains(SECRET), "{b:?}");
    let started = Instant::now();
    assert!(!b.health_check().await);
    let results = [
        b.upsert("ns", "k", vec![1.0, 2.0], Metadata::new())
            .await
            .err(),
        b.query("ns", &[1.0, 2.0], 3, None).await.err(),
        b.get("ns", "k").await.err(),
        b.count("ns", None).await.err(),
        b.list_namespaces().await.err(),
        b.namespace_info("ns").await.err(),
    ];
    for e in results {
        let e = e.expect("an error");
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(
            e.to_string().starts_with("Weaviate client not available: "),
            "{e}"
        );
        assert!(!e.to_string().contains(SECRET));
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_timeout() {
    // Accepts connections (the kernel completes the handshake) but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let config = WeaviateConfig::from_url(&format!(
        "http://127.0.0.1:{port}?timeout_ms=400&connect_timeout_ms=400"
    ))
    .expect("config");
    let b = WeaviateBackend::new(config).expect("client");
    let started = Instant::now();
    assert!(!b.health_check().await, "a silent server is not healthy");
    let e = b.count("ns", None).await.expect_err("no answer");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let e = WeaviateBackend::open(&format!("weaviate+http://127.0.0.1:{port}?timeout_ms=400"))
        .await
        .expect_err("no answer");
    assert!(
        matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Unavailable),
        "{e}"
    );
    drop(listener);
}

#[tokio::test]
async fn bad_input_fails_before_any_io() {
    // Validation comes first: a dead server does not turn bad input into Unavailable.
    let b = WeaviateBackend::new(WeaviateConfig::new(format!(
        "http://127.0.0.1:{}",
        closed_port()
    )))
    .expect("client");
    let e = b
        .upsert("bad ns", "k", vec![1.0], Metadata::new())
        .await
        .expect_err("invalid");
    assert_eq!(e.kind(), ErrorKind::InvalidNamespace);
    let e = b.get("ns", "").await.expect_err("invalid");
    assert_eq!(e.kind(), ErrorKind::InvalidKey);
    let e = b.query("ns", &[1.0], 0, None).await.expect_err("invalid");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}
