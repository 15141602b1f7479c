//! [`MemoryDriver`]: the in-memory [`Driver`]. Thin: each primitive takes the namespace's lock
//! (which also checks that the incarnation is still live) and calls the storage.

use std::sync::Arc;

use vector_backend::driver::{
    CheckedFilter, ConfigKey, Connect, Driver, Ensured, KeySet, KeywordQuery, NamespaceName, Page,
    Query, ScanSpec, WriteBatch,
};
use vector_backend::{
    Capabilities, IndexKind, NamespaceConfig, Record, Result, SearchResult, StoredVector,
    async_trait,
};

use crate::catalog::{MemoryNamespace, Store};
use crate::config::MemoryConfig;
use crate::namespace::{BatchItem, Namespace};

/// The in-memory driver: a [`Store`] of namespaces. [`crate::MemoryBackend`] is the backend
/// made from it.
#[derive(Debug, Clone, Default)]
pub struct MemoryDriver {
    store: Arc<Store>,
}

impl MemoryDriver {
    /// A driver over a new, empty store with the given limits.
    pub fn new(config: MemoryConfig) -> Self {
        Self {
            store: Arc::new(Store::new(config)),
        }
    }

    /// What `namespace`'s index holds and what building it cost so far, or `None` when the
    /// namespace does not exist. For reports such as `vtier bench` (HNSW build time) and for
    /// operators (tombstones waiting for a rebuild, bytes counted against `max_bytes`).
    pub fn index_stats(&self, namespace: &str) -> Option<IndexStats> {
        let ns = self.store.load_str(namespace)?;
        let data = ns.read().ok()?;
        Some(data.index_stats())
    }

    /// A second driver over the same store: what a second replica is to a server. Each has
    /// its own catalogue; a change made through one is honoured by the other's next operation.
    #[must_use]
    pub fn share(&self) -> Self {
        self.clone()
    }
}

impl From<MemoryConfig> for MemoryDriver {
    fn from(config: MemoryConfig) -> Self {
        Self::new(config)
    }
}

/// What a namespace's index holds ([`MemoryDriver::index_stats`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct IndexStats {
    /// The namespace's index kind (`auto` and `flat` are the exact scan).
    pub index: IndexKind,
    /// Records held.
    pub rows: u64,
    /// HNSW: graph nodes, tombstones included (0 for the exact scan).
    pub graph_nodes: u64,
    /// HNSW: deleted or replaced nodes still in the graph; it is rebuilt past a third.
    pub tombstones: u64,
    /// HNSW: wall-clock seconds spent linking nodes and rebuilding since the namespace was
    /// created or cleared (the build time of a bulk load).
    pub build_seconds: f64,
    /// Bytes counted against `max_bytes` (rows, int8 copy, graph, keys, metadata).
    pub bytes: u64,
}

/// Namespaces with fewer floats than this are scanned on the calling task; larger ones on
/// tokio's blocking pool, so a long scan never stalls the async workers that answer `/health`
/// and every other request. About 0.1 ms of work: below it the hand-off costs more than it
/// frees.
const OFFLOAD_FLOATS: usize = 1 << 16;

/// Runs `work` on the blocking pool when the namespace is large (or holds a graph, whose
/// writes link nodes) and a tokio runtime is present; inline otherwise. `work` takes the
/// namespace's lock itself (so a read guard never crosses threads).
async fn offload<T: Send + 'static>(
    ns: &MemoryNamespace,
    work: impl FnOnce(&MemoryNamespace) -> Result<T> + Send + 'static,
) -> Result<T> {
    let large = {
        let data = ns.read()?;
        data.len() * data.config.dimension >= OFFLOAD_FLOATS || graph(ns)
    };
    let handle = ns.clone();
    let run = move || work(&handle);
    match tokio::runtime::Handle::try_current() {
        Ok(rt) if large => rt
            .spawn_blocking(run)
            .await
            .map_err(|e| vector_backend::Error::backend("a memory scan panicked").with_source(e))?,
        _ => run(),
    }
}

/// True for an `index: hnsw` namespace: its writes link graph nodes (slow) and may rebuild it.
fn graph(ns: &MemoryNamespace) -> bool {
    ns.0.config.index == IndexKind::Hnsw
}

