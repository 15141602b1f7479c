//! `vtier migrate`: copies namespaces between two backends through the same streaming path as
//! export and import (scan pages → upsert batches), then checks on both sides that the counts
//! are equal, that a random sample of records is identical (bit-exact embeddings, equal
//! metadata), and that a few queries return the same top-k keys.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::path::Path;

use futures_util::StreamExt as _;
use vector_tier::VectorBackendExt as _;
use vector_tier::{
    Capabilities, IndexKind, NamespaceConfig, QueryRequest, ScanRequest, SearchResult,
    VectorBackend,
};

use crate::data::SplitMix64;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::transfer::{BatchWriter, OnExisting, describe, prepare_target};

/// Arguments of `vtier migrate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  vtier migrate --from redis://localhost:6379 --to postgres://user:pass@localhost/vectors\n  \
vtier migrate --from redis://old:6379 --to weaviate+http://localhost:8080 --namespace docs --namespace faq"
)]
pub struct MigrateArgs {
    /// The backend to copy from.
    #[arg(long)]
    pub from: String,
    /// The backend to copy to.
    #[arg(long)]
    pub to: String,
    /// A namespace to copy (repeatable); default: every namespace of the source.
    #[arg(long = "namespace")]
    pub namespaces: Vec<String>,
    /// What to do when a target namespace already holds records. A target whose configuration
    /// differs is always refused, before anything is copied.
    #[arg(long, value_enum, default_value_t = OnExisting::Fail)]
    pub on_existing: OnExisting,
    /// Records per scan page and upsert batch.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Batches in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Records compared key by key on both sides after the copy (random sample).
    #[arg(long, default_value_t = 100)]
    pub verify_records: usize,
    /// Queries compared on both sides after the copy (sampled records' embeddings).
    #[arg(long, default_value_t = 5)]
    pub verify_queries: usize,
    /// k of the verification queries.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Seed of the verification sample.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options of [`migrate`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct MigrateOptions {
    /// What to do when a target namespace holds records.
    pub on_existing: OnExisting,
    /// Records per page and batch.
    pub batch_size: usize,
    /// Batches in flight.
    pub concurrency: usize,
    /// Sampled records compared.
    pub verify_records: usize,
    /// Queries compared.
    pub verify_queries: usize,
    /// k of those queries.
    pub k: usize,
    /// Sample seed.
    pub seed: u64,
    /// Progress bars.
    pub progress: Progress,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            on_existing: OnExisting::Fail,
            batch_size: 1000,
            concurrency: 4,
            verify_records: 100,
            verify_queries: 5,
            k: 10,
            seed: 1,
            progress: Progress::hidden(),
        }
    }
}

impl MigrateOptions {
    /// Sets what to do when a target namespace holds records.
    #[must_use]
    pub fn with_on_existing(mut self, on_existing: OnExisting) -> Self {
        self.on_existing = on_existing;
        self
    }
}

/// What was copied and verified for one namespace.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NamespaceMigration {
    /// The namespace.
    pub namespace: String,
    /// Its configuration.
    pub config: NamespaceConfig,
    /// Records copied.
    pub copied: u64,
    /// Records the target held before (merge).
    pub existing: u64,
    /// Count on the source after the copy.
    pub source_count: u64,
    /// Count on the target after the copy.
    pub target_count: u64,
    /// Sampled records compared.
    pub records_checked: usize,
    /// Queries compared.
    pub queries_checked: usize,
    /// Whether both sides answer exactly, so top-k key sets must be equal (else overlap ≥ 0.9).
    pub both_exact: bool,
    /// Mean top-k overlap of the compared queries (1.0 = identical).
    pub mean_overlap: f64,
    /// k used.
    pub k: usize,
    /// What did not match; empty when everything was verified.
    pub failures: Vec<String>,
}

impl fmt::Display for NamespaceMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "namespace {:?}: copied {} records ({})",
            self.namespace,
            self.copied,
            describe(&self.config)
        )?;
        if self.existing == 0 {
            writeln!(
                f,
                "  count:   source {}, target {}{}",
                self.source_count,
                self.target_count,
                if self.source_count == self.target_count {
                    " (equal)"
                } else {
                    " (DIFFERENT)"
                }
            )?;
        } else {
            writeln!(
                f,
                "  count:   source {}, target {} (merged into {} existing records)",
                self.source_count, self.target_count, self.existing
            )?;
        }
        writeln!(
            f,
            "  records: {} sampled keys compared on both sides (bit-exact embeddings, equal metadata)",
            self.records_checked
        )?;
        write!(
            f,
            "  queries: {} sampled queries, k={}: mean top-{} overlap {:.3} ({})",
            self.queries_checked,
            self.k,
            self.k,
            self.mean_overlap,
            if self.both_exact {
                "both indexes exact: identical key sets required, up to ties at rank k"
            } else {
                "an approximate index: overlap >= 0.9 required"
            }
        )?;
        for failure in &self.failures {
            write!(f, "\n  FAILED:  {failure}")?;
        }
        if self.failures.is_empty() {
            write!(f, "\n  verified: OK")?;
        }
        Ok(())
    }
}

