//! [`PgDriver`]: the PostgreSQL + pgvector [`Driver`]. Thin: each primitive is one call into
//! the module that speaks its SQL (`catalog`, `write`, `search`, `scan`), over the pool in
//! `client`.

use vector_backend::driver::{
    CheckedFilter, ConfigKey, Connect, Driver, Ensured, KeySet, KeywordQuery, NamespaceName, Page,
    Query, ScanSpec, WriteBatch,
};
use vector_backend::{
    Capabilities, Error, IndexKind, NamespaceConfig, Result, SearchResult, StoredVector,
    async_trait,
};

use crate::catalog::{self, HNSW_MAX_DIM, PgNamespace};
use crate::client::{Client, Conn};
use crate::config::PgConfig;
use crate::error::PgError;
use crate::{scan, search, text, write};

/// The PostgreSQL + pgvector driver: a pool of tokio-postgres connections and the settings.
/// [`crate::PgVectorBackend`] is the backend made from it.
#[derive(Debug)]
pub struct PgDriver {
    config: PgConfig,
    client: Client,
}

impl PgDriver {
    /// Runs a catalog or health operation within the operation timeout.
    async fn bounded<T>(
        &self,
        what: &'static str,
        op: impl AsyncFnOnce(&mut Conn) -> std::result::Result<T, PgError>,
    ) -> Result<T> {
        Ok(self.client.run(self.client.timeout(), what, op).await?)
    }
}

#[cfg(feature = "test-support")]
impl PgDriver {
    /// The underlying pool, for raw SQL beside the backend in tests and benchmarks.
    pub fn pool(&self) -> &deadpool_postgres::Pool {
        self.client.pool()
    }

    /// The quoted table of a namespace's current incarnation, or `None` (for diagnostics such
    /// as `EXPLAIN` in tests).
    ///
    /// # Errors
    /// As for any catalog read.
    pub async fn table_name(&self, namespace: &str) -> Result<Option<String>> {
        Ok(self.load(namespace).await?.map(|ns| ns.table().to_owned()))
    }

    /// The SQL text of an unfiltered kNN query on `namespace` (`$1` = query vector, `$2` =
    /// limit), exactly as a search sends it.
    ///
    /// # Errors
    /// As for any catalog read.
    pub async fn knn_sql(
        &self,
        namespace: &str,
        include_embedding: bool,
    ) -> Result<Option<String>> {
        Ok(self
            .load(namespace)
            .await?
            .map(|ns| search::knn_sql(&ns, include_embedding, &[])))
    }

    async fn load(&self, namespace: &str) -> Result<Option<PgNamespace>> {
        self.bounded("namespace lookup", async |c| {
            catalog::load(c, namespace).await
        })
        .await
    }
}

#[async_trait]
impl Driver for PgDriver {
    type Namespace = PgNamespace;
    const NAME: &'static str = "pgvector";

    fn capabilities(&self) -> Capabilities {
        // Auto is HNSW (approximate) up to 2000 dimensions; pgvector's `vector` type holds up
        // to 16000, which is the contract's maximum. Keyword search: `text.rs`.
        Capabilities::full()
    }

    fn check_config(&self, config: &NamespaceConfig) -> Result<()> {
        if config.index == IndexKind::Hnsw && config.dimension > HNSW_MAX_DIM {
            return Err(Error::unsupported(format!(
                "pgvector's HNSW index supports at most {HNSW_MAX_DIM} dimensions; use the auto or flat index (exact scan) for {}",
                config.dimension
            )));
        }
        Ok(())
    }

    async fn health_check(&self) -> bool {
        self.bounded("health check", catalog::healthy)
            .await
            .unwrap_or(false)
    }

    async fn load_namespace(&self, name: NamespaceName<'_>) -> Result<Option<PgNamespace>> {
        self.bounded("namespace lookup", async |c| {
            catalog::load(c, name.as_str()).await
        })
        .await
    }

