//! The Weaviate backend's own failures, kept private and converted into
//! `vector_backend::Error` at its boundary.

use vector_backend::{Error, ErrorKind};

/// The design document's wording for an unreachable server, which operators search for.
pub(crate) const UNAVAILABLE: &str = "Weaviate client not available";

/// Longest server message kept in an error.
const MAX_MESSAGE: usize = 500;

/// What can go wrong talking to Weaviate. Messages never contain the API key: requests carry it
/// in a header, and causes are taken from transport errors with their URL removed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WeaviateError {
    /// No connection could be made (refused, DNS, connect timeout, TLS).
    #[error("{UNAVAILABLE}: {0}")]
    Unreachable(String),
    /// The request was sent but no complete answer came within the timeout.
    #[error("Weaviate did not answer {what} within {timeout_ms} ms")]
    Timeout { what: String, timeout_ms: u128 },
    /// An HTTP status the call does not expect, with the server's message.
    #[error("Weaviate answered {what} with HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
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
    /// A body that is not what the API documents.
    #[error("unexpected Weaviate response to {what}: {message}")]
    Decode { what: String, message: String },
    /// The server is older than the supported range, or is not Weaviate.
    #[error("Weaviate {0} is not supported (need 1.25 or later)")]
    Version(String),
    /// A class with our prefix that this tier did not create, or whose record is damaged.
    #[error("Weaviate class {class} exists but does not hold a vector-tier namespace")]
    ForeignClass { class: String },
}

impl WeaviateError {
    pub(crate) fn status(what: &str, status: u16, body: &str) -> Self {
        Self::Status {
            what: what.to_owned(),
            status,
            message: server_message(body),
        }
    }

    pub(crate) fn decode(what: &str, message: impl std::fmt::Display) -> Self {
        Self::Decode {
            what: what.to_owned(),
            message: truncate(&message.to_string()),
        }
    }
}

impl From<WeaviateError> for Error {
    fn from(e: WeaviateError) -> Self {
        let kind = match &e {
            WeaviateError::Unreachable(_) => ErrorKind::Unavailable,
            WeaviateError::Timeout { .. } => ErrorKind::Timeout,
            // Overload and "not ready" are worth retrying; so is a 5xx from a proxy in front.
            WeaviateError::Status {
                status: 429 | 502 | 503 | 504,
                ..
            } => ErrorKind::Unavailable,
            _ => ErrorKind::Backend,
        };
        Error::new(kind, e.to_string())
    }
}

/// The human part of an error body: the messages of an `ErrorResponse`
/// (`{"error":[{"message":...}]}`), a go-openapi error (`{"code":..,"message":..}`), a 1.38+
/// structured error (`{"errorCode":..,"message":..}`), or the raw text; "(empty body)" for 401,
/// 404 and 503, which have none.
pub(crate) fn server_message(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return truncate(body);
    };
    if let Some(list) = v.get("error").and_then(|e| e.as_array()) {
        let msgs: Vec<&str> = list
            .iter()
            .filter_map(|m| m.get("message")?.as_str())
            .collect();
        if !msgs.is_empty() {
            return truncate(&msgs.join("; "));
        }
    }
    if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
        return truncate(m);
    }
    truncate(body)
}

pub(crate) fn truncate(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_error_shape() {
        assert_eq!(
            server_message(r#"{"error":[{"message":"class name Foo already exists"}]}"#),
            "class name Foo already exists"
        );
        assert_eq!(
            server_message(r#"{"code":601,"message":"id in path must be of type uuid"}"#),
            "id in path must be of type uuid"
        );
        assert_eq!(
            server_message(
                r#"{"errorCode":"USAGE_LIMIT_EXCEEDED","limit":"objects","value":5,"message":"limit reached"}"#
            ),
            "limit reached"
        );
        assert_eq!(server_message(""), "(empty body)");
        assert_eq!(server_message("gateway timeout"), "gateway timeout");
        assert!(server_message(&"x".repeat(2000)).len() < 600);
    }

    #[test]
    fn kinds_and_wording() {
        let e: Error = WeaviateError::Unreachable("connection refused".into()).into();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(
            e.to_string(),
            "Weaviate client not available: connection refused"
        );
        let e: Error = WeaviateError::status("GET /v1/meta", 503, "").into();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        let e: Error =
            WeaviateError::status("POST /v1/schema", 422, r#"{"error":[{"message":"bad"}]}"#)
                .into();
        assert_eq!(e.kind(), ErrorKind::Backend);
        assert!(e.to_string().contains("HTTP 422: bad"), "{e}");
        let e: Error = WeaviateError::Timeout {
            what: "x".into(),
            timeout_ms: 5,
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Timeout);
    }
}
