//! [`Backend`]: the [`VectorBackend`] every driver gets: validation once, the namespace
//! catalogue with its reload-and-retry rule, duplicate folding, result finishing, cursors.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use super::catalog::Catalog;
use super::prepared::{decode_cursor, encode_cursor};
use super::{
    CheckedFilter, Connect, Driver, KeySet, NamespaceName, NamespaceState, Query, ScanSpec,
    WriteBatch,
};
use crate::backend::{OpenBackend, VectorBackend};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::types::{
    Capabilities, NamespaceConfig, NamespaceInfo, QueryRequest, Record, ScanPage, ScanRequest,
    SearchResult, StoredVector,
};
use crate::{score, validate};

/// How many times an operation is tried when the namespace changes under it. Each retry
/// follows a change made by another client, so more than a few means the namespace is being
/// dropped and created in a loop; the caller then gets a retryable `Unavailable`.
const ATTEMPTS: usize = 4;

/// The most candidates a query asks a driver for while completing a tie at the k-th place:
/// bounded work per request, whatever the data.
const MAX_FETCH: usize = 4 * validate::MAX_K;

/// A [`VectorBackend`] made from a [`Driver`]. Backend crates export it under their own name
/// (`pub type RedisBackend = Backend<RedisDriver>`). Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Backend<D: Driver> {
    driver: D,
    caps: Capabilities,
    catalog: Catalog<D::Namespace>,
}

impl<D: Driver> Backend<D> {
    /// Wraps a driver (or what converts into one, such as its config).
    pub fn new(driver: impl Into<D>) -> Self {
        let driver = driver.into();
        Self {
            caps: driver.capabilities(),
            catalog: Catalog::new(D::CACHE_NAMESPACES),
            driver,
        }
    }

    /// The driver, for what is particular to one backend (diagnostics in its own tests).
    pub fn driver(&self) -> &D {
        &self.driver
    }

    /// The current incarnation of `name`: from the cache, else from the server; and whether
    /// it came from the cache.
    async fn entry(&self, name: NamespaceName<'_>) -> Result<Option<(Arc<D::Namespace>, bool)>> {
        if let Some(e) = self.catalog.get(name.as_str()) {
            return Ok(Some((e, true)));
        }
        let Some(loaded) = self.driver.load_namespace(name).await? else {
            return Ok(None);
        };
        let loaded = Arc::new(loaded);
        self.catalog.put(name.as_str(), &loaded);
        Ok(Some((loaded, false)))
    }

    /// After a request failed validation against a cached entry: whether the namespace on the
    /// server now has another config (or is gone), so the request must be checked again. A
    /// cached config may be one that another client replaced (dropped and re-created), and
    /// refusing a request for it would be wrong; the driver never sees such a request, so its
    /// incarnation check cannot catch it.
    async fn config_changed(
        &self,
        name: NamespaceName<'_>,
        stale: &Arc<D::Namespace>,
    ) -> Result<bool> {
        self.catalog.forget_stale(name.as_str(), stale);
        Ok(self
            .entry(name)
            .await?
            .is_none_or(|(fresh, _)| fresh.config() != stale.config()))
    }

    /// Runs `op` on the current incarnation of `name`, reloading and retrying when the driver
    /// reports that it changed; `None` when the namespace does not exist.
    async fn on_namespace<T, F, Fut>(&self, name: NamespaceName<'_>, mut op: F) -> Result<Option<T>>
    where
        F: FnMut(Arc<D::Namespace>) -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
        T: Send,
    {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let Some((entry, cached)) = self.entry(name).await? else {
                return Ok(None);
            };
            match op(entry.clone()).await {
                Err(e) if e.is_namespace_changed() => {
                    self.catalog.forget_stale(name.as_str(), &entry);
                    last = Some(e);
                }
                Err(e) if cached && e.kind().is_invalid_input() => {
                    if !self.config_changed(name, &entry).await? {
                        return Err(e);
                    }
                    last = Some(e);
                }
                r => return r.map(Some),
            }
        }
        Err(last.unwrap_or_else(|| Error::namespace_changed(name.as_str())))
    }

    /// Runs a query, asking for more candidates while a tie at the k-th place may continue
    /// past the last one returned, and finishes it (threshold, order, `k`).
    async fn run_query(
        &self,
        ns: &D::Namespace,
        query: &Query<'_>,
        first: Vec<SearchResult>,
    ) -> Result<Vec<SearchResult>> {
        let mut hits = first;
        let mut fetch = query.fetch();
        loop {
            hits.sort_by(score::result_order);
            if !tie_may_continue(&hits, query.k(), fetch, query.threshold()) || fetch >= MAX_FETCH {
                return Ok(score::finish(hits, query.k(), query.threshold()));
            }
            fetch = (fetch * 2).min(MAX_FETCH);
            hits = self.driver.search(ns, &query.with_fetch(fetch)).await?;
        }
    }
}

