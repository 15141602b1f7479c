//! `vtier backup` / `vtier restore`: every namespace of a backend to a directory and back.
//!
//! A backup is a directory `<output-dir>/<UTC timestamp>/` holding one file per namespace in
//! the export format ([`crate::format`]: header, records in key order, trailer with count and
//! SHA-256), named `<namespace>.vtier.jsonl`, and `manifest.json` listing each namespace with
//! its file, record count, SHA-256 (the trailer's) and size. The directory is written as
//! `<timestamp>.partial` and renamed when the manifest is complete, so a directory with a
//! manifest is always a whole backup. `--keep N` then deletes the oldest whole backups beyond N.
//!
//! A restore checks every file against the manifest and the target's configurations before it
//! writes anything, imports each namespace, then verifies it as `vtier migrate` does: the
//! count, a random sample of records compared bit-exactly with the file, and queries with
//! sampled embeddings whose top k must equal the exact top k computed from the file
//! (overlap >= 0.9 on an approximate index).

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vector_tier::{QueryRequest, Record, VectorBackend};

use crate::data::SplitMix64;
use crate::error::{Error, Result};
use crate::format::Reader;
use crate::import::{ImportOptions, import_file, verify_file};
use crate::progress::Progress;
use crate::transfer::{OnExisting, describe};

/// The manifest's file name inside a backup directory.
pub const MANIFEST: &str = "manifest.json";
/// The `format` field of a manifest.
pub const MANIFEST_FORMAT: &str = "vtier-backup";
/// The manifest version this build writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// When the backup started (UTC, RFC 3339).
    pub created_at: String,
    /// The backend it was taken from (`"redis"`, ...).
    pub source_backend: String,
    /// One entry per namespace, sorted by name.
    pub namespaces: Vec<ManifestEntry>,
}

/// One namespace of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestEntry {
    /// The namespace.
    pub namespace: String,
    /// Its file, relative to the backup directory.
    pub file: String,
    /// Records in the file (the trailer's count).
    pub count: u64,
    /// SHA-256 of the file's header and records (the trailer's checksum).
    pub sha256: String,
    /// The file's size in bytes.
    pub bytes: u64,
}

/// Arguments of `vtier backup`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  vtier backup --url redis://localhost:6379 --output-dir /backups --keep 7\n  \
vtier backup --url postgres://user:pass@db/vectors --output-dir /backups --namespace docs"
)]
pub struct BackupArgs {
    /// The backend to back up: memory://, redis://, postgres://, weaviate+http://.
    #[arg(long, env = "VTIER_URL")]
    pub url: String,
    /// The directory that receives the backup as a new subdirectory named by the UTC time.
    #[arg(long, env = "VTIER_BACKUP_DIR")]
    pub output_dir: PathBuf,
    /// Only these namespaces (repeatable); default: every namespace of the backend.
    #[arg(long = "namespace")]
    pub namespaces: Vec<String>,
    /// Only namespaces whose name starts with this.
    #[arg(long)]
    pub prefix: Option<String>,
    /// After a successful backup, delete the oldest whole backups in --output-dir beyond this
    /// many (default: keep all).
    #[arg(long, env = "VTIER_BACKUP_KEEP")]
    pub keep: Option<usize>,
    /// Records per scan page.
    #[arg(long, default_value_t = 1000)]
    pub page_size: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `vtier restore`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  vtier restore --url redis://localhost:6379 --input /backups/20260101T000000Z\n  \
vtier restore --url redis://localhost:6379 --input /backups/20260101T000000Z --namespace docs --on-existing replace"
)]
pub struct RestoreArgs {
    /// The backend to restore into.
    #[arg(long, env = "VTIER_URL")]
    pub url: String,
    /// The backup directory (the one holding manifest.json).
    #[arg(long, short)]
    pub input: PathBuf,
    /// Only these namespaces of the backup (repeatable); default: all.
    #[arg(long = "namespace")]
    pub namespaces: Vec<String>,
    /// What to do when a target namespace already holds records. A target whose configuration
    /// differs is always refused, before anything is written.
    #[arg(long, value_enum, default_value_t = OnExisting::Fail)]
    pub on_existing: OnExisting,
    /// Records per upsert batch.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Batches in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Records compared with the backup after the restore (random sample per namespace).
    #[arg(long, default_value_t = 100)]
    pub verify_records: usize,
    /// Queries (sampled records' embeddings) compared with the exact top k of the backup.
    #[arg(long, default_value_t = 5)]
    pub verify_queries: usize,
    /// k of those queries.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Seed of the sample.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What a backup wrote.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BackupReport {
    /// The backup directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Older backups deleted by `--keep`.
    pub removed: Vec<PathBuf>,
}

