//! [`PrometheusMetrics`]: the design document's metrics as OpenTelemetry instruments, read by
//! the `opentelemetry-prometheus` exporter into a `prometheus` registry and rendered in the
//! Prometheus text format; and [`create_prometheus_metrics_callback`].

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, MeterProvider as _, UpDownCounter};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder as _, TextEncoder};

use crate::event::{MetricsCallback, MetricsEvent};
use crate::labels::{DEFAULT_MAX_NAMESPACE_LABELS, NamespaceLabels};

/// Histogram bucket boundaries of `vector_query_duration_seconds`, in seconds: from a tenth
/// of a millisecond (an in-memory lookup; a Redis call on the same host takes 0.1 to 0.5 ms,
/// as measured by `cargo xtask ops`) to ten seconds (a timed-out remote call).
pub const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Every metric name, with its type and help text, exactly as the design document names them.
pub const METRIC_NAMES: [(&str, &str, &str); 6] = [
    (
        QUERY_DURATION,
        "histogram",
        "Query duration by operation and namespace",
    ),
    (
        QUERY_TOTAL,
        "counter",
        "Total number of queries by operation and namespace",
    ),
    (QUERY_ERRORS, "counter", "Total number of query errors"),
    (CONNECTIONS_ACTIVE, "gauge", "Active connections to backend"),
    (NAMESPACES_TOTAL, "gauge", "Total number of namespaces"),
    (
        COUNT_PER_NAMESPACE,
        "gauge",
        "Number of vectors per namespace",
    ),
];

const QUERY_DURATION: &str = "vector_query_duration_seconds";
const QUERY_TOTAL: &str = "vector_query_total";
const QUERY_ERRORS: &str = "vector_query_errors_total";
const CONNECTIONS_ACTIVE: &str = "vector_backend_connections_active";
const NAMESPACES_TOTAL: &str = "vector_namespaces_total";
const COUNT_PER_NAMESPACE: &str = "vector_count_per_namespace";

/// A metrics registry holding the design document's six metrics.
///
/// Cheap to clone (shared). Each instance has its own registry, so tests do not interfere;
/// [`PrometheusMetrics::global`] is the process-wide one that
/// [`create_prometheus_metrics_callback`] records into.
#[derive(Clone)]
pub struct PrometheusMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: prometheus::Registry,
    // Kept so the reader stays registered for as long as the registry is scraped.
    _provider: SdkMeterProvider,
    duration: Histogram<f64>,
    total: Counter<u64>,
    errors: Counter<u64>,
    connections: UpDownCounter<i64>,
    namespaces: Gauge<u64>,
    per_namespace: Gauge<u64>,
    labels: NamespaceLabels,
}

