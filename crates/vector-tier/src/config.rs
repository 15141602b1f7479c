//! [`BackendConfig`] and [`BackendKind`]: the design document's configuration keys
//! (`redis_url`, `weaviate_url`, `pg_connection_string`, ...) and its environment variables
//! (`BACKEND_TYPE`, `REDIS_URL`, `WEAVIATE_URL`, `PG_CONNECTION_STRING`).

use std::fmt;
use std::str::FromStr;

use vector_backend::{Error, Result, redact_url};

/// Which backend to open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// In-process, exact, volatile.
    #[default]
    Memory,
    /// Redis Stack (RediSearch).
    Redis,
    /// Weaviate.
    Weaviate,
    /// PostgreSQL with pgvector.
    Pgvector,
}

impl BackendKind {
    /// Every kind.
    pub const ALL: [BackendKind; 4] = [Self::Memory, Self::Redis, Self::Weaviate, Self::Pgvector];

    /// The name used by `BACKEND_TYPE`, metric labels and `backend_type()`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
            Self::Weaviate => "weaviate",
            Self::Pgvector => "pgvector",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackendKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "memory" | "in-memory" | "inmemory" => Ok(Self::Memory),
            "redis" => Ok(Self::Redis),
            "weaviate" => Ok(Self::Weaviate),
            "pgvector" | "postgres" | "postgresql" => Ok(Self::Pgvector),
            other => Err(Error::invalid_argument(format!(
                "unknown backend type {other:?}; expected memory, redis, weaviate or pgvector"
            ))),
        }
    }
}

/// The design document's config dict, typed. Every field is optional; a backend reads only its
/// own. `Debug` never shows passwords or API keys.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct BackendConfig {
    /// `redis_url`, e.g. `redis://localhost:6379` or `rediss://:password@host:6380`.
    pub redis_url: Option<String>,
    /// `weaviate_url`, e.g. `http://localhost:8080`.
    pub weaviate_url: Option<String>,
    /// A Weaviate API key (sent as a bearer token).
    pub weaviate_api_key: Option<String>,
    /// `pg_connection_string`, e.g. `postgresql://user:pass@localhost:5432/vector_db`.
    pub pg_connection_string: Option<String>,
    /// Memory backend: most vectors held.
    pub memory_max_vectors: Option<u64>,
    /// Memory backend: most bytes held.
    pub memory_max_bytes: Option<u64>,
    /// The design document's `metrics_callback`: when set, the factory wraps the backend so that
    /// every operation reports to it (see `vector_metrics::create_prometheus_metrics_callback`).
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub metrics_callback: Option<vector_metrics::MetricsCallback>,
}

impl fmt::Debug for BackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_deref().map(redact_url);
        f.debug_struct("BackendConfig")
            .field("redis_url", &redacted(&self.redis_url))
            .field("weaviate_url", &redacted(&self.weaviate_url))
            .field(
                "weaviate_api_key",
                &self.weaviate_api_key.as_ref().map(|_| "***"),
            )
            .field(
                "pg_connection_string",
                &redacted(&self.pg_connection_string),
            )
            .field("memory_max_vectors", &self.memory_max_vectors)
            .field("memory_max_bytes", &self.memory_max_bytes)
            .finish_non_exhaustive()
    }
}

