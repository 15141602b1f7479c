//! The facade opens backends by URL and by kind, refuses unknown or disabled schemes with a
//! clear error, and closes scoped backends.

use vector_tier::VectorBackendExt as _;
use vector_tier::{
    BackendConfig, BackendKind, ErrorKind, Metadata, VectorBackend, open, with_vector_backend,
};

#[tokio::test]
async fn memory_url_opens_a_working_backend() {
    let b = open("memory://?max_vectors=2").await.unwrap();
    assert_eq!(b.backend_type(), "memory");
    b.upsert("ns", "a", vec![1.0, 0.0], Metadata::new())
        .await
        .unwrap();
    b.upsert("ns", "b", vec![0.0, 1.0], Metadata::new())
        .await
        .unwrap();
    let err = b
        .upsert("ns", "c", vec![1.0, 1.0], Metadata::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CapacityExceeded, "{err}");
    assert_eq!(
        b.count("ns", None).await.unwrap(),
        2,
        "a refused write changes nothing"
    );
}

#[tokio::test]
async fn unknown_and_disabled_schemes_are_clear_errors() {
    let e = open("ftp://user:secret@host/").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(!e.to_string().contains("secret"), "{e}");
    for url in [
        "redis://:pw@localhost:1",
        "postgres://u:pw@localhost:1/db",
        "weaviate+http://localhost:1",
    ] {
        match open(url).await {
            Err(e) => assert!(!e.to_string().contains(":pw@"), "{e}"),
            Ok(b) => b.close().await,
        }
    }
}

#[tokio::test]
async fn scope_runs_and_returns_the_closure_result() {
    let config = BackendConfig::default();
    let n = with_vector_backend(BackendKind::Memory, &config, |b| async move {
        b.upsert("docs", "doc1", vec![0.1, 0.2, 0.3], Metadata::new())
            .await?;
        let hits = b.query("docs", &[0.1, 0.2, 0.35], 5, None).await?;
        Ok(hits.len())
    })
    .await
    .unwrap();
    assert_eq!(n, 1);
    let err = with_vector_backend(BackendKind::Memory, &config, |_| async move {
        Err::<(), _>(vector_tier::Error::invalid_argument("boom"))
    })
    .await
    .unwrap_err();
    assert_eq!(err.message(), "boom");
}

#[tokio::test]
async fn metrics_callback_in_config_sees_every_operation() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use vector_tier::metrics::{MetricsCallback, MetricsEvent};

    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let callback = MetricsCallback::new(move |event| {
        if matches!(event, MetricsEvent::Operation { .. }) {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let config = BackendConfig::default().with_metrics_callback(callback);
    with_vector_backend(BackendKind::Memory, &config, |b| async move {
        b.upsert("m", "a", vec![1.0, 0.0], Metadata::new()).await?;
        b.query("m", &[1.0, 0.0], 1, None).await?;
        let _ = b.get("m", "a").await?;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "one operation event per call"
    );
    let text = {
        let cb = vector_tier::create_prometheus_metrics_callback("memory");
        let config = BackendConfig::default().with_metrics_callback(cb);
        let b = vector_tier::VectorBackendFactory::create(BackendKind::Memory, &config)
            .await
            .unwrap();
        b.upsert("facade_metrics", "a", vec![1.0], Metadata::new())
            .await
            .unwrap();
        vector_tier::metrics::PrometheusMetrics::global().render()
    };
    assert!(text.contains("vector_query_total"), "{text}");
    assert!(text.contains("namespace=\"facade_metrics\""), "{text}");
}
