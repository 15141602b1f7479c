//! [`AppState`]: the instrumented backend, its metrics registry, and the security settings the
//! router enforces; built from [`AppConfig`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use vector_metrics::{MetricsBackend, PrometheusMetrics};
use vector_tier::{DynBackend, VectorBackend as _};

use crate::auth::{ApiToken, Auth};
use crate::limits::Limits;
use crate::model::{Ready, ReadyStatus};
use crate::ratelimit::{RateLimit, RateLimiter};

/// How long a readiness answer is reused: probes from several kubelets, load balancers and
/// monitors cost the backend at most one health check per second.
pub(crate) const READY_CACHE: Duration = Duration::from_secs(1);

/// How long readiness waits for the backend's health check. Backends bound their own checks
/// by their timeouts; this keeps a probe from hanging on one that does not.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The budget of every request.
    pub limits: Limits,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            rate_limit: None,
            request_timeout: Duration::from_secs(30),
            max_body_bytes: crate::limits::DEFAULT_MAX_BODY_BYTES,
            metrics_max_namespaces: vector_metrics::DEFAULT_MAX_NAMESPACE_LABELS,
            limits: Limits::default(),
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

    /// Sets the request budgets.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
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
    /// Held while a gauge refresh runs, so refreshes never overlap.
    pub(crate) refreshing: tokio::sync::Mutex<()>,
    /// The last readiness answer and when it was computed; locked while a check runs, so
    /// concurrent probes share one check.
    pub(crate) ready: tokio::sync::Mutex<Option<(Instant, bool)>>,
    /// One permit per `/v1` request being handled.
    pub(crate) requests: Arc<Semaphore>,
    /// One permit per request-body byte being handled.
    pub(crate) body_bytes: Arc<Semaphore>,
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
                requests: Arc::new(Semaphore::new(
                    config
                        .limits
                        .max_concurrent_requests
                        .clamp(1, Semaphore::MAX_PERMITS),
                )),
                body_bytes: Arc::new(Semaphore::new(
                    config
                        .limits
                        .max_inflight_body_bytes
                        .clamp(1, Semaphore::MAX_PERMITS),
                )),
                config,
                refreshing: tokio::sync::Mutex::new(()),
                ready: tokio::sync::Mutex::new(None),
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

    /// Updates the namespace gauges from the backend: one `list_namespaces`, then each
    /// namespace's count where the backend can give it cheaply (see
    /// [`MetricsBackend::refresh_gauges`]). Refreshes never overlap.
    ///
    /// # Errors
    /// The backend's error.
    pub async fn refresh_gauges(&self) -> vector_tier::Result<()> {
        let _running = self.inner.refreshing.lock().await;
        let max = self.inner.config.metrics_max_namespaces;
        self.inner.backend.refresh_gauges(max).await
    }

    /// The readiness answer: the backend's health check, at most one per [`READY_CACHE`]
    /// whatever the number of probes.
    pub(crate) async fn readiness(&self) -> (bool, Ready) {
        let mut cached = self.inner.ready.lock().await;
        let healthy = match *cached {
            Some((at, healthy)) if at.elapsed() < READY_CACHE => healthy,
            _ => {
                let healthy = tokio::time::timeout(READY_TIMEOUT, self.backend().health_check())
                    .await
                    .unwrap_or(false);
                *cached = Some((Instant::now(), healthy));
                healthy
            }
        };
        let status = if healthy {
            ReadyStatus::Ready
        } else {
            ReadyStatus::Unavailable
        };
        let body = Ready {
            status,
            backend: self.backend().backend_type().to_owned(),
        };
        (healthy, body)
    }
}
