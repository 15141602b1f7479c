//! [`MetricsBackend`]: the one place metrics are recorded. It implements [`VectorBackend`] by
//! delegating every method to the wrapped backend and reporting each call to a
//! [`MetricsCallback`], so no backend calls metrics itself.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use vector_backend::{
    Capabilities, DynBackend, ErrorKind, Filter, NamespaceConfig, NamespaceInfo, QueryRequest,
    Record, Result, ScanPage, ScanRequest, SearchResult, StoredVector, VectorBackend,
};

use crate::event::{MetricsCallback, MetricsEvent, operation as op};

/// A backend that records the design document's metrics for every call of the backend it
/// wraps. Opening it reports a connection; [`VectorBackend::close`] (or dropping it unclosed)
/// reports its end.
#[derive(Debug)]
pub struct MetricsBackend<B> {
    inner: B,
    callback: MetricsCallback,
    closed: AtomicBool,
}

/// Wraps a type-erased backend: the usual way to add metrics to whatever the factory opened.
pub fn instrument(backend: DynBackend, callback: MetricsCallback) -> DynBackend {
    Arc::new(MetricsBackend::new(backend, callback))
}

impl<B: VectorBackend> MetricsBackend<B> {
    /// Wraps `inner`, reporting to `callback`.
    pub fn new(inner: B, callback: MetricsCallback) -> Self {
        callback.call(&MetricsEvent::ConnectionOpened);
        Self {
            inner,
            callback,
            closed: AtomicBool::new(false),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Updates `vector_namespaces_total` from one `list_namespaces`, marks the listed
    /// namespaces (at most `max_namespaces`) as existing, so they may use a `namespace` label
    /// value, and updates their `vector_count_per_namespace` where the backend counts cheaply
    /// (see [`counts_cheaply`]). These calls are not counted as operations, so a periodic
    /// refresh does not distort `vector_query_total`.
    ///
    /// # Errors
    /// The first error of the backend.
    pub async fn refresh_gauges(&self, max_namespaces: usize) -> Result<()> {
        let names = self.inner.list_namespaces().await?;
        self.callback.call(&MetricsEvent::NamespacesTotal {
            count: names.len() as u64,
        });
        let counts = counts_cheaply(self.inner.backend_type());
        for name in names.iter().take(max_namespaces) {
            self.callback
                .call(&MetricsEvent::NamespaceExists { namespace: name });
            if counts && let Some(info) = self.inner.namespace_info(name).await? {
                self.callback.call(&MetricsEvent::NamespaceCount {
                    namespace: name,
                    count: info.count,
                });
            }
        }
        Ok(())
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        namespace: &str,
        call: impl Future<Output = Result<T>> + Send,
    ) -> Result<T> {
        self.observe_admitting(operation, namespace, call, |_| false)
            .await
    }

    /// Like `observe`; `exists` says whether a successful result proves that the namespace
    /// exists (it was created, written to, or described), which lets it use a label value.
    async fn observe_admitting<T>(
        &self,
        operation: &'static str,
        namespace: &str,
        call: impl Future<Output = Result<T>> + Send,
        exists: impl FnOnce(&T) -> bool + Send,
    ) -> Result<T> {
        // One span per operation: backend, namespace and outcome only (never keys or vectors).
        let span = tracing::info_span!(
            "vector_backend",
            otel.name = operation,
            backend = self.inner.backend_type(),
            namespace,
            outcome = tracing::field::Empty
        );
        let started = Instant::now();
        let result = tracing::Instrument::instrument(call, span.clone()).await;
        span.record(
            "outcome",
            result.as_ref().map_or_else(|e| e.kind().as_str(), |_| "ok"),
        );
        if let Ok(value) = &result
            && exists(value)
        {
            self.callback
                .call(&MetricsEvent::NamespaceExists { namespace });
        }
        self.callback.call(&MetricsEvent::Operation {
            operation,
            namespace,
            duration: started.elapsed(),
            error: result.as_ref().err().map(|e| e.kind()),
        });
        result
    }

    fn namespace_count(&self, namespace: &str, count: u64) {
        self.callback
            .call(&MetricsEvent::NamespaceCount { namespace, count });
    }

    fn report_closed(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.callback.call(&MetricsEvent::ConnectionClosed);
        }
    }
}

/// Whether a backend of this type answers `namespace_info` without reading every record, so
/// a periodic gauge refresh may ask it for every namespace: the memory backend keeps a length,
/// Redis answers `ZCARD`, Weaviate an aggregate count. PostgreSQL's `count(*)` reads the whole
/// table, so pgvector namespace gauges are only updated by calls that count anyway (`count`
/// without a filter, `namespace_info`, `clear_namespace`, `drop_namespace`).
pub fn counts_cheaply(backend_type: &str) -> bool {
    matches!(backend_type, "memory" | "redis" | "weaviate")
}

impl<B> Drop for MetricsBackend<B> {
    fn drop(&mut self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.callback.call(&MetricsEvent::ConnectionClosed);
        }
    }
}

