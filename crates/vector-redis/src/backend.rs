//! [`RedisBackend`]: the `VectorBackend` implementation on Redis Stack (RediSearch vector
//! indexes over hashes). The Redis layout is described in [`crate::schema`].

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

use futures_util::{StreamExt as _, TryStreamExt as _};
use redis::Value;
use vector_backend::{
    Capabilities, Error, ErrorKind, Filter, FilterOp, IndexKind, Metadata, Metric, NamespaceConfig,
    NamespaceInfo, OpenBackend, QueryRequest, Record, Result, ScanPage, ScanRequest, SearchResult,
    StoredVector, VectorBackend, async_trait, score, validate,
};

use crate::client::{Client, RResult};
use crate::config::RedisConfig;
use crate::error::RedisError;
use crate::filter::to_query;
use crate::schema::{
    self, CFG_FIELD, F_KEY, F_META, F_VEC, Names, REGISTRY, SCORE_ALIAS, blob, unblob,
};

/// Records per MULTI/EXEC transaction in bulk writes, and transactions in flight at once on
/// the multiplexed connection.
const WRITE_CHUNK: usize = 500;
const WRITES_IN_FLIGHT: usize = 8;
/// Keys per round trip when clearing, dropping or deleting by filter.
const DELETE_CHUNK: usize = 1000;
/// Keys read per round trip by a filtered scan.
const SCAN_CHUNK: usize = 500;

/// The Redis Stack backend. Cheap to share behind an `Arc`; all methods take `&self`.
///
/// Namespace configs live in Redis (`vtier:cfg:{ns}`); this object caches the ones it has
/// seen, since a namespace's config never changes while it exists.
#[derive(Debug)]
pub struct RedisBackend {
    client: Client,
    configs: RwLock<HashMap<String, NamespaceConfig>>,
}

fn bulk(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn bulk_string(v: &Value) -> Option<String> {
    bulk(v).and_then(|b| String::from_utf8(b.to_vec()).ok())
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => bulk_string(other).and_then(|s| s.parse().ok()),
    }
}

fn decode_metadata(key: &str, raw: &[u8]) -> RResult<Metadata> {
    serde_json::from_slice(raw)
        .map_err(|e| RedisError::corrupt(format!("record {key:?}"), e.to_string()))
}

fn decode_embedding(key: &str, raw: &[u8]) -> RResult<Vec<f32>> {
    unblob(raw)
        .ok_or_else(|| RedisError::corrupt(format!("record {key:?}"), "embedding blob length"))
}

/// A reply to `HMGET hk v m`: the stored vector, or `None` when the hash is absent.
fn stored_from(key: &str, reply: &Value) -> RResult<Option<StoredVector>> {
    let Value::Array(items) = reply else {
        return Err(RedisError::Server(format!(
            "unexpected HMGET reply {reply:?}"
        )));
    };
    match (items.first().and_then(bulk), items.get(1).and_then(bulk)) {
        (Some(v), Some(m)) => Ok(Some(StoredVector {
            embedding: decode_embedding(key, v)?,
            metadata: decode_metadata(key, m)?,
        })),
        _ => Ok(None),
    }
}

fn count_dels(reply: &[Value]) -> u64 {
    // Replies alternate DEL (0/1) and ZREM; only the DELs count.
    reply
        .iter()
        .step_by(2)
        .filter_map(int)
        .map(|n| n.max(0) as u64)
        .sum()
}

