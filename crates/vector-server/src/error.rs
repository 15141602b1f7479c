//! [`ApiError`]: every failure as a status code and a JSON body
//! `{"error": {"kind": ..., "message": ...}}`, including malformed requests, so bad input never
//! becomes a 500 or a plain-text body.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use vector_tier::ErrorKind;

/// Longest message echoed to the client: serde messages quote the offending input, which may
/// be as large as the body limit.
const MAX_MESSAGE_CHARS: usize = 512;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: Cow<'static, str>,
    message: String,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with an explicit status and kind.
    pub fn new(
        status: StatusCode,
        kind: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        let mut message: String = message.into();
        if message.chars().count() > MAX_MESSAGE_CHARS {
            message = message.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "...";
        }
        Self {
            status,
            kind: kind.into(),
            message,
            retry_after_secs: None,
        }
    }

    /// 404 with kind `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401 with kind `unauthorized`.
    pub(crate) fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 429 with kind `rate_limited` and a `Retry-After`.
    pub(crate) fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "rate limit exceeded",
        );
        e.retry_after_secs = Some(retry_after_secs.max(1));
        e
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `kind` of the body.
    pub fn kind(&self) -> &str {
        &self.kind
    }
}

/// The status of each backend error kind.
pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidNamespace
        | ErrorKind::InvalidKey
        | ErrorKind::InvalidEmbedding
        | ErrorKind::InvalidMetadata
        | ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        // A request this backend cannot do (an index kind, a filter operator) is the caller's
        // to change, not a server fault: 422, not 501.
        ErrorKind::DimensionMismatch { .. } | ErrorKind::Unsupported => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ErrorKind::ConfigMismatch => StatusCode::CONFLICT,
        ErrorKind::Unavailable | ErrorKind::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::CapacityExceeded => StatusCode::INSUFFICIENT_STORAGE,
        ErrorKind::Backend => StatusCode::BAD_GATEWAY,
        // A kind added to the core later: not the client's fault until mapped.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<vector_tier::Error> for ApiError {
    fn from(e: vector_tier::Error) -> Self {
        let status = status_of(e.kind());
        if status.is_server_error() {
            // Messages are built from redacted URLs, so they are safe to log and return.
            tracing::warn!(kind = e.kind().as_str(), error = %e, "backend error");
        }
        Self::new(status, e.kind().as_str(), e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let kind = match &r {
            JsonRejection::JsonSyntaxError(_) => "invalid_json",
            JsonRejection::JsonDataError(_) => "invalid_request",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                "payload_too_large"
            }
            _ => "invalid_body",
        };
        // Reading the body can only fail because of the client (limit, aborted upload).
        let status = if r.status().is_server_error() {
            StatusCode::BAD_REQUEST
        } else {
            r.status()
        };
        Self::new(status, kind, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "kind": self.kind, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_statuses() {
        assert_eq!(status_of(ErrorKind::InvalidKey), StatusCode::BAD_REQUEST);
        assert_eq!(
            status_of(ErrorKind::DimensionMismatch {
                expected: 1,
                got: 2
            }),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of(ErrorKind::Unsupported),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of(ErrorKind::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(ErrorKind::Timeout),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(ErrorKind::CapacityExceeded),
            StatusCode::INSUFFICIENT_STORAGE
        );
        let long = ApiError::new(StatusCode::BAD_REQUEST, "x", "y".repeat(10_000));
        assert!(long.message.len() < 600);
    }
}
