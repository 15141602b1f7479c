//! The Redis backend's own failures, kept private and converted into `vector_backend::Error`
//! at its boundary, with the redis-rs error as the cause ([`std::error::Error::source`]).
//!
//! One rule decides the kind of a failed call (see [`RedisError::from_client`]):
//!
//! | what happened | kind |
//! |---|---|
//! | the request was sent (or a connection attempt made) and no answer came in time | `Timeout` |
//! | no connection (refused, reset, closed, DNS, TLS) | `Unavailable` |
//! | the server says "try again": `LOADING`, `BUSY`, `MASTERDOWN`, `TRYAGAIN`, `CLUSTERDOWN` | `Unavailable` |
//! | the server is out of memory (`OOM`, its `maxmemory`) | `CapacityExceeded` |
//! | any other error reply, or a reply of an unexpected shape | `Backend` |

use std::time::Duration;

use redis::{ErrorKind as ClientKind, ServerErrorKind};
use vector_backend::{Error, ErrorKind};

/// What only the Redis backend can get wrong.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedisError {
    /// No connection, or the server asked to try again later.
    #[error("Redis client not available")]
    Unavailable(#[source] redis::RedisError),
    /// No answer within the operation timeout: redis-rs's own (with its error), or ours
    /// around the whole call.
    #[error("Redis did not answer within {} ms", .limit.as_millis())]
    Timeout {
        limit: Duration,
        #[source]
        source: Option<redis::RedisError>,
    },
    /// The server is out of memory.
    #[error("Redis is out of memory (maxmemory)")]
    OutOfMemory(#[source] redis::RedisError),
    /// The server refused a command for another reason.
    #[error("Redis refused a command")]
    Server(#[source] redis::RedisError),
    /// A reply of an unexpected shape.
    #[error("unexpected reply from Redis to {command}: {detail}")]
    Reply {
        command: &'static str,
        detail: String,
    },
    /// A stored record or config that cannot be decoded.
    #[error("Redis data for {what} is corrupt: {detail}")]
    Corrupt { what: String, detail: String },
}

/// The error codes (first word of an error reply) that mean "try again later" and that
/// redis-rs does not give a kind of its own.
const TRY_AGAIN_CODES: &[&str] = &["BUSY"];

impl RedisError {
    /// Classifies a redis-rs error (see the module docs). `limit` is the timeout the call ran
    /// under, for the message. redis-rs error texts hold no URL or password: the client keeps
    /// credentials apart.
    pub(crate) fn from_client(e: redis::RedisError, limit: Duration) -> Self {
        if e.is_timeout() {
            return Self::Timeout {
                limit,
                source: Some(e),
            };
        }
        let try_again = matches!(
            e.kind(),
            ClientKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
            )
        ) || e.code().is_some_and(|c| TRY_AGAIN_CODES.contains(&c));
        if try_again
            || e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.kind() == ClientKind::Client
        {
            return Self::Unavailable(e);
        }
        if e.code() == Some("OOM") {
            return Self::OutOfMemory(e);
        }
        Self::Server(e)
    }

    pub(crate) fn reply(command: &'static str, detail: impl Into<String>) -> Self {
        Self::Reply {
            command,
            detail: detail.into(),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// Whether the server refused the command because the RediSearch index does not exist.
    pub(crate) fn is_missing_index(&self) -> bool {
        matches!(self, Self::Server(e) if is_missing_index(e))
    }
}

/// Whether a RediSearch error reply says the index does not exist: `Unknown Index name`
/// (`FT.DROPINDEX`, `FT.INFO`) or `{index}: no such index` (`FT.SEARCH`). redis-rs splits the
/// text at its first space into a "code" and a detail, so both are read.
pub(crate) fn is_missing_index(e: &redis::RedisError) -> bool {
    let text = format!(
        "{} {}",
        e.code().unwrap_or_default(),
        e.detail().unwrap_or_default()
    )
    .to_ascii_lowercase();
    text.contains("no such index") || text.contains("unknown index")
}

impl From<RedisError> for Error {
    fn from(e: RedisError) -> Self {
        let kind = match &e {
            RedisError::Unavailable(_) => ErrorKind::Unavailable,
            RedisError::Timeout { .. } => ErrorKind::Timeout,
            RedisError::OutOfMemory(_) => ErrorKind::CapacityExceeded,
            RedisError::Server(_) | RedisError::Reply { .. } | RedisError::Corrupt { .. } => {
                ErrorKind::Backend
            }
        };
        let message = e.to_string();
        match e {
            RedisError::Unavailable(source)
            | RedisError::Timeout {
                source: Some(source),
                ..
            }
            | RedisError::OutOfMemory(source)
            | RedisError::Server(source) => Error::new(kind, message).with_source(source),
            RedisError::Timeout { source: None, .. }
            | RedisError::Reply { .. }
            | RedisError::Corrupt { .. } => Error::new(kind, message),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The mapping on constructed errors: replies parsed from the bytes a server sends, so the
    //! states that cannot be provoked on a single live server (`MASTERDOWN` needs a replica,
    //! `TRYAGAIN` and `CLUSTERDOWN` a cluster) are covered too. `LOADING` and `BUSY` are also
    //! provoked for real in `tests/live.rs`.

    use super::*;

    fn reply_error(resp: &str) -> redis::RedisError {
        match redis::parse_redis_value(resp.as_bytes()) {
            Ok(redis::Value::ServerError(e)) => e.into(),
            Ok(other) => panic!("not an error reply: {other:?}"),
            Err(e) => e,
        }
    }

    fn kind_of(e: redis::RedisError) -> ErrorKind {
        Error::from(RedisError::from_client(e, Duration::from_secs(5))).kind()
    }

    #[test]
    fn try_again_replies_are_unavailable() {
        for resp in [
            "-LOADING Redis is loading the dataset in memory\r\n",
            "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
            "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
            "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
            "-CLUSTERDOWN The cluster is down\r\n",
        ] {
            let e = Error::from(RedisError::from_client(
                reply_error(resp),
                Duration::from_secs(5),
            ));
            assert_eq!(e.kind(), ErrorKind::Unavailable, "{resp}");
            assert!(e.is_retryable());
            assert!(
                e.to_string().starts_with("Redis client not available: "),
                "{e}"
            );
            assert!(std::error::Error::source(&e).is_some(), "keeps its cause");
        }
    }

    #[test]
    fn other_failures_keep_their_kind_and_cause() {
        assert_eq!(
            kind_of(reply_error(
                "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
            )),
            ErrorKind::CapacityExceeded
        );
        assert_eq!(
            kind_of(reply_error("-ERR unknown command 'FT.SEARCH'\r\n")),
            ErrorKind::Backend
        );
        let refused =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(kind_of(refused), ErrorKind::Unavailable);
        let reset =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(kind_of(reset), ErrorKind::Unavailable);
        let timed_out = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        let e = Error::from(RedisError::from_client(
            timed_out,
            Duration::from_millis(1500),
        ));
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.to_string().contains("1500 ms"), "{e}");
    }

    #[test]
    fn missing_indexes_are_recognised() {
        assert!(is_missing_index(&reply_error("-Unknown Index name\r\n")));
        assert!(is_missing_index(&reply_error(
            "-vtier:idx:a:5: no such index\r\n"
        )));
        assert!(!is_missing_index(&reply_error("-ERR Syntax error\r\n")));
    }
}