impl fmt::Display for BackupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let records: u64 = self.manifest.namespaces.iter().map(|n| n.count).sum();
        write!(
            f,
            "backed up {} namespaces ({records} records) of the {} backend to {}",
            self.manifest.namespaces.len(),
            self.manifest.source_backend,
            self.dir.display()
        )?;
        for n in &self.manifest.namespaces {
            write!(
                f,
                "\n  {}: {} records, {} bytes, sha256 {}",
                n.namespace, n.count, n.bytes, n.sha256
            )?;
        }
        for r in &self.removed {
            write!(f, "\nremoved old backup {}", r.display())?;
        }
        Ok(())
    }
}

/// What a restore did for one namespace, and what its verification found.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RestoreReport {
    /// The namespace.
    pub namespace: String,
    /// Records in the backup.
    pub records: u64,
    /// Records the target held before (merge).
    pub existing: u64,
    /// Records in the target afterwards.
    pub count_after: u64,
    /// Sampled records compared with the backup.
    pub records_checked: usize,
    /// Queries run.
    pub queries_checked: usize,
    /// Queries whose top k equals the exact top k computed from the backup.
    pub queries_found: usize,
    /// Mean overlap of the queries' top k with the exact top k (1.0 = identical).
    pub mean_overlap: f64,
    /// Whether the namespace's index is exact on the target (then every query must find it).
    pub exact: bool,
    /// What did not match; empty when everything was verified.
    pub failures: Vec<String>,
}