/// Runs `vtier migrate`.
///
/// # Errors
/// See [`migrate`]; [`Error::Verify`] when a check failed.
pub async fn run(args: MigrateArgs, out: &mut (dyn Write + Send)) -> Result<()> {
    if args.batch_size == 0 || args.concurrency == 0 || args.k == 0 {
        return Err(Error::Invalid(
            "--batch-size, --concurrency and --k must be at least 1".into(),
        ));
    }
    let from = crate::error::open(&args.from).await?;
    let to = match crate::error::open(&args.to).await {
        Ok(to) => to,
        Err(e) => {
            from.close().await;
            return Err(e);
        }
    };
    let options = MigrateOptions {
        on_existing: args.on_existing,
        batch_size: args.batch_size,
        concurrency: args.concurrency,
        verify_records: args.verify_records,
        verify_queries: args.verify_queries,
        k: args.k,
        seed: args.seed,
        progress: Progress::auto(args.quiet),
    };
    let result = migrate(&*from, &*to, &args.namespaces, options).await;
    from.close().await;
    to.close().await;
    let reports = result?;
    let stdout = Path::new("<stdout>");
    if reports.is_empty() {
        writeln!(out, "the source has no namespaces; nothing to copy")
            .map_err(Error::io(stdout))?;
    }
    let mut failed = Vec::new();
    for report in &reports {
        writeln!(out, "{report}").map_err(Error::io(stdout))?;
        if !report.failures.is_empty() {
            failed.push(report.namespace.clone());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Verify(format!(
            "namespaces {failed:?} differ between source and target (details above)"
        )))
    }
}

/// Copies `namespaces` (all of the source's when empty) from `from` to `to` and verifies
/// each. Every target is checked for a conflicting configuration before anything is copied.
///
/// # Errors
/// [`Error::NoSuchNamespace`], [`Error::ConfigConflict`], [`Error::NotEmpty`], backend
/// errors. Verification failures are reported in [`NamespaceMigration::failures`].
pub async fn migrate(
    from: &dyn VectorBackend,
    to: &dyn VectorBackend,
    namespaces: &[String],
    options: MigrateOptions,
) -> Result<Vec<NamespaceMigration>> {
    let names = if namespaces.is_empty() {
        from.list_namespaces()
            .await
            .map_err(Error::backend("listing the source's namespaces"))?
    } else {
        namespaces.to_vec()
    };
    // Preflight: every source namespace exists and no target conflicts, before any write.
    let mut plan = Vec::new();
    for name in &names {
        let info = from
            .namespace_info(name)
            .await
            .map_err(Error::backend(format!(
                "reading namespace {name:?} on the source"
            )))?
            .ok_or_else(|| Error::NoSuchNamespace {
                namespace: name.clone(),
                url: from.backend_type().to_owned(),
            })?;
        if let Some(existing) = to
            .namespace_info(name)
            .await
            .map_err(Error::backend(format!(
                "reading namespace {name:?} on the target"
            )))?
        {
            if existing.config != info.config {
                return Err(Error::ConfigConflict {
                    namespace: name.clone(),
                    existing: describe(&existing.config),
                    wanted: describe(&info.config),
                });
            }
            if existing.count > 0 && options.on_existing == OnExisting::Fail {
                return Err(Error::NotEmpty {
                    namespace: name.clone(),
                    count: existing.count,
                });
            }
        }
        plan.push((name.clone(), info.config, info.count));
    }
    let mut reports = Vec::new();
    for (name, config, count) in plan {
        reports.push(migrate_one(from, to, &name, config, count, options).await?);
    }
    Ok(reports)
}

