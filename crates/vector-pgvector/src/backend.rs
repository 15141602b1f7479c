//! [`PgVectorBackend`]: the `VectorBackend` implementation over a deadpool of tokio-postgres
//! connections, with namespace configs cached from the catalog.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::pin_mut;
use pgvector::Vector;
use tokio_postgres::NoTls;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use vector_backend::score::{self, Scored};
use vector_backend::{
    Capabilities, Error, ErrorKind, Filter, FilterOp, Metadata, Metric, NamespaceConfig,
    NamespaceInfo, OpenBackend, QueryRequest, Record, Result, ScanPage, ScanRequest, SearchResult,
    StoredVector, VectorBackend, async_trait, validate,
};

use crate::catalog::{self, Ensured, NsEntry};
use crate::config::PgConfig;
use crate::error::PgError;
use crate::filter::{Param, SqlBuilder};

/// Batches up to this size use one multi-row `INSERT ... SELECT FROM unnest(...)`; larger ones
/// use binary COPY into a staging table (one more round trip, but far less per-row work).
const UNNEST_MAX_ROWS: usize = 256;

/// A COPY batch at least this large into an HNSW namespace holding fewer rows than the batch
/// drops the index and builds it again after the load: one bulk build is many times faster
/// than inserting each vector into the graph.
const REBUILD_MIN_ROWS: usize = 5000;

/// The PostgreSQL + pgvector backend. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct PgVectorBackend {
    config: PgConfig,
    pool: Pool,
    /// Namespace configs learned from the catalog. A namespace's table is never reused, so a
    /// stale entry (dropped by another process) fails with "undefined table", which drops the
    /// entry and retries once.
    namespaces: RwLock<HashMap<String, Arc<NsEntry>>>,
    /// The `vector` type's OID differs per database; learned on the first COPY.
    vector_type: OnceLock<Type>,
}

impl std::fmt::Debug for PgVectorBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgVectorBackend")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn cached<'a, T>(l: &'a RwLock<T>) -> std::sync::RwLockReadGuard<'a, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}
fn cached_mut<'a, T>(l: &'a RwLock<T>) -> std::sync::RwLockWriteGuard<'a, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether an error means the cached table no longer exists.
fn is_stale(e: &PgError) -> bool {
    e.code() == Some(&SqlState::UNDEFINED_TABLE)
}

fn metadata_text(m: &Metadata) -> String {
    // Serializing a map of JSON values cannot fail.
    serde_json::to_string(m).unwrap_or_else(|_| "{}".to_owned())
}

fn parse_metadata(text: &str) -> std::result::Result<Metadata, PgError> {
    serde_json::from_str(text)
        .map_err(|e| PgError::Corrupt(format!("stored metadata is not a JSON object: {e}")))
}

/// The declared filterable fields of `m`, as the JSONB that filters run on; NULL when the
/// namespace declares none (nothing can filter on it).
fn filter_projection(m: &Metadata, config: &NamespaceConfig) -> Option<serde_json::Value> {
    if config.filterable.is_empty() {
        return None;
    }
    let projected: Metadata = config
        .filterable
        .keys()
        .filter_map(|f| m.get(f).map(|v| (f.clone(), v.clone())))
        .collect();
    Some(serde_json::Value::Object(projected))
}

fn to_scored(metric: Metric, d: f64) -> Scored {
    match metric {
        Metric::Cosine => Scored::from_cosine_distance(d),
        Metric::DotProduct => Scored::from_negative_dot(d),
        Metric::Euclidean => Scored::from_euclidean(d),
    }
}

/// The largest native distance that can still pass `threshold` (plus a margin for rounding).
fn distance_bound(metric: Metric, threshold: f64) -> f64 {
    let margin = score::pushdown_margin(threshold);
    match metric {
        Metric::Cosine => 1.0 - threshold + margin,
        Metric::DotProduct | Metric::Euclidean => -threshold + margin,
    }
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect()
}

