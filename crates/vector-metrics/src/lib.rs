#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod event;
mod labels;
mod prometheus;

pub use backend::{MetricsBackend, counts_cheaply, instrument};
pub use event::{MetricsCallback, MetricsEvent, operation};
pub use labels::{DEFAULT_MAX_NAMESPACE_LABELS, INVALID_NAMESPACE_LABEL, OTHER_NAMESPACE_LABEL};
pub use prometheus::{
    DURATION_BUCKETS, METRIC_NAMES, PrometheusMetrics, create_prometheus_metrics_callback,
};
