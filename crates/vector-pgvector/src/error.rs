//! The backend's own failures, kept private and converted into `vector_backend::Error` at the
//! boundary: lost connections and an unreachable server become `Unavailable` with the design's
//! wording ("PostgreSQL pool not available"), a cancelled statement becomes `Timeout`.

use tokio_postgres::error::SqlState;
use vector_backend::{Error, ErrorKind};

/// What can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PgError {
    /// No connection could be taken from (or made for) the pool.
    #[error("PostgreSQL pool not available: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed (or the connection broke while it ran).
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    /// Stored data that this crate cannot read back (a catalog row or metadata text).
    #[error("corrupt data in PostgreSQL: {0}")]
    Corrupt(String),
    /// A contract error found late (validation against a refreshed namespace config).
    #[error("{0}")]
    Contract(Error),
    /// The `vector` extension is missing and cannot be created.
    #[error("{0}")]
    Extension(String),
}

impl PgError {
    /// The SQLSTATE of a database error.
    pub(crate) fn code(&self) -> Option<&SqlState> {
        match self {
            Self::Db(e) => e.code(),
            _ => None,
        }
    }
}

/// Whether a SQLSTATE means the server is going away or cannot take connections.
fn is_unavailable(code: &SqlState) -> bool {
    let c = code.code();
    c.starts_with("08") // connection exceptions
        || c.starts_with("57P") // admin/crash shutdown, cannot connect now
        || *code == SqlState::TOO_MANY_CONNECTIONS
}

impl From<PgError> for Error {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Pool(p) => {
                let msg = format!("PostgreSQL pool not available: {}", pool_cause(&p));
                Error::new(ErrorKind::Unavailable, msg)
            }
            PgError::Db(db) => match db.code() {
                Some(code) if *code == SqlState::QUERY_CANCELED => Error::new(
                    ErrorKind::Timeout,
                    format!("PostgreSQL statement timed out: {}", db_message(&db)),
                ),
                Some(code) if is_unavailable(code) => Error::new(
                    ErrorKind::Unavailable,
                    format!("PostgreSQL pool not available: {}", db_message(&db)),
                ),
                Some(_) => Error::backend(format!("PostgreSQL error: {}", db_message(&db))),
                // No SQLSTATE: the connection closed or an I/O error happened.
                None => Error::new(
                    ErrorKind::Unavailable,
                    format!("PostgreSQL pool not available: connection lost: {db}"),
                ),
            },
            PgError::Corrupt(_) => Error::backend(e.to_string()),
            PgError::Contract(e) => e,
            PgError::Extension(m) => Error::new(ErrorKind::Unsupported, m),
        }
    }
}

/// The server's own message (with detail and hint) rather than tokio-postgres' terse
/// `db error`.
fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                m.push_str(": ");
                m.push_str(d);
            }
            m
        }
        None => e.to_string(),
    }
}

fn pool_cause(e: &deadpool_postgres::PoolError) -> String {
    use deadpool_postgres::PoolError as P;
    match e {
        P::Backend(b) => {
            // tokio-postgres says "error connecting to server" and keeps the I/O cause below.
            let mut s = b.to_string();
            let mut src = std::error::Error::source(b);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            s
        }
        P::Timeout(t) => format!("timed out ({t:?}) waiting for a connection"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_are_unavailable() {
        let e: Error = PgError::Pool(deadpool_postgres::PoolError::Timeout(
            deadpool_postgres::TimeoutType::Create,
        ))
        .into();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(
            e.to_string().starts_with("PostgreSQL pool not available: "),
            "{e}"
        );
    }
}
