//! Redis Stack for tests (filled in by the Redis backend work).

use super::Server;

/// Starts Redis Stack, or returns the one `REDIS_URL` names.
pub(crate) fn start() -> anyhow::Result<Server> {
    anyhow::bail!("starting Redis Stack is not implemented yet")
}
