//! `vtier bench`: the design document's benchmark, done properly. For each backend: create a
//! fresh namespace, bulk-load N vectors (load rate), run Q queries one at a time (latency
//! percentiles and recall@k against exact neighbours), run them again from C concurrent
//! clients (QPS), and drop the namespace, also when something fails or on Ctrl-C.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use vector_tier::{
    DynBackend, IndexKind, Metadata, Metric, NamespaceConfig, QueryRequest, Record, redact_url,
};

use crate::data::{self, Matrix, Neighbours, SplitMix64};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::transfer::BatchWriter;

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
    /// Also benchmark memory:// and every backend named by REDIS_URL, PG_CONNECTION_STRING and WEAVIATE_URL.
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
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

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
    /// Bulk load: seconds.
    pub load_seconds: f64,
    /// Sequential query latency percentiles, milliseconds.
    pub latency_ms: Latency,
    /// Queries per second with `concurrency` clients.
    pub qps: f64,
    /// Latency percentiles under that load, milliseconds.
    pub loaded_latency_ms: Latency,
    /// Mean recall@k against the exact neighbours.
    pub recall_at_k: f64,
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
    fn of(mut samples: Vec<Duration>) -> Self {
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

/// Loaded benchmark data.
#[derive(Debug)]
struct Data {
    base: Matrix,
    queries: Matrix,
    truth: Neighbours,
    setup: Setup,
}

/// The URLs of `--all-configured`: memory:// and the environment's servers.
pub fn configured_urls() -> Vec<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let mut urls = vec!["memory://".to_owned()];
    urls.extend(var("REDIS_URL"));
    urls.extend(var("PG_CONNECTION_STRING"));
    if let Some(w) = var("WEAVIATE_URL") {
        urls.push(if w.starts_with("weaviate+") {
            w
        } else {
            format!("weaviate+{w}")
        });
    }
    urls
}

fn dataset_metric(dir: &Path) -> Option<Metric> {
    let text = std::fs::read_to_string(dir.join("meta.json")).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&text).ok()?;
    parse_metric(meta.get("metric")?.as_str()?).ok()
}

