//! The conformance suite must be able to fail: each test here breaks one rule of the contract
//! in a wrapper around the memory backend and asserts that the case guarding that rule fails,
//! while the same case passes on the unbroken backend.

use std::sync::Arc;

use vector_backend::conformance::run_case;
use vector_backend::{
    Capabilities, DynBackend, Filter, Metadata, NamespaceConfig, NamespaceInfo, QueryRequest,
    Record, Result, ScanPage, ScanRequest, SearchResult, StoredVector, VectorBackend, async_trait,
};
use vector_memory::MemoryBackend;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    ExclusiveThreshold,
    TiesByKeyDescending,
    NeIgnoresMissing,
    IntegersBecomeFloats,
    PartialBatchWrite,
    SquaredEuclidean,
    CaseInsensitiveNamespaces,
    ScanRepeatsLastRecord,
    DropsSomeNeighbours,
    ForgetsConfigOnReopen,
    /// The old pgvector bug: a write to a namespace this object saw, but another object
    /// dropped meanwhile, is acknowledged and lost.
    LosesWritesAfterDropElsewhere,
    /// Keyword and hybrid queries ignore the filter.
    TextIgnoresFilter,
    /// Hybrid fusion counts ranks from 0, as Weaviate's native `rankedFusion` does.
    RrfRanksFromZero,
}

