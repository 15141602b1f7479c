//! What `vtier bench` measures, and the table it prints.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use vector_tier::{IndexKind, Metric};

/// Everything a bench run measured.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct BenchReport {
    /// The data and parameters.
    pub setup: Setup,
    /// One entry per backend URL, in the order given.
    pub results: Vec<BackendResult>,
}

/// The data and parameters of a run.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Setup {
    /// Where the vectors came from.
    pub data: String,
    /// Vectors loaded.
    pub n: usize,
    /// Dimension.
    pub dim: usize,
    /// Queries run.
    pub queries: usize,
    /// k.
    pub k: usize,
    /// Metric.
    pub metric: Metric,
    /// Index kind.
    pub index: IndexKind,
    /// Clients in the throughput phase.
    pub concurrency: usize,
    /// Where the exact neighbours came from.
    pub ground_truth: String,
    /// The vtier version.
    pub vtier_version: String,
}

/// The measurements of one backend.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct BackendResult {
    /// The backend's name (or the URL's scheme when it could not be opened).
    pub backend: String,
    /// The URL, password removed.
    pub url: String,
    /// The namespace used (dropped afterwards).
    pub namespace: String,
    /// Bulk load: vectors per second (upserts until the count reads back N).
    pub load_vectors_per_second: f64,
    /// Bulk load: seconds, index build included (every backend links a vector into its index
    /// as it is written, and the load ends only when the count reads back N): with
    /// `--index hnsw` this is the graph's build time.
    pub load_seconds: f64,
    /// Sequential query latency percentiles, milliseconds.
    pub latency_ms: Latency,
    /// Queries per second with `concurrency` clients.
    pub qps: f64,
    /// Latency percentiles under that load, milliseconds.
    pub loaded_latency_ms: Latency,
    /// Mean recall@k against the exact neighbours.
    pub recall_at_k: f64,
    /// With `--batch N`: queries per second answering them N at a time (`search_batch`), one
    /// client; and whether every batch answer equalled the single query's.
    pub batch_qps: Option<f64>,
    /// See `batch_qps`.
    pub batch_equal: Option<bool>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// Problems that did not stop the run (e.g. the namespace could not be dropped).
    pub warnings: Vec<String>,
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort();
        // Nearest-rank percentiles.
        let at = |p: f64| {
            let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1].as_secs_f64() * 1e3
        };
        let mean =
            samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64 * 1e3;
        Self {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            mean,
        }
    }
}

/// The report as a text table.
pub fn table(report: &BenchReport) -> String {
    let s = &report.setup;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "vtier bench: {} x {} ({}), {} queries, k={}, metric {}, index {}, {} clients; exact neighbours: {}",
        s.n,
        s.dim,
        s.data,
        s.queries,
        s.k,
        s.metric,
        s.index.as_str(),
        s.concurrency,
        s.ground_truth
    );
    let _ = writeln!(
        out,
        "{:<10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>13} {:>10} {:>12}",
        "backend",
        "load vec/s",
        "build s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        format!("QPS@{}", s.concurrency),
        format!("p99@{} ms", s.concurrency),
        format!("recall@{}", s.k),
        "batch QPS"
    );
    for r in &report.results {
        match &r.error {
            Some(e) => {
                let _ = writeln!(out, "{:<10} FAILED: {e}", r.backend);
            }
            None => {
                let _ = writeln!(
                    out,
                    "{:<10} {:>12.0} {:>9.2} {:>9.3} {:>9.3} {:>9.3} {:>10.1} {:>13.3} {:>10.4} {:>12}",
                    r.backend,
                    r.load_vectors_per_second,
                    r.load_seconds,
                    r.latency_ms.p50,
                    r.latency_ms.p95,
                    r.latency_ms.p99,
                    r.qps,
                    r.loaded_latency_ms.p99,
                    r.recall_at_k,
                    match (r.batch_qps, r.batch_equal) {
                        (Some(q), Some(true)) => format!("{q:.1}"),
                        (Some(q), _) => format!("{q:.1} DIFFERS"),
                        _ => "-".to_owned(),
                    }
                );
            }
        }
        for w in &r.warnings {
            let _ = writeln!(out, "{:<10} warning: {w}", "");
        }
    }
    out
}
