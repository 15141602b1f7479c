//! [`MemoryBackend`]: the `VectorBackend` implementation over a map of namespaces, each behind
//! its own lock so writers to one namespace never block readers of another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use vector_backend::{
    Capabilities, Error, Filter, IndexKind, NamespaceConfig, NamespaceInfo, OpenBackend,
    QueryRequest, Record, Result, ScanPage, ScanRequest, SearchResult, StoredVector, VectorBackend,
    async_trait, validate,
};

use crate::config::MemoryConfig;
use crate::error::MemoryError;
use crate::namespace::{Namespace, record_size};

type Shared = Arc<RwLock<Namespace>>;

/// The in-memory backend. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    config: MemoryConfig,
    namespaces: RwLock<HashMap<String, Shared>>,
    /// Vectors and bytes held across all namespaces. Changed only by a writer that holds the
    /// namespace's write lock (lock order: namespace, then usage), so check-and-add is atomic.
    usage: Mutex<Usage>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    vectors: u64,
    bytes: u64,
}

/// Locks are only poisoned by a panic inside this crate's own code, which never leaves data
/// half-written in a way a reader could observe; recover the guard rather than propagate.
fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}
fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryBackend {
    /// A backend with the given limits.
    pub fn new(config: MemoryConfig) -> Self {
        Self {
            config,
            namespaces: RwLock::new(HashMap::new()),
            usage: Mutex::default(),
        }
    }

    fn lookup(&self, ns: &str) -> Option<Shared> {
        read(&self.namespaces).get(ns).cloned()
    }

    fn usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `change` on a namespace the caller holds for writing and books the difference in
    /// vectors and bytes.
    fn tracked<T>(&self, ns: &mut Namespace, change: impl FnOnce(&mut Namespace) -> T) -> T {
        let (n0, b0) = (ns.len() as u64, ns.bytes());
        let out = change(ns);
        let (n1, b1) = (ns.len() as u64, ns.bytes());
        let mut usage = self.usage();
        usage.vectors = (usage.vectors + n1).saturating_sub(n0);
        usage.bytes = (usage.bytes + b1).saturating_sub(b0);
        out
    }

    /// Writes `records` into `ns` (held for writing) unless that would exceed a limit.
    /// Replacements count only their growth.
    fn write_records(&self, ns: &mut Namespace, records: Vec<Record>) -> Result<()> {
        let mut usage = self.usage();
        if self.config.max_vectors.is_some() || self.config.max_bytes.is_some() {
            let mut vectors = usage.vectors;
            let mut bytes = usage.bytes;
            let mut batch: HashMap<&str, u64> = HashMap::new();
            for r in &records {
                let new = record_size(r);
                let old = batch
                    .get(r.key.as_str())
                    .copied()
                    .or_else(|| ns.size_of(&r.key));
                match old {
                    Some(old) => bytes = bytes.saturating_sub(old) + new,
                    None => {
                        vectors += 1;
                        bytes += new;
                    }
                }
                batch.insert(&r.key, new);
            }
            if let Some(limit) = self.config.max_vectors
                && vectors > limit
            {
                return Err(MemoryError::Capacity {
                    needed: vectors,
                    limit,
                    unit: "vectors",
                }
                .into());
            }
            if let Some(limit) = self.config.max_bytes
                && bytes > limit
            {
                return Err(MemoryError::Capacity {
                    needed: bytes,
                    limit,
                    unit: "bytes",
                }
                .into());
            }
        }
        let (n0, b0) = (ns.len() as u64, ns.bytes());
        for r in records {
            ns.upsert(r);
        }
        usage.vectors = usage.vectors + ns.len() as u64 - n0;
        usage.bytes = (usage.bytes + ns.bytes()).saturating_sub(b0);
        Ok(())
    }

    fn filter_checked(ns: &Namespace, filter: Option<&Filter>) -> Result<()> {
        match filter {
            Some(f) => f.validate(&ns.config.filterable, &vector_backend::FilterOp::ALL),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl VectorBackend for MemoryBackend {
    fn backend_type(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::full();
        // Exact search only: an approximate index would only lose recall here.
        caps.index_kinds = vec![IndexKind::Auto, IndexKind::Flat];
        caps.auto_index_is_exact = true;
        caps.persistent = false;
        caps
    }

    async fn health_check(&self) -> bool {
        true
    }

    async fn create_namespace(&self, namespace: &str, config: &NamespaceConfig) -> Result<()> {
        validate::namespace(namespace)?;
        validate::config(config, &self.capabilities())?;
        let mut map = write(&self.namespaces);
        if let Some(existing) = map.get(namespace) {
            return if read(existing).config == *config {
                Ok(())
            } else {
                Err(Error::new(
                    vector_backend::ErrorKind::ConfigMismatch,
                    format!("namespace {namespace} exists with a different config"),
                ))
            };
        }
        map.insert(
            namespace.to_owned(),
            Arc::new(RwLock::new(Namespace::new(config.clone()))),
        );
        Ok(())
    }

    async fn namespace_info(&self, namespace: &str) -> Result<Option<NamespaceInfo>> {
        validate::namespace(namespace)?;
        Ok(self.lookup(namespace).map(|ns| {
            let ns = read(&ns);
            NamespaceInfo::new(namespace, ns.config.clone(), ns.len() as u64)
        }))
    }

    async fn drop_namespace(&self, namespace: &str) -> Result<bool> {
        validate::namespace(namespace)?;
        // Release the map before touching the namespace (lock order: namespace, then usage).
        let removed = write(&self.namespaces).remove(namespace);
        Ok(match removed {
            Some(ns) => {
                let mut ns = write(&ns);
                self.tracked(&mut ns, Namespace::clear);
                true
            }
            None => false,
        })
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = read(&self.namespaces).keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    async fn clear_namespace(&self, namespace: &str) -> Result<u64> {
        validate::namespace(namespace)?;
        Ok(self
            .lookup(namespace)
            .map_or(0, |ns| self.tracked(&mut write(&ns), Namespace::clear)))
    }

    async fn upsert_batch(&self, namespace: &str, records: Vec<Record>) -> Result<()> {
        validate::namespace(namespace)?;
        if records.is_empty() {
            return Ok(());
        }
        let mut created = false;
        let shared = match self.lookup(namespace) {
            Some(ns) => ns,
            None => {
                created = true;
                // Validate against the implicit config before creating anything.
                let config = validate::batch(&records, None)?;
                let mut map = write(&self.namespaces);
                map.entry(namespace.to_owned())
                    .or_insert_with(|| Arc::new(RwLock::new(Namespace::new(config))))
                    .clone()
            }
        };
        let mut ns = write(&shared);
        let written = validate::batch(&records, Some(&ns.config))
            .and_then(|_| self.write_records(&mut ns, records));
        if let Err(e) = written {
            // A rejected write changes nothing, not even the implicit namespace.
            if created && ns.len() == 0 {
                drop(ns);
                write(&self.namespaces).remove(namespace);
            }
            return Err(e);
        }
        Ok(())
    }

    async fn get_batch(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<StoredVector>>> {
        validate::namespace(namespace)?;
        validate::keys(keys)?;
        Ok(match self.lookup(namespace) {
            None => vec![None; keys.len()],
            Some(ns) => {
                let ns = read(&ns);
                keys.iter().map(|k| ns.get(k)).collect()
            }
        })
    }

    async fn delete_batch(&self, namespace: &str, keys: &[String]) -> Result<u64> {
        validate::namespace(namespace)?;
        validate::keys(keys)?;
        Ok(match self.lookup(namespace) {
            None => 0,
            Some(ns) => {
                let mut ns = write(&ns);
                self.tracked(&mut ns, |ns| {
                    keys.iter().filter(|k| ns.remove(k)).count() as u64
                })
            }
        })
    }

    async fn search(&self, namespace: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
        validate::query(namespace, request)?;
        let Some(ns) = self.lookup(namespace) else {
            return Ok(Vec::new());
        };
        let ns = read(&ns);
        validate::embedding_for(&request.embedding, &ns.config)?;
        Self::filter_checked(&ns, request.filter.as_ref())?;
        Ok(ns.search(
            &request.embedding,
            request.k,
            request.threshold,
            request.filter.as_ref(),
            request.include_embedding,
        ))
    }

    async fn count(&self, namespace: &str, filter: Option<&Filter>) -> Result<u64> {
        validate::namespace(namespace)?;
        let Some(ns) = self.lookup(namespace) else {
            return Ok(0);
        };
        let ns = read(&ns);
        Self::filter_checked(&ns, filter)?;
        Ok(ns.count(filter))
    }

    async fn scan_page(&self, namespace: &str, request: &ScanRequest) -> Result<ScanPage> {
        validate::namespace(namespace)?;
        validate::page_size(request.page_size)?;
        let Some(ns) = self.lookup(namespace) else {
            return Ok(ScanPage::default());
        };
        let ns = read(&ns);
        Self::filter_checked(&ns, request.filter.as_ref())?;
        let (records, more) = ns.page(
            request.cursor.as_deref(),
            request.effective_page_size(),
            request.filter.as_ref(),
        );
        let next = if more {
            records.last().map(|r| r.key.clone())
        } else {
            None
        };
        Ok(ScanPage::new(records, next))
    }

    async fn delete_by_filter(&self, namespace: &str, filter: &Filter) -> Result<u64> {
        validate::namespace(namespace)?;
        let Some(ns) = self.lookup(namespace) else {
            return Ok(0);
        };
        let mut ns = write(&ns);
        Self::filter_checked(&ns, Some(filter))?;
        let keys = ns.matching_keys(filter);
        Ok(self.tracked(&mut ns, |ns| {
            keys.iter().filter(|k| ns.remove(k)).count() as u64
        }))
    }
}

#[async_trait]
impl OpenBackend for MemoryBackend {
    const NAME: &'static str = "memory";
    const SCHEMES: &'static [&'static str] = &["memory"];
    const URL_ENV: &'static str = "";

    async fn open(url: &str) -> Result<Self> {
        Ok(Self::new(MemoryConfig::from_url(url)?))
    }
}
