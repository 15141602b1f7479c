//! One namespace's storage: a contiguous row-major `f32` buffer, its int8 copy
//! ([`crate::quant`]), keys and metadata, a sorted key index, and the exact top-k search over
//! them.

use std::collections::BTreeMap;

use pulp::Arch;
use rayon::prelude::*;
use vector_backend::{
    Filter, IndexKind, Metadata, NamespaceConfig, Record, SearchResult, StoredVector, score,
};

use crate::batch::{self, BatchQuery, Rows};
use crate::hnsw::{Hnsw, HnswParams};
use crate::quant::{self, QuantStore};
use crate::text::TextIndex;
use vector_backend::text;

/// Rows × dimension above which a search is split across cores; below it the thread hand-off
/// costs more than it saves.
const PARALLEL_FLOATS: usize = 1 << 16;
/// Rows per parallel work item (the int8 pass reads ~d bytes per row).
const PARALLEL_CHUNK_ROWS: usize = 4096;

/// A namespace's data.
#[derive(Debug)]
pub(crate) struct Namespace {
    pub(crate) config: NamespaceConfig,
    /// Row-major embeddings, `dimension` floats per row, exactly as written.
    data: Vec<f32>,
    /// The int8 copy the exact scan reads first, row for row with `data`.
    quant: QuantStore,
    /// The graph of an `index: hnsw` namespace.
    hnsw: Option<Hnsw>,
    /// The graph's parameters (kept for `clear`).
    hnsw_params: HnswParams,
    keys: Vec<String>,
    metadata: Vec<Metadata>,
    /// Approximate heap bytes per row (embedding, key, metadata), for the capacity limit.
    sizes: Vec<u64>,
    /// Sum of `sizes`, kept up to date so the capacity check is O(1).
    total_bytes: u64,
    /// Key → row, sorted so scans page in key order.
    index: BTreeMap<String, usize>,
    /// False once the namespace was dropped: handles to it must not read or write it.
    pub(crate) live: bool,
    /// The keyword index, for namespaces with text fields.
    text: Option<TextIndex>,
}

/// Approximate heap bytes a record occupies: its embedding, key and metadata, its row of the
/// int8 copy, and (in a namespace with text fields) about three times its text bag for the
/// keyword index's postings and term lists.
fn record_size(r: &Record, config: &NamespaceConfig, index_bytes: u64) -> u64 {
    let text = if config.has_text() {
        3 * text::text_bag(&r.metadata, config).len()
    } else {
        0
    };
    (r.embedding.len() * 4
        + r.key.len()
        + vector_backend::validate::serialized_len(&r.metadata)
        + text) as u64
        + quant::bytes_per_row(config.dimension, config.metric)
        + index_bytes
        + 64
}

