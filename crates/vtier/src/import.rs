//! `vtier import`: a namespace file (see [`crate::format`]) into a backend.
//!
//! The file is read twice, streaming both times: the first pass checks every line, the record
//! count and the checksum without writing anything, so a corrupt or truncated file leaves the
//! backend untouched; the second pass upserts in batches. Memory use is a few batches.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use vector_tier::VectorBackend;

use crate::error::{Error, Result};
use crate::format::{Header, Reader, Trailer};
use crate::progress::Progress;
use crate::transfer::{BatchWriter, OnExisting, prepare_target};

/// Arguments of `vtier import`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  vtier import --url postgres://user:pass@localhost/vectors --input docs.vtier.jsonl\n  \
vtier import --url redis://localhost:6379 --input docs.vtier.jsonl --namespace docs_restored"
)]
pub struct ImportArgs {
    /// The backend to write to: memory://, redis://, postgres://, weaviate+http://.
    #[arg(long, env = "VTIER_URL")]
    pub url: String,
    /// The file written by `vtier export`.
    #[arg(long, short)]
    pub input: PathBuf,
    /// The target namespace (default: the namespace named in the file).
    #[arg(long)]
    pub namespace: Option<String>,
    /// What to do when the target namespace already holds records. A target whose
    /// configuration differs from the file's is always refused.
    #[arg(long, value_enum, default_value_t = OnExisting::Fail)]
    pub on_existing: OnExisting,
    /// Records per upsert batch.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Batches in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options of [`import_file`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ImportOptions {
    /// What to do when the target holds records.
    pub on_existing: OnExisting,
    /// Records per upsert batch.
    pub batch_size: usize,
    /// Batches in flight.
    pub concurrency: usize,
    /// Progress bars.
    pub progress: Progress,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            on_existing: OnExisting::Fail,
            batch_size: 1000,
            concurrency: 4,
            progress: Progress::hidden(),
        }
    }
}

impl ImportOptions {
    /// Sets what to do when the target holds records.
    #[must_use]
    pub fn with_on_existing(mut self, on_existing: OnExisting) -> Self {
        self.on_existing = on_existing;
        self
    }
}

/// What an import did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ImportReport {
    /// The namespace written.
    pub namespace: String,
    /// The file's header.
    pub header: Header,
    /// The file's verified trailer.
    pub trailer: Trailer,
    /// Records the target held before (merge).
    pub existing: u64,
    /// Records upserted.
    pub written: u64,
    /// Records in the target afterwards.
    pub count_after: u64,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "verified {} records (sha256 {}); imported them into namespace {:?} ({}); it now holds {} records",
            self.trailer.count,
            self.trailer.sha256,
            self.namespace,
            crate::transfer::describe(&self.header.config()),
            self.count_after
        )?;
        if self.existing > 0 {
            write!(f, " ({} were there before)", self.existing)?;
        }
        Ok(())
    }
}

/// Runs `vtier import`.
///
/// # Errors
/// See [`import_file`].
pub async fn run(args: ImportArgs, out: &mut (dyn Write + Send)) -> Result<()> {
    if args.batch_size == 0 || args.concurrency == 0 {
        return Err(Error::Invalid(
            "--batch-size and --concurrency must be at least 1".into(),
        ));
    }
    let backend = crate::error::open(&args.url).await?;
    let options = ImportOptions {
        on_existing: args.on_existing,
        batch_size: args.batch_size,
        concurrency: args.concurrency,
        progress: Progress::auto(args.quiet),
    };
    let result = import_file(&*backend, &args.input, args.namespace.as_deref(), options).await;
    backend.close().await;
    let report = result?;
    writeln!(out, "{report}").map_err(Error::io(Path::new("<stdout>")))?;
    Ok(())
}

fn open_reader(path: &Path) -> Result<Reader<BufReader<File>>> {
    let file = File::open(path).map_err(Error::io(path))?;
    Reader::new(
        BufReader::with_capacity(1 << 20, file),
        &path.display().to_string(),
    )
}

/// Checks a namespace file completely (every record, the count and the checksum) without
/// writing anything. Returns the header, the trailer and whether the keys are strictly
/// ascending.
///
/// # Errors
/// [`Error::Format`] for a corrupt, truncated or foreign file; I/O errors.
pub fn verify_file(path: &Path, progress: Progress) -> Result<(Header, Trailer, bool)> {
    let mut reader = open_reader(path)?;
    let size = std::fs::metadata(path).map_err(Error::io(path))?.len();
    let bar = progress.bar(Some(size), "verifying");
    let mut n = 0u64;
    while reader.next_record()?.is_some() {
        n += 1;
        if n.is_multiple_of(4096) {
            bar.set_position(reader.bytes_read());
        }
    }
    bar.finish_and_clear();
    let trailer = reader
        .trailer()
        .cloned()
        .ok_or_else(|| Error::Invalid("no trailer".into()))?;
    Ok((reader.header().clone(), trailer, reader.keys_ascending()))
}

/// Imports a namespace file into `backend`, under `namespace` or the file's own namespace.
/// Verifies the whole file first; refuses a target with a different configuration.
///
/// # Errors
/// [`Error::Format`] (nothing written), [`Error::ConfigConflict`], [`Error::NotEmpty`],
/// backend and I/O errors.
pub async fn import_file(
    backend: &dyn VectorBackend,
    path: &Path,
    namespace: Option<&str>,
    options: ImportOptions,
) -> Result<ImportReport> {
    let (header, trailer, ascending) = verify_file(path, options.progress)?;
    let target = namespace.unwrap_or(&header.namespace).to_owned();
    let config = header.config();
    let existing = prepare_target(backend, &target, &config, options.on_existing).await?;

    // Keys that are strictly ascending are unique, so batches may land in any order;
    // otherwise later lines must win, as they would in one sequential stream.
    let concurrency = if ascending { options.concurrency } else { 1 };
    let bar = options.progress.bar(Some(trailer.count), "importing");
    let mut writer = BatchWriter::new(backend, &target, concurrency, bar);
    let mut reader = open_reader(path)?;
    if reader.header() != &header {
        return Err(Error::Invalid(format!(
            "{} changed while it was being imported",
            path.display()
        )));
    }
    let mut batch = Vec::with_capacity(options.batch_size);
    while let Some(record) = reader.next_record()? {
        batch.push(record);
        if batch.len() >= options.batch_size {
            writer
                .push(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(options.batch_size),
                ))
                .await?;
        }
    }
    writer.push(batch).await?;
    let written = writer.finish().await?;
    if reader.trailer() != Some(&trailer) {
        return Err(Error::Invalid(format!(
            "{} changed while it was being imported",
            path.display()
        )));
    }
    let count_after = backend
        .count(&target, None)
        .await
        .map_err(Error::backend(format!("counting namespace {target:?}")))?;
    Ok(ImportReport {
        namespace: target,
        header,
        trailer,
        existing,
        written,
        count_after,
    })
}
