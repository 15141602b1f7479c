//! The audit log: one structured `tracing` event (target `vtier::audit`) per write, saying who
//! (caller id, never the token), what (operation, namespace, number of keys, outcome) and when
//! (milliseconds since the Unix epoch). Vectors, metadata and keys are never logged.
//!
//! Writes run in their own task (see `routes::api`), so the event is written when the write
//! ends, also when the client has gone or the request timed out; [`Pending`] writes one with
//! outcome `aborted` if the write itself never ends (its task panicked or the runtime stopped).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::Caller;

/// The tracing target of audit events, for filtering (`RUST_LOG=vtier::audit=info`).
pub const AUDIT_TARGET: &str = "vtier::audit";

/// A write in progress: logs its event when it ends ([`Pending::done`]), or with outcome
/// `aborted` when dropped before that.
#[derive(Debug)]
pub(crate) struct Pending {
    caller: Caller,
    operation: &'static str,
    namespace: String,
    keys: usize,
    logged: bool,
}

impl Pending {
    pub(crate) fn new(
        caller: Caller,
        operation: &'static str,
        namespace: String,
        keys: usize,
    ) -> Self {
        Self {
            caller,
            operation,
            namespace,
            keys,
            logged: false,
        }
    }

    /// Logs the outcome.
    pub(crate) fn done<T>(mut self, result: &Result<T, vector_tier::Error>) {
        self.logged = true;
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) => e.kind().as_str(),
        };
        event(
            &self.caller,
            self.operation,
            &self.namespace,
            self.keys,
            outcome,
        );
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.logged {
            event(
                &self.caller,
                self.operation,
                &self.namespace,
                self.keys,
                "aborted",
            );
        }
    }
}

fn event(caller: &Caller, operation: &str, namespace: &str, keys: usize, outcome: &str) {
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
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