impl RedisBackend {
    /// A backend for `config`. Connects lazily, on the first operation.
    ///
    /// # Errors
    /// `InvalidArgument` when redis-rs rejects the URL.
    pub fn new(config: RedisConfig) -> Result<Self> {
        #[cfg(feature = "tls")]
        {
            // rustls needs a process-wide crypto provider; install ring unless the
            // application installed one already (then this returns Err and changes nothing).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        Ok(Self {
            client: Client::new(config)?,
            configs: RwLock::new(HashMap::new()),
        })
    }

    /// The configuration (its `Debug` redacts the password).
    pub fn config(&self) -> &RedisConfig {
        self.client.config()
    }

    fn cached(&self, ns: &str) -> Option<NamespaceConfig> {
        self.configs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(ns)
            .cloned()
    }

    fn cache(&self, ns: &str, config: &NamespaceConfig) {
        self.configs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(ns.to_owned(), config.clone());
    }

    fn forget(&self, ns: &str) {
        self.configs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(ns);
    }

    fn parse_config(ns: &str, raw: &[u8]) -> RResult<NamespaceConfig> {
        serde_json::from_slice(raw).map_err(|e| {
            RedisError::corrupt(format!("the config of namespace {ns}"), e.to_string())
        })
    }

    /// The namespace's config: from the cache, else from the server.
    async fn load_config(&self, ns: &str) -> Result<Option<NamespaceConfig>> {
        if let Some(c) = self.cached(ns) {
            return Ok(Some(c));
        }
        let names = Names::of(ns);
        let raw: Option<Vec<u8>> = self
            .client
            .cmd(redis::cmd("HGET").arg(&names.config).arg(CFG_FIELD))
            .await?;
        match raw {
            None => Ok(None),
            Some(raw) => {
                let c = Self::parse_config(ns, &raw)?;
                self.cache(ns, &c);
                Ok(Some(c))
            }
        }
    }

    /// Creates the namespace with `config` unless it exists; returns the config it has now.
    /// The config is written first with HSETNX, so concurrent creators agree on one.
    async fn ensure_namespace(
        &self,
        ns: &str,
        config: &NamespaceConfig,
    ) -> Result<NamespaceConfig> {
        if let Some(c) = self.cached(ns) {
            return Ok(c);
        }
        let names = Names::of(ns);
        let json = serde_json::to_string(config)
            .map_err(|e| Error::backend(format!("cannot encode a namespace config: {e}")))?;
        let mut p = redis::pipe();
        p.cmd("HSETNX")
            .arg(&names.config)
            .arg(CFG_FIELD)
            .arg(&json)
            .ignore();
        p.cmd("HGET").arg(&names.config).arg(CFG_FIELD);
        let (stored,): (Option<Vec<u8>>,) = self.client.pipe(&p).await?;
        let stored = match stored {
            Some(raw) => Self::parse_config(ns, &raw)?,
            None => {
                return Err(Error::backend(format!(
                    "namespace {ns} vanished while being created"
                )));
            }
        };
        // Every creator (re)creates the index before writing, so no record is ever written
        // before its index exists (RediSearch would then index it only in the background).
        let mut create = redis::cmd("FT.CREATE");
        create
            .arg(&names.index)
            .arg(schema::create_args(&names, &stored));
        match self.client.cmd::<Value>(&create).await {
            Ok(_) => {}
            Err(RedisError::Server(msg)) if msg.contains("already exists") => {}
            Err(e) => return Err(e.into()),
        }
        self.client
            .cmd::<Value>(redis::cmd("SADD").arg(REGISTRY).arg(ns))
            .await?;
        self.cache(ns, &stored);
        Ok(stored)
    }

    fn check_filter(config: &NamespaceConfig, filter: Option<&Filter>) -> Result<()> {
        filter.map_or(Ok(()), |f| f.validate(&config.filterable, &FilterOp::ALL))
    }

    /// Deletes the given record hashes and their keys-set entries in one transaction; returns
    /// how many hashes existed.
    async fn delete_keys(&self, names: &Names, keys: &[Vec<u8>]) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut p = redis::pipe();
        p.atomic();
        for k in keys {
            let mut hk = names.prefix.as_bytes().to_vec();
            hk.extend_from_slice(k);
            p.cmd("DEL").arg(hk);
            p.cmd("ZREM").arg(&names.keys).arg(k.as_slice());
        }
        let reply: Vec<Value> = self.client.pipe(&p).await?;
        Ok(count_dels(&reply))
    }

    /// Deletes every record of the namespace (keeping the index); returns how many.
    async fn delete_all(&self, names: &Names) -> Result<u64> {
        let mut total = 0;
        loop {
            let keys: Vec<Vec<u8>> = self
                .client
                .cmd(
                    redis::cmd("ZRANGE")
                        .arg(&names.keys)
                        .arg(0)
                        .arg(DELETE_CHUNK as i64 - 1),
                )
                .await?;
            if keys.is_empty() {
                return Ok(total);
            }
            total += self.delete_keys(names, &keys).await?;
        }
    }

    /// Reads `keys` (raw bytes) as records; absent ones are skipped.
    async fn read_records(&self, names: &Names, keys: &[Vec<u8>]) -> Result<Vec<Record>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for k in keys {
            let mut hk = names.prefix.as_bytes().to_vec();
            hk.extend_from_slice(k);
            p.cmd("HMGET").arg(hk).arg(F_VEC).arg(F_META);
        }
        let replies: Vec<Value> = self.client.pipe(&p).await?;
        let mut out = Vec::with_capacity(keys.len());
        for (k, reply) in keys.iter().zip(&replies) {
            let key = String::from_utf8(k.clone())
                .map_err(|_| RedisError::corrupt("the keys set", "a key is not UTF-8"))?;
            if let Some(s) = stored_from(&key, reply)? {
                out.push(Record::new(key, s.embedding, s.metadata));
            }
        }
        Ok(out)
    }

    /// Up to `n` keys after `after` (exclusive) in byte order, from the keys set.
    async fn keys_after(
        &self,
        names: &Names,
        after: Option<&[u8]>,
        n: usize,
    ) -> Result<Vec<Vec<u8>>> {
        let start = match after {
            Some(a) => {
                let mut s = b"(".to_vec();
                s.extend_from_slice(a);
                s
            }
            None => b"-".to_vec(),
        };
        Ok(self
            .client
            .cmd(
                redis::cmd("ZRANGE")
                    .arg(&names.keys)
                    .arg(start)
                    .arg("+")
                    .arg("BYLEX")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(n),
            )
            .await?)
    }

    /// The FT.SEARCH query text for an optional filter.
    fn query_text(config: &NamespaceConfig, filter: Option<&Filter>) -> String {
        filter.map_or_else(|| "*".to_owned(), |f| to_query(f, config))
    }

    fn timeout_ms(&self) -> u64 {
        self.client.config().response_timeout.as_millis().max(1) as u64
    }

    fn convert(metric: Metric, native: f64) -> score::Scored {
        match metric {
            Metric::Cosine => score::Scored::from_cosine_distance(native),
            Metric::DotProduct => score::Scored::from_one_minus_dot(native),
            Metric::Euclidean => score::Scored::from_squared_euclidean(native),
        }
    }
}