#[derive(Debug)]
struct Faulty {
    inner: Arc<MemoryBackend>,
    fault: Fault,
    /// Namespaces this object has written to (its "cache").
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Faulty {
    fn new(inner: Arc<MemoryBackend>, fault: Fault) -> Self {
        Self {
            inner,
            fault,
            seen: Default::default(),
        }
    }
}

impl Faulty {
    fn ns(&self, ns: &str) -> String {
        if self.fault == Fault::CaseInsensitiveNamespaces {
            ns.to_lowercase()
        } else {
            ns.to_owned()
        }
    }
}

fn floatify(m: &Metadata) -> Metadata {
    m.iter()
        .map(|(k, v)| {
            let v = match v.as_i64() {
                Some(i) => serde_json::json!(i as f64),
                None => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn weaken(f: &Filter) -> Filter {
    match f {
        Filter::Ne { field, value } => Filter::and([
            Filter::exists(field.clone()),
            Filter::Ne {
                field: field.clone(),
                value: value.clone(),
            },
        ]),
        Filter::And { filters } => Filter::and(filters.iter().map(weaken)),
        Filter::Or { filters } => Filter::or(filters.iter().map(weaken)),
        Filter::Not { filter } => Filter::not(weaken(filter)),
        other => other.clone(),
    }
}

#[async_trait]
impl VectorBackend for Faulty {
    fn backend_type(&self) -> &'static str {
        "faulty-memory"
    }
    fn capabilities(&self) -> Capabilities {
        // `reopen` below shares the storage, so this wrapper behaves like a persistent server.
        let mut caps = self.inner.capabilities();
        caps.persistent = true;
        caps
    }
    async fn health_check(&self) -> bool {
        true
    }
    async fn create_namespace(&self, ns: &str, config: &NamespaceConfig) -> Result<()> {
        self.inner.create_namespace(&self.ns(ns), config).await
    }
    async fn namespace_info(&self, ns: &str) -> Result<Option<NamespaceInfo>> {
        self.inner.namespace_info(&self.ns(ns)).await
    }
    async fn drop_namespace(&self, ns: &str) -> Result<bool> {
        self.inner.drop_namespace(&self.ns(ns)).await
    }
    async fn list_namespaces(&self) -> Result<Vec<String>> {
        self.inner.list_namespaces().await
    }
    async fn clear_namespace(&self, ns: &str) -> Result<u64> {
        self.inner.clear_namespace(&self.ns(ns)).await
    }
    async fn upsert_batch(&self, ns: &str, records: Vec<Record>) -> Result<()> {
        if self.fault == Fault::PartialBatchWrite {
            for r in records {
                self.inner.upsert_batch(&self.ns(ns), vec![r]).await?;
            }
            return Ok(());
        }
        if self.fault == Fault::LosesWritesAfterDropElsewhere {
            let seen = self.seen.lock().unwrap().contains(ns);
            if seen && self.inner.namespace_info(ns).await?.is_none() {
                return Ok(());
            }
            self.seen.lock().unwrap().insert(ns.to_owned());
        }
        self.inner.upsert_batch(&self.ns(ns), records).await
    }
    async fn get_batch(&self, ns: &str, keys: &[String]) -> Result<Vec<Option<StoredVector>>> {
        let mut got = self.inner.get_batch(&self.ns(ns), keys).await?;
        if self.fault == Fault::IntegersBecomeFloats {
            for g in got.iter_mut().flatten() {
                g.metadata = floatify(&g.metadata);
            }
        }
        Ok(got)
    }
    async fn delete_batch(&self, ns: &str, keys: &[String]) -> Result<u64> {
        self.inner.delete_batch(&self.ns(ns), keys).await
    }
    async fn search(&self, ns: &str, request: &QueryRequest) -> Result<Vec<SearchResult>> {
        let mut request = request.clone();
        if self.fault == Fault::NeIgnoresMissing {
            request.filter = request.filter.as_ref().map(weaken);
        }
        if self.fault == Fault::TextIgnoresFilter && request.text.is_some() {
            request.filter = None;
        }
        if self.fault == Fault::RrfRanksFromZero
            && let Some(vector_backend::Fusion::Rrf { k }) = request.hybrid
        {
            request.hybrid = Some(vector_backend::Fusion::Rrf { k: k - 1 });
        }
        let mut hits = self.inner.search(&self.ns(ns), &request).await?;
        match self.fault {
            Fault::ExclusiveThreshold => {
                if let Some(t) = request.threshold {
                    hits.retain(|h| h.score > t);
                }
            }
            Fault::TiesByKeyDescending => {
                let mut wide = request.clone();
                wide.k = 10_000;
                let mut all = self.inner.search(&self.ns(ns), &wide).await?;
                all.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| b.key.cmp(&a.key)));
                all.truncate(request.k);
                hits = all;
            }
            Fault::SquaredEuclidean => {
                for h in &mut hits {
                    if h.score <= 0.0 && h.distance >= 0.0 && (h.score + h.distance).abs() < 1e-12 {
                        h.distance *= h.distance;
                    }
                }
            }
            Fault::DropsSomeNeighbours => {
                let mut i = 0;
                hits.retain(|_| {
                    i += 1;
                    i % 7 != 3
                });
            }
            _ => {}
        }
        Ok(hits)
    }
    async fn count(&self, ns: &str, filter: Option<&Filter>) -> Result<u64> {
        let weakened = filter.map(weaken);
        let f = if self.fault == Fault::NeIgnoresMissing {
            weakened.as_ref()
        } else {
            filter
        };
        self.inner.count(&self.ns(ns), f).await
    }
    async fn scan_page(&self, ns: &str, request: &ScanRequest) -> Result<ScanPage> {
        let mut page = self.inner.scan_page(&self.ns(ns), request).await?;
        if self.fault == Fault::ScanRepeatsLastRecord && page.next_cursor.is_some() {
            // An off-by-one cursor: the next page starts at the last record again.
            let n = page.records.len();
            page.next_cursor = page
                .records
                .get(n.saturating_sub(2))
                .map(|r| cursor_of(&r.key));
        }
        Ok(page)
    }
    async fn delete_by_filter(&self, ns: &str, filter: &Filter) -> Result<u64> {
        self.inner.delete_by_filter(&self.ns(ns), filter).await
    }
    async fn search_batch(
        &self,
        ns: &str,
        requests: &[QueryRequest],
    ) -> Result<Vec<Vec<SearchResult>>> {
        let mut out = Vec::new();
        for r in requests {
            out.push(self.search(ns, r).await?);
        }
        Ok(out)
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}

/// The cursor the core makes for `key` (its bytes in hex).
fn cursor_of(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Runs `case` against a memory backend with `fault`; `reopen` shares the storage unless the
/// fault is forgetting configs.
async fn outcome(fault: Fault, case: &str) -> anyhow::Result<()> {
    let shared = Arc::new(MemoryBackend::default());
    let backend: DynBackend = Arc::new(Faulty::new(shared.clone(), fault));
    let reopen = move || {
        let inner = if fault == Fault::ForgetsConfigOnReopen {
            Arc::new(MemoryBackend::default())
        } else {
            shared.clone()
        };
        async move { Ok(Arc::new(Faulty::new(inner, fault)) as DynBackend) }
    };
    run_case(backend, reopen, "vt_faults_case", case).await
}

#[tokio::test]
async fn every_fault_is_caught_by_its_case() {
    let expectations = [
        (
            Fault::ExclusiveThreshold,
            "scores::threshold_is_inclusive_on_reported_score",
        ),
        (
            Fault::TiesByKeyDescending,
            "scores::ties_at_k_broken_by_key",
        ),
        (Fault::NeIgnoresMissing, "filter::ne_matches_missing_fields"),
        (
            Fault::IntegersBecomeFloats,
            "roundtrip::metadata_round_trips_exactly",
        ),
        (
            Fault::PartialBatchWrite,
            "batch::one_bad_record_writes_nothing",
        ),
        (Fault::SquaredEuclidean, "scores::euclidean_fixed_vectors"),
        (
            Fault::CaseInsensitiveNamespaces,
            "namespace::case_sensitive_names_are_isolated",
        ),
        (
            Fault::ScanRepeatsLastRecord,
            "scan::pages_cover_every_record_once",
        ),
        (
            Fault::DropsSomeNeighbours,
            "differential::cosine_clustered_matches_oracle",
        ),
        (
            Fault::ForgetsConfigOnReopen,
            "namespace::config_survives_reopen_through_server",
        ),
        (
            Fault::LosesWritesAfterDropElsewhere,
            "replicas::upsert_after_drop_elsewhere_creates_again",
        ),
        (
            Fault::LosesWritesAfterDropElsewhere,
            "replicas::random_operations_keep_acknowledged_writes",
        ),
        (
            Fault::TextIgnoresFilter,
            "text::hybrid_is_the_fusion_of_its_legs",
        ),
        (
            Fault::RrfRanksFromZero,
            "text::hybrid_is_the_fusion_of_its_legs",
        ),
    ];
    for (fault, case) in expectations {
        // The healthy backend passes the case...
        if let Err(e) = outcome(Fault::None, case).await {
            panic!("{case} fails on the healthy backend: {e:#}");
        }
        // ...and the broken one fails it.
        let r = outcome(fault, case).await;
        assert!(r.is_err(), "{case} did not detect {fault:?}");
    }
}