fn load_data(args: &BenchArgs, progress: Progress) -> Result<Data> {
    let (base_path, query_path, mut truth_path, mut metric) = match &args.dataset {
        Some(dir) => (
            Some(dir.join("base.fvecs")),
            Some(dir.join("query.fvecs")),
            Some(dir.join("groundtruth.ivecs")).filter(|p| p.exists()),
            args.metric.or_else(|| dataset_metric(dir)),
        ),
        None => (
            args.base.clone(),
            args.query_file.clone(),
            None,
            args.metric,
        ),
    };
    if args.ground_truth.is_some() {
        truth_path.clone_from(&args.ground_truth);
    }
    let (base, queries, description) = match (base_path, query_path) {
        (Some(b), Some(q)) => {
            let bar = progress.bar(None, "reading data");
            let base = data::read_vectors(&b, args.n)?;
            let queries = data::read_vectors(&q, Some(args.queries))?;
            bar.finish_and_clear();
            if base.dim != queries.dim {
                return Err(Error::Invalid(format!(
                    "base vectors have dimension {} but queries {}",
                    base.dim, queries.dim
                )));
            }
            (base, queries, format!("{} + {}", b.display(), q.display()))
        }
        _ => {
            if args.ground_truth.is_some() {
                return Err(Error::Invalid(
                    "--ground-truth needs --base and --query-file (or --dataset)".into(),
                ));
            }
            let n = args.n.unwrap_or(10_000);
            let (base, queries) =
                data::generate(n, args.queries, args.dim, args.clusters, args.seed);
            (
                base,
                queries,
                format!(
                    "random clustered ({} clusters, seed {})",
                    args.clusters, args.seed
                ),
            )
        }
    };
    if base.rows() == 0 || queries.rows() == 0 {
        return Err(Error::Invalid("no base vectors or no queries".into()));
    }
    let metric = metric.get_or_insert(Metric::Cosine).to_owned();
    let k = args.k.min(base.rows());
    let mut truth = None;
    let mut truth_source = "brute force in f64 by vtier".to_owned();
    if let Some(path) = truth_path {
        // Ground truth refers to rows of the whole base file; with a prefix of it, the ids
        // beyond the prefix would be wrong, so compute instead.
        let full_rows = match &args.dataset {
            Some(dir) => file_rows(&dir.join("base.fvecs"), base.dim),
            None => args
                .base
                .as_deref()
                .map(|p| file_rows(p, base.dim))
                .unwrap_or(None),
        };
        if full_rows.is_some_and(|rows| rows != base.rows()) {
            truth_source = format!(
                "brute force in f64 by vtier ({} ignored: only a prefix of the base is loaded)",
                path.display()
            );
        } else {
            let t = data::read_neighbours(&path, Some(queries.rows()))?;
            if t.width < k || t.ids.len() / t.width.max(1) < queries.rows() {
                return Err(Error::Invalid(format!(
                    "{} has {} neighbours for {} queries; need {k} for {}",
                    path.display(),
                    t.width,
                    t.ids.len() / t.width.max(1),
                    queries.rows()
                )));
            }
            truth_source = path.display().to_string();
            truth = Some(t);
        }
    }
    let truth = match truth {
        Some(t) => t,
        None => {
            let bar = progress.bar(Some(queries.rows() as u64), "exact k-NN");
            let t = data::exact_neighbours(&base, &queries, metric, k, &bar);
            bar.finish_and_clear();
            t
        }
    };
    let setup = Setup {
        data: description,
        n: base.rows(),
        dim: base.dim,
        queries: queries.rows(),
        k,
        metric,
        index: args.index,
        concurrency: args.concurrency,
        ground_truth: truth_source,
        vtier_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    Ok(Data {
        base,
        queries,
        truth,
        setup,
    })
}

/// Rows of a `.fvecs` file of dimension `dim` (None for other formats).
fn file_rows(path: &Path, dim: usize) -> Option<usize> {
    if path.extension().and_then(|e| e.to_str()) != Some("fvecs") {
        return None;
    }
    let size = std::fs::metadata(path).ok()?.len();
    Some((size / (4 + 4 * dim as u64)) as usize)
}

/// The key of base row `i`: zero-padded, so key order is row order (ties then break alike).
fn key(i: usize) -> String {
    format!("v{i:09}")
}

fn row_of(key: &str) -> Option<u32> {
    key.strip_prefix('v')?.parse().ok()
}

/// Runs `vtier bench`.
///
/// # Errors
/// Bad arguments or data; [`Error::Interrupted`]. A backend that fails is reported in its row
/// and makes the run fail at the end.
pub async fn run(args: BenchArgs, out: &mut (dyn Write + Send)) -> Result<()> {
    let report = bench(&args).await?;
    let stdout = Path::new("<stdout>");
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

/// Loads the data and benchmarks every backend of `args`.
///
/// # Errors
/// As [`run`], except that backend failures are only reported in the results.
pub async fn bench(args: &BenchArgs) -> Result<BenchReport> {
    let mut urls = args.urls.clone();
    if args.all_configured {
        urls.extend(configured_urls());
    }
    let mut seen = std::collections::HashSet::new();
    urls.retain(|u| seen.insert(u.clone()));
    if urls.is_empty() {
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
    let data = Arc::new(load_data(args, progress)?);
    let mut results = Vec::new();
    for url in &urls {
        results.push(bench_backend(url, &data, args, progress).await?);
    }
    Ok(BenchReport {
        setup: data.setup.clone(),
        results,
    })
}

fn fresh_namespace() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng = SplitMix64::new(nanos ^ (u64::from(std::process::id()) << 32));
    format!("vtier_bench_{:012x}", rng.next_u64() >> 16)
}

/// Benchmarks one URL. Only Ctrl-C is an `Err`; other failures are in the result.
async fn bench_backend(
    url: &str,
    data: &Arc<Data>,
    args: &BenchArgs,
    progress: Progress,
) -> Result<BackendResult> {
    let mut result = BackendResult {
        backend: url.split_once("://").map_or(url, |(s, _)| s).to_owned(),
        url: redact_url(url).to_string(),
        ..BackendResult::default()
    };
    let backend = match crate::error::open(url).await {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(e.to_string());
            return Ok(result);
        }
    };
    result.backend = backend.backend_type().to_owned();
    let ns = fresh_namespace();
    result.namespace.clone_from(&ns);
    let outcome = tokio::select! {
        r = measure(&backend, &ns, data, args, progress, &mut result) => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
    };
    // Drop the namespace whatever happened; a leftover is reported, never silent.
    match backend.drop_namespace(&ns).await {
        Ok(_) => {}
        Err(e) => result
            .warnings
            .push(format!("could not drop namespace {ns}: {e}")),
    }
    backend.close().await;
    match outcome {
        Ok(()) => {}
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => result.error = Some(e.to_string()),
    }
    Ok(result)
}

async fn measure(
    backend: &DynBackend,
    ns: &str,
    data: &Arc<Data>,
    args: &BenchArgs,
    progress: Progress,
    result: &mut BackendResult,
) -> Result<()> {
    let setup = &data.setup;
    let label = result.backend.clone();
    if backend
        .namespace_info(ns)
        .await
        .map_err(Error::backend("checking the bench namespace"))?
        .is_some()
    {
        return Err(Error::Invalid(format!("namespace {ns} exists already")));
    }
    let config = NamespaceConfig::new(setup.dim)
        .with_metric(setup.metric)
        .with_index(setup.index);
    backend
        .create_namespace(ns, &config)
        .await
        .map_err(Error::backend(format!("creating namespace {ns}")))?;

    // Bulk load.
    let started = Instant::now();
    let bar = progress.bar(Some(setup.n as u64), format!("{label} load"));
    let mut writer = BatchWriter::new(&**backend, ns, args.load_concurrency, bar);
    for start in (0..setup.n).step_by(args.batch_size) {
        let end = (start + args.batch_size).min(setup.n);
        let batch = (start..end)
            .map(|i| Record::new(key(i), data.base.row(i).to_vec(), Metadata::new()))
            .collect();
        writer.push(batch).await?;
    }
    writer.finish().await?;
    let count = backend
        .count(ns, None)
        .await
        .map_err(Error::backend("counting after the load"))?;
    result.load_seconds = started.elapsed().as_secs_f64();
    result.load_vectors_per_second = setup.n as f64 / result.load_seconds;
    if count != setup.n as u64 {
        return Err(Error::Invalid(format!(
            "loaded {} vectors but the namespace counts {count}",
            setup.n
        )));
    }

    // Warm-up, then sequential queries: latency and recall.
    let nq = setup.queries;
    let query = |i: usize| QueryRequest::new(data.queries.row(i % nq).to_vec(), setup.k);
    for i in 0..args.warmup.min(nq) {
        backend
            .search(ns, &query(i))
            .await
            .map_err(Error::backend("warm-up query"))?;
    }
    let bar = progress.bar(Some(nq as u64), format!("{label} latency"));
    let mut latencies = Vec::with_capacity(nq);
    let mut recall_sum = 0.0;
    for i in 0..nq {
        let request = query(i);
        let t = Instant::now();
        let hits = backend
            .search(ns, &request)
            .await
            .map_err(Error::backend("query"))?;
        latencies.push(t.elapsed());
        let truth = data.truth.top(i, setup.k);
        let found = hits
            .iter()
            .filter_map(|h| row_of(&h.key))
            .filter(|r| truth.contains(r))
            .count();
        recall_sum += found as f64 / truth.len().max(1) as f64;
        bar.inc(1);
    }
    bar.finish_and_clear();
    result.latency_ms = Latency::of(latencies);
    result.recall_at_k = recall_sum / nq as f64;

    // Throughput: `concurrency` clients share the queries.
    let bar = progress.bar(
        Some(nq as u64),
        format!("{label} {} clients", args.concurrency),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for _ in 0..args.concurrency {
        let (backend, data, next, ns, bar) = (
            backend.clone(),
            data.clone(),
            next.clone(),
            ns.to_owned(),
            bar.clone(),
        );
        let k = setup.k;
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= data.setup.queries {
                    return Ok::<_, vector_tier::Error>(latencies);
                }
                let request = QueryRequest::new(data.queries.row(i).to_vec(), k);
                let t = Instant::now();
                backend.search(&ns, &request).await?;
                latencies.push(t.elapsed());
                bar.inc(1);
            }
        });
    }
    let mut all = Vec::with_capacity(nq);
    while let Some(joined) = tasks.join_next().await {
        let latencies = joined
            .map_err(|e| Error::Invalid(format!("a client task failed: {e}")))?
            .map_err(Error::backend("concurrent query"))?;
        all.extend(latencies);
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    result.qps = nq as f64 / seconds;
    result.loaded_latency_ms = Latency::of(all);
    Ok(())
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
        "{:<10} {:>12} {:>9} {:>9} {:>9} {:>10} {:>13} {:>10}",
        "backend",
        "load vec/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        format!("QPS@{}", s.concurrency),
        format!("p99@{} ms", s.concurrency),
        format!("recall@{}", s.k)
    );
    for r in &report.results {
        match &r.error {
            Some(e) => {
                let _ = writeln!(out, "{:<10} FAILED: {e}", r.backend);
            }
            None => {
                let _ = writeln!(
                    out,
                    "{:<10} {:>12.0} {:>9.3} {:>9.3} {:>9.3} {:>10.1} {:>13.3} {:>10.4}",
                    r.backend,
                    r.load_vectors_per_second,
                    r.latency_ms.p50,
                    r.latency_ms.p95,
                    r.latency_ms.p99,
                    r.qps,
                    r.loaded_latency_ms.p99,
                    r.recall_at_k
                );
            }
        }
        for w in &r.warnings {
            let _ = writeln!(out, "{:<10} warning: {w}", "");
        }
    }
    out
}