/// [`offload`] for work that only reads.
async fn offload_read<T: Send + 'static>(
    ns: &MemoryNamespace,
    work: impl FnOnce(&Namespace) -> Result<T> + Send + 'static,
) -> Result<T> {
    offload(ns, move |ns| work(&*ns.read()?)).await
}

#[async_trait]
impl Driver for MemoryDriver {
    type Namespace = MemoryNamespace;
    const NAME: &'static str = "memory";
    // A load is a map lookup: caching would only add a second map.
    const CACHE_NAMESPACES: bool = false;

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::full();
        // `auto` stays the exact scan: this backend is the reference the others are checked
        // against, and exactness must not change with a namespace's size. HNSW is opt-in.
        caps.index_kinds = vec![IndexKind::Auto, IndexKind::Flat, IndexKind::Hnsw];
        caps.auto_index_is_exact = true;
        caps.persistent = false;
        caps
    }

    async fn health_check(&self) -> bool {
        true
    }

    async fn load_namespace(&self, name: NamespaceName<'_>) -> Result<Option<MemoryNamespace>> {
        Ok(self.store.load(name))
    }

    async fn create_namespace(
        &self,
        name: NamespaceName<'_>,
        config: &NamespaceConfig,
    ) -> Result<Ensured<MemoryNamespace>> {
        Ok(self.store.create(name, config))
    }

    async fn drop_namespace(&self, name: NamespaceName<'_>) -> Result<bool> {
        Ok(self.store.drop_namespace(name))
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        Ok(self.store.names())
    }

    async fn count(&self, ns: &MemoryNamespace, filter: Option<&CheckedFilter<'_>>) -> Result<u64> {
        let Some(filter) = filter else {
            return Ok(ns.read()?.len() as u64);
        };
        let filter = filter.filter().clone();
        offload_read(ns, move |data| Ok(data.count(Some(&filter)))).await
    }

    async fn clear(&self, ns: &MemoryNamespace) -> Result<u64> {
        let mut data = ns.write()?;
        Ok(self.store.tracked(&mut data, |d| d.clear()))
    }

    async fn write(&self, ns: &MemoryNamespace, batch: &WriteBatch) -> Result<()> {
        if graph(ns) {
            // Linking the new nodes takes long: off the async workers (the records are copied
            // to cross threads; that costs far less than linking them).
            let records: Vec<Record> = batch.records().to_vec();
            let store = self.store.clone();
            return offload(ns, move |ns| {
                let mut data = ns.write()?;
                store.write_batch(&mut data, &records)
            })
            .await;
        }
        let mut data = ns.write()?;
        self.store.write_batch(&mut data, batch.records())
    }

    async fn read(
        &self,
        ns: &MemoryNamespace,
        keys: &KeySet<'_>,
    ) -> Result<Vec<Option<StoredVector>>> {
        let data = ns.read()?;
        Ok(keys.keys().iter().map(|k| data.get(k)).collect())
    }

    async fn delete(&self, ns: &MemoryNamespace, keys: &KeySet<'_>) -> Result<u64> {
        if graph(ns) {
            // Deletes leave tombstones; enough of them rebuild the graph (slow).
            let keys: Vec<String> = keys.keys().iter().map(|k| (*k).to_owned()).collect();
            let store = self.store.clone();
            return offload(ns, move |ns| {
                let mut data = ns.write()?;
                let n = store.tracked(&mut data, |d| {
                    keys.iter().filter(|k| d.remove(k)).count() as u64
                });
                data.finish_writes();
                Ok(n)
            })
            .await;
        }
        let mut data = ns.write()?;
        Ok(self.store.tracked(&mut data, |d| {
            keys.keys().iter().filter(|k| d.remove(k)).count() as u64
        }))
    }

    async fn delete_matching(
        &self,
        ns: &MemoryNamespace,
        filter: &CheckedFilter<'_>,
    ) -> Result<u64> {
        let filter = filter.filter().clone();
        let store = self.store.clone();
        offload(ns, move |ns| {
            let mut data = ns.write()?;
            let keys = data.matching_keys(&filter);
            let n = store.tracked(&mut data, |d| {
                keys.iter().filter(|k| d.remove(k)).count() as u64
            });
            data.finish_writes();
            Ok(n)
        })
        .await
    }

    async fn search(&self, ns: &MemoryNamespace, query: &Query<'_>) -> Result<Vec<SearchResult>> {
        let embedding = query.embedding().to_vec();
        let filter = query.filter().map(|f| f.filter().clone());
        let (fetch, threshold, include) =
            (query.fetch(), query.threshold(), query.include_embedding());
        offload_read(ns, move |data| {
            Ok(data.search(&embedding, fetch, threshold, filter.as_ref(), include))
        })
        .await
    }

    async fn search_batch(
        &self,
        ns: &MemoryNamespace,
        queries: &[Query<'_>],
    ) -> Result<Vec<Vec<SearchResult>>> {
        let items: Vec<BatchItem> = queries
            .iter()
            .map(|q| BatchItem {
                embedding: q.embedding().to_vec(),
                fetch: q.fetch(),
                threshold: q.threshold(),
                filter: q.filter().map(|f| f.filter().clone()),
                include_embedding: q.include_embedding(),
            })
            .collect();
        offload_read(ns, move |data| Ok(data.search_batch(&items))).await
    }

    async fn keyword(
        &self,
        ns: &MemoryNamespace,
        query: &KeywordQuery<'_>,
    ) -> Result<Vec<SearchResult>> {
        let tokens = query.tokens().to_vec();
        let filter = query.filter().map(|f| f.filter().clone());
        let (fetch, include) = (query.fetch(), query.include_embedding());
        offload_read(ns, move |data| {
            Ok(data.keyword(&tokens, fetch, filter.as_ref(), include))
        })
        .await
    }

    async fn scan(&self, ns: &MemoryNamespace, spec: &ScanSpec<'_>) -> Result<Page> {
        let after = spec.after().map(str::to_owned);
        let filter = spec.filter().map(|f| f.filter().clone());
        let limit = spec.limit();
        offload_read(ns, move |data| {
            let (records, more) = data.page(after.as_deref(), limit, filter.as_ref());
            Ok(Page::new(records, more))
        })
        .await
    }

    async fn discard_if_empty(&self, ns: &MemoryNamespace) -> Result<()> {
        self.store.discard_if_empty(ns);
        Ok(())
    }
}