/// Every primitive is forwarded (the conveniences of `VectorBackendExt` call these), and
/// labelled with the design document's operation names: a batch of one record or key is that
/// operation (`upsert`, `get`, `delete`), since the single-record calls are exactly that.
#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<B: VectorBackend> VectorBackend for MetricsBackend<B> {
    fn backend_type(&self) -> &'static str {
        self.inner.backend_type()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn health_check(&self) -> bool {
        let healthy = self
            .observe(op::HEALTH_CHECK, "", async {
                if self.inner.health_check().await {
                    Ok(())
                } else {
                    Err(vector_backend::Error::new(
                        ErrorKind::Unavailable,
                        "health check failed",
                    ))
                }
            })
            .await;
        healthy.is_ok()
    }

    async fn create_namespace(&self, namespace: &str, config: &NamespaceConfig) -> Result<()> {
        self.observe_admitting(
            op::CREATE_NAMESPACE,
            namespace,
            self.inner.create_namespace(namespace, config),
            |()| true,
        )
        .await
    }

    async fn namespace_info(&self, namespace: &str) -> Result<Option<NamespaceInfo>> {
        let info = self
            .observe_admitting(
                op::NAMESPACE_INFO,
                namespace,
                self.inner.namespace_info(namespace),
                Option::is_some,
            )
            .await?;
        if let Some(info) = &info {
            self.namespace_count(namespace, info.count);
        }
        Ok(info)
    }

    async fn drop_namespace(&self, namespace: &str) -> Result<bool> {
        let existed = self
            .observe(
                op::DROP_NAMESPACE,
                namespace,
                self.inner.drop_namespace(namespace),
            )
            .await?;
        if existed {
            self.namespace_count(namespace, 0);
        }
        Ok(existed)
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        let names = self
            .observe(op::LIST_NAMESPACES, "", self.inner.list_namespaces())
            .await?;
        self.callback.call(&MetricsEvent::NamespacesTotal {
            count: names.len() as u64,
        });
        for name in &names {
            self.callback
                .call(&MetricsEvent::NamespaceExists { namespace: name });
        }
        Ok(names)
    }

    async fn clear_namespace(&self, namespace: &str) -> Result<u64> {
        let deleted = self
            .observe(
                op::CLEAR_NAMESPACE,
                namespace,
                self.inner.clear_namespace(namespace),
            )
            .await?;
        self.namespace_count(namespace, 0);
        Ok(deleted)
    }

    async fn upsert_batch(&self, namespace: &str, records: Vec<Record>) -> Result<()> {
        let operation = if records.len() == 1 {
            op::UPSERT
        } else {
            op::UPSERT_BATCH
        };
        // A write of at least one record creates the namespace if needed.
        let creates = !records.is_empty();
        self.observe_admitting(
            operation,
            namespace,
            self.inner.upsert_batch(namespace, records),
            |()| creates,
        )
        .await
    }

    async fn get_batch(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<StoredVector>>> {
        let operation = if keys.len() == 1 {
            op::GET
        } else {
            op::GET_BATCH
        };
        self.observe(operation, namespace, self.inner.get_batch(namespace, keys))
            .await
    }

    async fn delete_batch(&self, namespace: &str, keys: &[String]) -> Result<u64> {
        let operation = if keys.len() == 1 {
            op::DELETE
        } else {
            op::DELETE_BATCH
        };
        self.observe(
            operation,
            namespace,
            self.inner.delete_batch(namespace, keys),
        )
        .await
    }

    async fn search(&self, namespace: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
        self.observe(op::QUERY, namespace, self.inner.search(namespace, request))
            .await
    }

    async fn search_batch(
        &self,
        namespace: &str,
        requests: &[QueryRequest],
    ) -> Result<Vec<Vec<SearchResult>>> {
        self.observe(
            op::QUERY_BATCH,
            namespace,
            self.inner.search_batch(namespace, requests),
        )
        .await
    }

    async fn count(&self, namespace: &str, filter: Option<&Filter>) -> Result<u64> {
        let n = self
            .observe(op::COUNT, namespace, self.inner.count(namespace, filter))
            .await?;
        if filter.is_none() {
            self.namespace_count(namespace, n);
        }
        Ok(n)
    }

    async fn scan_page(&self, namespace: &str, request: &ScanRequest) -> Result<ScanPage> {
        self.observe(
            op::SCAN,
            namespace,
            self.inner.scan_page(namespace, request),
        )
        .await
    }

    async fn delete_by_filter(&self, namespace: &str, filter: &Filter) -> Result<u64> {
        self.observe(
            op::DELETE_BY_FILTER,
            namespace,
            self.inner.delete_by_filter(namespace, filter),
        )
        .await
    }

    async fn close(&self) {
        self.inner.close().await;
        self.report_closed();
    }
}