    async fn create_namespace(
        &self,
        name: NamespaceName<'_>,
        config: &NamespaceConfig,
    ) -> Result<Ensured<PgNamespace>> {
        let hnsw = (self.config.hnsw_m, self.config.hnsw_ef_construction);
        self.bounded("create namespace", async |c| {
            catalog::create(c, name, config, hnsw).await
        })
        .await
    }

    async fn drop_namespace(&self, name: NamespaceName<'_>) -> Result<bool> {
        self.bounded("drop namespace", async |c| catalog::drop(c, name).await)
            .await
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        self.bounded("list namespaces", catalog::list).await
    }

    async fn count(&self, ns: &PgNamespace, filter: Option<&CheckedFilter<'_>>) -> Result<u64> {
        scan::count(&self.client, ns, filter).await
    }

    async fn clear(&self, ns: &PgNamespace) -> Result<u64> {
        write::clear(&self.client, ns).await
    }

    async fn write(&self, ns: &PgNamespace, batch: &WriteBatch) -> Result<()> {
        write::write(&self.client, &self.config, ns, batch).await
    }

    async fn read(&self, ns: &PgNamespace, keys: &KeySet<'_>) -> Result<Vec<Option<StoredVector>>> {
        scan::read(&self.client, ns, keys).await
    }

    async fn delete(&self, ns: &PgNamespace, keys: &KeySet<'_>) -> Result<u64> {
        write::delete(&self.client, ns, keys).await
    }

    async fn delete_matching(&self, ns: &PgNamespace, filter: &CheckedFilter<'_>) -> Result<u64> {
        write::delete_matching(&self.client, ns, filter).await
    }

    async fn search(&self, ns: &PgNamespace, query: &Query<'_>) -> Result<Vec<SearchResult>> {
        let mut one = self.search_batch(ns, std::slice::from_ref(query)).await?;
        Ok(one.pop().unwrap_or_default())
    }

    async fn search_batch(
        &self,
        ns: &PgNamespace,
        queries: &[Query<'_>],
    ) -> Result<Vec<Vec<SearchResult>>> {
        search::search_batch(&self.client, &self.config, ns, queries).await
    }

    async fn keyword(
        &self,
        ns: &PgNamespace,
        query: &KeywordQuery<'_>,
    ) -> Result<Vec<SearchResult>> {
        text::keyword(&self.client, ns, query).await
    }

    async fn hybrid(
        &self,
        ns: &PgNamespace,
        vector: &Query<'_>,
        keyword: &KeywordQuery<'_>,
    ) -> Result<(Vec<SearchResult>, Vec<SearchResult>)> {
        search::hybrid(&self.client, &self.config, ns, vector, keyword).await
    }

    async fn scan(&self, ns: &PgNamespace, spec: &ScanSpec<'_>) -> Result<Page> {
        scan::scan(&self.client, ns, spec).await
    }

    async fn close(&self) {
        self.client.close();
    }
}

#[async_trait]
impl Connect for PgDriver {
    type Config = PgConfig;
    const SCHEMES: &'static [&'static str] = &["postgres", "postgresql"];
    const URL_ENV: &'static str = "PG_CONNECTION_STRING";
    const CONFIG_KEYS: &'static [ConfigKey] = &[ConfigKey {
        name: "pg_connection_string",
        help: "PostgreSQL connection URL or key/value string (postgresql://user:pass@host/db?timeout_ms=...)",
        secret: true,
    }];

    fn config_from_url(url: &str) -> Result<PgConfig> {
        PgConfig::from_url(url)
    }

    fn config_from_keys(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<PgConfig>> {
        get("pg_connection_string")
            .map(|s| PgConfig::from_url(&s))
            .transpose()
    }

    /// Builds the pool, then within the timeout: connects, creates the `vector` extension when
    /// it is missing (and allowed) and the catalog when absent, and learns the `vector` type.
    async fn connect(config: PgConfig) -> Result<Self> {
        let client = Client::connect(&config, catalog::bootstrap).await?;
        Ok(Self { config, client })
    }
}
