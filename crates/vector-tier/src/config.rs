//! [`BackendConfig`]: the design document's config dict, typed where it can be. It holds
//! configuration keys by name (`redis_url`, `pg_connection_string`, `weaviate_url`, ...: each
//! backend declares its own in [`Connect::CONFIG_KEYS`](vector_backend::driver::Connect)), and
//! typed configs passed as types (`with_typed::<RedisDriver>(RedisConfig { .. })`), which win
//! over keys. Nothing is turned into a URL and parsed back, so a secret given as a key or a
//! field stays where it was put.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use vector_backend::driver::Connect;
use vector_backend::redact_url;

/// The design document's config dict. `Debug` never shows secrets.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct BackendConfig {
    values: BTreeMap<String, String>,
    typed: HashMap<&'static str, Arc<dyn Any + Send + Sync>>,
    /// The design document's `metrics_callback`: when set, the factory wraps the backend so that
    /// every operation reports to it (see `vector_metrics::create_prometheus_metrics_callback`).
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub metrics_callback: Option<vector_metrics::MetricsCallback>,
}

impl fmt::Debug for BackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |key: &str| {
            crate::registry()
                .iter()
                .flat_map(|e| e.config_keys)
                .find(|k| k.name == key)
                .is_none_or(|k| k.secret)
        };
        let values: BTreeMap<&str, String> = self
            .values
            .iter()
            .map(|(k, v)| {
                let shown = if !secret(k) {
                    v.clone()
                } else if v.contains("://") || v.contains('=') {
                    redact_url(v)
                } else {
                    "***".to_owned()
                };
                (k.as_str(), shown)
            })
            .collect();
        let mut typed: Vec<&str> = self.typed.keys().copied().collect();
        typed.sort_unstable();
        f.debug_struct("BackendConfig")
            .field("values", &values)
            .field("typed", &typed)
            .finish_non_exhaustive()
    }
}

impl BackendConfig {
    /// Every configuration key of every compiled-in backend that is set in the environment,
    /// under its variable (the key upper-cased: `REDIS_URL`, `PG_CONNECTION_STRING`,
    /// `WEAVIATE_URL`, `WEAVIATE_API_KEY`, `MEMORY_MAX_VECTORS`, ...).
    pub fn from_env() -> Self {
        let mut config = Self::default();
        for key in crate::registry().iter().flat_map(|e| e.config_keys) {
            if let Some(v) = std::env::var(key.env()).ok().filter(|v| !v.is_empty()) {
                config.values.insert(key.name.to_owned(), v);
            }
        }
        config
    }

    /// Sets a configuration key (`redis_url`, `memory_max_vectors`, ...).
    #[must_use]
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.values.insert(key.to_owned(), value.into());
        self
    }

    /// A configuration key's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Sets the typed config of driver `D`; it wins over `D`'s keys.
    #[must_use]
    pub fn with_typed<D: Connect>(mut self, config: D::Config) -> Self {
        self.typed.insert(D::NAME, Arc::new(config));
        self
    }

    /// The typed config of driver `D`, when one was set.
    pub fn typed<D: Connect>(&self) -> Option<D::Config> {
        self.typed
            .get(D::NAME)
            .and_then(|c| c.downcast_ref::<D::Config>())
            .cloned()
    }

    /// Sets the metrics callback (the design document's `metrics_callback`).
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn with_metrics_callback(mut self, callback: vector_metrics::MetricsCallback) -> Self {
        self.metrics_callback = Some(callback);
        self
    }

    /// Sets `redis_url` (the design document's key).
    #[must_use]
    pub fn with_redis_url(self, url: impl Into<String>) -> Self {
        self.set("redis_url", url)
    }

    /// Sets `weaviate_url` (the design document's key).
    #[must_use]
    pub fn with_weaviate_url(self, url: impl Into<String>) -> Self {
        self.set("weaviate_url", url)
    }

    /// Sets `weaviate_api_key`.
    #[must_use]
    pub fn with_weaviate_api_key(self, key: impl Into<String>) -> Self {
        self.set("weaviate_api_key", key)
    }

    /// Sets `pg_connection_string` (the design document's key).
    #[must_use]
    pub fn with_pg_connection_string(self, s: impl Into<String>) -> Self {
        self.set("pg_connection_string", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BackendKind;

    #[test]
    fn debug_hides_secrets_and_keys_round_trip() {
        let c = BackendConfig::default()
            .with_redis_url("redis://:topsecret@h:6379")
            .with_pg_connection_string("postgresql://u:pw1234@h/db")
            .with_weaviate_api_key("key-5678")
            .with_weaviate_url("http://w:8080")
            .set("memory_max_vectors", "5");
        let d = format!("{c:?}");
        assert!(
            !d.contains("topsecret") && !d.contains("pw1234") && !d.contains("key-5678"),
            "{d}"
        );
        assert!(d.contains("memory_max_vectors"), "{d}");
        assert_eq!(c.get("redis_url"), Some("redis://:topsecret@h:6379"));
        assert_eq!(
            "PGVECTOR".parse::<BackendKind>().unwrap(),
            BackendKind::Pgvector
        );
        assert!("nope".parse::<BackendKind>().is_err());
    }
}
