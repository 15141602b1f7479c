//! Opening backends: by URL ([`open`]), by kind and config as the design document's
//! `VectorBackendFactory.create` does, and as a scope that always closes the connections
//! ([`with_vector_backend`], the design document's `async with get_vector_backend(...)`).

use std::future::Future;

use vector_backend::{DynBackend, Error, Result, redact_url};

use crate::config::{BackendConfig, BackendKind};

/// Opens a backend from a URL; the scheme selects it: `memory://`, `redis://`, `rediss://`,
/// `postgres://`, `postgresql://`, `weaviate+http://`, `weaviate+https://`.
///
/// # Errors
/// `InvalidArgument` when no enabled backend takes the scheme (the message names the cargo
/// feature to enable), or the backend's own error while connecting.
pub async fn open(url: &str) -> Result<DynBackend> {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    if let Some(result) = crate::open_by_scheme(scheme, url).await {
        return result;
    }
    let feature = match scheme {
        "redis" | "rediss" => "redis",
        "postgres" | "postgresql" => "pgvector",
        "weaviate+http" | "weaviate+https" => "weaviate",
        _ => {
            return Err(Error::invalid_argument(format!(
                "no backend takes URLs like {}; use memory://, redis://, postgres:// or weaviate+http://",
                redact_url(url)
            )));
        }
    };
    Err(Error::invalid_argument(format!(
        "the {feature} backend is not compiled in; enable the `{feature}` feature of vector-tier"
    )))
}

/// The design document's factory.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct VectorBackendFactory;

impl VectorBackendFactory {
    /// Opens a backend of `kind` with the keys of `config` it needs.
    ///
    /// # Errors
    /// `InvalidArgument` for a missing key or a kind not compiled in; connection errors from
    /// the backend (`Unavailable` when its server cannot be reached).
    pub async fn create(kind: BackendKind, config: &BackendConfig) -> Result<DynBackend> {
        let backend = open(&config.url_for(kind)?).await?;
        #[cfg(feature = "metrics")]
        if let Some(callback) = &config.metrics_callback {
            return Ok(vector_metrics::instrument(backend, callback.clone()));
        }
        Ok(backend)
    }
}

/// Opens a backend, runs `f` with it, and closes it afterwards whether `f` succeeded or not:
/// the equivalent of the design document's `async with get_vector_backend(kind, config) as
/// backend:`.
///
/// # Errors
/// Opening errors, or whatever `f` returns.
pub async fn with_vector_backend<T, F, Fut>(
    kind: BackendKind,
    config: &BackendConfig,
    f: F,
) -> Result<T>
where
    F: FnOnce(DynBackend) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let backend = VectorBackendFactory::create(kind, config).await?;
    let result = f(backend.clone()).await;
    backend.close().await;
    result
}
