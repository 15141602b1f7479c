//! The backend's own failures, kept private and converted into `vector_backend::Error` at the
//! boundary, with the failure itself as the error's source.
//!
//! One rule for the kinds: `Timeout` when a statement was sent (or a pool checkout waited) and
//! no answer came in time, whether PostgreSQL's own `statement_timeout` cancelled it (57014) or
//! the client-side deadline fired (a frozen server never cancels anything); `Unavailable` when
//! no connection can be made, a connection is lost, or the server says "try again" (admin or
//! crash shutdown 57P01/57P02, starting up 57P03, too many connections 53300, any connection
//! exception of class 08), with the wording operators search for, "PostgreSQL pool not
//! available"; `Backend` for any other server error, with its SQLSTATE.

use std::time::Duration;

use tokio_postgres::error::SqlState;
use vector_backend::{Error, ErrorKind};

/// What can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PgError {
    /// No connection could be taken from (or made for) the pool.
    #[error("{}", pool_text(.0))]
    Pool(#[source] deadpool_postgres::PoolError),
    /// A statement failed, or the connection broke while it ran.
    #[error("{}", db_text(.0))]
    Db(#[source] tokio_postgres::Error),
    /// The client-side deadline fired: the server did not answer at all.
    #[error("{what} got no answer within {} ms", .limit.as_millis())]
    Deadline {
        /// The operation.
        what: &'static str,
        /// The time it had.
        limit: Duration,
    },
    /// Stored data that this crate cannot read back (a catalog row or metadata text).
    #[error("corrupt data in PostgreSQL: {0}")]
    Corrupt(String),
    /// The `vector` extension is missing and cannot be created.
    #[error(
        "the pgvector extension is not installed in this database and could not be created ({}); install pgvector on the server and run CREATE EXTENSION vector as a user allowed to",
        db_text(.0)
    )]
    Extension(#[source] tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e)
    }
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Pool(e)
    }
}

impl PgError {
    /// True when the server answered with an error, so the connection is still in step with
    /// it and can go back to the pool. Anything else (I/O error, closed connection, a deadline
    /// that fired mid-statement) leaves it in an unknown state.
    pub(crate) fn server_answered(&self) -> bool {
        match self {
            Self::Db(e) => e.as_db_error().is_some(),
            Self::Corrupt(_) => true,
            _ => false,
        }
    }

    /// True when the statement named a table that no longer exists: undefined_table (42P01)
    /// when it was parsed after the drop, or, for a statement already waiting for the table's
    /// lock when the drop committed, the internal errors PostgreSQL raises when the relation
    /// it locked by OID has vanished.
    pub(crate) fn is_relation_gone(&self) -> bool {
        let Self::Db(e) = self else { return false };
        match e.as_db_error() {
            Some(db) if *db.code() == SqlState::UNDEFINED_TABLE => true,
            Some(db) if *db.code() == SqlState::INTERNAL_ERROR => {
                let m = db.message();
                m.starts_with("could not open relation with OID")
                    || m.starts_with("cache lookup failed for relation")
            }
            _ => false,
        }
    }
}

/// The kind a server's SQLSTATE means (`None`: the server did not answer; the connection
/// broke or could not be made).
pub(crate) fn kind_of(code: Option<&SqlState>) -> ErrorKind {
    match code {
        None => ErrorKind::Unavailable,
        Some(c) if *c == SqlState::QUERY_CANCELED => ErrorKind::Timeout,
        Some(c) if says_try_again(c) => ErrorKind::Unavailable,
        Some(_) => ErrorKind::Backend,
    }
}

/// Whether a SQLSTATE means the server is going away, starting, or cannot take a connection.
fn says_try_again(code: &SqlState) -> bool {
    let c = code.code();
    c.starts_with("08") // connection exceptions
        || c.starts_with("57P") // admin/crash shutdown, cannot connect now, database dropped
        || *code == SqlState::TOO_MANY_CONNECTIONS
}

impl From<PgError> for Error {
    fn from(e: PgError) -> Self {
        let kind = match &e {
            PgError::Deadline { .. } => ErrorKind::Timeout,
            PgError::Pool(deadpool_postgres::PoolError::Timeout(_)) => ErrorKind::Timeout,
            PgError::Pool(deadpool_postgres::PoolError::Backend(b)) => kind_of(b.code()),
            PgError::Pool(deadpool_postgres::PoolError::Closed) => ErrorKind::Unavailable,
            PgError::Pool(_) | PgError::Corrupt(_) => ErrorKind::Backend,
            PgError::Db(db) => kind_of(db.code()),
            PgError::Extension(_) => ErrorKind::Unsupported,
        };
        let headline = match (&e, kind) {
            (PgError::Deadline { .. }, _) => "PostgreSQL did not answer in time",
            (PgError::Corrupt(_) | PgError::Extension(_), _) => "PostgreSQL backend",
            (_, ErrorKind::Timeout) => "PostgreSQL timed out",
            (_, ErrorKind::Unavailable) => "PostgreSQL pool not available",
            _ => "PostgreSQL error",
        };
        Error::new(kind, headline).with_source(e)
    }
}

/// A tokio-postgres error: the server's own words and SQLSTATE when it answered (its
/// `Display` says only "db error"), else the error and its causes.
fn db_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{} (SQLSTATE {})",
            db.to_string().replace('\n', " "),
            db.code().code()
        ),
        None => chain(e),
    }
}

/// A pool error: the connection error itself rather than deadpool's wrapping of it.
fn pool_text(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(b) => {
            format!("cannot open a connection: {}", db_text(b))
        }
        other => other.to_string(),
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string().replace('\n', " "));
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_are_timeouts_and_keep_their_cause() {
        let e: Error = PgError::Pool(deadpool_postgres::PoolError::Timeout(
            deadpool_postgres::TimeoutType::Create,
        ))
        .into();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(std::error::Error::source(&e).is_some());
        let e: Error = PgError::Pool(deadpool_postgres::PoolError::Closed).into();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(
            e.to_string().starts_with("PostgreSQL pool not available: "),
            "{e}"
        );
        let e: Error = PgError::Deadline {
            what: "count",
            limit: Duration::from_millis(1500),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.to_string().contains("1500 ms"), "{e}");
    }

    /// A unit test of the mapping, with SQLSTATEs constructed here rather than provoked on a
    /// server (tokio-postgres has no public constructor for a server error). The live tests
    /// provoke 57P01, 53300 and lost connections for real; 57P02 (another backend crashed)
    /// and 08xxx codes are covered only here.
    #[test]
    fn try_again_states_are_unavailable_constructed_codes() {
        for code in [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::CONNECTION_FAILURE,
            SqlState::CONNECTION_EXCEPTION,
        ] {
            assert_eq!(kind_of(Some(&code)), ErrorKind::Unavailable, "{code:?}");
        }
        assert_eq!(kind_of(None), ErrorKind::Unavailable);
        assert_eq!(kind_of(Some(&SqlState::QUERY_CANCELED)), ErrorKind::Timeout);
        assert_eq!(
            kind_of(Some(&SqlState::UNDEFINED_TABLE)),
            ErrorKind::Backend
        );
        assert_eq!(
            kind_of(Some(&SqlState::INVALID_PASSWORD)),
            ErrorKind::Backend
        );
    }
}
