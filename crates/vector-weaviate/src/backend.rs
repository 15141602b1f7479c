//! [`WeaviateDriver`]: the Weaviate [`Driver`]. Thin: each primitive delegates to the module of
//! its concern (`catalog.rs`, `write.rs`, `search.rs`, `scan.rs`).

use serde_json::Value;
use vector_backend::driver::{
    CheckedFilter, ConfigKey, Connect, Driver, Ensured, KeySet, KeywordQuery, NamespaceName, Page,
    Query, ScanSpec, WriteBatch,
};
use vector_backend::{
    Capabilities, NamespaceConfig, Result, SearchResult, StoredVector, async_trait,
};

use crate::catalog::WeaviateNamespace;
use crate::client::Client;
use crate::config::WeaviateConfig;
use crate::error::WeaviateError;

/// Oldest supported server.
const MIN_VERSION: (u64, u64) = (1, 25);

/// The Weaviate driver: an HTTP client and its settings. [`crate::WeaviateBackend`] is the
/// backend made from it. `Debug` never shows the API key.
#[derive(Debug)]
pub struct WeaviateDriver {
    pub(crate) config: WeaviateConfig,
    pub(crate) client: Client,
}

impl WeaviateDriver {
    /// A driver for `config` that has not contacted the server (for tests of what happens when
    /// the server is absent; [`Connect::connect`] checks the server first).
    ///
    /// # Errors
    /// `Unavailable` when the HTTP client cannot be built (no TLS support, say).
    #[doc(hidden)]
    pub fn unchecked(config: WeaviateConfig) -> Result<Self> {
        let client = Client::new(&config)?;
        Ok(Self { config, client })
    }

    /// The configuration this driver was opened with.
    pub fn config(&self) -> &WeaviateConfig {
        &self.config
    }

    /// The largest `limit` one query may use (the server's `QUERY_MAXIMUM_RESULTS`).
    pub(crate) fn max_results(&self) -> usize {
        self.config.max_results.max(1)
    }

    /// The server's version, checked against the supported range.
    async fn server_version(&self) -> Result<String, WeaviateError> {
        let what = "GET /v1/meta";
        let meta = self
            .client
            .get("/meta")
            .await?
            .expect(what, &[200])?
            .json(what)?;
        let version = meta
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match crate::reply::version(&version) {
            Some(v) if v >= MIN_VERSION => Ok(version),
            _ => Err(WeaviateError::Version(format!("{version:?}"))),
        }
    }
}

