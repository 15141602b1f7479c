//! `vtier bench`: the design document's benchmark, done properly. For each backend: create a
//! fresh namespace, bulk-load N vectors (load rate, including any index build), run Q queries
//! one at a time (latency percentiles and recall@k against exact neighbours), again in batches
//! (`--batch N`), again from C concurrent clients (QPS), and drop the namespace, also when
//! something fails or on Ctrl-C. `--text DIR` measures retrieval quality of vector, keyword and
//! hybrid search on a labelled corpus instead.
//!
//! - `dataset.rs`: the vectors, queries and exact neighbours (files or seeded clustered data);
//! - `measure.rs`: one backend's load, latency, batch and throughput phases;
//! - `report.rs`: what is measured, and the table;
//! - `text.rs`: the keyword and hybrid quality check.

mod dataset;
mod measure;
mod report;
mod text;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vector_tier::{IndexKind, Metric};

pub use report::{BackendResult, BenchReport, Latency, Setup, table};
pub use text::{ModeResult, TextResult};

use crate::error::{Error, Result};
use crate::progress::Progress;

fn parse_metric(s: &str) -> std::result::Result<Metric, String> {
    match s.to_ascii_lowercase().as_str() {
        "cosine" => Ok(Metric::Cosine),
        "dot_product" | "dot" | "ip" => Ok(Metric::DotProduct),
        "euclidean" | "l2" => Ok(Metric::Euclidean),
        _ => Err(format!(
            "unknown metric {s:?}; use cosine, dot_product or euclidean"
        )),
    }
}

fn parse_index(s: &str) -> std::result::Result<IndexKind, String> {
    match s.to_ascii_lowercase().as_str() {
        "auto" => Ok(IndexKind::Auto),
        "flat" => Ok(IndexKind::Flat),
        "hnsw" => Ok(IndexKind::Hnsw),
        _ => Err(format!("unknown index {s:?}; use auto, flat or hnsw")),
    }
}

/// Arguments of `vtier bench`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
vtier bench --url memory:// --vectors 100000 --dim 384 --queries 1000 -k 10\n  \
vtier bench --all-configured -n 100000 --dim 384 --json > bench.json\n  \
vtier bench --url redis://localhost:6379 --dataset ../shared/data/glove50-100k\n  \
vtier bench --url memory:// --base base.fvecs --query-file query.fvecs --ground-truth groundtruth.ivecs --metric euclidean\n\n\
Data: seeded clustered random vectors by default; or --base (.fvecs or .npy float32, C order) with\n\
--query-file and optionally --ground-truth (.ivecs or integer .npy, 0-based row numbers, best first).\n\
Without ground truth the exact neighbours are computed by brute force in f64.")]
pub struct BenchArgs {
    /// A backend to benchmark (repeatable): memory://, redis://..., postgres://..., weaviate+http://...
    #[arg(long = "url")]
    pub urls: Vec<String>,
    /// Also benchmark every compiled-in backend configured in the environment (its address
    /// variable set: REDIS_URL, PG_CONNECTION_STRING, WEAVIATE_URL, ...; memory always).
    #[arg(long)]
    pub all_configured: bool,
    /// A folder with base.fvecs, query.fvecs and groundtruth.ivecs (and meta.json naming the metric).
    #[arg(long, conflicts_with_all = ["base", "query_file"])]
    pub dataset: Option<PathBuf>,
    /// Base vectors (.fvecs or .npy).
    #[arg(long, requires = "query_file")]
    pub base: Option<PathBuf>,
    /// Query vectors (.fvecs or .npy).
    #[arg(long, requires = "base")]
    pub query_file: Option<PathBuf>,
    /// Exact neighbours of the queries (.ivecs or .npy); computed when absent.
    #[arg(long)]
    pub ground_truth: Option<PathBuf>,
    /// Number of vectors to load (random data: 10000; files: all rows, or the first N).
    #[arg(short = 'n', long = "vectors", value_name = "N")]
    pub n: Option<usize>,
    /// Dimension of random data.
    #[arg(long, default_value_t = 128)]
    pub dim: usize,
    /// Number of queries (random data; with files: at most this many).
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    /// Neighbours per query.
    #[arg(short = 'k', long, default_value_t = 10)]
    pub k: usize,
    /// Concurrent clients in the throughput phase.
    #[arg(short = 'c', long, default_value_t = 8)]
    pub concurrency: usize,
    /// Similarity metric: cosine, dot_product or euclidean (default: the dataset's, else cosine).
    #[arg(long, value_parser = parse_metric)]
    pub metric: Option<Metric>,
    /// Index kind: auto, flat or hnsw.
    #[arg(long, value_parser = parse_index, default_value = "auto")]
    pub index: IndexKind,
    /// Clusters of the random data.
    #[arg(long, default_value_t = 64)]
    pub clusters: usize,
    /// Seed of the random data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Records per upsert batch while loading.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Batches in flight while loading.
    #[arg(long, default_value_t = 4)]
    pub load_concurrency: usize,
    /// Unmeasured queries before the measured ones.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// Also answer the queries in batches of this size (`search_batch`): batched QPS, and a
    /// check that every batch answer equals the single query's.
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// Instead of vectors: retrieval quality (recall@k and latency of vector, keyword and
    /// hybrid search) on the labelled corpus in this folder (see `docs/cli.md`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["dataset", "base"])]
    pub text: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What to benchmark: a URL given with `--url`, or a backend of the registry configured in the
/// environment (`--all-configured`).
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Url(String),
    Configured(vector_tier::BackendKind),
}

