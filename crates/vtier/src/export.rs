//! `vtier export`: a namespace to a portable file (see [`crate::format`]), streamed page by
//! page from the backend's scan.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use vector_tier::VectorBackendExt as _;
use vector_tier::{ScanRequest, VectorBackend};

use crate::error::{Error, Result};
use crate::format::{Header, Trailer, Writer};
use crate::progress::Progress;

/// Arguments of `vtier export`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  vtier export --url redis://localhost:6379 --namespace docs --output docs.vtier.jsonl"
)]
pub struct ExportArgs {
    /// The backend to read from: memory://, redis://, postgres://, weaviate+http://.
    #[arg(long, env = "VTIER_URL")]
    pub url: String,
    /// The namespace to export.
    #[arg(long)]
    pub namespace: String,
    /// The file to write (JSON Lines; written as FILE.partial and renamed when complete).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Records per scan page.
    #[arg(long, default_value_t = 1000)]
    pub page_size: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What an export did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExportReport {
    /// The namespace.
    pub namespace: String,
    /// The file's header.
    pub header: Header,
    /// The file's trailer (records written and checksum).
    pub trailer: Trailer,
    /// The file written.
    pub path: PathBuf,
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exported {} records of namespace {:?} ({}) to {} (sha256 {})",
            self.trailer.count,
            self.namespace,
            crate::transfer::describe(&self.header.config()),
            self.path.display(),
            self.trailer.sha256
        )?;
        if self.trailer.count != self.header.count {
            write!(
                f,
                "\nnote: the namespace changed during the export ({} records when it started)",
                self.header.count
            )?;
        }
        Ok(())
    }
}

/// Runs `vtier export`.
///
/// # Errors
/// See [`export_namespace`].
pub async fn run(args: ExportArgs, out: &mut (dyn Write + Send)) -> Result<()> {
    if args.output.exists() && !args.force {
        return Err(Error::Invalid(format!(
            "{} exists; pass --force to replace it",
            args.output.display()
        )));
    }
    let backend = crate::error::open(&args.url).await?;
    let result = export_namespace(
        &*backend,
        &args.namespace,
        &args.output,
        args.page_size,
        Progress::auto(args.quiet),
    )
    .await;
    backend.close().await;
    let report = result?;
    writeln!(out, "{report}").map_err(Error::io(Path::new("<stdout>")))?;
    Ok(())
}

/// Writes `namespace` of `backend` to `path`. Only one scan page is in memory at a time. The
/// file appears under its name only when complete (it is written as `path.partial` first).
///
/// # Errors
/// [`Error::NoSuchNamespace`], backend errors while scanning, I/O errors.
pub async fn export_namespace(
    backend: &dyn VectorBackend,
    namespace: &str,
    path: &Path,
    page_size: usize,
    progress: Progress,
) -> Result<ExportReport> {
    let info = backend
        .namespace_info(namespace)
        .await
        .map_err(Error::backend(format!("reading namespace {namespace:?}")))?
        .ok_or_else(|| Error::NoSuchNamespace {
            namespace: namespace.to_owned(),
            url: backend.backend_type().to_owned(),
        })?;
    let header = Header::new(
        namespace,
        &info.config,
        info.count,
        Some(backend.backend_type()),
    );
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = File::create(&partial).map_err(Error::io(&partial))?;
    let result = write_records(
        backend,
        namespace,
        &header,
        BufWriter::new(file),
        &partial,
        page_size,
        progress,
    )
    .await;
    match result {
        Ok(trailer) => {
            std::fs::rename(&partial, path).map_err(Error::io(path))?;
            Ok(ExportReport {
                namespace: namespace.to_owned(),
                header,
                trailer,
                path: path.to_owned(),
            })
        }
        Err(e) => {
            // A half-written file must not look like a backup.
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

async fn write_records(
    backend: &dyn VectorBackend,
    namespace: &str,
    header: &Header,
    out: BufWriter<File>,
    path: &Path,
    page_size: usize,
    progress: Progress,
) -> Result<Trailer> {
    let mut writer = Writer::new(out, header).map_err(Error::io(path))?;
    let bar = progress.bar(Some(header.count), "exporting");
    let mut pages = backend.scan(namespace, ScanRequest::new(page_size));
    while let Some(page) = pages.next().await {
        let page = page.map_err(Error::backend(format!("scanning namespace {namespace:?}")))?;
        for record in &page {
            if record.embedding.len() != header.dimension {
                return Err(Error::Invalid(format!(
                    "the backend returned key {:?} with {} values in a namespace of dimension {}",
                    record.key,
                    record.embedding.len(),
                    header.dimension
                )));
            }
            writer.write_record(record).map_err(Error::io(path))?;
        }
        bar.inc(page.len() as u64);
    }
    bar.finish_and_clear();
    let (_, trailer) = writer.finish().map_err(Error::io(path))?;
    Ok(trailer)
}
