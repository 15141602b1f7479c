//! The audit log: one structured `tracing` event (target `vtier::audit`) per write, saying who
//! (caller id, never the token), what (operation, namespace, number of keys, outcome) and when
//! (milliseconds since the Unix epoch). Vectors, metadata and keys are never logged.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::Caller;

/// The tracing target of audit events, for filtering (`RUST_LOG=vtier::audit=info`).
pub const AUDIT_TARGET: &str = "vtier::audit";

/// Logs one write.
pub(crate) fn write<T>(
    caller: &Caller,
    operation: &str,
    namespace: &str,
    keys: usize,
    result: &Result<T, vector_tier::Error>,
) {
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let outcome = match result {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    };
    tracing::info!(
        target: AUDIT_TARGET,
        who = %caller.id,
        operation,
        namespace,
        keys,
        outcome,
        at_ms,
        "audit"
    );
}
