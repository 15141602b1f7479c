//! [`MemoryConfig`]: the optional capacity limits, from code or a `memory://` URL.

use vector_backend::{Error, Result};

use crate::hnsw::HnswParams;

/// Settings of the in-memory backend.
///
/// | field | URL query key | default |
/// |---|---|---|
/// | `max_vectors` | `max_vectors` | unlimited |
/// | `max_bytes` | `max_bytes` | unlimited |
/// | `hnsw.m` | `hnsw_m` | 16 |
/// | `hnsw.ef_construction` | `hnsw_ef_construction` | 200 |
/// | `hnsw.ef_search` | `hnsw_ef_search` | 128 |
///
/// The HNSW settings apply to namespaces created with `index: hnsw`. A query searches
/// `max(ef_search, fetch)` wide, where `fetch = k + k/4 + 16` is what the core asks the backend
/// for; raise `ef_search` for recall, lower it for speed (the request has no per-query `ef`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryConfig {
    /// Most vectors across all namespaces; writes beyond it fail with `CapacityExceeded`.
    pub max_vectors: Option<u64>,
    /// Most bytes of embeddings, keys and metadata across all namespaces (an estimate of the
    /// heap the data occupies); writes beyond it fail with `CapacityExceeded`.
    pub max_bytes: Option<u64>,
    /// The HNSW graph's parameters.
    pub hnsw: HnswParams,
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

    /// Sets the HNSW parameters.
    #[must_use]
    pub fn with_hnsw(mut self, params: HnswParams) -> Self {
        self.hnsw = params;
        self
    }

    /// Sets one setting by its key (`max_vectors`, `max_bytes`, `hnsw_m`,
    /// `hnsw_ef_construction`, `hnsw_ef_search`).
    ///
    /// # Errors
    /// `InvalidArgument` for an unknown key.
    pub(crate) fn set(&mut self, key: &str, n: u64) -> Result<()> {
        let small = usize::try_from(n).unwrap_or(usize::MAX);
        let h = self.hnsw;
        match key {
            "max_vectors" => self.max_vectors = Some(n),
            "max_bytes" => self.max_bytes = Some(n),
            "hnsw_m" => self.hnsw = HnswParams::new(small, h.ef_construction, h.ef_search),
            "hnsw_ef_construction" => self.hnsw = HnswParams::new(h.m, small, h.ef_search),
            "hnsw_ef_search" => self.hnsw = HnswParams::new(h.m, h.ef_construction, small),
            other => {
                return Err(Error::invalid_argument(format!(
                    "unknown memory URL parameter {other:?}"
                )));
            }
        }
        Ok(())
    }

    /// Parses `memory://` with optional `max_vectors`, `max_bytes`, `hnsw_m`,
    /// `hnsw_ef_construction` and `hnsw_ef_search` query parameters.
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
            config.set(&k, n)?;
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
        let h = MemoryConfig::from_url("memory://?hnsw_m=8&hnsw_ef_search=40").unwrap();
        assert_eq!(
            (h.hnsw.m, h.hnsw.ef_search, h.hnsw.ef_construction),
            (8, 40, 200)
        );
        assert!(MemoryConfig::from_url("redis://x").is_err());
    }
}
