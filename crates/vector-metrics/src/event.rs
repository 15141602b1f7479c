//! What the wrapper reports: [`MetricsEvent`], and [`MetricsCallback`], the Rust form of the
//! design document's `metrics_callback` config entry.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use vector_backend::ErrorKind;

/// The values of the `operation` label, one per trait operation.
///
/// `search` and the design document's `query` are both reported as [`operation::QUERY`]; a
/// batch of exactly one record or key is reported as the single-record operation (`upsert`,
/// `get`, `delete`), which is what the single-record conveniences send, so the design
/// document's four operations appear as they are named there.
pub mod operation {
    /// `health_check`.
    pub const HEALTH_CHECK: &str = "health_check";
    /// `create_namespace`.
    pub const CREATE_NAMESPACE: &str = "create_namespace";
    /// `namespace_info`.
    pub const NAMESPACE_INFO: &str = "namespace_info";
    /// `drop_namespace`.
    pub const DROP_NAMESPACE: &str = "drop_namespace";
    /// `list_namespaces`.
    pub const LIST_NAMESPACES: &str = "list_namespaces";
    /// `clear_namespace`.
    pub const CLEAR_NAMESPACE: &str = "clear_namespace";
    /// `upsert` (one record).
    pub const UPSERT: &str = "upsert";
    /// `upsert_batch`.
    pub const UPSERT_BATCH: &str = "upsert_batch";
    /// `get` (one key).
    pub const GET: &str = "get";
    /// `get_batch`.
    pub const GET_BATCH: &str = "get_batch";
    /// `delete` (one key).
    pub const DELETE: &str = "delete";
    /// `delete_batch`.
    pub const DELETE_BATCH: &str = "delete_batch";
    /// `search` and `query`.
    pub const QUERY: &str = "query";
    /// `search_batch`: several queries in one call.
    pub const QUERY_BATCH: &str = "query_batch";
    /// `count`.
    pub const COUNT: &str = "count";
    /// `scan_page`.
    pub const SCAN: &str = "scan";
    /// `delete_by_filter`.
    pub const DELETE_BY_FILTER: &str = "delete_by_filter";
}

/// One observation, passed to a [`MetricsCallback`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum MetricsEvent<'a> {
    /// A trait operation finished.
    Operation {
        /// One of the [`operation`] names.
        operation: &'static str,
        /// The namespace it addressed; empty for operations without one.
        namespace: &'a str,
        /// How long it took.
        duration: Duration,
        /// The error kind when it failed (a `false` health check counts as `unavailable`).
        error: Option<ErrorKind>,
    },
    /// The number of vectors in a namespace is known (from `count` without a filter,
    /// `namespace_info`, `clear_namespace`, `drop_namespace`, or a gauge refresh).
    NamespaceCount {
        /// The namespace.
        namespace: &'a str,
        /// Vectors it holds.
        count: u64,
    },
    /// The namespace is known to exist (it was created, written to, described or listed):
    /// only such namespaces take one of the bounded `namespace` label values, so calls on
    /// made-up names cannot use them up.
    NamespaceExists {
        /// The namespace.
        namespace: &'a str,
    },
    /// The number of namespaces is known (from `list_namespaces` or a gauge refresh).
    NamespacesTotal {
        /// How many namespaces the backend has.
        count: u64,
    },
    /// A backend was opened (wrapped).
    ConnectionOpened,
    /// A backend was closed (or its wrapper dropped without `close`).
    ConnectionClosed,
}

/// The design document's `metrics_callback`: called by [`crate::MetricsBackend`] for every
/// operation and gauge update. Build one with [`crate::create_prometheus_metrics_callback`], or
/// from any closure to feed another metrics system.
#[derive(Clone)]
pub struct MetricsCallback(Arc<dyn Fn(&MetricsEvent<'_>) + Send + Sync>);

impl MetricsCallback {
    /// Wraps a closure.
    pub fn new(f: impl Fn(&MetricsEvent<'_>) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Reports one event.
    pub fn call(&self, event: &MetricsEvent<'_>) {
        (self.0)(event);
    }
}

impl fmt::Debug for MetricsCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsCallback(..)")
    }
}
