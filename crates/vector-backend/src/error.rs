//! The one public error type of the tier, with a kind to match on.
//!
//! Backends keep their own error types private and convert them into [`Error`] at their
//! boundary, so callers (and the HTTP service) only ever match on [`ErrorKind`].

use std::borrow::Cow;
use std::fmt;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed cause, kept as the [`std::error::Error::source`] of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, the same on every backend. Match on this, never on messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The namespace name breaks the naming rule.
    InvalidNamespace,
    /// The key is empty, too long or contains NUL.
    InvalidKey,
    /// The embedding is empty, too long, not finite, or all zeros under cosine.
    InvalidEmbedding,
    /// The metadata is not an object, too large, contains NUL, or a declared field has the
    /// wrong type.
    InvalidMetadata,
    /// Another argument is out of range (k, filter, page size, configuration).
    InvalidArgument,
    /// The embedding's length differs from the namespace's dimension.
    DimensionMismatch {
        /// The namespace's dimension.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// `create_namespace` was called with a config that differs from the existing one.
    ConfigMismatch,
    /// The backend lacks the capability this call needs (see [`crate::Capabilities`]).
    Unsupported,
    /// The backend cannot be reached. Retrying later may succeed.
    Unavailable,
    /// The backend did not answer within the configured timeout. Retrying may succeed.
    Timeout,
    /// The backend answered with an error the tier did not expect.
    Backend,
    /// A configured resource limit (such as the in-memory capacity) would be exceeded.
    CapacityExceeded,
}

impl ErrorKind {
    /// A stable lower-case name, used in metric labels and HTTP error bodies.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidNamespace => "invalid_namespace",
            Self::InvalidKey => "invalid_key",
            Self::InvalidEmbedding => "invalid_embedding",
            Self::InvalidMetadata => "invalid_metadata",
            Self::InvalidArgument => "invalid_argument",
            Self::DimensionMismatch { .. } => "dimension_mismatch",
            Self::ConfigMismatch => "config_mismatch",
            Self::Unsupported => "unsupported",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Backend => "backend",
            Self::CapacityExceeded => "capacity_exceeded",
        }
    }

    /// True for the kinds that describe bad input from the caller (HTTP 4xx).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::InvalidNamespace
                | Self::InvalidKey
                | Self::InvalidEmbedding
                | Self::InvalidMetadata
                | Self::InvalidArgument
                | Self::DimensionMismatch { .. }
                | Self::ConfigMismatch
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned by every vector-tier API.
///
/// Its `Display` is `"{message}"`, followed by `": {source}"` when there is a cause, so logs
/// show the whole chain on one line. Messages never contain passwords: backends build them
/// from redacted connection strings (see [`crate::redact_url`]).
#[derive(thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    #[source]
    source: Option<BoxError>,
    /// Set by [`Error::namespace_changed`]: the support layer refreshes its catalogue entry and
    /// retries instead of returning the error.
    namespace_changed: bool,
}

impl Error {
    /// Creates an error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
            namespace_changed: false,
        }
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The normalised kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable | ErrorKind::Timeout)
    }

    /// Shorthand for an [`ErrorKind::InvalidArgument`] error.
    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// Shorthand for an [`ErrorKind::Unsupported`] error.
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// Shorthand for an [`ErrorKind::Backend`] error.
    pub fn backend(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Backend, message)
    }

    /// Shorthand for an [`ErrorKind::Unavailable`] error: the server cannot be reached or said
    /// "try again" (loading, busy, shutting down, too many connections).
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// An [`ErrorKind::Timeout`] error: `what` got no answer within `limit`.
    pub fn timeout(what: &str, limit: std::time::Duration) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!("{what} did not answer within {} ms", limit.as_millis()),
        )
    }

    /// The standard [`ErrorKind::ConfigMismatch`] error of `create_namespace`.
    pub fn config_mismatch(namespace: &str) -> Self {
        Self::new(
            ErrorKind::ConfigMismatch,
            format!("namespace {namespace} exists with a different config"),
        )
    }

    /// What a [`crate::driver::Driver`] returns when the namespace entry it was given is no
    /// longer the namespace on the server (another client dropped it, or dropped and re-created
    /// it). The support layer then reloads the entry and retries the operation, so callers see
    /// this error only when the namespace keeps changing under them; its kind is then
    /// [`ErrorKind::Unavailable`] (retryable).
    pub fn namespace_changed(namespace: &str) -> Self {
        let mut e = Self::new(
            ErrorKind::Unavailable,
            format!("namespace {namespace} was dropped or re-created by another client meanwhile"),
        );
        e.namespace_changed = true;
        e
    }

    /// True for an error made by [`Error::namespace_changed`].
    pub fn is_namespace_changed(&self) -> bool {
        self.namespace_changed
    }

    /// A [`ErrorKind::DimensionMismatch`] error with the standard message.
    pub fn dimension_mismatch(expected: usize, got: usize) -> Self {
        Self::new(
            ErrorKind::DimensionMismatch { expected, got },
            format!("embedding has {got} dimensions but the namespace has {expected}"),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(source) = &self.source {
            d.field("source", &format_args!("{source}"));
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_cause_and_kind_is_matchable() {
        let e = Error::new(ErrorKind::Unavailable, "Redis client not available")
            .with_source(std::io::Error::other("connection refused"));
        assert_eq!(
            e.to_string(),
            "Redis client not available: connection refused"
        );
        assert!(e.is_retryable());
        assert_eq!(e.kind().as_str(), "unavailable");
        let d = Error::dimension_mismatch(3, 4);
        assert_eq!(
            d.kind(),
            ErrorKind::DimensionMismatch {
                expected: 3,
                got: 4
            }
        );
        assert!(d.kind().is_invalid_input());
        assert!(!d.is_retryable());
    }
}
