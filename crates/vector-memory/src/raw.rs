//! The backend's search paths without the namespace around them (keys, metadata, locks), for
//! benchmarks against other libraries' raw indexes. **Not a stable API**: hidden from the docs
//! and free to change; applications use [`crate::MemoryBackend`].
//!
//! Rows are numbered from 0 in the order given; every search returns row numbers, best first
//! by the contract's order (f64 reference score, then row), exactly as the backend ranks them.

use pulp::Arch;
use rayon::prelude::*;
use vector_backend::{Metric, score};

use crate::batch::{self, BatchQuery, Rows};
use crate::hnsw::Hnsw;
use crate::quant::{Partial, QuantStore};

pub use crate::hnsw::HnswParams;

/// Reference scores of `rows`, best `k` (ties by row).
fn rescore(
    metric: Metric,
    data: &[f32],
    dim: usize,
    q: &[f32],
    rows: impl IntoIterator<Item = usize>,
    k: usize,
) -> Vec<usize> {
    let mut s: Vec<(f64, usize)> = rows
        .into_iter()
        .map(|i| {
            (
                score::reference(metric, q, &data[i * dim..(i + 1) * dim]).score,
                i,
            )
        })
        .collect();
    s.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    s.truncate(k);
    s.into_iter().map(|x| x.1).collect()
}

/// The exact scan: int8 pass with the error bound, f64 re-score of the survivors.
#[derive(Debug)]
pub struct Exact {
    dim: usize,
    metric: Metric,
    data: Vec<f32>,
    quant: QuantStore,
}

impl Exact {
    /// Holds `data` (row-major, `dim` per row) and builds its int8 copy.
    pub fn new(dim: usize, metric: Metric, data: Vec<f32>) -> Self {
        let mut quant = QuantStore::new(dim, metric);
        for row in data.chunks_exact(dim) {
            quant.push(row);
        }
        Self {
            dim,
            metric,
            data,
            quant,
        }
    }

    /// The exact top `k` of one query, on the calling thread.
    pub fn search(&self, q: &[f32], k: usize) -> Vec<usize> {
        self.search_counted(q, k).0
    }

    /// [`Exact::search`] and how many rows were re-scored in f64.
    pub fn search_counted(&self, q: &[f32], k: usize) -> (Vec<usize>, usize) {
        let qq = self.quant.query(q);
        let n = self.data.len() / self.dim;
        let p = self
            .quant
            .scan(Arch::new(), &qq, 0..n, k, f64::NEG_INFINITY, |_| true);
        let surv = p.survivors();
        let count = surv.len();
        (
            rescore(self.metric, &self.data, self.dim, q, surv, k),
            count,
        )
    }

    /// [`Exact::search`] split over rayon's pool in chunks of `chunk` rows (what the backend
    /// does for large namespaces).
    pub fn search_parallel(&self, q: &[f32], k: usize, chunk: usize) -> Vec<usize> {
        let qq = self.quant.query(q);
        let n = self.data.len() / self.dim;
        let starts: Vec<usize> = (0..n).step_by(chunk.max(1)).collect();
        let arch = Arch::new();
        let surv = starts
            .into_par_iter()
            .map(|s| {
                self.quant.scan(
                    arch,
                    &qq,
                    s..(s + chunk).min(n),
                    k,
                    f64::NEG_INFINITY,
                    |_| true,
                )
            })
            .reduce_with(Partial::merge)
            .map(Partial::survivors)
            .unwrap_or_default();
        rescore(self.metric, &self.data, self.dim, q, surv, k)
    }
}

impl Exact {
    /// The exact top `k` of every query (row-major, `dim` per query) through matrix products,
    /// on rayon's current pool (query blocks split across its threads).
    pub fn search_batch(&self, queries: &[f32], k: usize) -> Vec<Vec<usize>> {
        let qs: Vec<BatchQuery<'_>> = queries
            .chunks_exact(self.dim)
            .map(|q| BatchQuery {
                embedding: q,
                fetch: k,
                threshold: None,
            })
            .collect();
        let rows = Rows {
            data: &self.data,
            dim: self.dim,
            metric: self.metric,
            norms: self.quant.norms(),
        };
        let surv = batch::survivors(rows, &qs, |_, _| true);
        surv.into_iter()
            .zip(queries.chunks_exact(self.dim))
            .map(|(s, q)| rescore(self.metric, &self.data, self.dim, q, s, k))
            .collect()
    }
}

/// The HNSW graph over rows.
#[derive(Debug)]
pub struct Graph {
    dim: usize,
    metric: Metric,
    data: Vec<f32>,
    graph: Hnsw,
}

impl Graph {
    /// Builds the graph over `data` (row-major, `dim` per row) on rayon's pool.
    pub fn build(dim: usize, metric: Metric, params: HnswParams, data: Vec<f32>) -> Self {
        let mut graph = Hnsw::new(dim, metric, params);
        for (i, row) in data.chunks_exact(dim).enumerate() {
            graph.push(i, row);
        }
        graph.link_pending();
        Self {
            dim,
            metric,
            data,
            graph,
        }
    }

    /// The approximate top `k` with search width `ef`, re-scored in f64 as the backend does.
    pub fn search(&self, q: &[f32], k: usize, ef: usize) -> Vec<usize> {
        let found = self.graph.search(q, ef.max(k), None);
        let head = found.iter().take(k + 8).map(|&(_, i)| i);
        rescore(self.metric, &self.data, self.dim, q, head, k)
    }
}