/// The FT.SEARCH KNN command for a query.
pub(crate) fn knn_command(
    names: &Names,
    config: &NamespaceConfig,
    request: &QueryRequest,
    fetch: usize,
    timeout_ms: u64,
) -> redis::Cmd {
    let filtered = request.filter.is_some();
    let include_embedding = request.include_embedding;
    let query = RedisBackend::query_text(config, request.filter.as_ref());
    // With a filter, HYBRID_POLICY ADHOC_BF computes exact distances over the records that
    // pass it, so filtered results equal the exact oracle's even on an HNSW index (the
    // default batches policy may return fewer than K). Without one, HNSW searches with a
    // generous EF_RUNTIME for high recall.
    let hnsw = config.index != IndexKind::Flat;
    let mut knn = format!("({query})=>[KNN $K @{F_VEC} $B");
    if filtered {
        knn.push_str(" HYBRID_POLICY ADHOC_BF");
    } else if hnsw {
        knn.push_str(" EF_RUNTIME $EF");
    }
    knn.push_str(&format!(" AS {SCORE_ALIAS}]"));
    let mut cmd = redis::cmd("FT.SEARCH");
    cmd.arg(&names.index).arg(knn);
    // An HNSW graph built on inner products (not a metric) navigates worse than one on
    // cosine or L2 distances: measured recall@10 on the suite's clustered set was 0.86 at
    // EF_RUNTIME 100 and 0.93 at 300, so IP searches look much wider.
    let ef = match config.metric {
        Metric::DotProduct => (4 * fetch).max(1000),
        Metric::Cosine | Metric::Euclidean => (2 * fetch).max(100),
    };
    let nparams = if !filtered && hnsw { 6 } else { 4 };
    cmd.arg("PARAMS")
        .arg(nparams)
        .arg("K")
        .arg(fetch)
        .arg("B")
        .arg(blob(&request.embedding));
    if !filtered && hnsw {
        cmd.arg("EF").arg(ef);
    }
    cmd.arg("SORTBY").arg(SCORE_ALIAS).arg("ASC");
    let nret = if include_embedding { 4 } else { 3 };
    cmd.arg("RETURN")
        .arg(nret)
        .arg(SCORE_ALIAS)
        .arg(F_KEY)
        .arg(F_META);
    if include_embedding {
        cmd.arg(F_VEC);
    }
    cmd.arg("LIMIT")
        .arg(0)
        .arg(fetch)
        .arg("TIMEOUT")
        .arg(timeout_ms)
        .arg("DIALECT")
        .arg(2);
    cmd
}

