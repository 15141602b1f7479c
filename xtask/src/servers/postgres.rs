//! PostgreSQL + pgvector for tests (filled in by the pgvector backend work).

use super::Server;

/// Starts PostgreSQL with pgvector, or returns the one `PG_CONNECTION_STRING` names.
pub(crate) fn start() -> anyhow::Result<Server> {
    anyhow::bail!("starting PostgreSQL is not implemented yet")
}