impl fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "namespace {:?}: restored {} records (verified file: count and sha256 match the manifest)",
            self.namespace, self.records
        )?;
        writeln!(
            f,
            "  count:   backup {}, target {}{}",
            self.records,
            self.count_after,
            if self.existing > 0 {
                format!(" (merged into {} existing records)", self.existing)
            } else if self.records == self.count_after {
                " (equal)".to_owned()
            } else {
                " (DIFFERENT)".to_owned()
            }
        )?;
        writeln!(
            f,
            "  records: {} sampled records compared with the backup (bit-exact embeddings, equal metadata)",
            self.records_checked
        )?;
        write!(
            f,
            "  queries: {} sampled queries, {} with the exact top k of the backup, mean overlap {:.3} ({})",
            self.queries_checked,
            self.queries_found,
            self.mean_overlap,
            if self.exact {
                "exact index: identical key sets required, up to ties at rank k"
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

/// `YYYYMMDDTHHMMSSZ` and RFC 3339 forms of the current UTC time.
fn now_utc() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    (
        format!("{y:04}{mo:02}{d:02}T{h:02}{m:02}{s:02}Z"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z"),
    )
}

/// Whether `name` is a backup directory name (`YYYYMMDDTHHMMSSZ`, maybe with `-N`).
fn is_backup_name(name: &str) -> bool {
    let stamp = name.split('-').next().unwrap_or("");
    stamp.len() == 16
        && stamp.as_bytes()[8] == b'T'
        && stamp.ends_with('Z')
        && stamp[..8].bytes().all(|b| b.is_ascii_digit())
        && stamp[9..15].bytes().all(|b| b.is_ascii_digit())
}

/// The namespace file name of `namespace` (namespaces are `[A-Za-z0-9_-]`, safe as names).
fn file_name(namespace: &str) -> String {
    format!("{namespace}.vtier.jsonl")
}

/// Runs `vtier backup`.
///
/// # Errors
/// See [`backup`].
pub async fn run_backup(args: BackupArgs, out: &mut (dyn Write + Send)) -> Result<()> {
    if args.page_size == 0 {
        return Err(Error::Invalid("--page-size must be at least 1".into()));
    }
    let backend = crate::error::open(&args.url).await?;
    let result = backup(
        &*backend,
        &args.output_dir,
        &args.namespaces,
        args.prefix.as_deref(),
        args.page_size,
        Progress::auto(args.quiet),
    )
    .await;
    backend.close().await;
    let mut report = result?;
    if let Some(keep) = args.keep {
        report.removed = prune(&args.output_dir, keep)?;
    }
    writeln!(out, "{report}").map_err(Error::io(Path::new("<stdout>")))?;
    Ok(())
}

/// Backs up `namespaces` (all of the backend's when empty; only those starting with `prefix`
/// when given) into a new subdirectory of `parent`.
///
/// # Errors
/// [`Error::NoSuchNamespace`] for a named namespace that does not exist, backend and I/O
/// errors. Nothing is left behind on failure but the removed `.partial` directory.
pub async fn backup(
    backend: &dyn VectorBackend,
    parent: &Path,
    namespaces: &[String],
    prefix: Option<&str>,
    page_size: usize,
    progress: Progress,
) -> Result<BackupReport> {
    let all = backend
        .list_namespaces()
        .await
        .map_err(Error::backend("listing namespaces"))?;
    let mut names: Vec<String> = if namespaces.is_empty() {
        all
    } else {
        for n in namespaces {
            if !all.contains(n) {
                return Err(Error::NoSuchNamespace {
                    namespace: n.clone(),
                    url: backend.backend_type().to_owned(),
                });
            }
        }
        namespaces.to_vec()
    };
    if let Some(p) = prefix {
        names.retain(|n| n.starts_with(p));
    }
    names.sort();
    names.dedup();
    std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    let (stamp, created_at) = now_utc();
    let mut name = stamp.clone();
    let mut n = 1;
    while parent.join(&name).exists() || parent.join(format!("{name}.partial")).exists() {
        name = format!("{stamp}-{n}");
        n += 1;
    }
    let dir = parent.join(&name);
    let partial = parent.join(format!("{name}.partial"));
    std::fs::create_dir(&partial).map_err(Error::io(&partial))?;
    let result = write_backup(backend, &partial, &names, created_at, page_size, progress).await;
    match result {
        Ok(manifest) => {
            std::fs::rename(&partial, &dir).map_err(Error::io(&dir))?;
            Ok(BackupReport {
                dir,
                manifest,
                removed: Vec::new(),
            })
        }
        Err(e) => {
            // Half a backup must not look like one.
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

async fn write_backup(
    backend: &dyn VectorBackend,
    dir: &Path,
    names: &[String],
    created_at: String,
    page_size: usize,
    progress: Progress,
) -> Result<Manifest> {
    let mut entries = Vec::new();
    for name in names {
        let file = file_name(name);
        let path = dir.join(&file);
        let report =
            crate::export::export_namespace(backend, name, &path, page_size, progress).await?;
        let bytes = std::fs::metadata(&path).map_err(Error::io(&path))?.len();
        entries.push(ManifestEntry {
            namespace: name.clone(),
            file,
            count: report.trailer.count,
            sha256: report.trailer.sha256,
            bytes,
        });
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        version: MANIFEST_VERSION,
        created_at,
        source_backend: backend.backend_type().to_owned(),
        namespaces: entries,
    };
    let path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::Invalid(format!("manifest: {e}")))?;
    let mut f = File::create(&path).map_err(Error::io(&path))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .map_err(Error::io(&path))?;
    Ok(manifest)
}

/// Deletes the oldest whole backups in `parent` beyond the newest `keep`; returns them.
///
/// # Errors
/// I/O errors.
pub fn prune(parent: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut backups: Vec<(String, PathBuf)> = std::fs::read_dir(parent)
        .map_err(Error::io(parent))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            (is_backup_name(&name) && path.join(MANIFEST).is_file()).then_some((name, path))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for (_, path) in backups.into_iter().take(excess) {
        std::fs::remove_dir_all(&path).map_err(Error::io(&path))?;
        removed.push(path);
    }
    Ok(removed)
}

/// Reads and checks a backup's manifest.
///
/// # Errors
/// [`Error::Format`] for a missing or foreign manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Format {
        path: path.display().to_string(),
        message: format!("not a vtier backup directory (no readable {MANIFEST}: {e})"),
    })?;
    let fail = |message: String| Error::Format {
        path: path.display().to_string(),
        message,
    };
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| fail(format!("invalid manifest: {e}")))?;
    if manifest.format != MANIFEST_FORMAT || manifest.version != MANIFEST_VERSION {
        return Err(fail(format!(
            "format {:?} version {} is not a {MANIFEST_FORMAT} version {MANIFEST_VERSION} manifest",
            manifest.format, manifest.version
        )));
    }
    Ok(manifest)
}

