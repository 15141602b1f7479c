//! [`MemoryConfig`]: the optional capacity limits, from code or a `memory://` URL.

use vector_backend::{Error, Result};

/// Settings of the in-memory backend.
///
/// | field | URL query key | default |
/// |---|---|---|
/// | `max_vectors` | `max_vectors` | unlimited |
/// | `max_bytes` | `max_bytes` | unlimited |
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryConfig {
    /// Most vectors across all namespaces; writes beyond it fail with `CapacityExceeded`.
    pub max_vectors: Option<u64>,
    /// Most bytes of embeddings, keys and metadata across all namespaces (an estimate of the
    /// heap the data occupies); writes beyond it fail with `CapacityExceeded`.
    pub max_bytes: Option<u64>,
}

impl MemoryConfig {
    /// Limits the number of vectors.
    #[must_use]
    pub fn with_max_vectors(mut self, n: u64) -> Self {
        self.max_vectors = Some(n);
        self
    }

    /// Limits the bytes held.
    #[must_use]
    pub fn with_max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = Some(n);
        self
    }

    /// Parses `memory://` with optional `max_vectors` and `max_bytes` query parameters.
    ///
    /// # Errors
    /// `InvalidArgument` for another scheme, an unknown parameter or a bad number.
    pub fn from_url(s: &str) -> Result<Self> {
        let url = url::Url::parse(s)
            .map_err(|e| Error::invalid_argument(format!("invalid memory URL: {e}")))?;
        if url.scheme() != "memory" {
            return Err(Error::invalid_argument(format!(
                "the memory backend takes memory:// URLs, not {}://",
                url.scheme()
            )));
        }
        let mut config = Self::default();
        for (k, v) in url.query_pairs() {
            let n: u64 = v.parse().map_err(|_| {
                Error::invalid_argument(format!("memory URL parameter {k} must be a number"))
            })?;
            match &*k {
                "max_vectors" => config.max_vectors = Some(n),
                "max_bytes" => config.max_bytes = Some(n),
                other => {
                    return Err(Error::invalid_argument(format!(
                        "unknown memory URL parameter {other:?}"
                    )));
                }
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            MemoryConfig::from_url("memory://").unwrap(),
            MemoryConfig::default()
        );
        let c = MemoryConfig::from_url("memory://?max_vectors=10&max_bytes=2048").unwrap();
        assert_eq!((c.max_vectors, c.max_bytes), (Some(10), Some(2048)));
        assert!(MemoryConfig::from_url("memory://?nope=1").is_err());
        assert!(MemoryConfig::from_url("redis://x").is_err());
    }
}
