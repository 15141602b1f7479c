//! [`RedisConfig`]: the server URL and the timeouts, parsed from a `redis://` or `rediss://`
//! URL whose query parameters carry the options this crate adds.

use std::fmt;
use std::time::Duration;

use vector_backend::{Error, Result, redact_url};

/// Settings of the Redis backend.
///
/// | field | URL query parameter | default |
/// |---|---|---|
/// | `connect_timeout` | `connect_timeout` (seconds, fractions allowed) | 5 s |
/// | `response_timeout` | `response_timeout` (seconds) | 30 s |
///
/// Every other part of the URL (user, password, host, port, database number, redis-rs's own
/// parameters such as `protocol`) is passed to redis-rs unchanged. `Debug` never shows the
/// password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The URL handed to redis-rs, without this crate's parameters. May hold a password.
    pub(crate) url: String,
    /// Longest wait for a TCP (and TLS) connection; also bounds `health_check`.
    pub connect_timeout: Duration,
    /// Longest wait for any one operation's replies; an operation that takes longer fails
    /// with `Unavailable` (server unreachable) or `Timeout` (server slow).
    pub response_timeout: Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

impl RedisConfig {
    /// The default connection timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default response timeout.
    pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

    /// Parses `redis://[user[:password]@]host[:port][/db][?connect_timeout=S&response_timeout=S]`
    /// (or `rediss://` for TLS).
    ///
    /// # Errors
    /// `InvalidArgument` for another scheme, an unparsable URL or a bad timeout; the message
    /// never contains the password.
    pub fn from_url(s: &str) -> Result<Self> {
        let mut url = url::Url::parse(s).map_err(|e| {
            Error::invalid_argument(format!("invalid Redis URL {}: {e}", redact_url(s)))
        })?;
        if !matches!(url.scheme(), "redis" | "rediss") {
            return Err(Error::invalid_argument(format!(
                "the Redis backend takes redis:// or rediss:// URLs, not {}://",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::invalid_argument(format!(
                "Redis URL {} has no host",
                redact_url(s)
            )));
        }
        let mut config = Self {
            url: String::new(),
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            response_timeout: Self::DEFAULT_RESPONSE_TIMEOUT,
        };
        let mut rest = Vec::new();
        for (k, v) in url.query_pairs() {
            match &*k {
                "connect_timeout" => config.connect_timeout = seconds(&k, &v)?,
                "response_timeout" => config.response_timeout = seconds(&k, &v)?,
                _ => rest.push((k.into_owned(), v.into_owned())),
            }
        }
        if rest.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(rest);
        }
        config.url = url.to_string();
        Ok(config)
    }

    /// The configured URL with its password replaced, for messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Sets the connection timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Sets the response timeout.
    #[must_use]
    pub fn with_response_timeout(mut self, t: Duration) -> Self {
        self.response_timeout = t;
        self
    }
}

fn seconds(key: &str, value: &str) -> Result<Duration> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "Redis URL parameter {key} must be a number of seconds in (0, 86400], got {:?}",
                value.chars().take(32).collect::<String>()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_own_parameters_and_keeps_the_rest() {
        let c = RedisConfig::from_url(
            "redis://:hunter2@db:6380/2?connect_timeout=0.5&protocol=resp2&response_timeout=3",
        )
        .unwrap();
        assert_eq!(c.connect_timeout, Duration::from_millis(500));
        assert_eq!(c.response_timeout, Duration::from_secs(3));
        assert_eq!(c.url, "redis://:hunter2@db:6380/2?protocol=resp2");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("***"),
            "{shown}"
        );
        let plain = RedisConfig::from_url("rediss://127.0.0.1:6379").unwrap();
        assert_eq!(
            plain.response_timeout,
            RedisConfig::DEFAULT_RESPONSE_TIMEOUT
        );
        assert_eq!(plain.url, "rediss://127.0.0.1:6379");
    }

    #[test]
    fn rejects_bad_urls_without_leaking_the_password() {
        for bad in [
            "http://x",
            "redis://:pw@h?connect_timeout=abc",
            "redis://:pw@h?response_timeout=-1",
            "redis://:pw@h?response_timeout=inf",
        ] {
            let e = RedisConfig::from_url(bad).unwrap_err();
            assert_eq!(e.kind(), vector_backend::ErrorKind::InvalidArgument);
            assert!(!e.to_string().contains(":pw@"), "{e}");
        }
    }
}