#[async_trait]
impl Driver for WeaviateDriver {
    type Namespace = WeaviateNamespace;
    const NAME: &'static str = "weaviate";

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::full();
        // `Auto` is HNSW: approximate on large sets (exact with filters below 40000 matches).
        caps.auto_index_is_exact = false;
        caps.persistent = true;
        // Keyword search: Weaviate's native BM25F over the text bag (see text.rs).
        caps.text_search = true;
        caps
    }

    async fn health_check(&self) -> bool {
        let ready = matches!(self.client.get("/.well-known/ready").await, Ok(r) if r.status == 200);
        ready && self.server_version().await.is_ok()
    }

    async fn load_namespace(&self, name: NamespaceName<'_>) -> Result<Option<WeaviateNamespace>> {
        self.load(name.as_str()).await
    }

    async fn create_namespace(
        &self,
        name: NamespaceName<'_>,
        config: &NamespaceConfig,
    ) -> Result<Ensured<WeaviateNamespace>> {
        self.create(name.as_str(), config).await
    }

    async fn drop_namespace(&self, name: NamespaceName<'_>) -> Result<bool> {
        self.remove(name.as_str()).await
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        self.names().await
    }

    async fn count(
        &self,
        ns: &WeaviateNamespace,
        filter: Option<&CheckedFilter<'_>>,
    ) -> Result<u64> {
        self.count_matching(ns, filter).await
    }

    async fn clear(&self, ns: &WeaviateNamespace) -> Result<u64> {
        self.delete_all(ns).await
    }

    async fn write(&self, ns: &WeaviateNamespace, batch: &WriteBatch) -> Result<()> {
        self.upsert(ns, batch).await
    }

    async fn read(
        &self,
        ns: &WeaviateNamespace,
        keys: &KeySet<'_>,
    ) -> Result<Vec<Option<StoredVector>>> {
        self.read_keys(ns, keys.keys()).await
    }

    async fn delete(&self, ns: &WeaviateNamespace, keys: &KeySet<'_>) -> Result<u64> {
        self.delete_keys(ns, keys.keys()).await
    }

    async fn delete_matching(
        &self,
        ns: &WeaviateNamespace,
        filter: &CheckedFilter<'_>,
    ) -> Result<u64> {
        self.delete_where(ns, filter).await
    }

    async fn search(&self, ns: &WeaviateNamespace, query: &Query<'_>) -> Result<Vec<SearchResult>> {
        self.nearest(ns, query).await
    }

    async fn search_batch(
        &self,
        ns: &WeaviateNamespace,
        queries: &[Query<'_>],
    ) -> Result<Vec<Vec<SearchResult>>> {
        self.nearest_batch(ns, queries).await
    }

    async fn keyword(
        &self,
        ns: &WeaviateNamespace,
        query: &KeywordQuery<'_>,
    ) -> Result<Vec<SearchResult>> {
        self.keyword_search(ns, query).await
    }

    async fn hybrid(
        &self,
        ns: &WeaviateNamespace,
        vector: &Query<'_>,
        keyword: &KeywordQuery<'_>,
    ) -> Result<(Vec<SearchResult>, Vec<SearchResult>)> {
        self.hybrid_legs(ns, vector, keyword).await
    }

    async fn scan(&self, ns: &WeaviateNamespace, spec: &ScanSpec<'_>) -> Result<Page> {
        self.page(ns, spec).await
    }
}

#[async_trait]
impl Connect for WeaviateDriver {
    type Config = WeaviateConfig;
    /// `config_from_url` also takes plain `http://` and `https://`, the form of the design's
    /// `weaviate_url`.
    const SCHEMES: &'static [&'static str] = &["weaviate+http", "weaviate+https"];
    const URL_ENV: &'static str = "WEAVIATE_URL";
    const CONFIG_KEYS: &'static [ConfigKey] = &[
        ConfigKey {
            name: "weaviate_url",
            help: "Weaviate's address, http(s)://host:port (or weaviate+http(s)://...?timeout_ms=...)",
            secret: true,
        },
        ConfigKey {
            name: "weaviate_api_key",
            help: "the Weaviate API key, sent as a bearer token",
            secret: true,
        },
    ];

    fn config_from_url(url: &str) -> Result<WeaviateConfig> {
        WeaviateConfig::from_url(url)
    }

    /// `weaviate_url` parsed like a URL (its own `api_key` parameter or `WEAVIATE_API_KEY`
    /// apply), then `weaviate_api_key`, when given, set as a field: the key never travels
    /// inside a URL.
    fn config_from_keys(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<WeaviateConfig>> {
        let Some(url) = get("weaviate_url") else {
            return Ok(None);
        };
        let mut config = WeaviateConfig::from_url(&url)?;
        if let Some(key) = get("weaviate_api_key") {
            config = config.with_api_key(key);
        }
        Ok(Some(config))
    }

    /// Checks that the server answers within the operation timeout and is Weaviate 1.25 or
    /// later: `Unavailable` ("Weaviate client not available: <cause>") or `Timeout` when it
    /// does not answer, `Unsupported` for an older server.
    async fn connect(config: WeaviateConfig) -> Result<Self> {
        let driver = Self::unchecked(config)?;
        driver.server_version().await?;
        Ok(driver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_versions() {
        let v = |s: &str| crate::reply::version(s);
        assert!(v("1.24.9").is_some_and(|v| v < MIN_VERSION));
        assert!(v("1.25.0").is_some_and(|v| v >= MIN_VERSION));
        assert!(v("2.0.0").is_some_and(|v| v >= MIN_VERSION));
    }
}