/// Parses an FT.SEARCH reply with returned fields into `(fields by name)` per document.
fn documents(reply: &Value) -> RResult<Vec<HashMap<String, Vec<u8>>>> {
    let Value::Array(items) = reply else {
        return Err(RedisError::Server(format!(
            "unexpected FT.SEARCH reply {reply:?}"
        )));
    };
    let mut out = Vec::new();
    for pair in items.get(1..).unwrap_or_default().chunks(2) {
        let Some(Value::Array(fields)) = pair.get(1) else {
            continue;
        };
        let mut doc = HashMap::new();
        for f in fields.chunks(2) {
            if let (Some(name), Some(val)) =
                (f.first().and_then(bulk_string), f.get(1).and_then(bulk))
            {
                doc.insert(name, val.to_vec());
            }
        }
        out.push(doc);
    }
    Ok(out)
}

#[async_trait]
impl VectorBackend for RedisBackend {
    fn backend_type(&self) -> &'static str {
        "redis"
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::full();
        // Auto is HNSW: approximate.
        caps.auto_index_is_exact = false;
        caps.persistent = true;
        caps
    }

    async fn health_check(&self) -> bool {
        let check = async {
            let pong: String = self.client.cmd(&redis::cmd("PING")).await.ok()?;
            if pong != "PONG" {
                return None;
            }
            let modules: Value = self
                .client
                .cmd(redis::cmd("MODULE").arg("LIST"))
                .await
                .ok()?;
            Some(search_module_has_vectors(&modules))
        };
        // A healthy server answers both at once; waiting longer than a connection may take
        // would only delay the verdict.
        let limit = self.client.config().connect_timeout;
        tokio::time::timeout(limit, check)
            .await
            .ok()
            .flatten()
            .unwrap_or(false)
    }

    async fn create_namespace(&self, namespace: &str, config: &NamespaceConfig) -> Result<()> {
        validate::namespace(namespace)?;
        validate::config(config, &self.capabilities())?;
        let stored = self.ensure_namespace(namespace, config).await?;
        if stored == *config {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::ConfigMismatch,
                format!("namespace {namespace} exists with a different config"),
            ))
        }
    }

    async fn namespace_info(&self, namespace: &str) -> Result<Option<NamespaceInfo>> {
        validate::namespace(namespace)?;
        let Some(config) = self.load_config(namespace).await? else {
            return Ok(None);
        };
        let names = Names::of(namespace);
        let count: u64 = self
            .client
            .cmd(redis::cmd("ZCARD").arg(&names.keys))
            .await?;
        Ok(Some(NamespaceInfo::new(namespace, config, count)))
    }

    async fn drop_namespace(&self, namespace: &str) -> Result<bool> {
        validate::namespace(namespace)?;
        self.forget(namespace);
        let names = Names::of(namespace);
        let existed: bool = self
            .client
            .cmd(redis::cmd("EXISTS").arg(&names.config))
            .await?;
        // Unlist it first, so a half-finished drop never leaves a listed namespace without
        // its index.
        let mut p = redis::pipe();
        p.atomic();
        p.cmd("SREM").arg(REGISTRY).arg(namespace).ignore();
        p.cmd("DEL").arg(&names.config).ignore();
        self.client.pipe::<()>(&p).await?;
        match self
            .client
            .cmd::<Value>(redis::cmd("FT.DROPINDEX").arg(&names.index))
            .await
        {
            Ok(_) => {}
            // Already gone (a repeated or half-finished drop).
            Err(RedisError::Server(msg))
                if msg.to_ascii_lowercase().contains("unknown")
                    || msg.to_ascii_lowercase().contains("no such index") => {}
            Err(e) => return Err(e.into()),
        }
        self.delete_all(&names).await?;
        self.client
            .cmd::<Value>(redis::cmd("DEL").arg(&names.keys))
            .await?;
        self.forget(namespace);
        Ok(existed)
    }

    async fn list_namespaces(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .client
            .cmd(redis::cmd("SMEMBERS").arg(REGISTRY))
            .await?;
        names.sort();
        Ok(names)
    }

    async fn clear_namespace(&self, namespace: &str) -> Result<u64> {
        validate::namespace(namespace)?;
        if self.load_config(namespace).await?.is_none() {
            return Ok(0);
        }
        self.delete_all(&Names::of(namespace)).await
    }

    async fn upsert_batch(&self, namespace: &str, records: Vec<Record>) -> Result<()> {
        validate::namespace(namespace)?;
        if records.is_empty() {
            return Ok(());
        }
        let config = match self.load_config(namespace).await? {
            Some(c) => c,
            None => {
                // Validate against the implicit config before creating anything.
                let implicit = validate::batch(&records, None)?;
                self.ensure_namespace(namespace, &implicit).await?
            }
        };
        validate::batch(&records, Some(&config))?;
        // Last occurrence of each key wins; earlier duplicates are never written.
        let mut seen = HashSet::new();
        let mut unique: Vec<&Record> = records
            .iter()
            .rev()
            .filter(|r| seen.insert(r.key.as_str()))
            .collect();
        unique.reverse();
        let names = Names::of(namespace);
        let mut pipes = Vec::new();
        for chunk in unique.chunks(WRITE_CHUNK) {
            let mut p = redis::pipe();
            p.atomic();
            for r in chunk {
                let hk = names.record(&r.key);
                let meta = serde_json::to_string(&r.metadata)
                    .map_err(|e| Error::backend(format!("cannot encode metadata: {e}")))?;
                // DEL first: fields of the previous version (a filter value it had) must not
                // survive the replacement.
                p.cmd("DEL").arg(&hk).ignore();
                let mut hset = redis::cmd("HSET");
                hset.arg(&hk)
                    .arg(F_KEY)
                    .arg(&r.key)
                    .arg(F_VEC)
                    .arg(blob(&r.embedding))
                    .arg(F_META)
                    .arg(meta);
                for (f, v) in schema::index_fields(&config, &r.metadata) {
                    hset.arg(f).arg(v);
                }
                p.add_command(hset).ignore();
                p.cmd("ZADD").arg(&names.keys).arg(0).arg(&r.key).ignore();
            }
            pipes.push(p);
        }
        let client = &self.client;
        let writes: Vec<_> = pipes
            .into_iter()
            .map(|p| async move { client.pipe::<()>(&p).await })
            .collect();
        futures_util::stream::iter(writes)
            .buffer_unordered(WRITES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    async fn get_batch(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<Option<StoredVector>>> {
        validate::namespace(namespace)?;
        validate::keys(keys)?;
        if keys.is_empty() || self.load_config(namespace).await?.is_none() {
            return Ok(vec![None; keys.len()]);
        }
        let names = Names::of(namespace);
        let mut p = redis::pipe();
        for k in keys {
            p.cmd("HMGET").arg(names.record(k)).arg(F_VEC).arg(F_META);
        }
        let replies: Vec<Value> = self.client.pipe(&p).await?;
        keys.iter()
            .zip(&replies)
            .map(|(k, r)| stored_from(k, r).map_err(Error::from))
            .collect()
    }

    async fn delete_batch(&self, namespace: &str, keys: &[String]) -> Result<u64> {
        validate::namespace(namespace)?;
        validate::keys(keys)?;
        if keys.is_empty() || self.load_config(namespace).await?.is_none() {
            return Ok(0);
        }
        let names = Names::of(namespace);
        let raw: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
        let mut total = 0;
        for chunk in raw.chunks(DELETE_CHUNK) {
            total += self.delete_keys(&names, chunk).await?;
        }
        Ok(total)
    }

    async fn search(&self, namespace: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
        validate::query(namespace, request)?;
        let Some(config) = self.load_config(namespace).await? else {
            return Ok(Vec::new());
        };
        validate::embedding_for(&request.embedding, &config)?;
        Self::check_filter(&config, request.filter.as_ref())?;
        let names = Names::of(namespace);
        let fetch = score::overfetch(request.k);
        let cmd = knn_command(&names, &config, request, fetch, self.timeout_ms());
        let reply: Value = self.client.cmd(&cmd).await?;
        let mut results = Vec::new();
        for doc in documents(&reply)? {
            let (Some(key), Some(meta), Some(dist)) =
                (doc.get(F_KEY), doc.get(F_META), doc.get(SCORE_ALIAS))
            else {
                // A record deleted between matching and loading.
                continue;
            };
            let key = String::from_utf8(key.clone())
                .map_err(|_| RedisError::corrupt("a search result", "key is not UTF-8"))?;
            let native: f64 = std::str::from_utf8(dist)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| {
                    RedisError::corrupt(format!("the distance of {key:?}"), "not a number")
                })?;
            let metadata = decode_metadata(&key, meta)?;
            let embedding = match (request.include_embedding, doc.get(F_VEC)) {
                (true, Some(v)) => Some(decode_embedding(&key, v)?),
                _ => None,
            };
            let s = Self::convert(config.metric, native);
            results.push(SearchResult::new(
                key, s.score, s.distance, metadata, embedding,
            ));
        }
        Ok(score::finish(results, request.k, request.threshold))
    }

    async fn count(&self, namespace: &str, filter: Option<&Filter>) -> Result<u64> {
        validate::namespace(namespace)?;
        let Some(config) = self.load_config(namespace).await? else {
            return Ok(0);
        };
        Self::check_filter(&config, filter)?;
        let names = Names::of(namespace);
        let Some(filter) = filter else {
            return Ok(self
                .client
                .cmd(redis::cmd("ZCARD").arg(&names.keys))
                .await?);
        };
        let reply: Value = self
            .client
            .cmd(
                redis::cmd("FT.SEARCH")
                    .arg(&names.index)
                    .arg(to_query(filter, &config))
                    .arg("LIMIT")
                    .arg(0)
                    .arg(0)
                    .arg("TIMEOUT")
                    .arg(self.timeout_ms())
                    .arg("DIALECT")
                    .arg(2),
            )
            .await?;
        match &reply {
            Value::Array(items) => items
                .first()
                .and_then(int)
                .map(|n| n.max(0) as u64)
                .ok_or_else(|| {
                    RedisError::Server(format!("unexpected FT.SEARCH reply {reply:?}")).into()
                }),
            _ => Err(RedisError::Server(format!("unexpected FT.SEARCH reply {reply:?}")).into()),
        }
    }

    async fn scan_page(&self, namespace: &str, request: &ScanRequest) -> Result<ScanPage> {
        validate::namespace(namespace)?;
        validate::page_size(request.page_size)?;
        let Some(config) = self.load_config(namespace).await? else {
            return Ok(ScanPage::default());
        };
        Self::check_filter(&config, request.filter.as_ref())?;
        let mut after: Option<Vec<u8>> = match &request.cursor {
            None => None,
            Some(c) => Some(
                schema::unhex(c)
                    .ok_or_else(|| Error::invalid_argument("scan cursor is malformed"))?,
            ),
        };
        let names = Names::of(namespace);
        let n = request.effective_page_size();
        let Some(filter) = &request.filter else {
            // One more key than the page tells whether another page follows.
            let mut keys = self.keys_after(&names, after.as_deref(), n + 1).await?;
            let more = keys.len() > n;
            keys.truncate(n);
            let next = if more {
                keys.last().map(|k| schema::hex(k))
            } else {
                None
            };
            let records = self.read_records(&names, &keys).await?;
            return Ok(ScanPage::new(records, next));
        };
        // Filtered: walk the keys in order and keep the records the reference semantics
        // accept, until the page is full or the keys run out.
        let mut out = Vec::new();
        loop {
            let want = SCAN_CHUNK.max(n);
            let keys = self.keys_after(&names, after.as_deref(), want).await?;
            let exhausted = keys.len() < want;
            let Some(last) = keys.last().cloned() else {
                return Ok(ScanPage::new(out, None));
            };
            for r in self.read_records(&names, &keys).await? {
                if filter.matches(&r.metadata) {
                    out.push(r);
                    if out.len() == n {
                        // A next page only when any key follows this page's last record.
                        let last = out.last().map(|r| r.key.clone()).unwrap_or_default();
                        let rest = self.keys_after(&names, Some(last.as_bytes()), 1).await?;
                        let next = (!rest.is_empty()).then(|| schema::hex(last.as_bytes()));
                        return Ok(ScanPage::new(out, next));
                    }
                }
            }
            if exhausted {
                return Ok(ScanPage::new(out, None));
            }
            after = Some(last);
        }
    }

    async fn delete_by_filter(&self, namespace: &str, filter: &Filter) -> Result<u64> {
        validate::namespace(namespace)?;
        let Some(config) = self.load_config(namespace).await? else {
            return Ok(0);
        };
        Self::check_filter(&config, Some(filter))?;
        let names = Names::of(namespace);
        let query = to_query(filter, &config);
        let mut total = 0;
        loop {
            let reply: Value = self
                .client
                .cmd(
                    redis::cmd("FT.SEARCH")
                        .arg(&names.index)
                        .arg(&query)
                        .arg("NOCONTENT")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(DELETE_CHUNK)
                        .arg("TIMEOUT")
                        .arg(self.timeout_ms())
                        .arg("DIALECT")
                        .arg(2),
                )
                .await?;
            let Value::Array(items) = &reply else {
                return Err(
                    RedisError::Server(format!("unexpected FT.SEARCH reply {reply:?}")).into(),
                );
            };
            let keys: Vec<Vec<u8>> = items
                .iter()
                .skip(1)
                .filter_map(bulk)
                .filter_map(|hk| hk.strip_prefix(names.prefix.as_bytes()).map(<[u8]>::to_vec))
                .collect();
            if keys.is_empty() {
                return Ok(total);
            }
            let deleted = self.delete_keys(&names, &keys).await?;
            total += deleted;
            if deleted == 0 {
                // The index still lists records that are gone: nothing more to delete now.
                return Ok(total);
            }
        }
    }
}

/// Whether a `MODULE LIST` reply shows RediSearch 2.4 or newer (vector fields).
fn search_module_has_vectors(modules: &Value) -> bool {
    let Value::Array(mods) = modules else {
        return false;
    };
    mods.iter().any(|m| {
        let fields: Vec<(String, &Value)> = match m {
            Value::Array(kv) => kv
                .chunks(2)
                .filter_map(|c| Some((bulk_string(c.first()?)?, c.get(1)?)))
                .collect(),
            Value::Map(kv) => kv
                .iter()
                .filter_map(|(k, v)| Some((bulk_string(k)?, v)))
                .collect(),
            _ => Vec::new(),
        };
        let name = fields
            .iter()
            .find(|(k, _)| k == "name")
            .and_then(|(_, v)| bulk_string(v));
        let ver = fields
            .iter()
            .find(|(k, _)| k == "ver")
            .and_then(|(_, v)| int(v));
        matches!(name.as_deref(), Some("search" | "searchlight")) && ver.is_some_and(|v| v >= 20400)
    })
}

#[async_trait]
impl OpenBackend for RedisBackend {
    const NAME: &'static str = "redis";
    const SCHEMES: &'static [&'static str] = &["redis", "rediss"];
    const URL_ENV: &'static str = "REDIS_URL";

    async fn open(url: &str) -> Result<Self> {
        Self::new(RedisConfig::from_url(url)?)
    }
}
