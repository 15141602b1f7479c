//! The [`VectorBackend`] trait, [`VectorBackendExt`] with the conveniences, and
//! [`OpenBackend`], how a backend crate is named and opened from a URL.
//!
//! `VectorBackend` is object-safe (it uses `async-trait`), so applications hold an
//! `Arc<dyn VectorBackend>` and swap backends without changing code. Its methods are the
//! contract's operations in their most general form and nothing else: a wrapper (metrics, say)
//! forwards exactly these. The design document's one-record signatures (`upsert`, `get`,
//! `query`, `delete`) and the `scan` stream live on [`VectorBackendExt`], implemented for every
//! backend and not implementable by anyone else, so they cannot drift from the primitives.
//!
//! Backend crates do not implement `VectorBackend` by hand: they implement
//! [`crate::driver::Driver`] and get it from [`crate::driver::Backend`], which validates,
//! keeps the namespace catalogue and finishes results once for all of them.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures_core::stream::BoxStream;

use crate::error::Result;
use crate::filter::Filter;
use crate::types::{
    Capabilities, Metadata, NamespaceConfig, NamespaceInfo, QueryRequest, Record, ScanPage,
    ScanRequest, SearchResult, StoredVector,
};

/// A store of embeddings with metadata, partitioned into namespaces.
///
/// # Contract
///
/// `docs/contract.md` states the rules; the conformance suite
/// (`vector_backend::conformance`, feature `conformance`) is their executable form, and a
/// backend is correct when it passes it against a live server. In short:
///
/// - Every input is validated before any I/O (see [`crate::validate`]); bad input returns a
///   typed error and changes nothing. A batch with one bad record writes nothing.
/// - A namespace has one dimension and metric, fixed by `create_namespace` or by the first
///   upsert (cosine, default index). Backends learn existing configs from the server.
/// - Scores follow [`crate::score`]; results are ordered by score descending, then key
///   ascending; `threshold` is an inclusive minimum score.
/// - Reads on an absent namespace return empty results, `None`, `0` or `false`, never errors.
/// - Read-your-writes: once a write returns `Ok`, `get`, `search` and `count` see it.
/// - A server that is down yields `Unavailable` within the configured timeout.
#[async_trait]
pub trait VectorBackend: fmt::Debug + Send + Sync {
    /// The backend's name (`"memory"`, `"redis"`, `"weaviate"`, `"pgvector"`), as used in metric
    /// labels and URLs.
    fn backend_type(&self) -> &'static str;

    /// What this backend supports. Anything outside it returns `Unsupported`.
    fn capabilities(&self) -> Capabilities;

    /// True when the server answers and has what the backend needs. Never errors, never hangs
    /// past the configured timeout.
    async fn health_check(&self) -> bool;

    /// Creates `namespace` with `config`. The same config again is a no-op; a different one is
    /// `ConfigMismatch`.
    async fn create_namespace(&self, namespace: &str, config: &NamespaceConfig) -> Result<()>;

    /// The namespace's config and count, or `None` when it does not exist.
    async fn namespace_info(&self, namespace: &str) -> Result<Option<NamespaceInfo>>;

    /// Removes the namespace, its config and every vector. True when it existed.
    async fn drop_namespace(&self, namespace: &str) -> Result<bool>;

    /// The original names of every namespace this tier created, sorted.
    async fn list_namespaces(&self) -> Result<Vec<String>>;

    /// Deletes every vector and keeps the namespace and its config. Returns how many were
    /// deleted; 0 when the namespace is absent.
    async fn clear_namespace(&self, namespace: &str) -> Result<u64>;

    /// Inserts or replaces every record (metadata replaced, not merged), creating the
    /// namespace implicitly when absent. All records are validated first; when two records share
    /// a key the last one wins.
    async fn upsert_batch(&self, namespace: &str, records: Vec<Record>) -> Result<()>;

    /// The stored vector of each key, in the order of `keys`.
    async fn get_batch(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<StoredVector>>>;

    /// Deletes every key; returns how many of them existed.
    async fn delete_batch(&self, namespace: &str, keys: &[String]) -> Result<u64>;

    /// The nearest neighbours of `request.embedding`, with optional threshold and filter.
    async fn search(&self, namespace: &str, request: &QueryRequest) -> Result<Vec<SearchResult>>;

    /// The answers to several queries on one namespace, in the order of `requests`; each equals
    /// what [`VectorBackend::search`] returns for it. Every request is validated before any is
    /// run: one bad request fails the whole call.
    async fn search_batch(
        &self,
        namespace: &str,
        requests: &[QueryRequest],
    ) -> Result<Vec<Vec<SearchResult>>>;

    /// How many vectors the namespace holds, or match `filter`.
    async fn count(&self, namespace: &str, filter: Option<&Filter>) -> Result<u64>;

    /// One page of records in ascending key order, resuming after `request.cursor`.
    async fn scan_page(&self, namespace: &str, request: &ScanRequest) -> Result<ScanPage>;

    /// Deletes every vector that matches `filter`; returns how many.
    async fn delete_by_filter(&self, namespace: &str, filter: &Filter) -> Result<u64>;

    /// Releases connections. The backend must not be used afterwards.
    async fn close(&self);
}

/// The design document's one-record operations and the `scan` stream, for every
/// [`VectorBackend`]. Implemented once, here, on top of the primitives; it cannot be implemented
/// elsewhere (the blanket implementation below covers every backend), so a wrapper never has
/// to forward it and no backend can make it behave differently.
#[async_trait]
pub trait VectorBackendExt: VectorBackend {
    /// Inserts or replaces one vector (the design document's `upsert`).
    async fn upsert(
        &self,
        namespace: &str,
        key: &str,
        embedding: Vec<f32>,
        metadata: Metadata,
    ) -> Result<()> {
        self.upsert_batch(namespace, vec![Record::new(key, embedding, metadata)])
            .await
    }

