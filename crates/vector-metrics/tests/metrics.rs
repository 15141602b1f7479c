//! The wrapper against the memory backend: exact counts in the rendered text, the names and
//! labels of the design document, the cardinality bound, gauges and the callback.

use std::sync::{Arc, Mutex};

use vector_backend::VectorBackendExt as _;
use vector_backend::{DynBackend, ErrorKind, Metadata, VectorBackend};
use vector_memory::{MemoryBackend, MemoryConfig};
use vector_metrics::{
    MetricsBackend, MetricsCallback, MetricsEvent, OTHER_NAMESPACE_LABEL, PrometheusMetrics,
    create_prometheus_metrics_callback, instrument,
};

fn memory() -> DynBackend {
    Arc::new(MemoryBackend::new(MemoryConfig::default()))
}

/// The value of the sample written exactly as `series` (name and labels), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn meta() -> Metadata {
    Metadata::new()
}

#[tokio::test]
async fn known_sequence_gives_exact_counts() {
    let metrics = PrometheusMetrics::new();
    let b = instrument(memory(), metrics.callback("memory"));
    // Through `&dyn`: the core's `impl VectorBackend for Arc<T>` does not forward the
    // single-record conveniences, so calling them on the `Arc` would bypass the wrapper's.
    let b = &*b;
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        b.upsert("docs", key, vec![1.0, i as f32 + 1.0, 0.5], meta())
            .await
            .unwrap();
    }
    b.query("docs", &[1.0, 0.0, 0.0], 2, None).await.unwrap();
    b.query("docs", &[0.0, 1.0, 0.0], 5, Some(0.1))
        .await
        .unwrap();
    let err = b.query("docs", &[1.0, 0.0], 2, None).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::DimensionMismatch {
            expected: 3,
            got: 2
        }
    );

    let text = metrics.render();
    let l = |op: &str| format!(r#"{{backend_type="memory",namespace="docs",operation="{op}"}}"#);
    assert_eq!(
        sample(&text, &format!("vector_query_total{}", l("upsert"))),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("vector_query_total{}", l("query"))),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"vector_query_errors_total{backend_type="memory",error_kind="dimension_mismatch",namespace="docs",operation="query"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("vector_query_duration_seconds_count{}", l("upsert"))
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("vector_query_duration_seconds_count{}", l("query"))
        ),
        Some(3.0)
    );
    // Explicit second-scale buckets, the last finite one at 10 s.
    let bucket = |le: &str| {
        sample(
            &text,
            &format!(
                r#"vector_query_duration_seconds_bucket{{backend_type="memory",namespace="docs",operation="upsert",le="{le}"}}"#
            ),
        )
    };
    assert_eq!(bucket("10"), Some(3.0));
    assert_eq!(bucket("+Inf"), Some(3.0));
    assert!(bucket("0.0005").is_some());
    assert!(
        bucket("10000").is_none(),
        "the exporter's millisecond defaults must not be used"
    );
    // Exactly one upsert series and no other operation was recorded.
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("vector_query_total{"))
            .count(),
        2,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"vector_backend_connections_active{backend_type="memory"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn rendered_names_are_exactly_the_designs() {
    let metrics = PrometheusMetrics::new();
    let b = instrument(memory(), metrics.callback("memory"));
    // Through `&dyn`: the core's `impl VectorBackend for Arc<T>` does not forward the
    // single-record conveniences, so calling them on the `Arc` would bypass the wrapper's.
    let b = &*b;
    b.upsert("ns1", "k", vec![1.0, 2.0], meta()).await.unwrap();
    b.count("ns1", None).await.unwrap();
    b.list_namespaces().await.unwrap();
    b.delete("ns1", "nope").await.unwrap();
    let _ = b.get("bad namespace!", "k").await.unwrap_err();
    let text = metrics.render();
    let mut names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or(""))
        .map(|n| {
            n.trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count")
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names,
        [
            "vector_backend_connections_active",
            "vector_count_per_namespace",
            "vector_namespaces_total",
            "vector_query_duration_seconds",
            "vector_query_errors_total",
            "vector_query_total",
        ],
        "{text}"
    );
    for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
        assert!(
            !line.contains("_seconds_seconds") && !line.contains("_total_total"),
            "{line}"
        );
    }
    assert!(
        !text.contains("otel_scope") && !text.contains("target_info"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"vector_count_per_namespace{backend_type="memory",namespace="ns1"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"vector_namespaces_total{backend_type="memory"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"vector_query_errors_total{backend_type="memory",error_kind="invalid_namespace",namespace="__invalid__",operation="get"}"#
        ),
        Some(1.0),
        "invalid names must not become label values: {text}"
    );
}

#[test]
fn every_name_appears_before_anything_is_recorded() {
    let text = PrometheusMetrics::new().render();
    for (name, kind, _) in vector_metrics::METRIC_NAMES {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} missing: {text}"
        );
    }
}

