//! The runtime view of the backend list (`backends!` in `lib.rs`): one [`BackendEntry`] per
//! compiled-in backend, with everything the factory, the service and the tools need to know
//! about it, taken from its driver's [`Connect`] implementation.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use futures_core::future::BoxFuture;
use vector_backend::driver::{Backend, ConfigKey, Connect};
use vector_backend::{DynBackend, Error, OpenBackend, Result};

use crate::BackendKind;
use crate::config::BackendConfig;

/// One compiled-in backend.
#[non_exhaustive]
pub struct BackendEntry {
    /// Its kind.
    pub kind: BackendKind,
    /// URL schemes it opens.
    pub schemes: &'static [&'static str],
    /// The environment variable of its address (empty when it needs none).
    pub url_env: &'static str,
    /// Its configuration keys (the design document's config dict keys).
    pub config_keys: &'static [ConfigKey],
    open_url: fn(&str) -> BoxFuture<'_, Result<DynBackend>>,
    open_config: fn(&BackendConfig) -> BoxFuture<'_, Result<DynBackend>>,
}

impl fmt::Debug for BackendEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendEntry")
            .field("kind", &self.kind)
            .field("schemes", &self.schemes)
            .field("url_env", &self.url_env)
            .finish_non_exhaustive()
    }
}

impl BackendEntry {
    pub(crate) fn of<D: Connect>(kind: BackendKind) -> Self {
        debug_assert_eq!(kind.as_str(), D::NAME, "backends! row and driver disagree");
        Self {
            kind,
            schemes: D::SCHEMES,
            url_env: D::URL_ENV,
            config_keys: D::CONFIG_KEYS,
            open_url: |url| {
                Box::pin(async move { Ok(Arc::new(Backend::<D>::open(url).await?) as DynBackend) })
            },
            open_config: |config| {
                Box::pin(async move {
                    let typed = match config.typed::<D>() {
                        Some(c) => c,
                        None => D::config_from_keys(&|k| config.get(k).map(str::to_owned))?
                            .ok_or_else(|| missing::<D>())?,
                    };
                    Ok(Arc::new(Backend::<D>::connect(typed).await?) as DynBackend)
                })
            },
        }
    }

    /// Opens it from a URL of one of its schemes.
    ///
    /// # Errors
    /// The backend's own errors (`InvalidArgument`, `Unavailable`, ...).
    pub async fn open_url(&self, url: &str) -> Result<DynBackend> {
        (self.open_url)(url).await
    }

    /// Opens it from a [`BackendConfig`]: its typed config when one was given, else its keys.
    ///
    /// # Errors
    /// `InvalidArgument` when a key it needs is missing or malformed; connection errors.
    pub async fn open_config(&self, config: &BackendConfig) -> Result<DynBackend> {
        (self.open_config)(config).await
    }

    /// Whether its address is configured in the environment (always for backends without an
    /// address, such as the memory backend).
    pub fn configured_in_env(&self) -> bool {
        self.url_env.is_empty() || std::env::var(self.url_env).is_ok_and(|v| !v.is_empty())
    }
}

fn missing<D: Connect>() -> Error {
    let keys: Vec<&str> = D::CONFIG_KEYS.iter().map(|k| k.name).collect();
    Error::invalid_argument(format!(
        "the {} backend needs its address in the config (keys: {})",
        D::NAME,
        keys.join(", ")
    ))
}

impl BackendKind {
    /// Its entry, when the backend is compiled in.
    pub fn entry(&self) -> Option<&'static BackendEntry> {
        crate::registry().iter().find(|e| e.kind == *self)
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackendKind {
    type Err = Error;

    /// A backend's name, or (for compiled-in backends) one of its URL schemes, in any case:
    /// `memory`, `redis`, `pgvector` or `postgres`, ...
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        if let Some(k) = Self::ALL.iter().find(|k| k.as_str() == s) {
            return Ok(*k);
        }
        if let Some(e) = crate::registry()
            .iter()
            .find(|e| e.schemes.contains(&s.as_str()))
        {
            return Ok(e.kind);
        }
        let names: Vec<&str> = Self::ALL.iter().map(BackendKind::as_str).collect();
        Err(Error::invalid_argument(format!(
            "unknown backend type {s:?}; expected one of {}",
            names.join(", ")
        )))
    }
}
