//! The streaming path shared by `export`, `import` and `migrate`: pages from a backend's scan
//! (or batches from a file) go to `upsert_batch` with a bounded number of batches in flight,
//! so memory use is a few batches whatever the namespace's size.

use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use indicatif::ProgressBar;
use vector_tier::{NamespaceConfig, Record, VectorBackend};

use crate::error::{Error, Result};

/// What to do when the target namespace already holds records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnExisting {
    /// Stop before writing anything.
    #[default]
    Fail,
    /// Upsert into it: records with the same key are replaced, others are kept.
    Merge,
    /// Delete its records first (the namespace and its configuration stay).
    Replace,
}

/// A short description of a configuration for messages.
pub(crate) fn describe(config: &NamespaceConfig) -> String {
    let mut s = format!(
        "dimension {}, metric {}, index {}",
        config.dimension,
        config.metric,
        config.index.as_str()
    );
    if !config.filterable.is_empty() {
        let fields: Vec<String> = config
            .filterable
            .iter()
            .map(|(name, ty)| format!("{name}: {}", ty.as_str()))
            .collect();
        s.push_str(&format!(", filterable {{{}}}", fields.join(", ")));
    }
    s
}

/// Makes `namespace` on `backend` ready to receive records with `config`: refuses a different
/// configuration (before anything is written), applies `on_existing` to a non-empty one,
/// and creates it when absent. Returns how many records it held before (after a replace: 0).
pub(crate) async fn prepare_target(
    backend: &dyn VectorBackend,
    namespace: &str,
    config: &NamespaceConfig,
    on_existing: OnExisting,
) -> Result<u64> {
    vector_tier::validate::namespace(namespace)
        .map_err(|e| Error::Invalid(format!("invalid target namespace {namespace:?}: {e}")))?;
    let info = backend
        .namespace_info(namespace)
        .await
        .map_err(Error::backend(format!(
            "reading namespace {namespace:?} on the target"
        )))?;
    if let Some(info) = info {
        if info.config != *config {
            return Err(Error::ConfigConflict {
                namespace: namespace.to_owned(),
                existing: describe(&info.config),
                wanted: describe(config),
            });
        }
        if info.count > 0 {
            match on_existing {
                OnExisting::Fail => {
                    return Err(Error::NotEmpty {
                        namespace: namespace.to_owned(),
                        count: info.count,
                    });
                }
                OnExisting::Merge => return Ok(info.count),
                OnExisting::Replace => {
                    backend
                        .clear_namespace(namespace)
                        .await
                        .map_err(Error::backend(format!(
                            "clearing namespace {namespace:?} on the target"
                        )))?;
                    return Ok(0);
                }
            }
        }
        return Ok(0);
    }
    match backend.create_namespace(namespace, config).await {
        Ok(()) => Ok(0),
        // Created by someone else in between: report it like the check above would have.
        Err(e) if e.kind() == vector_tier::ErrorKind::ConfigMismatch => {
            Err(Error::ConfigConflict {
                namespace: namespace.to_owned(),
                existing: "created concurrently with another configuration".to_owned(),
                wanted: describe(config),
            })
        }
        Err(e) => Err(Error::backend(format!(
            "creating namespace {namespace:?} on the target"
        ))(e)),
    }
}

/// Upserts batches with at most `concurrency` in flight, retrying transient failures
/// (`Unavailable`, `Timeout`) twice with a pause; upserts are idempotent, so a retry is safe.
pub(crate) struct BatchWriter<'a> {
    backend: &'a dyn VectorBackend,
    namespace: &'a str,
    concurrency: usize,
    in_flight: FuturesUnordered<BoxFuture<'a, Result<usize>>>,
    written: u64,
    bar: ProgressBar,
}

impl std::fmt::Debug for BatchWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter")
            .field("namespace", &self.namespace)
            .field("written", &self.written)
            .finish()
    }
}

async fn upsert_with_retry(
    backend: &dyn VectorBackend,
    namespace: &str,
    batch: Vec<Record>,
) -> Result<usize> {
    let n = batch.len();
    let mut attempt = 0;
    loop {
        // The batch is cloned only when a retry may follow; the last attempt moves it.
        let result = if attempt < 2 {
            backend.upsert_batch(namespace, batch.clone()).await
        } else {
            return backend
                .upsert_batch(namespace, batch)
                .await
                .map(|()| n)
                .map_err(Error::backend(format!(
                    "writing to namespace {namespace:?}"
                )));
        };
        match result {
            Ok(()) => return Ok(n),
            Err(e) if e.is_retryable() => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            }
            Err(e) => {
                return Err(Error::backend(format!(
                    "writing to namespace {namespace:?}"
                ))(e));
            }
        }
    }
}

impl<'a> BatchWriter<'a> {
    pub(crate) fn new(
        backend: &'a dyn VectorBackend,
        namespace: &'a str,
        concurrency: usize,
        bar: ProgressBar,
    ) -> Self {
        Self {
            backend,
            namespace,
            concurrency: concurrency.max(1),
            in_flight: FuturesUnordered::new(),
            written: 0,
            bar,
        }
    }

    async fn complete_one(&mut self) -> Result<()> {
        if let Some(done) = self.in_flight.next().await {
            let n = done?;
            self.written += n as u64;
            self.bar.inc(n as u64);
        }
        Ok(())
    }

    /// Queues a batch, first waiting while `concurrency` batches are in flight.
    pub(crate) async fn push(&mut self, batch: Vec<Record>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        while self.in_flight.len() >= self.concurrency {
            self.complete_one().await?;
        }
        let (backend, namespace) = (self.backend, self.namespace);
        self.in_flight
            .push(Box::pin(upsert_with_retry(backend, namespace, batch)));
        Ok(())
    }

    /// Waits for every batch; returns how many records were written.
    pub(crate) async fn finish(mut self) -> Result<u64> {
        while !self.in_flight.is_empty() {
            self.complete_one().await?;
        }
        self.bar.finish_and_clear();
        Ok(self.written)
    }
}