#[async_trait]
impl Connect for MemoryDriver {
    type Config = MemoryConfig;
    const SCHEMES: &'static [&'static str] = &["memory"];
    const URL_ENV: &'static str = "";
    const CONFIG_KEYS: &'static [ConfigKey] = &[
        ConfigKey {
            name: "memory_max_vectors",
            help: "most vectors held across all namespaces (unlimited when unset)",
            secret: false,
        },
        ConfigKey {
            name: "memory_max_bytes",
            help: "most bytes of embeddings, keys and metadata held (unlimited when unset)",
            secret: false,
        },
        ConfigKey {
            name: "memory_hnsw_m",
            help: "links per node of HNSW namespaces' graphs (default 16)",
            secret: false,
        },
        ConfigKey {
            name: "memory_hnsw_ef_construction",
            help: "search width while building HNSW graphs (default 200)",
            secret: false,
        },
        ConfigKey {
            name: "memory_hnsw_ef_search",
            help: "least search width of an HNSW query (default 128; max(this, k + k/4 + 16))",
            secret: false,
        },
    ];

    fn config_from_url(url: &str) -> Result<MemoryConfig> {
        MemoryConfig::from_url(url)
    }

    fn config_from_keys(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<MemoryConfig>> {
        let number = |key: &str| -> Result<Option<u64>> {
            get(key)
                .map(|v| {
                    v.trim().parse().map_err(|_| {
                        vector_backend::Error::invalid_argument(format!(
                            "{key} must be a whole number (got {v:?})"
                        ))
                    })
                })
                .transpose()
        };
        let mut config = MemoryConfig::default();
        for key in Self::CONFIG_KEYS {
            if let Some(n) = number(key.name)? {
                config.set(&key.name["memory_".len()..], n)?;
            }
        }
        Ok(Some(config))
    }

    async fn connect(config: MemoryConfig) -> Result<Self> {
        Ok(Self::new(config))
    }
}
