//! The benchmark's data: base vectors, queries and their exact neighbours, from files
//! (`--dataset`, `--base`/`--query-file`/`--ground-truth`) or seeded clustered vectors.

use std::path::Path;

use vector_tier::Metric;

use super::{BenchArgs, Setup, parse_metric};
use crate::data::{self, Matrix, Neighbours};
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Loaded benchmark data.
#[derive(Debug)]
pub(crate) struct Data {
    pub(crate) base: Matrix,
    pub(crate) queries: Matrix,
    pub(crate) truth: Neighbours,
    pub(crate) setup: Setup,
}

fn dataset_metric(dir: &Path) -> Option<Metric> {
    let text = std::fs::read_to_string(dir.join("meta.json")).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&text).ok()?;
    parse_metric(meta.get("metric")?.as_str()?).ok()
}

/// Loads (or generates) the data of a run.
pub(crate) fn load(args: &BenchArgs, progress: Progress) -> Result<Data> {
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
pub(crate) fn key(i: usize) -> String {
    format!("v{i:09}")
}

pub(crate) fn row_of(key: &str) -> Option<u32> {
    key.strip_prefix('v')?.parse().ok()
}