/// Options of [`restore`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// What to do when a target namespace holds records.
    pub on_existing: OnExisting,
    /// Records per batch.
    pub batch_size: usize,
    /// Batches in flight.
    pub concurrency: usize,
    /// Sampled records compared.
    pub verify_records: usize,
    /// Queries run.
    pub verify_queries: usize,
    /// k of those queries.
    pub k: usize,
    /// Sample seed.
    pub seed: u64,
    /// Progress bars.
    pub progress: Progress,
}

impl Default for RestoreOptions {
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

impl RestoreOptions {
    /// Sets what to do when a target namespace holds records.
    #[must_use]
    pub fn with_on_existing(mut self, on_existing: OnExisting) -> Self {
        self.on_existing = on_existing;
        self
    }
}

/// Runs `vtier restore`.
///
/// # Errors
/// See [`restore`]; [`Error::Verify`] when a check failed.
pub async fn run_restore(args: RestoreArgs, out: &mut (dyn Write + Send)) -> Result<()> {
    if args.batch_size == 0 || args.concurrency == 0 || args.k == 0 {
        return Err(Error::Invalid(
            "--batch-size, --concurrency and --k must be at least 1".into(),
        ));
    }
    let backend = crate::error::open(&args.url).await?;
    let options = RestoreOptions {
        on_existing: args.on_existing,
        batch_size: args.batch_size,
        concurrency: args.concurrency,
        verify_records: args.verify_records,
        verify_queries: args.verify_queries,
        k: args.k,
        seed: args.seed,
        progress: Progress::auto(args.quiet),
    };
    let result = restore(&*backend, &args.input, &args.namespaces, options).await;
    backend.close().await;
    let reports = result?;
    let stdout = Path::new("<stdout>");
    let mut failed = Vec::new();
    for r in &reports {
        writeln!(out, "{r}").map_err(Error::io(stdout))?;
        if !r.failures.is_empty() {
            failed.push(r.namespace.clone());
        }
    }
    writeln!(
        out,
        "restored {} namespaces from {}",
        reports.len(),
        args.input.display()
    )
    .map_err(Error::io(stdout))?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Verify(format!(
            "namespaces {failed:?} differ from the backup (details above)"
        )))
    }
}

