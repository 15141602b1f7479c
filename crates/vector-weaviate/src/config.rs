//! [`WeaviateConfig`]: where the server is, the API key and the operation timeout, from code or
//! a URL.

use std::fmt;
use std::time::Duration;

use vector_backend::driver::DEFAULT_OPERATION_TIMEOUT;
use vector_backend::{Error, Result, redact_url};

/// The environment variable an API key is read from when the URL has none.
pub const API_KEY_ENV: &str = "WEAVIATE_API_KEY";

/// Settings of the Weaviate backend.
///
/// URL form: `http://host:8080`, `https://host`, `weaviate+http://host:8080` or
/// `weaviate+https://host`, with optional query parameters:
///
/// | query key | field | default |
/// |---|---|---|
/// | `api_key` | `api_key` (sent as `Authorization: Bearer`) | `$WEAVIATE_API_KEY` |
/// | `timeout_ms` | `timeout`: the operation timeout, in milliseconds | 5000 |
/// | `batch_size` | `batch_size` (objects per batch request) | 200 |
/// | `max_results` | `max_results` (the server's `QUERY_MAXIMUM_RESULTS`) | 10000 |
///
/// The operation timeout bounds every HTTP request: connecting, sending, and the whole answer.
/// A batch request of more than 1 MiB gets it once per started MiB, so a large bulk chunk is not
/// cut off on a slow link. The API key travels only in the `Authorization` header; `Debug` never
/// shows it. In code: `WeaviateConfig::new("http://host:8080").with_api_key(key)`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WeaviateConfig {
    /// Base URL of the server, `http(s)://host:port` plus an optional path prefix, without a
    /// trailing slash and without `/v1`.
    pub base_url: String,
    /// API key, sent as a bearer token.
    pub api_key: Option<String>,
    /// The operation timeout: the longest time one HTTP request may take, connection included
    /// (default [`DEFAULT_OPERATION_TIMEOUT`], 5 s).
    pub timeout: Duration,
    /// Most objects per `POST /v1/batch/objects` (also bounded by request size).
    pub batch_size: usize,
    /// The server's `QUERY_MAXIMUM_RESULTS`: the largest `limit` one query may use.
    pub max_results: usize,
}

impl fmt::Debug for WeaviateConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeaviateConfig")
            .field("base_url", &redact_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("batch_size", &self.batch_size)
            .field("max_results", &self.max_results)
            .finish()
    }
}

impl WeaviateConfig {
    /// Default objects per batch request.
    pub const DEFAULT_BATCH_SIZE: usize = 200;
    /// Weaviate's default `QUERY_MAXIMUM_RESULTS`.
    pub const DEFAULT_MAX_RESULTS: usize = 10_000;

    /// A config for `base_url` (`http://localhost:8080`) with defaults and no API key.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_key: None,
            timeout: DEFAULT_OPERATION_TIMEOUT,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            max_results: Self::DEFAULT_MAX_RESULTS,
        }
    }

    /// Sets the API key.
    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sets the request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Parses a URL (see the type's docs). The API key falls back to `$WEAVIATE_API_KEY`.
    ///
    /// # Errors
    /// `InvalidArgument` for another scheme, user info in the URL, an unknown parameter or a
    /// bad number. Messages never contain the API key.
    pub fn from_url(s: &str) -> Result<Self> {
        let env_key = std::env::var(API_KEY_ENV).ok().filter(|k| !k.is_empty());
        Self::from_url_with_env_key(s, env_key)
    }

    pub(crate) fn from_url_with_env_key(s: &str, env_key: Option<String>) -> Result<Self> {
        let bad = |msg: String| Error::invalid_argument(msg);
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| bad(format!("invalid Weaviate URL {}: no scheme", redact_url(s))))?;
        let http_scheme = match scheme {
            "http" | "weaviate+http" => "http",
            "https" | "weaviate+https" => "https",
            other => {
                return Err(bad(format!(
                    "the Weaviate backend takes http://, https://, weaviate+http:// or weaviate+https:// URLs, not {other}://"
                )));
            }
        };
        let url = url::Url::parse(&format!("{http_scheme}://{rest}"))
            .map_err(|e| bad(format!("invalid Weaviate URL {}: {e}", redact_url(s))))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(format!(
                "Weaviate URLs take the API key as ?api_key=... (or ${API_KEY_ENV}), not as user info: {}",
                redact_url(s)
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad(format!("Weaviate URL {} has no host", redact_url(s))));
        }
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        let mut config = Self::new(base.as_str());
        if http_scheme == "https" && !cfg!(feature = "rustls") {
            return Err(bad(
                "https:// needs the `rustls` feature of the vector-weaviate crate".to_owned(),
            ));
        }
        let mut api_key = None;
        for (k, v) in url.query_pairs() {
            let number = |what: &str| -> Result<u64> {
                v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    bad(format!(
                        "Weaviate URL parameter {what} must be a positive integer"
                    ))
                })
            };
            match &*k {
                "api_key" => api_key = Some(v.into_owned()),
                "timeout_ms" => config.timeout = Duration::from_millis(number("timeout_ms")?),
                "batch_size" => config.batch_size = number("batch_size")? as usize,
                "max_results" => config.max_results = number("max_results")? as usize,
                other => {
                    return Err(bad(format!(
                        "unknown Weaviate URL parameter {:?}; known: api_key, timeout_ms, batch_size, max_results",
                        other.chars().take(40).collect::<String>()
                    )));
                }
            }
        }
        config.api_key = api_key.or(env_key).filter(|k| !k.is_empty());
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_url_forms_and_parameters() {
        let c = WeaviateConfig::from_url_with_env_key("http://localhost:8080", None).unwrap();
        assert_eq!(c.base_url, "http://localhost:8080");
        assert_eq!(c.api_key, None);
        assert_eq!(c.timeout, DEFAULT_OPERATION_TIMEOUT);
        let c = WeaviateConfig::from_url_with_env_key(
            "weaviate+http://w:8080/prefix/?api_key=sekret-1&timeout_ms=1500&batch_size=50&max_results=500",
            Some("env-key".into()),
        )
        .unwrap();
        assert_eq!(c.base_url, "http://w:8080/prefix");
        assert_eq!(
            c.api_key.as_deref(),
            Some("sekret-1"),
            "the URL wins over the environment"
        );
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!((c.batch_size, c.max_results), (50, 500));
        let c = WeaviateConfig::from_url_with_env_key("http://w", Some("env-key".into())).unwrap();
        assert_eq!(c.api_key.as_deref(), Some("env-key"));
    }

    #[test]
    fn rejects_bad_urls_without_leaking_secrets() {
        for bad in [
            "redis://localhost",
            "weaviate+http://w?nope=1&api_key=sekret-2",
            "http://w?timeout_ms=abc&api_key=sekret-2",
            "http://w?timeout_ms=0&api_key=sekret-2",
            "http://w?connect_timeout_ms=10&api_key=sekret-2",
            "http://user:sekret-2@w:8080",
            "localhost:8080",
        ] {
            let e = WeaviateConfig::from_url_with_env_key(bad, None).unwrap_err();
            assert_eq!(
                e.kind(),
                vector_backend::ErrorKind::InvalidArgument,
                "{bad}"
            );
            assert!(!e.to_string().contains("sekret-2"), "{e}");
        }
    }

    #[test]
    fn debug_redacts_the_api_key() {
        let c = WeaviateConfig::new("http://w:8080").with_api_key("sekret-3");
        let d = format!("{c:?}");
        assert!(
            !d.contains("sekret-3") && d.contains("***") && d.contains("http://w:8080"),
            "{d}"
        );
    }
}