impl Namespace {
    pub(crate) fn new(config: NamespaceConfig, hnsw_params: HnswParams) -> Self {
        Self {
            hnsw: (config.index == IndexKind::Hnsw)
                .then(|| Hnsw::new(config.dimension, config.metric, hnsw_params)),
            hnsw_params,
            data: Vec::new(),
            quant: QuantStore::new(config.dimension, config.metric),
            keys: Vec::new(),
            metadata: Vec::new(),
            sizes: Vec::new(),
            total_bytes: 0,
            index: BTreeMap::new(),
            live: true,
            text: config.has_text().then(TextIndex::default),
            config,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.total_bytes
    }

    fn row(&self, i: usize) -> &[f32] {
        let d = self.config.dimension;
        &self.data[i * d..(i + 1) * d]
    }

    /// The size of the stored record under `key`, if any (to net out replacements).
    pub(crate) fn size_of(&self, key: &str) -> Option<u64> {
        self.index.get(key).map(|&i| self.sizes[i])
    }

    pub(crate) fn upsert(&mut self, r: &Record) {
        let size = self.record_size(r);
        let bag = self
            .text
            .as_ref()
            .map(|_| text::text_bag(&r.metadata, &self.config));
        if let Some(&i) = self.index.get(&r.key) {
            let d = self.config.dimension;
            self.data[i * d..(i + 1) * d].copy_from_slice(&r.embedding);
            self.quant.set(i, &r.embedding);
            if let Some(g) = &mut self.hnsw {
                g.push(i, &r.embedding);
            }
            self.metadata[i] = r.metadata.clone();
            self.total_bytes = self.total_bytes - self.sizes[i] + size;
            self.sizes[i] = size;
            if let (Some(ix), Some(bag)) = (&mut self.text, &bag) {
                ix.replace(i, bag);
            }
        } else {
            self.data.extend_from_slice(&r.embedding);
            self.quant.push(&r.embedding);
            if let Some(g) = &mut self.hnsw {
                g.push(self.keys.len(), &r.embedding);
            }
            self.index.insert(r.key.clone(), self.keys.len());
            self.keys.push(r.key.clone());
            self.metadata.push(r.metadata.clone());
            self.total_bytes += size;
            self.sizes.push(size);
            if let (Some(ix), Some(bag)) = (&mut self.text, &bag) {
                ix.push(bag);
            }
        }
    }

    /// Approximate heap bytes `r` occupies here (see [`record_size`]). An HNSW namespace adds
    /// its graph's bytes per node, half again for the tombstones a graph holds before it is
    /// rebuilt (at most a third of its nodes).
    pub(crate) fn record_size(&self, r: &Record) -> u64 {
        let index = if self.hnsw.is_some() {
            self.hnsw_params.bytes_per_node(self.config.dimension) * 3 / 2
        } else {
            0
        };
        record_size(r, &self.config, index)
    }

    /// What the index holds, for [`crate::IndexStats`].
    pub(crate) fn index_stats(&self) -> crate::IndexStats {
        let g = self.hnsw.as_ref();
        crate::IndexStats {
            index: self.config.index,
            rows: self.len() as u64,
            graph_nodes: g.map_or(0, |g| g.nodes() as u64),
            tombstones: g.map_or(0, |g| g.tombstones() as u64),
            build_seconds: g.map_or(0.0, Hnsw::build_seconds),
            bytes: self.bytes(),
        }
    }

    /// Finishes a write: links the graph's new nodes (in parallel), and rebuilds the graph when
    /// tombstones have piled up.
    pub(crate) fn finish_writes(&mut self) {
        if let Some(g) = &mut self.hnsw {
            g.link_pending();
            if g.needs_rebuild() {
                *g = g.rebuilt();
            }
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<StoredVector> {
        self.index.get(key).map(|&i| StoredVector {
            embedding: self.row(i).to_vec(),
            metadata: self.metadata[i].clone(),
        })
    }

    /// Removes `key` by moving the last row into its place. True when it existed.
    pub(crate) fn remove(&mut self, key: &str) -> bool {
        let Some(i) = self.index.remove(key) else {
            return false;
        };
        let last = self.keys.len() - 1;
        let d = self.config.dimension;
        // The removed row's bytes leave the total (the capacity budget is returned on delete).
        self.total_bytes -= self.sizes[i];
        if let Some(ix) = &mut self.text {
            ix.swap_remove(i);
        }
        self.quant.swap_remove(i);
        if let Some(g) = &mut self.hnsw {
            g.swap_remove_row(i);
        }
        if i != last {
            self.data.copy_within(last * d..(last + 1) * d, i * d);
            self.keys.swap(i, last);
            self.metadata.swap(i, last);
            self.sizes.swap(i, last);
            self.index.insert(self.keys[i].clone(), i);
        }
        self.data.truncate(last * d);
        self.keys.pop();
        self.metadata.pop();
        self.sizes.pop();
        true
    }

    pub(crate) fn clear(&mut self) -> u64 {
        let n = self.len() as u64;
        *self = Self::new(self.config.clone(), self.hnsw_params);
        n
    }

    pub(crate) fn count(&self, filter: Option<&Filter>) -> u64 {
        match filter {
            None => self.len() as u64,
            Some(f) => self.metadata.iter().filter(|m| f.matches(m)).count() as u64,
        }
    }

    /// Keys matching `filter` (all when `None`).
    pub(crate) fn matching_keys(&self, filter: &Filter) -> Vec<String> {
        self.keys
            .iter()
            .zip(&self.metadata)
            .filter(|(_, m)| filter.matches(m))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Up to `limit` records with keys strictly after `after`, in key order.
    pub(crate) fn page(
        &self,
        after: Option<&str>,
        limit: usize,
        filter: Option<&Filter>,
    ) -> (Vec<Record>, bool) {
        use std::ops::Bound;
        let lower = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_owned()));
        let mut out = Vec::new();
        let mut more = false;
        for (key, &i) in self.index.range((lower, Bound::Unbounded)) {
            if filter.is_some_and(|f| !f.matches(&self.metadata[i])) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(Record::new(
                key.clone(),
                self.row(i).to_vec(),
                self.metadata[i].clone(),
            ));
        }
        (out, more)
    }

    /// The best `fetch` keyword matches by BM25 (then key), among the rows `filter` accepts.
    pub(crate) fn keyword(
        &self,
        tokens: &[String],
        fetch: usize,
        filter: Option<&Filter>,
        include_embedding: bool,
    ) -> Vec<SearchResult> {
        let Some(ix) = &self.text else {
            return Vec::new();
        };
        let mut scored = ix.scores(tokens, |row| {
            filter.is_none_or(|f| f.matches(&self.metadata[row]))
        });
        scored.sort_unstable_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| self.keys[a.0].cmp(&self.keys[b.0]))
        });
        scored.truncate(fetch);
        scored
            .into_iter()
            .map(|(row, s)| {
                SearchResult::new(
                    self.keys[row].clone(),
                    s,
                    -s,
                    self.metadata[row].clone(),
                    include_embedding.then(|| self.row(row).to_vec()),
                )
            })
            .collect()
    }

    /// The exact best `fetch` candidates by the contract's order (see [`crate::quant`] for why
    /// the int8 pass never loses one); the core applies the exact threshold, the order and `k`.
    pub(crate) fn search(
        &self,
        query: &[f32],
        fetch: usize,
        threshold: Option<f64>,
        filter: Option<&Filter>,
        include_embedding: bool,
    ) -> Vec<SearchResult> {
        let rows = self.rows(query, fetch, threshold, filter);
        self.results(rows, include_embedding)
    }

    /// The best `fetch` rows by the namespace's index.
    fn rows(
        &self,
        query: &[f32],
        fetch: usize,
        threshold: Option<f64>,
        filter: Option<&Filter>,
    ) -> Vec<(f64, usize)> {
        match &self.hnsw {
            Some(g) => self.graph_rows(g, query, fetch, threshold, filter),
            None => self.exact_rows(query, fetch, threshold, filter),
        }
    }

    /// Several queries at once: exact ones through matrix products ([`crate::batch`]) when
    /// there are enough of them to pay for it, the others (and graph queries) one by one,
    /// spread over the cores. Each answer equals the single query's.
    pub(crate) fn search_batch(&self, items: &[BatchItem]) -> Vec<Vec<SearchResult>> {
        let qmax = items
            .iter()
            .map(|it| {
                it.embedding
                    .iter()
                    .map(|&x| f64::from(x) * f64::from(x))
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(0.0, f64::max);
        let rmax = self.quant.norms().iter().copied().fold(0.0f32, f32::max);
        let rows: Vec<Vec<(f64, usize)>> = if self.hnsw.is_none()
            && items.len() >= BATCH_MIN_QUERIES
            && batch::in_range(rmax, qmax)
        {
            let queries: Vec<BatchQuery<'_>> = items
                .iter()
                .map(|it| BatchQuery {
                    embedding: &it.embedding,
                    fetch: it.fetch,
                    threshold: it.threshold.map(|t| t - score::pushdown_margin(t)),
                })
                .collect();
            let rows = Rows {
                data: &self.data,
                dim: self.config.dimension,
                metric: self.config.metric,
                norms: self.quant.norms(),
            };
            let survivors = batch::survivors(rows, &queries, |q, r| {
                items[q]
                    .filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&self.metadata[r]))
            });
            survivors
                .into_iter()
                .zip(items)
                .map(|(s, it)| self.rescore(&it.embedding, s, it.fetch))
                .collect()
        } else {
            items
                .par_iter()
                .map(|it| self.rows(&it.embedding, it.fetch, it.threshold, it.filter.as_ref()))
                .collect()
        };
        rows.into_iter()
            .zip(items)
            .map(|(r, it)| self.results(r, it.include_embedding))
            .collect()
    }

    /// The exact best `fetch` rows for `query`: `(reference score, row)`, best first (ties by
    /// key). Rows below the threshold may be returned too (the core drops them); none that
    /// passes it is missing.
    pub(crate) fn exact_rows(
        &self,
        query: &[f32],
        fetch: usize,
        threshold: Option<f64>,
        filter: Option<&Filter>,
    ) -> Vec<(f64, usize)> {
        let arch = Arch::new();
        let q = self.quant.query(query);
        // Widened so that the bound arithmetic never drops a row whose exact score equals the
        // threshold; the exact inclusive check runs on the reference score.
        let floor = self
            .quant
            .key_floor(&q, threshold.map(|t| t - score::pushdown_margin(t)));
        if floor == f64::INFINITY {
            return Vec::new();
        }
        let accept = |i: usize| filter.is_none_or(|f| f.matches(&self.metadata[i]));
        let n = self.len();
        let partial = if n * self.config.dimension >= PARALLEL_FLOATS {
            let chunks: Vec<usize> = (0..n).step_by(PARALLEL_CHUNK_ROWS).collect();
            chunks
                .into_par_iter()
                .map(|s| {
                    let rows = s..(s + PARALLEL_CHUNK_ROWS).min(n);
                    self.quant.scan(arch, &q, rows, fetch, floor, accept)
                })
                .reduce_with(crate::quant::Partial::merge)
        } else {
            Some(self.quant.scan(arch, &q, 0..n, fetch, floor, accept))
        };
        let survivors = partial
            .map(crate::quant::Partial::survivors)
            .unwrap_or_default();
        self.rescore(query, survivors, fetch)
    }

    /// The approximate best `fetch` rows from the graph, re-scored in f64. Falls back to the
    /// exact scan when a filter is so selective that the graph walk would cost more (estimated
    /// from a sample of rows), and whenever the walk finds fewer than `fetch` rows while the
    /// namespace may hold more, so a filtered query returns exactly `min(k, matches)` hits.
    fn graph_rows(
        &self,
        g: &Hnsw,
        query: &[f32],
        fetch: usize,
        threshold: Option<f64>,
        filter: Option<&Filter>,
    ) -> Vec<(f64, usize)> {
        let n = self.len();
        let ef = g.params().ef_search.max(fetch);
        if let Some(f) = filter
            && !graph_pays(n, ef, |i| f.matches(&self.metadata[i]))
        {
            return self.exact_rows(query, fetch, threshold, filter);
        }
        let accept = |i: usize| filter.is_some_and(|f| f.matches(&self.metadata[i]));
        let found = g.search(
            query,
            ef,
            filter
                .is_some()
                .then_some(&accept as &dyn Fn(usize) -> bool),
        );
        if found.len() < fetch.min(n) {
            return self.exact_rows(query, fetch, threshold, filter);
        }
        // The f32 walk's order is refined in f64 over a few more than asked, as the old f32
        // scan did, so near-ties at the boundary come out in the contract's order.
        let head = found.iter().take(fetch + 8).map(|&(_, i)| i);
        self.rescore(query, head, fetch)
    }

    /// Reference scores of `rows`, best `fetch` by the contract's order.
    pub(crate) fn rescore(
        &self,
        query: &[f32],
        rows: impl IntoIterator<Item = usize>,
        fetch: usize,
    ) -> Vec<(f64, usize)> {
        let metric = self.config.metric;
        let mut scored: Vec<(f64, usize)> = rows
            .into_iter()
            .map(|i| (score::reference(metric, query, self.row(i)).score, i))
            .collect();
        scored.sort_unstable_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| self.keys[a.1].cmp(&self.keys[b.1]))
        });
        scored.truncate(fetch);
        scored
    }

    /// The rows as results.
    pub(crate) fn results(
        &self,
        rows: Vec<(f64, usize)>,
        include_embedding: bool,
    ) -> Vec<SearchResult> {
        let metric = self.config.metric;
        rows.into_iter()
            .map(|(s, i)| {
                let s = score::Scored::from_score(metric, s);
                SearchResult::new(
                    self.keys[i].clone(),
                    s.score,
                    s.distance,
                    self.metadata[i].clone(),
                    include_embedding.then(|| self.row(i).to_vec()),
                )
            })
            .collect()
    }
}