/// Restores `namespaces` (all when empty) of the backup in `dir` into `backend`. Every file
/// is checked against the manifest, and every target against the files' configurations (and
/// `on_existing`), before anything is written.
///
/// # Errors
/// [`Error::Format`] for a bad manifest or file (nothing written), [`Error::ConfigConflict`],
/// [`Error::NotEmpty`], backend and I/O errors. Verification failures are reported in
/// [`RestoreReport::failures`].
pub async fn restore(
    backend: &dyn VectorBackend,
    dir: &Path,
    namespaces: &[String],
    options: RestoreOptions,
) -> Result<Vec<RestoreReport>> {
    let manifest = read_manifest(dir)?;
    let mut selected = Vec::new();
    for n in namespaces {
        if !manifest.namespaces.iter().any(|e| &e.namespace == n) {
            return Err(Error::Invalid(format!(
                "the backup in {} has no namespace {n:?}",
                dir.display()
            )));
        }
    }
    for entry in &manifest.namespaces {
        if !namespaces.is_empty() && !namespaces.contains(&entry.namespace) {
            continue;
        }
        let path = dir.join(&entry.file);
        let fail = |message: String| Error::Format {
            path: path.display().to_string(),
            message,
        };
        if entry.file.contains('/') || entry.file.contains('\\') || entry.file.starts_with('.') {
            return Err(fail("the manifest names a file outside the backup".into()));
        }
        let (header, trailer, _) = verify_file(&path, options.progress)?;
        if header.namespace != entry.namespace
            || trailer.count != entry.count
            || !trailer.sha256.eq_ignore_ascii_case(&entry.sha256)
        {
            return Err(fail(format!(
                "does not match the manifest (namespace {:?}, {} records, sha256 {}; the manifest says {:?}, {}, {})",
                header.namespace,
                trailer.count,
                trailer.sha256,
                entry.namespace,
                entry.count,
                entry.sha256
            )));
        }
        let config = header.config();
        if let Some(existing) =
            backend
                .namespace_info(&entry.namespace)
                .await
                .map_err(Error::backend(format!(
                    "reading namespace {:?} on the target",
                    entry.namespace
                )))?
        {
            if existing.config != config {
                return Err(Error::ConfigConflict {
                    namespace: entry.namespace.clone(),
                    existing: describe(&existing.config),
                    wanted: describe(&config),
                });
            }
            if existing.count > 0 && options.on_existing == OnExisting::Fail {
                return Err(Error::NotEmpty {
                    namespace: entry.namespace.clone(),
                    count: existing.count,
                });
            }
        }
        selected.push((entry.clone(), path, config));
    }
    let mut reports = Vec::new();
    for (entry, path, config) in selected {
        let import = import_file(
            backend,
            &path,
            None,
            ImportOptions {
                on_existing: options.on_existing,
                batch_size: options.batch_size,
                concurrency: options.concurrency,
                progress: options.progress,
            },
        )
        .await?;
        let exact = crate::migrate::is_exact(&backend.capabilities(), &config);
        let mut report = RestoreReport {
            namespace: entry.namespace.clone(),
            records: entry.count,
            existing: import.existing,
            count_after: import.count_after,
            records_checked: 0,
            queries_checked: 0,
            queries_found: 0,
            mean_overlap: 1.0,
            exact,
            failures: Vec::new(),
        };
        verify(backend, &path, &mut report, options).await?;
        reports.push(report);
    }
    Ok(reports)
}

