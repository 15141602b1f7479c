//! [`AppState`]: the instrumented backend, its metrics registry, and the security settings the
//! router enforces; built from [`AppConfig`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vector_metrics::{MetricsBackend, PrometheusMetrics};
use vector_tier::{DynBackend, VectorBackend as _};

use crate::auth::{ApiToken, Auth};
use crate::ratelimit::{RateLimit, RateLimiter};

/// Settings of the router (the part of [`crate::ServeArgs`] that is not about sockets).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AppConfig {
    /// Accepted bearer tokens; empty means no authentication.
    pub tokens: Vec<ApiToken>,
    /// Per-caller rate limit; `None` means unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most namespaces with their own metric label.
    pub metrics_max_namespaces: usize,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            rate_limit: None,
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 16 * 1024 * 1024,
            metrics_max_namespaces: vector_metrics::DEFAULT_MAX_NAMESPACE_LABELS,
        }
    }
}

impl AppConfig {
    /// Sets the tokens.
    #[must_use]
    pub fn with_tokens(mut self, tokens: Vec<ApiToken>) -> Self {
        self.tokens = tokens;
        self
    }

    /// Sets the rate limit.
    #[must_use]
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Sets the request timeout.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the body limit.
    #[must_use]
    pub fn with_max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) backend: Arc<MetricsBackend<DynBackend>>,
    pub(crate) metrics: PrometheusMetrics,
    pub(crate) auth: Auth,
    pub(crate) limiter: Option<RateLimiter>,
    pub(crate) config: AppConfig,
    /// When the namespace gauges were last refreshed; locked while a refresh runs.
    pub(crate) refreshed: tokio::sync::Mutex<Option<Instant>>,
    /// Set by requests that may have changed namespaces or counts since the last refresh.
    pub(crate) gauges_dirty: AtomicBool,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.inner.backend.backend_type())
            .field("auth", &self.inner.auth.enabled())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Wraps `backend` in the metrics wrapper, recording into a new registry.
    pub fn new(backend: DynBackend, config: AppConfig) -> Self {
        let metrics = PrometheusMetrics::with_max_namespace_labels(config.metrics_max_namespaces);
        Self::with_metrics(backend, config, metrics)
    }

    /// Like [`AppState::new`] with a given registry.
    pub fn with_metrics(
        backend: DynBackend,
        config: AppConfig,
        metrics: PrometheusMetrics,
    ) -> Self {
        let callback = metrics.callback(backend.backend_type());
        let backend = Arc::new(MetricsBackend::new(backend, callback));
        let limiter = config
            .rate_limit
            .filter(|l| l.per_second > 0.0)
            .map(RateLimiter::new);
        Self {
            inner: Arc::new(Inner {
                backend,
                metrics,
                auth: Auth::new(config.tokens.clone()),
                limiter,
                config,
                refreshed: tokio::sync::Mutex::new(None),
                gauges_dirty: AtomicBool::new(true),
            }),
        }
    }

    /// The instrumented backend.
    ///
    /// A plain reference on purpose: calling `upsert`/`get`/`query`/`delete` through an `Arc`
    /// would use the core's blanket `impl VectorBackend for Arc<T>`, which does not forward
    /// those provided methods (they would be recorded as `upsert_batch` and so on).
    pub fn backend(&self) -> &MetricsBackend<DynBackend> {
        &self.inner.backend
    }

    /// The instrumented backend as a shared handle (for closing it after serving).
    pub fn backend_handle(&self) -> Arc<MetricsBackend<DynBackend>> {
        self.inner.backend.clone()
    }

    /// The metrics registry `/metrics` renders.
    pub fn metrics(&self) -> &PrometheusMetrics {
        &self.inner.metrics
    }

    /// Updates the namespace gauges from the backend.
    ///
    /// # Errors
    /// The backend's error.
    pub async fn refresh_gauges(&self) -> vector_tier::Result<()> {
        let mut last = self.inner.refreshed.lock().await;
        let max = self.inner.config.metrics_max_namespaces;
        let result = self.inner.backend.refresh_gauges(max).await;
        *last = Some(Instant::now());
        result
    }

    /// Notes that a request may have changed namespaces or counts.
    pub(crate) fn mark_gauges_dirty(&self) {
        self.inner.gauges_dirty.store(true, Ordering::Release);
    }

    /// Refreshes the namespace gauges when a write happened since the last refresh or that
    /// refresh is older than `max_age`, unless one is running; waits at most `timeout`.
    /// Failures are logged, not returned (a scrape still gets the counters when the backend is
    /// down).
    pub(crate) async fn refresh_gauges_if_stale(&self, max_age: Duration, timeout: Duration) {
        let Ok(mut last) = self.inner.refreshed.try_lock() else {
            return;
        };
        let dirty = self.inner.gauges_dirty.swap(false, Ordering::AcqRel);
        if !dirty && last.is_some_and(|t| t.elapsed() < max_age) {
            return;
        }
        let refresh = self
            .inner
            .backend
            .refresh_gauges(self.inner.config.metrics_max_namespaces);
        match tokio::time::timeout(timeout, refresh).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "metrics gauge refresh failed"),
            Err(_) => tracing::warn!("metrics gauge refresh timed out"),
        }
        *last = Some(Instant::now());
    }
}