#[tokio::test]
async fn namespace_labels_are_bounded() {
    let metrics = PrometheusMetrics::with_max_namespace_labels(10);
    let b = instrument(memory(), metrics.callback("memory"));
    // Through `&dyn`: the core's `impl VectorBackend for Arc<T>` does not forward the
    // single-record conveniences, so calling them on the `Arc` would bypass the wrapper's.
    let b = &*b;
    for i in 0..300 {
        let ns = format!("ns{i:03}");
        b.upsert(&ns, "k", vec![1.0, 0.5], meta()).await.unwrap();
        b.count(&ns, None).await.unwrap();
    }
    let text = metrics.render();
    let mut values: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("vector_query_total{"))
        .filter_map(|l| l.split("namespace=\"").nth(1)?.split('"').next())
        .collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(
        values.len(),
        11,
        "10 own values plus {OTHER_NAMESPACE_LABEL}: {values:?}"
    );
    assert!(values.contains(&OTHER_NAMESPACE_LABEL));
    let other = format!(
        r#"vector_query_total{{backend_type="memory",namespace="{OTHER_NAMESPACE_LABEL}",operation="upsert"}}"#
    );
    assert_eq!(sample(&text, &other), Some(290.0));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("vector_count_per_namespace{"))
            .count(),
        10
    );
}

#[tokio::test]
async fn connections_and_gauge_refresh() {
    let metrics = PrometheusMetrics::new();
    let gauge = r#"vector_backend_connections_active{backend_type="memory"}"#;
    let a = MetricsBackend::new(memory(), metrics.callback("memory"));
    let b = MetricsBackend::new(memory(), metrics.callback("memory"));
    assert_eq!(sample(&metrics.render(), gauge), Some(2.0));
    b.close().await;
    b.close().await;
    assert_eq!(
        sample(&metrics.render(), gauge),
        Some(1.0),
        "closing twice counts once"
    );
    drop(b);
    assert_eq!(sample(&metrics.render(), gauge), Some(1.0));

    a.inner()
        .upsert_batch(
            "x",
            vec![vector_backend::Record::new("k1", vec![1.0], meta())],
        )
        .await
        .unwrap();
    a.inner()
        .upsert_batch(
            "y",
            vec![vector_backend::Record::new("k2", vec![1.0], meta())],
        )
        .await
        .unwrap();
    a.refresh_gauges(100).await.unwrap();
    let text = metrics.render();
    assert_eq!(
        sample(&text, r#"vector_namespaces_total{backend_type="memory"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"vector_count_per_namespace{backend_type="memory",namespace="y"}"#
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("vector_query_total{"),
        "a refresh is not an operation: {text}"
    );
    a.clear_namespace("y").await.unwrap();
    let text = metrics.render();
    assert_eq!(
        sample(
            &text,
            r#"vector_count_per_namespace{backend_type="memory",namespace="y"}"#
        ),
        Some(0.0)
    );
    drop(a);
    assert_eq!(
        sample(&metrics.render(), gauge),
        Some(0.0),
        "dropping unclosed counts as closed"
    );
}

#[tokio::test]
async fn callbacks_see_every_operation() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    let callback = MetricsCallback::new(move |e| {
        if let MetricsEvent::Operation {
            operation,
            namespace,
            error,
            ..
        } = e
        {
            sink.lock().unwrap().push(format!(
                "{operation}:{namespace}:{}",
                error.map_or("ok", |k| k.as_str())
            ));
        }
    });
    let b = instrument(memory(), callback);
    let b = &*b;
    b.upsert("n", "k", vec![1.0], meta()).await.unwrap();
    b.get("n", "k").await.unwrap();
    b.health_check().await;
    b.drop_namespace("n").await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "upsert:n:ok",
            "get:n:ok",
            "health_check::ok",
            "drop_namespace:n:ok"
        ]
    );

    // The design document's function records into the process-wide registry.
    let g = instrument(
        memory(),
        create_prometheus_metrics_callback("memory-global-test"),
    );
    // A namespace takes a label value of its own once it is known to exist.
    g.create_namespace("g", &vector_backend::NamespaceConfig::new(2))
        .await
        .unwrap();
    g.count("g", None).await.unwrap();
    let text = PrometheusMetrics::global().render();
    assert_eq!(
        sample(
            &text,
            r#"vector_query_total{backend_type="memory-global-test",namespace="g",operation="count"}"#
        ),
        Some(1.0),
        "{text}"
    );
}

/// The finding: successful reads of made-up namespaces took the bounded label values. Only
/// namespaces known to exist (created, written, described, listed) take one now.
#[tokio::test]
async fn only_existing_namespaces_take_label_values() {
    let metrics = PrometheusMetrics::with_max_namespace_labels(2);
    let b = instrument(memory(), metrics.callback("memory"));
    let b = &*b;
    for i in 0..10 {
        let ns = format!("ghost{i}");
        assert!(b.get(&ns, "k").await.unwrap().is_none());
        assert_eq!(b.count(&ns, None).await.unwrap(), 0);
        assert!(b.namespace_info(&ns).await.unwrap().is_none());
        b.clear_namespace(&ns).await.unwrap();
        b.upsert_batch(&ns, Vec::new()).await.unwrap();
    }
    b.upsert("real", "k", vec![1.0], meta()).await.unwrap();
    b.create_namespace("made", &vector_backend::NamespaceConfig::new(2))
        .await
        .unwrap();
    let text = metrics.render();
    assert!(!text.contains("ghost"), "{text}");
    for ns in ["real", "made"] {
        assert!(
            text.contains(&format!("namespace=\"{ns}\"")),
            "{ns}: {text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            r#"vector_query_total{backend_type="memory",namespace="__other__",operation="get"}"#
        ),
        Some(10.0)
    );
}