/// Compares the restored namespace with its file: the count, a uniform sample of records
/// (bit-exact embeddings, equal metadata), and queries with sampled embeddings.
async fn verify(
    backend: &dyn VectorBackend,
    path: &Path,
    report: &mut RestoreReport,
    options: RestoreOptions,
) -> Result<()> {
    let ns = report.namespace.clone();
    if report.existing == 0 && report.count_after != report.records {
        report.failures.push(format!(
            "counts differ: backup {}, target {}",
            report.records, report.count_after
        ));
    } else if report.count_after < report.records {
        report.failures.push(format!(
            "the target holds fewer records ({}) than the backup ({})",
            report.count_after, report.records
        ));
    }
    // A reservoir sample of the file's records, so the sample is uniform in one pass.
    let file = File::open(path).map_err(Error::io(path))?;
    let mut reader = Reader::new(BufReader::new(file), &path.display().to_string())?;
    let mut rng = SplitMix64::new(options.seed);
    let mut sample: Vec<Record> = Vec::with_capacity(options.verify_records);
    let mut seen = 0usize;
    while let Some(record) = reader.next_record()? {
        if sample.len() < options.verify_records {
            sample.push(record);
        } else if options.verify_records > 0 {
            let j = rng.below(seen + 1);
            if let Some(slot) = sample.get_mut(j) {
                *slot = record;
            }
        }
        seen += 1;
    }
    let keys: Vec<String> = sample.iter().map(|r| r.key.clone()).collect();
    let stored = backend
        .get_batch(&ns, &keys)
        .await
        .map_err(Error::backend(format!("reading {ns:?} on the target")))?;
    let mut mismatches = Vec::new();
    for (want, got) in sample.iter().zip(&stored) {
        match got {
            None => mismatches.push(format!("{:?}: missing", want.key)),
            Some(got) => {
                let same_bits = got.embedding.len() == want.embedding.len()
                    && got
                        .embedding
                        .iter()
                        .zip(&want.embedding)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                if !same_bits {
                    mismatches.push(format!("{:?}: embeddings differ", want.key));
                } else if got.metadata != want.metadata {
                    mismatches.push(format!("{:?}: metadata differs", want.key));
                }
            }
        }
    }
    report.records_checked = sample.len();
    if !mismatches.is_empty() {
        report.failures.push(format!(
            "{} of {} sampled records differ from the backup, e.g. {}",
            mismatches.len(),
            sample.len(),
            mismatches[..mismatches.len().min(3)].join(", ")
        ));
    }
    // Queries: sampled embeddings; the exact top k is computed from the file (one more
    // streaming pass), then compared with the backend's answer as `migrate` compares two
    // backends: identical key sets (up to ties at rank k) for an exact index, overlap >= 0.9
    // for an approximate one.
    let queries: Vec<&[f32]> = sample
        .iter()
        .take(options.verify_queries)
        .map(|r| r.embedding.as_slice())
        .collect();
    if queries.is_empty() {
        return Ok(());
    }
    let k = options.k.min(report.records.max(1) as usize);
    let metric = reader.header().metric;
    let expected = exact_top_k(path, metric, &queries, k)?;
    let mut overlaps = Vec::new();
    for (i, (q, want)) in queries.iter().zip(&expected).enumerate() {
        let hits = backend
            .search(&ns, &QueryRequest::new(q.to_vec(), k))
            .await
            .map_err(Error::backend(format!("querying {ns:?} on the target")))?;
        report.queries_checked += 1;
        let kth = want.last().map_or(f64::NEG_INFINITY, |w| w.0);
        let tie = |score: f64| (score - kth).abs() <= 1e-4 * kth.abs().max(1.0);
        let found = hits
            .iter()
            .filter(|h| want.iter().any(|w| w.1 == h.key) || tie(h.score))
            .count();
        let overlap = found as f64 / want.len().max(1) as f64;
        overlaps.push(overlap);
        if found == want.len() && hits.len() == want.len() {
            report.queries_found += 1;
        } else if report.exact {
            report.failures.push(format!(
                "query {i}: {found} of the exact top {k} keys returned although the index is exact"
            ));
        }
    }
    report.mean_overlap = overlaps.iter().sum::<f64>() / overlaps.len() as f64;
    if !report.exact && report.mean_overlap < 0.9 {
        report.failures.push(format!(
            "mean top-{k} overlap {:.3} is below 0.9",
            report.mean_overlap
        ));
    }
    Ok(())
}

/// The exact top `k` (score, key) of each query over every record of a namespace file, in
/// f64 with the core's reference score math; best first.
fn exact_top_k(
    path: &Path,
    metric: vector_tier::Metric,
    queries: &[&[f32]],
    k: usize,
) -> Result<Vec<Vec<(f64, String)>>> {
    let file = File::open(path).map_err(Error::io(path))?;
    let mut reader = Reader::new(BufReader::new(file), &path.display().to_string())?;
    let mut best: Vec<Vec<(f64, String)>> = vec![Vec::with_capacity(k + 1); queries.len()];
    while let Some(record) = reader.next_record()? {
        for (q, top) in queries.iter().zip(&mut best) {
            let score = vector_tier::score::reference(metric, q, &record.embedding).score;
            if top.len() < k || top.last().is_some_and(|l| score > l.0) {
                let at = top.partition_point(|(s, _)| *s >= score);
                top.insert(at, (score, record.key.clone()));
                top.truncate(k);
            }
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names() {
        let (stamp, rfc) = now_utc();
        assert!(is_backup_name(&stamp), "{stamp}");
        assert!(is_backup_name(&format!("{stamp}-2")));
        assert_eq!(rfc.len(), 20);
        assert!(!is_backup_name("20260101T000000Z.partial"));
        assert!(!is_backup_name("notes"));
    }
}
