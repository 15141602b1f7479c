//! The Redis backend's own failures, kept private and converted into `vector_backend::Error`
//! at its boundary with the design document's wording ("Redis client not available").

use vector_backend::{Error, ErrorKind};

/// What only the Redis backend can get wrong.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedisError {
    /// The server cannot be reached (refused, reset, DNS, TLS, no answer in time).
    #[error("Redis client not available: {0}")]
    Unavailable(String),
    /// The server refused a command (an error reply) or sent something unexpected.
    #[error("Redis error: {0}")]
    Server(String),
    /// A stored record or config could not be decoded.
    #[error("Redis data for {what} is corrupt: {detail}")]
    Corrupt { what: String, detail: String },
}

impl RedisError {
    pub(crate) fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

impl From<redis::RedisError> for RedisError {
    fn from(e: redis::RedisError) -> Self {
        // redis-rs error texts hold no URL or password: the client keeps credentials apart.
        let text = e.to_string();
        if e.is_timeout() {
            // No reply in time: from the caller's side a hung or unreachable server looks the
            // same as a dead one, and the design's wording for both is "not available".
            return Self::Unavailable(format!("no reply in time ({text})"));
        }
        if e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_unrecoverable_error()
            || matches!(e.kind(), redis::ErrorKind::Io | redis::ErrorKind::Client)
        {
            return Self::Unavailable(text);
        }
        Self::Server(text)
    }
}

impl From<RedisError> for Error {
    fn from(e: RedisError) -> Self {
        let kind = match e {
            RedisError::Unavailable(_) => ErrorKind::Unavailable,
            RedisError::Server(_) | RedisError::Corrupt { .. } => ErrorKind::Backend,
        };
        Error::new(kind, e.to_string())
    }
}