/// Whether the candidates (sorted, `fetch` asked for) may have cut a tie group at the k-th
/// place: the server returned all it was asked for and the last one scores like the k-th.
fn tie_may_continue(
    sorted: &[SearchResult],
    k: usize,
    fetch: usize,
    threshold: Option<f64>,
) -> bool {
    sorted.len() >= fetch
        && sorted
            .get(k.saturating_sub(1))
            .zip(sorted.last())
            .is_some_and(|(kth, last)| {
                kth.score == last.score && score::passes_threshold(kth.score, threshold)
            })
}

/// The config an implicit creation gives a namespace: the first record's dimension, cosine.
fn implicit_config(records: &[Record]) -> Result<NamespaceConfig> {
    validate::batch(records.get(..1).unwrap_or_default(), None)
}

/// A write batch before and after validation.
struct Unprepared(Option<Vec<Record>>, Option<WriteBatch>);

impl Unprepared {
    fn records(&self) -> &[Record] {
        match (&self.0, &self.1) {
            (_, Some(b)) => b.records(),
            (Some(r), None) => r,
            (None, None) => &[],
        }
    }

    /// The batch validated against `config` (validating it now unless it already was).
    fn prepare(&mut self, config: &NamespaceConfig) -> Result<&WriteBatch> {
        match &mut self.1 {
            Some(b) => b.revalidate(config)?,
            None => {
                let records = self.0.get_or_insert_default();
                self.1 = Some(WriteBatch::prepare(records, config)?);
            }
        }
        self.1
            .as_ref()
            .ok_or_else(|| Error::backend("write batch lost while validating"))
    }
}

