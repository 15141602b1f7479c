//! The Weaviate backend's own failures, kept private and converted into
//! `vector_backend::Error` at its boundary, with the failure itself as the source (so
//! `source()` chains down to the `reqwest` or `serde_json` error).
//!
//! One rule for the retryable kinds: `Timeout` when a request was sent and no complete answer
//! came within the operation timeout; `Unavailable` when no connection could be made or it
//! broke, or when the server (or a proxy in front of it) says "try again": HTTP 502, 503 (also
//! what `/v1/.well-known/ready` answers while the server starts), 504, and a 429 that is not a
//! usage limit. A 429 carrying Weaviate's `USAGE_LIMIT_EXCEEDED` (1.38+: too many objects,
//! collections, tenants or shards for the configured limits) is `CapacityExceeded`: retrying
//! does not help until someone raises the limit or deletes data.

use std::time::Duration;

use vector_backend::{Error, ErrorKind};

use crate::reply::{server_error_code, server_message, truncate};

/// The design document's wording for an unreachable server, which operators search for.
pub(crate) const UNAVAILABLE: &str = "Weaviate client not available";

/// Weaviate's `errorCode` of a usage-limit 429.
const USAGE_LIMIT: &str = "USAGE_LIMIT_EXCEEDED";

/// What can go wrong talking to Weaviate. Messages never contain the API key: requests carry it
/// in a header, and transport errors have their URL removed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WeaviateError {
    /// No connection could be made, or it broke (refused, DNS, connect timeout, reset, TLS).
    #[error("{what}: {}", chain(source))]
    Unreachable {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    /// The request was sent but no complete answer came within the timeout.
    #[error("{what}: {}", chain(source))]
    Timeout {
        what: String,
        limit: Duration,
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP status the call does not expect, with the server's message.
    #[error("Weaviate answered {what} with HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
        /// The body's `errorCode` (1.38+ structured errors).
        code: Option<String>,
    },
    /// HTTP 200 whose GraphQL body carried `errors`.
    #[error("Weaviate GraphQL error in {what}: {message}")]
    GraphQl { what: String, message: String },
    /// HTTP 200 from a batch whose objects (some or all) failed.
    #[error("Weaviate rejected {failed} of {total} objects of a batch: {message}")]
    Batch {
        failed: usize,
        total: usize,
        message: String,
    },
    /// A body that is not JSON.
    #[error("unexpected Weaviate response to {what}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// JSON that is not what the API documents.
    #[error("unexpected Weaviate response to {what}: {message}")]
    Decode { what: String, message: String },
    /// The server is older than the supported range, or is not Weaviate.
    #[error("Weaviate {0} is not supported (need 1.25 or later)")]
    Version(String),
    /// A catalogue entry that does not hold what this tier writes there.
    #[error("the Weaviate catalogue entry of namespace {namespace} is damaged: {message}")]
    Catalog { namespace: String, message: String },
}

/// A transport error's causes, joined, without the request URL.
fn chain(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    truncate(&parts.join(": "))
}

impl WeaviateError {
    /// A transport failure of `what`, classified: the deadline passed after the request was
    /// sent (`Timeout`), or the connection could not be made or broke (`Unreachable`).
    pub(crate) fn transport(what: &str, limit: Duration, e: reqwest::Error) -> Self {
        let source = e.without_url();
        if source.is_timeout() && !source.is_connect() {
            Self::Timeout {
                what: what.to_owned(),
                limit,
                source,
            }
        } else {
            Self::Unreachable {
                what: what.to_owned(),
                source,
            }
        }
    }

    pub(crate) fn status(what: &str, status: u16, body: &str) -> Self {
        Self::Status {
            what: what.to_owned(),
            status,
            message: server_message(body),
            code: server_error_code(body),
        }
    }

    pub(crate) fn decode(what: &str, message: impl std::fmt::Display) -> Self {
        Self::Decode {
            what: what.to_owned(),
            message: truncate(&message.to_string()),
        }
    }

    /// The kind callers match on, by the rule in the module docs.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Unreachable { .. } => ErrorKind::Unavailable,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Status {
                status: 429,
                code: Some(code),
                ..
            } if code == USAGE_LIMIT => ErrorKind::CapacityExceeded,
            Self::Status {
                status: 429 | 502 | 503 | 504,
                ..
            } => ErrorKind::Unavailable,
            Self::Version(_) => ErrorKind::Unsupported,
            _ => ErrorKind::Backend,
        }
    }
}

impl From<WeaviateError> for Error {
    fn from(e: WeaviateError) -> Self {
        let kind = e.kind();
        let message = match (&e, kind) {
            (WeaviateError::Timeout { limit, .. }, _) => {
                format!("Weaviate did not answer within {} ms", limit.as_millis())
            }
            (_, ErrorKind::Unavailable) => UNAVAILABLE.to_owned(),
            (_, ErrorKind::CapacityExceeded) => "Weaviate usage limit reached".to_owned(),
            (_, ErrorKind::Unsupported) => "unsupported Weaviate server".to_owned(),
            _ => "Weaviate request failed".to_owned(),
        };
        Error::new(kind, message).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Constructed errors, labelled as such: a real server's 502/503/504/429 cannot be provoked
    // here; the emulator tests (`tests/unavailable.rs`) send each of them over HTTP too.
    #[test]
    fn statuses_map_to_kinds_and_keep_the_wording() {
        let kind = |status: u16, body: &str| {
            let e: Error = WeaviateError::status("GET /v1/meta", status, body).into();
            (e.kind(), e.to_string())
        };
        for status in [502, 503, 504, 429] {
            let (k, text) = kind(status, "");
            assert_eq!(k, ErrorKind::Unavailable, "{status}");
            assert!(
                text.starts_with("Weaviate client not available: "),
                "{text}"
            );
        }
        let (k, text) = kind(
            429,
            r#"{"errorCode":"USAGE_LIMIT_EXCEEDED","limit":"objects","value":5,"message":"limit reached"}"#,
        );
        assert_eq!(k, ErrorKind::CapacityExceeded);
        assert!(text.contains("limit reached"), "{text}");
        let (k, text) = kind(422, r#"{"error":[{"message":"bad"}]}"#);
        assert_eq!(k, ErrorKind::Backend);
        assert!(text.contains("HTTP 422: bad"), "{text}");
        let e: Error = WeaviateError::Version("\"1.20.0\"".into()).into();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
    }

    #[test]
    fn the_cause_is_kept_as_the_source() {
        let e: Error = WeaviateError::status("POST /v1/schema", 500, "boom").into();
        let source = std::error::Error::source(&e).expect("a source");
        assert!(source.to_string().contains("boom"), "{source}");
    }
}