async fn migrate_one(
    from: &dyn VectorBackend,
    to: &dyn VectorBackend,
    name: &str,
    config: NamespaceConfig,
    count: u64,
    options: MigrateOptions,
) -> Result<NamespaceMigration> {
    let existing = prepare_target(to, name, &config, options.on_existing).await?;
    let bar = options.progress.bar(Some(count), format!("copying {name}"));
    let mut writer = BatchWriter::new(to, name, options.concurrency, bar);
    // Reservoir sample of keys, so the verification sample is uniform without keeping keys.
    let mut rng = SplitMix64::new(options.seed);
    let mut sample: Vec<String> = Vec::with_capacity(options.verify_records);
    let mut seen = 0u64;
    let mut pages = from.scan(name, ScanRequest::new(options.batch_size.min(10_000)));
    while let Some(page) = pages.next().await {
        let page = page.map_err(Error::backend(format!(
            "scanning namespace {name:?} on the source"
        )))?;
        for record in &page {
            if sample.len() < options.verify_records {
                sample.push(record.key.clone());
            } else if options.verify_records > 0 {
                let j = rng.below(seen as usize + 1);
                if let Some(slot) = sample.get_mut(j) {
                    *slot = record.key.clone();
                }
            }
            seen += 1;
        }
        writer.push(page).await?;
    }
    drop(pages);
    let copied = writer.finish().await?;

    let mut report = NamespaceMigration {
        namespace: name.to_owned(),
        config: config.clone(),
        copied,
        existing,
        source_count: 0,
        target_count: 0,
        records_checked: 0,
        queries_checked: 0,
        both_exact: is_exact(&from.capabilities(), &config)
            && is_exact(&to.capabilities(), &config),
        mean_overlap: 1.0,
        k: options.k,
        failures: Vec::new(),
    };
    report.source_count = from
        .count(name, None)
        .await
        .map_err(Error::backend(format!("counting {name:?} on the source")))?;
    report.target_count = to
        .count(name, None)
        .await
        .map_err(Error::backend(format!("counting {name:?} on the target")))?;
    if existing == 0 && report.source_count != report.target_count {
        report.failures.push(format!(
            "counts differ: source {}, target {}",
            report.source_count, report.target_count
        ));
    } else if existing > 0 && report.target_count < report.source_count {
        report.failures.push(format!(
            "the target holds fewer records ({}) than the source ({})",
            report.target_count, report.source_count
        ));
    }

    sample.sort();
    let source_side = from
        .get_batch(name, &sample)
        .await
        .map_err(Error::backend(format!("reading {name:?} on the source")))?;
    let target_side = to
        .get_batch(name, &sample)
        .await
        .map_err(Error::backend(format!("reading {name:?} on the target")))?;
    let mut mismatches = Vec::new();
    for ((key, a), b) in sample.iter().zip(&source_side).zip(&target_side) {
        match (a, b) {
            (Some(a), Some(b)) => {
                let same_bits = a.embedding.len() == b.embedding.len()
                    && a.embedding
                        .iter()
                        .zip(&b.embedding)
                        .all(|(x, y)| x.to_bits() == y.to_bits());
                if !same_bits {
                    mismatches.push(format!("{key:?}: embeddings differ"));
                } else if a.metadata != b.metadata {
                    mismatches.push(format!("{key:?}: metadata differs"));
                }
            }
            (Some(_), None) => mismatches.push(format!("{key:?}: missing on the target")),
            // Deleted on the source while copying; nothing to compare.
            (None, _) => {}
        }
    }
    report.records_checked = sample.len();
    if !mismatches.is_empty() {
        report.failures.push(format!(
            "{} of {} sampled records differ, e.g. {}",
            mismatches.len(),
            sample.len(),
            mismatches[..mismatches.len().min(3)].join(", ")
        ));
    }

    let queries: Vec<Vec<f32>> = source_side
        .iter()
        .flatten()
        .take(options.verify_queries)
        .map(|v| v.embedding.clone())
        .collect();
    let k = options.k.min(report.source_count.max(1) as usize);
    let mut overlaps = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let request = QueryRequest::new(q.clone(), k);
        let a = from
            .search(name, &request)
            .await
            .map_err(Error::backend(format!("querying {name:?} on the source")))?;
        let b = to
            .search(name, &request)
            .await
            .map_err(Error::backend(format!("querying {name:?} on the target")))?;
        let overlap = overlap(&a, &b, k);
        overlaps.push(overlap);
        if report.both_exact && !same_up_to_ties(&a, &b) {
            report.failures.push(format!(
                "query {i}: top-{k} keys differ although both indexes are exact"
            ));
        }
    }
    report.queries_checked = queries.len();
    if !overlaps.is_empty() {
        report.mean_overlap = overlaps.iter().sum::<f64>() / overlaps.len() as f64;
        if !report.both_exact && report.mean_overlap < 0.9 {
            report.failures.push(format!(
                "mean top-{k} overlap {:.3} is below 0.9",
                report.mean_overlap
            ));
        }
    }
    Ok(report)
}

/// Whether `config`'s index answers exactly on a backend with `caps`.
pub(crate) fn is_exact(caps: &Capabilities, config: &NamespaceConfig) -> bool {
    match config.index {
        IndexKind::Flat => true,
        IndexKind::Auto => caps.auto_index_is_exact,
        _ => false,
    }
}

fn overlap(a: &[SearchResult], b: &[SearchResult], k: usize) -> f64 {
    let a: BTreeSet<&str> = a.iter().map(|r| r.key.as_str()).collect();
    let common = b.iter().filter(|r| a.contains(r.key.as_str())).count();
    common as f64 / k.max(1) as f64
}

/// Equal key sets, or sets that differ only in keys scored (within rounding) like the last
/// rank: two exact backends may break a tie at rank k differently when they compute scores
/// in different precisions.
fn same_up_to_ties(a: &[SearchResult], b: &[SearchResult]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let keys_a: BTreeSet<&str> = a.iter().map(|r| r.key.as_str()).collect();
    let keys_b: BTreeSet<&str> = b.iter().map(|r| r.key.as_str()).collect();
    if keys_a == keys_b {
        return true;
    }
    let (Some(last_a), Some(last_b)) = (a.last(), b.last()) else {
        return false;
    };
    let near = |score: f64, last: f64| (score - last).abs() <= 1e-4 * last.abs().max(1.0);
    a.iter()
        .filter(|r| !keys_b.contains(r.key.as_str()))
        .all(|r| near(r.score, last_a.score))
        && b.iter()
            .filter(|r| !keys_a.contains(r.key.as_str()))
            .all(|r| near(r.score, last_b.score))
}
