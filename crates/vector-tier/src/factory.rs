//! Opening backends: by URL ([`open`]), by kind and config as the design document's
//! `VectorBackendFactory.create` does, and as a scope that always closes the connections
//! ([`with_vector_backend`], the design document's `async with get_vector_backend(...)`).

use std::future::Future;

use vector_backend::{DynBackend, Error, Result, VectorBackend as _, redact_url};

use crate::BackendKind;
use crate::config::BackendConfig;

fn not_compiled(kind: &str) -> Error {
    Error::invalid_argument(format!(
        "the {kind} backend is not compiled in; enable the `{kind}` feature of vector-tier"
    ))
}

/// Opens a backend from a URL; the scheme selects it among the compiled-in backends
/// (`memory://`, `redis://`, `rediss://`, `postgres://`, `postgresql://`, `weaviate+http://`,
/// `weaviate+https://`).
///
/// # Errors
/// `InvalidArgument` when no compiled-in backend takes the scheme (the message names the
/// compiled-in ones and the features that add others), or the backend's own error while
/// connecting.
pub async fn open(url: &str) -> Result<DynBackend> {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    if let Some(entry) = crate::registry()
        .iter()
        .find(|e| e.schemes.contains(&scheme))
    {
        return entry.open_url(url).await;
    }
    let compiled: Vec<String> = crate::registry()
        .iter()
        .flat_map(|e| e.schemes.iter().map(|s| format!("{s}://")))
        .collect();
    let others: Vec<&str> = BackendKind::ALL
        .iter()
        .filter(|k| k.entry().is_none())
        .map(BackendKind::as_str)
        .collect();
    let mut message = format!(
        "no backend takes URLs like {}; use {}",
        redact_url(url),
        compiled.join(", ")
    );
    if !others.is_empty() {
        message.push_str(&format!(
            "; the features {} of vector-tier add more backends",
            others.join(", ")
        ));
    }
    Err(Error::invalid_argument(message))
}

/// The design document's factory.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct VectorBackendFactory;

impl VectorBackendFactory {
    /// Opens a backend of `kind` with the keys (or typed config) of `config` it needs.
    ///
    /// # Errors
    /// `InvalidArgument` for a missing key or a kind not compiled in; connection errors from
    /// the backend (`Unavailable` when its server cannot be reached).
    pub async fn create(kind: BackendKind, config: &BackendConfig) -> Result<DynBackend> {
        let entry = kind.entry().ok_or_else(|| not_compiled(kind.as_str()))?;
        let backend = entry.open_config(config).await?;
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