#[async_trait]
impl<D: Driver> VectorBackend for Backend<D> {
    fn backend_type(&self) -> &'static str {
        D::NAME
    }

    fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }

    async fn health_check(&self) -> bool {
        self.driver.health_check().await
    }

    async fn create_namespace(&self, namespace: &str, config: &NamespaceConfig) -> Result<()> {
        let name = NamespaceName::new(namespace)?;
        validate::config(config, &self.caps)?;
        self.driver.check_config(config)?;
        let ensured = self.driver.create_namespace(name, config).await?;
        let entry = Arc::new(ensured.namespace);
        self.catalog.put(namespace, &entry);
        if entry.config() == config {
            Ok(())
        } else {
            Err(Error::config_mismatch(namespace))
        }
    }

    async fn namespace_info(&self, namespace: &str) -> Result<Option<NamespaceInfo>> {
        let name = NamespaceName::new(namespace)?;
        self.on_namespace(name, |e| async move {
            let n = self.driver.count(&e, None).await?;
            Ok(NamespaceInfo::new(namespace, e.config().clone(), n))
        })
        .await
    }

    async fn drop_namespace(&self, namespace: &str) -> Result<bool> {
        let name = NamespaceName::new(namespace)?;
        self.catalog.forget(namespace);
        let existed = self.driver.drop_namespace(name).await;
        // Forget again: an operation running meanwhile may have cached the dropped incarnation.
        self.catalog.forget(namespace);
        existed
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        let mut names = self.driver.list_namespaces().await?;
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn clear_namespace(&self, namespace: &str) -> Result<u64> {
        let name = NamespaceName::new(namespace)?;
        Ok(self
            .on_namespace(name, |e| async move { self.driver.clear(&e).await })
            .await?
            .unwrap_or(0))
    }

    async fn upsert_batch(&self, namespace: &str, records: Vec<Record>) -> Result<()> {
        let name = NamespaceName::new(namespace)?;
        if records.is_empty() {
            return Ok(());
        }
        // Validated once, against the config of the namespace it lands in; again only if that
        // namespace turns out to have another config (re-created elsewhere meanwhile).
        let mut batch = Unprepared(Some(records), None);
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let (entry, created, cached) = match self.entry(name).await? {
                Some((e, cached)) => (e, false, cached),
                None => {
                    // Validate against the implicit config before creating anything.
                    let implicit = implicit_config(batch.records())?;
                    batch.prepare(&implicit)?;
                    let ensured = self.driver.create_namespace(name, &implicit).await?;
                    let entry = Arc::new(ensured.namespace);
                    self.catalog.put(namespace, &entry);
                    (entry, ensured.created, false)
                }
            };
            let prepared = match batch.prepare(entry.config()) {
                Err(e) if cached && e.kind().is_invalid_input() => {
                    if !self.config_changed(name, &entry).await? {
                        return Err(e);
                    }
                    last = Some(e);
                    continue;
                }
                r => r?,
            };
            match self.driver.write(&entry, prepared).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_namespace_changed() => {
                    self.catalog.forget_stale(namespace, &entry);
                    last = Some(e);
                }
                Err(e) => {
                    if created && !e.is_retryable() {
                        // Refused as a whole: the implicit namespace must not outlive it.
                        self.catalog.forget_stale(namespace, &entry);
                        let _ = self.driver.discard_if_empty(&entry).await;
                    }
                    return Err(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::namespace_changed(namespace)))
    }

    async fn get_batch(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<StoredVector>>> {
        let name = NamespaceName::new(namespace)?;
        let (set, positions) = KeySet::prepare(keys)?;
        if set.is_empty() {
            return Ok(Vec::new());
        }
        let set = &set;
        let found = self
            .on_namespace(name, |e| async move { self.driver.read(&e, set).await })
            .await?;
        Ok(match found {
            None => vec![None; keys.len()],
            Some(found) => positions
                .into_iter()
                .map(|i| found.get(i).cloned().flatten())
                .collect(),
        })
    }

    async fn delete_batch(&self, namespace: &str, keys: &[String]) -> Result<u64> {
        let name = NamespaceName::new(namespace)?;
        let (set, _) = KeySet::prepare(keys)?;
        if set.is_empty() {
            return Ok(0);
        }
        let set = &set;
        Ok(self
            .on_namespace(name, |e| async move { self.driver.delete(&e, set).await })
            .await?
            .unwrap_or(0))
    }

    async fn search(&self, namespace: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
        let name = NamespaceName::new(namespace)?;
        validate::query_request(request)?;
        Ok(self
            .on_namespace(name, |e| async move {
                let query = Query::prepare(request, e.config(), &self.caps)?;
                let first = self.driver.search(&e, &query).await?;
                self.run_query(&e, &query, first).await
            })
            .await?
            .unwrap_or_default())
    }

    async fn search_batch(
        &self,
        namespace: &str,
        requests: &[QueryRequest],
    ) -> Result<Vec<Vec<SearchResult>>> {
        let name = NamespaceName::new(namespace)?;
        requests.iter().try_for_each(validate::query_request)?;
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let answers = self
            .on_namespace(name, |e| async move {
                let queries = requests
                    .iter()
                    .map(|r| Query::prepare(r, e.config(), &self.caps))
                    .collect::<Result<Vec<_>>>()?;
                let firsts = self.driver.search_batch(&e, &queries).await?;
                if firsts.len() != queries.len() {
                    return Err(Error::backend(format!(
                        "the {} driver answered {} of {} queries",
                        D::NAME,
                        firsts.len(),
                        queries.len()
                    )));
                }
                let mut out = Vec::with_capacity(queries.len());
                for (q, first) in queries.iter().zip(firsts) {
                    out.push(self.run_query(&e, q, first).await?);
                }
                Ok(out)
            })
            .await?;
        Ok(answers.unwrap_or_else(|| vec![Vec::new(); requests.len()]))
    }

    async fn count(&self, namespace: &str, filter: Option<&Filter>) -> Result<u64> {
        let name = NamespaceName::new(namespace)?;
        Ok(self
            .on_namespace(name, |e| async move {
                let filter = CheckedFilter::optional(filter, e.config(), &self.caps)?;
                self.driver.count(&e, filter.as_ref()).await
            })
            .await?
            .unwrap_or(0))
    }

    async fn scan_page(&self, namespace: &str, request: &ScanRequest) -> Result<ScanPage> {
        let name = NamespaceName::new(namespace)?;
        validate::page_size(request.page_size)?;
        let after = request.cursor.as_deref().map(decode_cursor).transpose()?;
        let after = &after;
        let page = self
            .on_namespace(name, |e| async move {
                let filter =
                    CheckedFilter::optional(request.filter.as_ref(), e.config(), &self.caps)?;
                let spec = ScanSpec::new(after.clone(), request.effective_page_size(), filter);
                self.driver.scan(&e, &spec).await
            })
            .await?;
        Ok(match page {
            None => ScanPage::default(),
            Some(page) => {
                let next = if page.more {
                    page.records.last().map(|r| encode_cursor(&r.key))
                } else {
                    None
                };
                ScanPage::new(page.records, next)
            }
        })
    }

    async fn delete_by_filter(&self, namespace: &str, filter: &Filter) -> Result<u64> {
        let name = NamespaceName::new(namespace)?;
        Ok(self
            .on_namespace(name, |e| async move {
                let filter = CheckedFilter::new(filter, e.config(), &self.caps)?;
                self.driver.delete_matching(&e, &filter).await
            })
            .await?
            .unwrap_or(0))
    }

    async fn close(&self) {
        self.driver.close().await;
    }
}

#[async_trait]
impl<D: Connect> OpenBackend for Backend<D> {
    const NAME: &'static str = D::NAME;
    const SCHEMES: &'static [&'static str] = D::SCHEMES;
    const URL_ENV: &'static str = D::URL_ENV;

    async fn open(url: &str) -> Result<Self> {
        Ok(Self::new(D::connect(D::config_from_url(url)?).await?))
    }
}

impl<D: Driver + Default> Default for Backend<D> {
    fn default() -> Self {
        Self::new(D::default())
    }
}

impl<D: Connect> Backend<D> {
    /// Connects a driver from its typed config.
    ///
    /// # Errors
    /// As [`Connect::connect`].
    pub async fn connect(config: D::Config) -> Result<Self> {
        Ok(Self::new(D::connect(config).await?))
    }
}