impl PgVectorBackend {
    /// Connects with `config`: builds the pool, creates the `vector` extension when it is
    /// missing (and allowed) and the catalog table when absent.
    ///
    /// # Errors
    /// `Unavailable` ("PostgreSQL pool not available: ...") when the server cannot be reached,
    /// `Unsupported` when pgvector is missing and cannot be created.
    pub async fn connect(config: PgConfig) -> Result<Self> {
        let manager = Manager::from_config(
            config.pg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.connect_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .build()
            .map_err(|e| {
                Error::invalid_argument(format!("cannot build the PostgreSQL pool: {e}"))
            })?;
        let backend = Self {
            config,
            pool,
            namespaces: RwLock::new(HashMap::new()),
            vector_type: OnceLock::new(),
        };
        let mut client = backend.client().await?;
        catalog::bootstrap(&mut client).await?;
        Ok(backend)
    }

    /// The configuration (its `Debug` hides the password).
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// The underlying pool, for raw SQL beside the backend (benchmarks, administration).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The quoted table of a namespace, or `None` when it does not exist (for diagnostics such
    /// as `EXPLAIN` in tests).
    ///
    /// # Errors
    /// As for any catalog read.
    pub async fn table_name(&self, namespace: &str) -> Result<Option<String>> {
        Ok(self.lookup(namespace).await?.map(|e| e.table.clone()))
    }

    /// The SQL text and the number of leading parameters (`$1` = query vector, `$2` = limit)
    /// of an unfiltered kNN query on `namespace`, exactly as [`VectorBackend::search`] sends it.
    ///
    /// # Errors
    /// As for any catalog read.
    pub async fn knn_sql(
        &self,
        namespace: &str,
        include_embedding: bool,
    ) -> Result<Option<String>> {
        Ok(self
            .lookup(namespace)
            .await?
            .map(|e| Self::search_sql(&e, include_embedding, "")))
    }

    async fn client(&self) -> std::result::Result<deadpool_postgres::Object, PgError> {
        Ok(self.pool.get().await?)
    }

    /// The namespace's entry: from the cache, else from the catalog.
    async fn lookup(&self, namespace: &str) -> std::result::Result<Option<Arc<NsEntry>>, PgError> {
        if let Some(e) = cached(&self.namespaces).get(namespace) {
            return Ok(Some(e.clone()));
        }
        let client = self.client().await?;
        let entry = catalog::load(&**client, namespace).await?.map(Arc::new);
        if let Some(e) = &entry {
            cached_mut(&self.namespaces).insert(namespace.to_owned(), e.clone());
        }
        Ok(entry)
    }

    fn forget(&self, namespace: &str) {
        cached_mut(&self.namespaces).remove(namespace);
    }

    /// Runs `op` on the namespace's entry, or returns `absent()` when the namespace does not
    /// exist. A cached entry whose table was dropped elsewhere is refreshed and `op` retried.
    async fn on_ns<T, F, Fut>(&self, namespace: &str, absent: impl Fn() -> T, op: F) -> Result<T>
    where
        F: Fn(Arc<NsEntry>) -> Fut + Send + Sync,
        Fut: Future<Output = std::result::Result<T, PgError>> + Send,
        T: Send,
    {
        for attempt in 0..2 {
            let Some(entry) = self.lookup(namespace).await? else {
                return Ok(absent());
            };
            match op(entry).await {
                Err(e) if attempt == 0 && is_stale(&e) => self.forget(namespace),
                r => return r.map_err(Error::from),
            }
        }
        Ok(absent())
    }

    /// Validates a filter against the namespace's declared fields.
    fn check_filter(entry: &NsEntry, filter: Option<&Filter>) -> Result<()> {
        match filter {
            Some(f) => f.validate(&entry.config.filterable, &FilterOp::ALL),
            None => Ok(()),
        }
    }

    fn search_sql(entry: &NsEntry, include_embedding: bool, conditions: &str) -> String {
        let op = entry.op();
        let emb = if include_embedding { ", embedding" } else { "" };
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {conditions}")
        };
        format!(
            "SELECT key, meta, (embedding {op} $1)::float8{emb} FROM {table}{filter} ORDER BY embedding {op} $1 LIMIT $2",
            table = entry.table
        )
    }

    async fn vector_type(
        &self,
        client: &deadpool_postgres::Object,
    ) -> std::result::Result<Type, PgError> {
        if let Some(t) = self.vector_type.get() {
            return Ok(t.clone());
        }
        let stmt = client.prepare_cached("SELECT $1::vector").await?;
        let t = stmt
            .params()
            .first()
            .cloned()
            .ok_or_else(|| PgError::Corrupt("no vector type".into()))?;
        Ok(self.vector_type.get_or_init(|| t).clone())
    }

