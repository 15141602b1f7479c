//! [`RedisConfig`]: the server URL and the operation timeout, parsed from a `redis://` or
//! `rediss://` URL whose query carries the options this crate adds.

use std::fmt;
use std::time::Duration;

use vector_backend::driver::DEFAULT_OPERATION_TIMEOUT;
use vector_backend::{Error, Result, redact_url};

/// The longest operation timeout a URL may set: a day, far beyond any sensible value, so a
/// typo (seconds written as milliseconds times 1000) is caught.
const MAX_TIMEOUT_MS: u64 = 86_400_000;

/// Settings of the Redis backend.
///
/// | field | URL query key | default |
/// |---|---|---|
/// | `timeout` | `timeout_ms` (milliseconds) | 5000 ([`DEFAULT_OPERATION_TIMEOUT`]) |
///
/// `timeout` bounds every network call: connecting (TCP, TLS and the handshake), each
/// command, script or pipeline, and `health_check`. A bulk write sends one script per 500
/// records, up to 4 at once; since a script may wait on the server behind the others, each
/// of a write's scripts gets the timeout once per script that may be in flight with it (at
/// most 4 times; a write of up to 500 records gets it once). A server that does not answer in
/// time gives `Timeout`; one that cannot be reached or says "try again" gives `Unavailable`.
///
/// Every other part of the URL (user, password, host, port, database number, redis-rs's own
/// parameters such as `protocol`) is passed to redis-rs unchanged. `Debug` never shows the
/// password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The URL handed to redis-rs, without this crate's parameters. May hold a password.
    pub(crate) url: String,
    /// The operation timeout (see the table above).
    pub timeout: Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisConfig {
    /// Parses `redis://[user[:password]@]host[:port][/db][?timeout_ms=N]` (or `rediss://` for
    /// TLS).
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
        let mut timeout = DEFAULT_OPERATION_TIMEOUT;
        let mut rest = Vec::new();
        for (k, v) in url.query_pairs() {
            match &*k {
                "timeout_ms" => timeout = millis(&k, &v)?,
                // The keys of earlier versions, in seconds: refused rather than passed on to
                // redis-rs, which would ignore them silently.
                "connect_timeout" | "response_timeout" => {
                    return Err(Error::invalid_argument(format!(
                        "Redis URL parameter {k} was replaced by timeout_ms (milliseconds, one \
                         timeout for connecting and for every command)"
                    )));
                }
                _ => rest.push((k.into_owned(), v.into_owned())),
            }
        }
        if rest.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(rest);
        }
        Ok(Self {
            url: url.to_string(),
            timeout,
        })
    }

    /// The configured URL with its password replaced, for messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Sets the operation timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

fn millis(key: &str, value: &str) -> Result<Duration> {
    value
        .parse::<u64>()
        .ok()
        .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms))
        .map(Duration::from_millis)
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "Redis URL parameter {key} must be a whole number of milliseconds in 1..={MAX_TIMEOUT_MS}, got {:?}",
                value.chars().take(32).collect::<String>()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_own_parameters_and_keeps_the_rest() {
        let c = RedisConfig::from_url("redis://:hunter2@db:6380/2?timeout_ms=1500&protocol=resp2")
            .unwrap();
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(c.url, "redis://:hunter2@db:6380/2?protocol=resp2");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("***"),
            "{shown}"
        );
        let plain = RedisConfig::from_url("rediss://127.0.0.1:6379").unwrap();
        assert_eq!(plain.timeout, DEFAULT_OPERATION_TIMEOUT);
        assert_eq!(plain.url, "rediss://127.0.0.1:6379");
    }

    #[test]
    fn rejects_bad_urls_and_old_keys_without_leaking_the_password() {
        for bad in [
            "http://x",
            "redis://:pw@h?timeout_ms=abc",
            "redis://:pw@h?timeout_ms=0",
            "redis://:pw@h?timeout_ms=-1",
            "redis://:pw@h?timeout_ms=1.5",
            "redis://:pw@h?timeout_ms=86400001",
            "redis://:pw@h?response_timeout=3",
            "redis://:pw@h?connect_timeout=1",
        ] {
            let e = RedisConfig::from_url(bad).unwrap_err();
            assert_eq!(e.kind(), vector_backend::ErrorKind::InvalidArgument);
            assert!(!e.to_string().contains(":pw@"), "{e}");
        }
    }
}