    /// The embedding and metadata of `key`, or `None` (the design document's `get`).
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<StoredVector>> {
        let mut got = self.get_batch(namespace, &[key.to_owned()]).await?;
        Ok(got.pop().flatten())
    }

    /// The `k` nearest neighbours with an optional inclusive minimum score (the design
    /// document's `query`).
    async fn query(
        &self,
        namespace: &str,
        embedding: &[f32],
        k: usize,
        threshold: Option<f64>,
    ) -> Result<Vec<SearchResult>> {
        let mut request = QueryRequest::new(embedding.to_vec(), k);
        request.threshold = threshold;
        self.search(namespace, &request).await
    }

    /// Deletes one vector; true when it existed (the design document's `delete`).
    async fn delete(&self, namespace: &str, key: &str) -> Result<bool> {
        Ok(self.delete_batch(namespace, &[key.to_owned()]).await? > 0)
    }

    /// All records of a namespace (optionally filtered) as a stream of pages, following
    /// [`VectorBackend::scan_page`] cursors. For export, backup and migration: memory use is
    /// one page at a time.
    fn scan<'a>(
        &'a self,
        namespace: &'a str,
        request: ScanRequest,
    ) -> BoxStream<'a, Result<Vec<Record>>> {
        use futures_util::StreamExt as _;
        // State: the next request, or None once the last page was returned.
        Box::pin(
            futures_util::stream::try_unfold(Some(request), move |next| async move {
                let Some(request) = next else { return Ok(None) };
                let page = self.scan_page(namespace, &request).await?;
                let following = page
                    .next_cursor
                    .map(|c| request.clone().with_cursor(Some(c)));
                Ok(Some((page.records, following)))
            })
            .filter(|page: &Result<Vec<Record>>| {
                // An empty last page carries no information for the consumer.
                std::future::ready(!matches!(page, Ok(p) if p.is_empty()))
            }),
        )
    }
}

impl<T: VectorBackend + ?Sized> VectorBackendExt for T {}

/// A cheaply cloneable, type-erased backend.
pub type DynBackend = Arc<dyn VectorBackend>;

/// How a backend crate is named and opened. The facade's URL dispatch and the conformance
/// harness use it, so a backend is registered nowhere else.
#[async_trait]
pub trait OpenBackend: VectorBackend + Sized + 'static {
    /// The backend's name, equal to [`VectorBackend::backend_type`].
    const NAME: &'static str;
    /// URL schemes [`OpenBackend::open`] accepts, such as `["redis", "rediss"]`.
    const SCHEMES: &'static [&'static str];
    /// The environment variable the design document uses for this backend's address
    /// (`REDIS_URL`, `WEAVIATE_URL`, `PG_CONNECTION_STRING`); empty for the memory backend.
    const URL_ENV: &'static str;

    /// Opens the backend from a URL. Errors never contain the URL's password.
    async fn open(url: &str) -> Result<Self>;
}

#[async_trait]
#[deny(clippy::missing_trait_methods)] // Every method must reach `T`.
impl<T: VectorBackend + ?Sized> VectorBackend for Arc<T> {
    fn backend_type(&self) -> &'static str {
        (**self).backend_type()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    async fn health_check(&self) -> bool {
        (**self).health_check().await
    }
    async fn create_namespace(&self, namespace: &str, config: &NamespaceConfig) -> Result<()> {
        (**self).create_namespace(namespace, config).await
    }
    async fn namespace_info(&self, namespace: &str) -> Result<Option<NamespaceInfo>> {
        (**self).namespace_info(namespace).await
    }
    async fn drop_namespace(&self, namespace: &str) -> Result<bool> {
        (**self).drop_namespace(namespace).await
    }
    async fn list_namespaces(&self) -> Result<Vec<String>> {
        (**self).list_namespaces().await
    }
    async fn clear_namespace(&self, namespace: &str) -> Result<u64> {
        (**self).clear_namespace(namespace).await
    }
    async fn upsert_batch(&self, namespace: &str, records: Vec<Record>) -> Result<()> {
        (**self).upsert_batch(namespace, records).await
    }
    async fn get_batch(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<StoredVector>>> {
        (**self).get_batch(namespace, keys).await
    }
    async fn delete_batch(&self, namespace: &str, keys: &[String]) -> Result<u64> {
        (**self).delete_batch(namespace, keys).await
    }
    async fn search(&self, namespace: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
        (**self).search(namespace, request).await
    }
    async fn search_batch(
        &self,
        namespace: &str,
        requests: &[QueryRequest],
    ) -> Result<Vec<Vec<SearchResult>>> {
        (**self).search_batch(namespace, requests).await
    }
    async fn count(&self, namespace: &str, filter: Option<&Filter>) -> Result<u64> {
        (**self).count(namespace, filter).await
    }
    async fn scan_page(&self, namespace: &str, request: &ScanRequest) -> Result<ScanPage> {
        (**self).scan_page(namespace, request).await
    }
    async fn delete_by_filter(&self, namespace: &str, filter: &Filter) -> Result<u64> {
        (**self).delete_by_filter(namespace, filter).await
    }
    async fn close(&self) {
        (**self).close().await;
    }
}