impl Target {
    pub(crate) fn label(&self) -> String {
        match self {
            Self::Url(u) => vector_tier::redact_url(u),
            Self::Configured(k) => format!("{k} (from the environment)"),
        }
    }

    pub(crate) async fn open(&self) -> Result<vector_tier::DynBackend> {
        match self {
            Self::Url(u) => crate::error::open(u).await,
            Self::Configured(k) => vector_tier::VectorBackendFactory::create(
                *k,
                &vector_tier::BackendConfig::from_env(),
            )
            .await
            .map_err(Error::backend(format!("opening the {k} backend"))),
        }
    }
}

/// The targets of `--all-configured`: every compiled-in backend whose address is set in the
/// environment (the memory backend needs none), from the registry.
pub fn configured() -> Vec<vector_tier::BackendKind> {
    vector_tier::registry()
        .iter()
        .filter(|e| e.configured_in_env())
        .map(|e| e.kind)
        .collect()
}

/// Runs `vtier bench`.
///
/// # Errors
/// Bad arguments or data; [`Error::Interrupted`]. A backend that fails is reported in its row
/// and makes the run fail at the end.
pub async fn run(args: BenchArgs, out: &mut (dyn Write + Send)) -> Result<()> {
    let stdout = Path::new("<stdout>");
    if let Some(dir) = &args.text {
        let results = text::run(dir, &targets(&args)?, args.k, Progress::auto(args.quiet)).await?;
        if args.json {
            serde_json::to_writer_pretty(&mut *out, &results).map_err(|e| Error::Io {
                path: "<stdout>".into(),
                error: e.into(),
            })?;
            writeln!(out).map_err(Error::io(stdout))?;
        } else {
            write!(out, "{}", text::table(&results, args.k)).map_err(Error::io(stdout))?;
        }
        return match results.iter().find_map(|r| r.error.as_ref()) {
            Some(e) => Err(Error::Invalid(format!("the quality check failed: {e}"))),
            None => Ok(()),
        };
    }
    let report = bench(&args).await?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report).map_err(|e| Error::Io {
            path: "<stdout>".into(),
            error: e.into(),
        })?;
        writeln!(out).map_err(Error::io(stdout))?;
    } else {
        write!(out, "{}", table(&report)).map_err(Error::io(stdout))?;
    }
    let failed: Vec<&str> = report
        .results
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.url.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "the benchmark failed on {}",
            failed.join(", ")
        )))
    }
}

/// The backends `args` names: `--url`s, then with `--all-configured` the configured ones.
fn targets(args: &BenchArgs) -> Result<Vec<Target>> {
    let mut targets: Vec<Target> = args.urls.iter().cloned().map(Target::Url).collect();
    if args.all_configured {
        targets.extend(configured().into_iter().map(Target::Configured));
    }
    if targets.is_empty() {
        return Err(Error::Invalid(
            "nothing to benchmark: give --url URL (repeatable) or --all-configured".into(),
        ));
    }
    Ok(targets)
}

/// Loads the data and benchmarks every backend of `args`.
///
/// # Errors
/// As [`run`], except that backend failures are only reported in the results.
pub async fn bench(args: &BenchArgs) -> Result<BenchReport> {
    let targets = targets(args)?;
    if targets.is_empty() {
        return Err(Error::Invalid(
            "nothing to benchmark: give --url URL (repeatable) or --all-configured".into(),
        ));
    }
    if args.k == 0 || args.concurrency == 0 || args.batch_size == 0 || args.load_concurrency == 0 {
        return Err(Error::Invalid(
            "-k, --concurrency, --batch-size and --load-concurrency must be at least 1".into(),
        ));
    }
    let progress = Progress::auto(args.quiet);
    let data = Arc::new(dataset::load(args, progress)?);
    let mut results = Vec::new();
    for target in &targets {
        results.push(measure::backend(target, &data, args, progress).await?);
    }
    Ok(BenchReport {
        setup: data.setup.clone(),
        results,
    })
}