    /// Writes deduplicated, validated records (sorted by key, so concurrent batches lock rows
    /// in the same order and cannot deadlock).
    async fn write(
        &self,
        entry: Arc<NsEntry>,
        records: Arc<Vec<Record>>,
    ) -> std::result::Result<(), PgError> {
        let mut client = self.client().await?;
        let table = &entry.table;
        let upsert = "ON CONFLICT (key) DO UPDATE SET embedding = EXCLUDED.embedding, meta = EXCLUDED.meta, filt = EXCLUDED.filt";
        if records.len() <= UNNEST_MAX_ROWS {
            let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
            let vectors: Vec<Vector> = records
                .iter()
                .map(|r| Vector::from(r.embedding.clone()))
                .collect();
            let metas: Vec<String> = records.iter().map(|r| metadata_text(&r.metadata)).collect();
            let filts: Vec<Option<serde_json::Value>> = records
                .iter()
                .map(|r| filter_projection(&r.metadata, &entry.config))
                .collect();
            let sql = format!(
                "INSERT INTO {table} (key, embedding, meta, filt) \
                 SELECT * FROM unnest($1::text[], $2::vector[], $3::text[], $4::jsonb[]) {upsert}"
            );
            let stmt = client.prepare_cached(&sql).await?;
            client
                .execute(&stmt, &[&keys, &vectors, &metas, &filts])
                .await?;
            return Ok(());
        }
        let vector = self.vector_type(&client).await?;
        let tx = client.transaction().await?;
        if entry.has_hnsw()
            && let Some(t) = self.config.statement_timeout
        {
            // Each row inserted into an HNSW graph costs about a millisecond; a batch gets time
            // in proportion instead of failing half-way on a limit meant for queries.
            let ms = t.as_millis() as usize + records.len() * 5;
            tx.batch_execute(&format!("SET LOCAL statement_timeout = {ms}"))
                .await?;
        }
        let mut rebuild = false;
        if entry.has_hnsw() && records.len() >= REBUILD_MIN_ROWS {
            // Blocks other writers (not readers) so the row count stays true until commit.
            tx.batch_execute(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
                .await?;
            let limit = records.len() as i64;
            let existing: i64 = tx
                .query_one(
                    &format!("SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT $1) s"),
                    &[&limit],
                )
                .await?
                .get(0);
            rebuild = existing < limit;
        }
        tx.batch_execute(
            "CREATE TEMP TABLE vtier_stage (key text COLLATE \"C\", embedding vector, meta text, filt jsonb) ON COMMIT DROP",
        )
        .await?;
        let sink = tx
            .copy_in("COPY vtier_stage (key, embedding, meta, filt) FROM STDIN (FORMAT BINARY)")
            .await?;
        let writer = BinaryCopyInWriter::new(sink, &[Type::TEXT, vector, Type::TEXT, Type::JSONB]);
        pin_mut!(writer);
        for r in records.iter() {
            let v = Vector::from(r.embedding.clone());
            let meta = metadata_text(&r.metadata);
            let filt = filter_projection(&r.metadata, &entry.config);
            writer.as_mut().write(&[&r.key, &v, &meta, &filt]).await?;
        }
        writer.finish().await?;
        if rebuild {
            // The build of a large index may outlast the statement timeout meant for queries.
            tx.batch_execute(&format!(
                "SET LOCAL statement_timeout = 0; DROP INDEX IF EXISTS {}",
                entry.index_name()
            ))
            .await?;
        }
        tx.batch_execute(&format!(
            "INSERT INTO {table} (key, embedding, meta, filt) SELECT key, embedding, meta, filt FROM vtier_stage ORDER BY key {upsert}"
        ))
        .await?;
        if rebuild {
            tx.batch_execute(
                &entry.create_index_sql(self.config.hnsw_m, self.config.hnsw_ef_construction),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn search_in(
        &self,
        entry: Arc<NsEntry>,
        request: &QueryRequest,
    ) -> std::result::Result<Vec<SearchResult>, PgError> {
        let metric = entry.config.metric;
        let fetch = score::overfetch(request.k);
        let mut builder = SqlBuilder::new(3);
        let mut conditions = Vec::new();
        if let Some(f) = &request.filter {
            conditions.push(builder.condition(f));
        }
        let op = entry.op();
        if let Some(t) = request.threshold {
            let bound = builder_bind_f64(&mut builder, distance_bound(metric, t));
            conditions.push(format!("(embedding {op} $1) <= {bound}"));
        }
        let sql = Self::search_sql(&entry, request.include_embedding, &conditions.join(" AND "));
        let query_vector = Vector::from(request.embedding.clone());
        let limit = fetch as i64;
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&query_vector, &limit];
        params.extend(refs(&builder.params));
        let client = self.client().await?;
        let stmt = client.prepare_cached(&sql).await?;
        let rows = if entry.has_hnsw() {
            // Query-time settings with SET LOCAL inside a transaction, so they end with it and
            // never leak to the next user of the pooled connection. The three requests are
            // pipelined (sent in order before any reply is awaited): one round trip. If any
            // fails, COMMIT of the aborted transaction rolls it back.
            let ef = (self.config.ef_search as usize).max(fetch).min(1000);
            let iterative = if request.filter.is_some() || request.threshold.is_some() {
                "relaxed_order"
            } else {
                "off"
            };
            let begin = format!(
                "BEGIN; SET LOCAL hnsw.ef_search = {ef}; SET LOCAL hnsw.iterative_scan = {iterative}"
            );
            // join3 polls its futures in order, and tokio-postgres sends a request when its
            // future is first polled.
            let (b, rows, c) = futures_util::future::join3(
                client.batch_execute(&begin),
                client.query(&stmt, &params),
                client.batch_execute("COMMIT"),
            )
            .await;
            b?;
            c?;
            rows?
        } else {
            client.query(&stmt, &params).await?
        };
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            let key: String = row.get(0);
            let meta: String = row.get(1);
            let d: f64 = row.get(2);
            let s = to_scored(metric, d);
            let embedding = if request.include_embedding {
                Some(row.get::<_, Vector>(3).to_vec())
            } else {
                None
            };
            results.push(SearchResult::new(
                key,
                s.score,
                s.distance,
                parse_metadata(&meta)?,
                embedding,
            ));
        }
        Ok(score::finish(results, request.k, request.threshold))
    }
}

fn builder_bind_f64(b: &mut SqlBuilder, v: f64) -> String {
    b.params.push(Box::new(v));
    format!("${}::float8", 2 + b.params.len())
}

#[async_trait]
impl VectorBackend for PgVectorBackend {
    fn backend_type(&self) -> &'static str {
        "pgvector"
    }

    fn capabilities(&self) -> Capabilities {
        // Auto is HNSW (approximate) up to 2000 dimensions; pgvector's `vector` type holds up
        // to 16000, which is the contract's maximum.
        Capabilities::full()
    }

    async fn health_check(&self) -> bool {
        let check = async {
            let client = self.pool.get().await.ok()?;
            client
                .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'vector'", &[])
                .await
                .ok()?
        };
        let limit = self.config.connect_timeout + std::time::Duration::from_secs(1);
        matches!(tokio::time::timeout(limit, check).await, Ok(Some(_)))
    }

    async fn create_namespace(&self, namespace: &str, config: &NamespaceConfig) -> Result<()> {
        validate::namespace(namespace)?;
        validate::config(config, &self.capabilities())?;
        if config.index == vector_backend::IndexKind::Hnsw
            && config.dimension > catalog::HNSW_MAX_DIM
        {
            return Err(Error::unsupported(format!(
                "pgvector's HNSW index supports at most {} dimensions; use the auto or flat index (exact scan) for {}",
                catalog::HNSW_MAX_DIM,
                config.dimension
            )));
        }
        let mut client = self.client().await?;
        let entry = match catalog::ensure(
            &mut client,
            namespace,
            config,
            self.config.hnsw_m,
            self.config.hnsw_ef_construction,
        )
        .await?
        {
            Ensured::Created(e) => e,
            Ensured::Existing(e) if e.config == *config => e,
            Ensured::Existing(e) => {
                cached_mut(&self.namespaces).insert(namespace.to_owned(), Arc::new(e));
                return Err(Error::new(
                    ErrorKind::ConfigMismatch,
                    format!("namespace {namespace} exists with a different config"),
                ));
            }
        };
        cached_mut(&self.namespaces).insert(namespace.to_owned(), Arc::new(entry));
        Ok(())
    }

    async fn namespace_info(&self, namespace: &str) -> Result<Option<NamespaceInfo>> {
        validate::namespace(namespace)?;
        self.on_ns(
            namespace,
            || None,
            |e| async move {
                let client = self.client().await?;
                let stmt = client
                    .prepare_cached(&format!("SELECT count(*) FROM {}", e.table))
                    .await?;
                let n: i64 = client.query_one(&stmt, &[]).await?.get(0);
                Ok(Some(NamespaceInfo::new(
                    namespace,
                    e.config.clone(),
                    n as u64,
                )))
            },
        )
        .await
    }

    async fn drop_namespace(&self, namespace: &str) -> Result<bool> {
        validate::namespace(namespace)?;
        let mut client = self.client().await?;
        let existed = catalog::drop(&mut client, namespace).await?;
        self.forget(namespace);
        Ok(existed)
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        let client = self.client().await?;
        Ok(catalog::list(&**client).await?)
    }

    async fn clear_namespace(&self, namespace: &str) -> Result<u64> {
        validate::namespace(namespace)?;
        self.on_ns(
            namespace,
            || 0,
            |e| async move {
                let mut client = self.client().await?;
                let tx = client.transaction().await?;
                // TRUNCATE also empties the HNSW index (DELETE would leave dead entries to vacuum);
                // the lock makes the count exact.
                tx.batch_execute(&format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", e.table))
                    .await?;
                let n: i64 = tx
                    .query_one(&format!("SELECT count(*) FROM {}", e.table), &[])
                    .await?
                    .get(0);
                tx.batch_execute(&format!("TRUNCATE {}", e.table)).await?;
                tx.commit().await?;
                Ok(n as u64)
            },
        )
        .await
    }

    async fn upsert_batch(&self, namespace: &str, records: Vec<Record>) -> Result<()> {
        validate::namespace(namespace)?;
        if records.is_empty() {
            return Ok(());
        }
        let mut entry = self.lookup(namespace).await?;
        if entry.is_none() {
            // Validate against the implicit config before creating anything.
            let implicit = validate::batch(&records, None)?;
            let mut client = self.client().await?;
            let created = match catalog::ensure(
                &mut client,
                namespace,
                &implicit,
                self.config.hnsw_m,
                self.config.hnsw_ef_construction,
            )
            .await?
            {
                Ensured::Created(e) | Ensured::Existing(e) => Arc::new(e),
            };
            cached_mut(&self.namespaces).insert(namespace.to_owned(), created.clone());
            entry = Some(created);
        }
        let validated = match &entry {
            Some(e) => {
                validate::batch(&records, Some(&e.config))?;
                e.config.clone()
            }
            None => return Ok(()),
        };
        // Last one wins among duplicate keys; sorted by key against deadlocks.
        let mut seen = HashSet::new();
        let mut unique: Vec<Record> = records
            .into_iter()
            .rev()
            .filter(|r| seen.insert(r.key.clone()))
            .collect();
        unique.sort_by(|a, b| a.key.cmp(&b.key));
        let unique = Arc::new(unique);
        self.on_ns(
            namespace,
            || (),
            |e| {
                // After a refresh (dropped and re-created elsewhere) the records must fit the new config.
                let check = if e.config == validated {
                    Ok(())
                } else {
                    validate::batch(&unique, Some(&e.config)).map(|_| ())
                };
                let unique = unique.clone();
                async move {
                    check.map_err(PgError::Contract)?;
                    self.write(e, unique).await
                }
            },
        )
        .await
    }

    async fn get_batch(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<StoredVector>>> {
        validate::namespace(namespace)?;
        validate::keys(keys)?;
        self.on_ns(
            namespace,
            || vec![None; keys.len()],
            |e| async move {
                let client = self.client().await?;
                let stmt = client
                    .prepare_cached(&format!(
                        "SELECT key, embedding, meta FROM {} WHERE key = ANY($1::text[])",
                        e.table
                    ))
                    .await?;
                let rows = client.query(&stmt, &[&keys]).await?;
                let mut found = HashMap::with_capacity(rows.len());
                for row in rows {
                    let key: String = row.get(0);
                    let v: Vector = row.get(1);
                    let meta: String = row.get(2);
                    found.insert(
                        key,
                        StoredVector {
                            embedding: v.to_vec(),
                            metadata: parse_metadata(&meta)?,
                        },
                    );
                }
                Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
            },
        )
        .await
    }

    async fn delete_batch(&self, namespace: &str, keys: &[String]) -> Result<u64> {
        validate::namespace(namespace)?;
        validate::keys(keys)?;
        self.on_ns(
            namespace,
            || 0,
            |e| async move {
                let client = self.client().await?;
                let stmt = client
                    .prepare_cached(&format!(
                        "DELETE FROM {} WHERE key = ANY($1::text[])",
                        e.table
                    ))
                    .await?;
                Ok(client.execute(&stmt, &[&keys]).await?)
            },
        )
        .await
    }

    async fn search(&self, namespace: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
        validate::query(namespace, request)?;
        let Some(entry) = self.lookup(namespace).await? else {
            return Ok(Vec::new());
        };
        validate::embedding_for(&request.embedding, &entry.config)?;
        Self::check_filter(&entry, request.filter.as_ref())?;
        self.on_ns(namespace, Vec::new, |e| self.search_in(e, request))
            .await
    }

    async fn count(&self, namespace: &str, filter: Option<&Filter>) -> Result<u64> {
        validate::namespace(namespace)?;
        let Some(entry) = self.lookup(namespace).await? else {
            return Ok(0);
        };
        Self::check_filter(&entry, filter)?;
        self.on_ns(
            namespace,
            || 0,
            |e| async move {
                let mut b = SqlBuilder::new(1);
                let cond = filter
                    .map(|f| format!(" WHERE {}", b.condition(f)))
                    .unwrap_or_default();
                let client = self.client().await?;
                let stmt = client
                    .prepare_cached(&format!("SELECT count(*) FROM {}{cond}", e.table))
                    .await?;
                let n: i64 = client.query_one(&stmt, &refs(&b.params)).await?.get(0);
                Ok(n as u64)
            },
        )
        .await
    }

    async fn scan_page(&self, namespace: &str, request: &ScanRequest) -> Result<ScanPage> {
        validate::namespace(namespace)?;
        validate::page_size(request.page_size)?;
        if request.cursor.as_deref().is_some_and(|c| c.contains('\0')) {
            return Err(Error::invalid_argument("invalid scan cursor"));
        }
        let Some(entry) = self.lookup(namespace).await? else {
            return Ok(ScanPage::default());
        };
        Self::check_filter(&entry, request.filter.as_ref())?;
        let page = request.effective_page_size();
        self.on_ns(namespace, ScanPage::default, |e| async move {
            // Keyset pagination on the primary key; COLLATE "C" makes its order byte order.
            let mut b = SqlBuilder::new(3);
            let mut conds = vec!["($1::text IS NULL OR key > $1::text)".to_owned()];
            if let Some(f) = &request.filter {
                conds.push(b.condition(f));
            }
            let sql = format!(
                "SELECT key, embedding, meta FROM {} WHERE {} ORDER BY key LIMIT $2",
                e.table,
                conds.join(" AND ")
            );
            let client = self.client().await?;
            let stmt = client.prepare_cached(&sql).await?;
            let limit = page as i64 + 1;
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&request.cursor, &limit];
            params.extend(refs(&b.params));
            let rows = client.query(&stmt, &params).await?;
            let more = rows.len() > page;
            let mut records = Vec::with_capacity(rows.len().min(page));
            for row in rows.into_iter().take(page) {
                let key: String = row.get(0);
                let v: Vector = row.get(1);
                let meta: String = row.get(2);
                records.push(Record::new(key, v.to_vec(), parse_metadata(&meta)?));
            }
            let next = if more {
                records.last().map(|r| r.key.clone())
            } else {
                None
            };
            Ok(ScanPage::new(records, next))
        })
        .await
    }

    async fn delete_by_filter(&self, namespace: &str, filter: &Filter) -> Result<u64> {
        validate::namespace(namespace)?;
        let Some(entry) = self.lookup(namespace).await? else {
            return Ok(0);
        };
        Self::check_filter(&entry, Some(filter))?;
        self.on_ns(
            namespace,
            || 0,
            |e| async move {
                let mut b = SqlBuilder::new(1);
                let cond = b.condition(filter);
                let client = self.client().await?;
                let stmt = client
                    .prepare_cached(&format!("DELETE FROM {} WHERE {cond}", e.table))
                    .await?;
                Ok(client.execute(&stmt, &refs(&b.params)).await?)
            },
        )
        .await
    }

    async fn close(&self) {
        self.pool.close();
    }
}

#[async_trait]
impl OpenBackend for PgVectorBackend {
    const NAME: &'static str = "pgvector";
    const SCHEMES: &'static [&'static str] = &["postgres", "postgresql"];
    const URL_ENV: &'static str = "PG_CONNECTION_STRING";

    async fn open(url: &str) -> Result<Self> {
        Self::connect(PgConfig::from_url(url)?).await
    }
}
