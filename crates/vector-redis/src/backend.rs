//! [`RedisDriver`]: the Redis Stack [`Driver`]. Thin: each primitive delegates to the module
//! that speaks Redis for it ([`crate::catalog`], [`crate::write`], [`crate::search`],
//! [`crate::text`], [`crate::scan`]).

use vector_backend::driver::{
    CheckedFilter, ConfigKey, Connect, Driver, Ensured, KeySet, KeywordQuery, NamespaceName, Page,
    Query, ScanSpec, WriteBatch,
};
use vector_backend::{
    Capabilities, Error, NamespaceConfig, Result, SearchResult, StoredVector, async_trait,
};

use crate::catalog::{self, RedisNamespace};
use crate::client::Client;
use crate::config::RedisConfig;
use crate::reply::{KEYWORD_SEARCH_VERSION, VECTOR_SEARCH_VERSION};
use crate::{scan, search, text, write};

/// The Redis Stack driver: one self-healing connection. [`crate::RedisBackend`] is the
/// backend made from it.
#[derive(Debug)]
pub struct RedisDriver {
    client: Client,
    /// The RediSearch version found when connecting: keyword search needs 2.10.
    search_version: i64,
}

#[async_trait]
impl Driver for RedisDriver {
    type Namespace = RedisNamespace;
    const NAME: &'static str = "redis";

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::full();
        // Auto is HNSW: approximate.
        caps.auto_index_is_exact = false;
        caps.persistent = true;
        caps.text_search = self.search_version >= KEYWORD_SEARCH_VERSION;
        caps
    }

    async fn health_check(&self) -> bool {
        self.client.has_vector_search().await.unwrap_or(false)
    }

    async fn load_namespace(&self, name: NamespaceName<'_>) -> Result<Option<RedisNamespace>> {
        catalog::load(&self.client, name).await
    }

    async fn create_namespace(
        &self,
        name: NamespaceName<'_>,
        config: &NamespaceConfig,
    ) -> Result<Ensured<RedisNamespace>> {
        catalog::create(&self.client, name, config).await
    }

    async fn drop_namespace(&self, name: NamespaceName<'_>) -> Result<bool> {
        catalog::drop(&self.client, name).await
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        catalog::list(&self.client).await
    }

    async fn count(&self, ns: &RedisNamespace, filter: Option<&CheckedFilter<'_>>) -> Result<u64> {
        scan::count(&self.client, ns, filter).await
    }

    async fn clear(&self, ns: &RedisNamespace) -> Result<u64> {
        write::clear(&self.client, ns).await
    }

    async fn write(&self, ns: &RedisNamespace, batch: &WriteBatch) -> Result<()> {
        write::write(&self.client, ns, batch).await
    }

    async fn read(
        &self,
        ns: &RedisNamespace,
        keys: &KeySet<'_>,
    ) -> Result<Vec<Option<StoredVector>>> {
        scan::read(&self.client, ns, keys).await
    }

    async fn delete(&self, ns: &RedisNamespace, keys: &KeySet<'_>) -> Result<u64> {
        write::delete(&self.client, ns, keys).await
    }

    async fn delete_matching(
        &self,
        ns: &RedisNamespace,
        filter: &CheckedFilter<'_>,
    ) -> Result<u64> {
        write::delete_matching(&self.client, ns, filter).await
    }

    async fn search(&self, ns: &RedisNamespace, query: &Query<'_>) -> Result<Vec<SearchResult>> {
        search::search(&self.client, ns, query).await
    }

    async fn search_batch(
        &self,
        ns: &RedisNamespace,
        queries: &[Query<'_>],
    ) -> Result<Vec<Vec<SearchResult>>> {
        search::search_batch(&self.client, ns, queries).await
    }

    async fn keyword(
        &self,
        ns: &RedisNamespace,
        query: &KeywordQuery<'_>,
    ) -> Result<Vec<SearchResult>> {
        text::keyword(&self.client, ns, query).await
    }

    async fn hybrid(
        &self,
        ns: &RedisNamespace,
        vector: &Query<'_>,
        query: &KeywordQuery<'_>,
    ) -> Result<(Vec<SearchResult>, Vec<SearchResult>)> {
        text::hybrid(&self.client, ns, vector, query).await
    }

    async fn scan(&self, ns: &RedisNamespace, spec: &ScanSpec<'_>) -> Result<Page> {
        scan::scan(&self.client, ns, spec).await
    }

    async fn discard_if_empty(&self, ns: &RedisNamespace) -> Result<()> {
        catalog::drop_if_empty(&self.client, ns).await
    }
}

#[async_trait]
impl Connect for RedisDriver {
    type Config = RedisConfig;
    const SCHEMES: &'static [&'static str] = &["redis", "rediss"];
    const URL_ENV: &'static str = "REDIS_URL";
    const CONFIG_KEYS: &'static [ConfigKey] = &[ConfigKey {
        name: "redis_url",
        help: "Redis Stack URL, redis://[:password@]host:port[/db][?timeout_ms=N]",
        secret: true,
    }];

    fn config_from_url(url: &str) -> Result<RedisConfig> {
        RedisConfig::from_url(url)
    }

    fn config_from_keys(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<RedisConfig>> {
        get("redis_url")
            .map(|u| RedisConfig::from_url(&u))
            .transpose()
    }

    async fn connect(config: RedisConfig) -> Result<Self> {
        #[cfg(feature = "tls")]
        {
            // rustls needs a process-wide crypto provider; install ring unless the
            // application installed one already (then this returns Err and changes nothing).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let redacted = config.redacted_url();
        let client = Client::connect(config).await?;
        let search_version = client.search_version().await?.unwrap_or(0);
        if search_version < VECTOR_SEARCH_VERSION {
            return Err(Error::unsupported(format!(
                "the Redis server at {redacted} has no RediSearch module with vector search \
                 (RediSearch 2.4 or newer, as in Redis Stack 7.2+)"
            )));
        }
        Ok(Self {
            client,
            search_version,
        })
    }
}