/// One query of a batch, owned (it crosses to the blocking pool).
#[derive(Debug)]
pub(crate) struct BatchItem {
    pub(crate) embedding: Vec<f32>,
    pub(crate) fetch: usize,
    pub(crate) threshold: Option<f64>,
    pub(crate) filter: Option<Filter>,
    pub(crate) include_embedding: bool,
}

/// Fewest exact queries answered through matrix products: below it the int8 scan, one query
/// at a time, reads less memory than the f32 products.
const BATCH_MIN_QUERIES: usize = 8;

/// Rows sampled to estimate a filter's selectivity.
const SELECTIVITY_SAMPLE: usize = 512;

/// Whether a filtered graph walk is expected to beat the exact scan. The walk keeps only rows
/// the filter accepts, so it visits about `VISITS_PER_EF · ef / selectivity` nodes (each a
/// random f32 row); the int8 scan reads every row sequentially at about an eighth of a visit's
/// cost. The selectivity comes from a fixed stride of rows.
fn graph_pays(n: usize, ef: usize, matches: impl Fn(usize) -> bool) -> bool {
    const VISITS_PER_EF: usize = 12;
    if n == 0 {
        return false;
    }
    let sample = n.min(SELECTIVITY_SAMPLE);
    let step = n / sample;
    let hits = (0..sample).filter(|&j| matches(j * step)).count();
    hits > 0 && VISITS_PER_EF * ef * sample / hits <= n / 8
}
