//! The error type of the data tools.

use vector_tier::redact_url;

/// A `Result` with the tools' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in `bench`, `export`, `import` or `migrate`.
///
/// Messages never contain passwords: URLs are shown through [`redact_url`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A backend call failed; `error.kind()` says how.
    #[error("{context}: {error}")]
    Backend {
        /// What the tool was doing.
        context: String,
        /// The backend's error.
        error: vector_tier::Error,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        error: std::io::Error,
    },
    /// A namespace file is corrupt, truncated or not a namespace file at all; nothing was
    /// written to the backend.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong with it, with the line number.
        message: String,
    },
    /// The target namespace exists with a different configuration.
    #[error(
        "namespace {namespace:?} already exists with a different configuration ({existing}); \
         the data has {wanted}. Choose another target with --namespace, or drop the existing namespace first"
    )]
    ConfigConflict {
        /// The target namespace.
        namespace: String,
        /// Its configuration on the target.
        existing: String,
        /// The configuration of the data being written.
        wanted: String,
    },
    /// The target namespace already holds records and `--on-existing` is `fail`.
    #[error(
        "namespace {namespace:?} already holds {count} records; pass --on-existing merge to upsert into it \
         or --on-existing replace to clear it first"
    )]
    NotEmpty {
        /// The target namespace.
        namespace: String,
        /// How many records it holds.
        count: u64,
    },
    /// A namespace to read does not exist.
    #[error("namespace {namespace:?} does not exist on {url}")]
    NoSuchNamespace {
        /// The namespace.
        namespace: String,
        /// The (redacted) backend URL.
        url: String,
    },
    /// `migrate` copied the data but the two sides differ.
    #[error("verification failed: {0}")]
    Verify(String),
    /// Bad arguments or input data.
    #[error("{0}")]
    Invalid(String),
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// A closure wrapping a backend error with what the tool was doing.
    pub(crate) fn backend(context: impl Into<String>) -> impl FnOnce(vector_tier::Error) -> Self {
        let context = context.into();
        move |error| Self::Backend { context, error }
    }

    /// A closure wrapping an I/O error with the file's path.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |error| Self::Io {
            path: path.display().to_string(),
            error,
        }
    }

    /// The backend error kind, when this is a backend error.
    pub fn backend_kind(&self) -> Option<vector_tier::ErrorKind> {
        match self {
            Self::Backend { error, .. } => Some(error.kind()),
            _ => None,
        }
    }
}

/// Opens a backend, with the (redacted) URL in the error.
pub(crate) async fn open(url: &str) -> Result<vector_tier::DynBackend> {
    vector_tier::open(url)
        .await
        .map_err(Error::backend(format!("opening {}", redact_url(url))))
}