impl fmt::Debug for PrometheusMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusMetrics")
            .field("labels", &self.inner.labels)
            .finish_non_exhaustive()
    }
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusMetrics {
    /// A registry that gives at most [`DEFAULT_MAX_NAMESPACE_LABELS`] namespaces their own label.
    pub fn new() -> Self {
        Self::with_max_namespace_labels(DEFAULT_MAX_NAMESPACE_LABELS)
    }

    /// A registry that gives at most `max` namespaces their own `namespace` label value; the
    /// rest are reported as `__other__` (and get no `vector_count_per_namespace` series).
    pub fn with_max_namespace_labels(max: usize) -> Self {
        let registry = prometheus::Registry::new();
        // Names are written in full below, so the exporter must not append `_seconds` or
        // `_total` again; scope labels and `target_info` would only add noise to every series.
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_units()
            .without_counter_suffixes()
            .without_target_info()
            .scope_info_enabled(false)
            .build();
        let provider = match exporter {
            Ok(exporter) => SdkMeterProvider::builder().with_reader(exporter).build(),
            // Registration only fails when the registry already holds the collector, which a
            // fresh registry cannot; degrade to a provider nothing reads rather than panic.
            Err(_) => SdkMeterProvider::builder().build(),
        };
        let meter = provider.meter("vector-tier");
        let duration = meter
            .f64_histogram(QUERY_DURATION)
            .with_description(METRIC_NAMES[0].2)
            .with_unit("s")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let total = meter
            .u64_counter(QUERY_TOTAL)
            .with_description(METRIC_NAMES[1].2)
            .build();
        let errors = meter
            .u64_counter(QUERY_ERRORS)
            .with_description(METRIC_NAMES[2].2)
            .build();
        let connections = meter
            .i64_up_down_counter(CONNECTIONS_ACTIVE)
            .with_description(METRIC_NAMES[3].2)
            .build();
        let namespaces = meter
            .u64_gauge(NAMESPACES_TOTAL)
            .with_description(METRIC_NAMES[4].2)
            .build();
        let per_namespace = meter
            .u64_gauge(COUNT_PER_NAMESPACE)
            .with_description(METRIC_NAMES[5].2)
            .build();
        Self {
            inner: Arc::new(Inner {
                registry,
                _provider: provider,
                duration,
                total,
                errors,
                connections,
                namespaces,
                per_namespace,
                labels: NamespaceLabels::new(max),
            }),
        }
    }

    /// The process-wide registry.
    pub fn global() -> &'static PrometheusMetrics {
        static GLOBAL: OnceLock<PrometheusMetrics> = OnceLock::new();
        GLOBAL.get_or_init(PrometheusMetrics::new)
    }

    /// A callback recording into this registry with the label `backend_type`.
    pub fn callback(&self, backend_type: &str) -> MetricsCallback {
        let this = self.clone();
        let backend_type: Arc<str> = backend_type.into();
        MetricsCallback::new(move |event| this.record(&backend_type, event))
    }

    /// Records one event under `backend_type`.
    pub fn record(&self, backend_type: &str, event: &MetricsEvent<'_>) {
        let inner = &*self.inner;
        let backend = KeyValue::new("backend_type", backend_type.to_owned());
        match *event {
            MetricsEvent::Operation {
                operation,
                namespace,
                duration,
                error,
            } => {
                // Only `NamespaceExists` admits a name: a successful read of a made-up
                // namespace proves nothing.
                let namespace = inner.labels.label(namespace, false).into_owned();
                let mut labels = vec![
                    KeyValue::new("operation", operation),
                    KeyValue::new("namespace", namespace),
                    backend,
                ];
                inner.duration.record(duration.as_secs_f64(), &labels);
                inner.total.add(1, &labels);
                if let Some(kind) = error {
                    labels.push(KeyValue::new("error_kind", kind.as_str()));
                    inner.errors.add(1, &labels);
                }
            }
            MetricsEvent::NamespaceCount { namespace, count } => {
                if inner.labels.has_own(namespace, false) {
                    let labels = [KeyValue::new("namespace", namespace.to_owned()), backend];
                    inner.per_namespace.record(count, &labels);
                }
            }
            MetricsEvent::NamespaceExists { namespace } => {
                let _ = inner.labels.label(namespace, true);
            }
            MetricsEvent::NamespacesTotal { count } => inner.namespaces.record(count, &[backend]),
            MetricsEvent::ConnectionOpened => inner.connections.add(1, &[backend]),
            MetricsEvent::ConnectionClosed => inner.connections.add(-1, &[backend]),
            // `MetricsEvent` is non-exhaustive only for other crates.
        }
    }

    /// The registry in the Prometheus text format (`text/plain; version=0.0.4`).
    ///
    /// Metrics nothing was recorded for yet (say, no error so far) still appear with their
    /// `# HELP` and `# TYPE` lines, so a scrape always names all six.
    pub fn render(&self) -> String {
        let families = self.inner.registry.gather();
        let mut buf = Vec::new();
        // Encoding into a Vec only fails on a malformed family, which the exporter never builds.
        let _ = TextEncoder::new().encode(&families, &mut buf);
        let mut text = String::from_utf8(buf).unwrap_or_default();
        for (name, kind, help) in METRIC_NAMES {
            if !families.iter().any(|f| f.name() == name) {
                text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            }
        }
        text
    }

    /// The `Content-Type` of [`PrometheusMetrics::render`].
    pub const CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";
}

/// The design document's `create_prometheus_metrics_callback(backend_type)`: a callback that
/// records into [`PrometheusMetrics::global`], labelled with `backend_type`.
pub fn create_prometheus_metrics_callback(backend_type: &str) -> MetricsCallback {
    PrometheusMetrics::global().callback(backend_type)
}