impl BackendConfig {
    /// Reads `REDIS_URL`, `WEAVIATE_URL`, `WEAVIATE_API_KEY`, `PG_CONNECTION_STRING`,
    /// `MEMORY_MAX_VECTORS` and `MEMORY_MAX_BYTES` from the environment.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            redis_url: var("REDIS_URL"),
            weaviate_url: var("WEAVIATE_URL"),
            weaviate_api_key: var("WEAVIATE_API_KEY"),
            pg_connection_string: var("PG_CONNECTION_STRING"),
            memory_max_vectors: var("MEMORY_MAX_VECTORS").and_then(|v| v.parse().ok()),
            memory_max_bytes: var("MEMORY_MAX_BYTES").and_then(|v| v.parse().ok()),
            #[cfg(feature = "metrics")]
            metrics_callback: None,
        }
    }

    /// Sets the metrics callback (the design document's `metrics_callback`).
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn with_metrics_callback(mut self, callback: vector_metrics::MetricsCallback) -> Self {
        self.metrics_callback = Some(callback);
        self
    }

    /// Sets `redis_url`.
    #[must_use]
    pub fn with_redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// Sets `weaviate_url`.
    #[must_use]
    pub fn with_weaviate_url(mut self, url: impl Into<String>) -> Self {
        self.weaviate_url = Some(url.into());
        self
    }

    /// Sets `pg_connection_string`.
    #[must_use]
    pub fn with_pg_connection_string(mut self, s: impl Into<String>) -> Self {
        self.pg_connection_string = Some(s.into());
        self
    }

    /// The URL that opens `kind` with this config.
    ///
    /// # Errors
    /// `InvalidArgument` when the key the backend needs is missing.
    pub fn url_for(&self, kind: BackendKind) -> Result<String> {
        let need = |v: &Option<String>, key: &str| {
            v.clone().ok_or_else(|| {
                Error::invalid_argument(format!("the {kind} backend needs `{key}` in its config"))
            })
        };
        Ok(match kind {
            BackendKind::Memory => {
                let mut url =
                    url::Url::parse("memory://").map_err(|e| Error::backend(e.to_string()))?;
                if let Some(n) = self.memory_max_vectors {
                    url.query_pairs_mut()
                        .append_pair("max_vectors", &n.to_string());
                }
                if let Some(n) = self.memory_max_bytes {
                    url.query_pairs_mut()
                        .append_pair("max_bytes", &n.to_string());
                }
                url.to_string()
            }
            BackendKind::Redis => need(&self.redis_url, "redis_url")?,
            BackendKind::Pgvector => need(&self.pg_connection_string, "pg_connection_string")?,
            BackendKind::Weaviate => {
                let base = need(&self.weaviate_url, "weaviate_url")?;
                // `http(s)://` is Weaviate's own form; the facade's URL dispatch uses
                // `weaviate+http(s)://`, which the Weaviate backend accepts too.
                let mut url = if base.starts_with("weaviate+") {
                    base
                } else {
                    format!("weaviate+{base}")
                };
                if let Some(key) = &self.weaviate_api_key {
                    let mut parsed = url::Url::parse(&url).map_err(|e| {
                        Error::invalid_argument(format!("invalid weaviate_url: {e}"))
                    })?;
                    parsed.query_pairs_mut().append_pair("api_key", key);
                    url = parsed.to_string();
                }
                url
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets_and_urls_are_built() {
        let mut c = BackendConfig::default()
            .with_redis_url("redis://:topsecret@h:6379")
            .with_pg_connection_string("postgresql://u:pw1234@h/db");
        c.weaviate_api_key = Some("key-5678".into());
        c.weaviate_url = Some("http://w:8080".into());
        let d = format!("{c:?}");
        assert!(
            !d.contains("topsecret") && !d.contains("pw1234") && !d.contains("key-5678"),
            "{d}"
        );
        assert_eq!(
            c.url_for(BackendKind::Redis).unwrap(),
            "redis://:topsecret@h:6379"
        );
        assert!(
            c.url_for(BackendKind::Weaviate)
                .unwrap()
                .starts_with("weaviate+http://w:8080")
        );
        c.memory_max_vectors = Some(5);
        assert_eq!(
            c.url_for(BackendKind::Memory).unwrap(),
            "memory://?max_vectors=5"
        );
        assert_eq!(
            "PGVECTOR".parse::<BackendKind>().unwrap(),
            BackendKind::Pgvector
        );
        assert!("nope".parse::<BackendKind>().is_err());
    }
}
