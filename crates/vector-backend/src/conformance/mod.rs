//! The conformance suite: `docs/contract.md` in executable form. **Not API-stable**; it exists
//! for the `tests/conformance.rs` target of every backend crate.
//!
//! A backend hooks in with one line:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     vector_backend::conformance::Harness::<vector_redis::RedisBackend>::new().run()
//! }
//! ```
//!
//! Each case is its own named test (`cargo test -p vector-redis --test conformance -- --list`
//! shows them), runs in its own namespace, and drops it when it passes (a failing case keeps
//! its namespace for inspection and says so). See [`Harness`] for how the backend is found and
//! what happens when it is absent.

#![allow(clippy::print_stderr, clippy::print_stdout)] // A test harness reports on the terminal.
#![allow(missing_docs)] // Cases are documented by their names and one-line comments.

mod cases;
mod fixture;
mod harness;

pub use harness::{Harness, REQUIRE_ENV};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{DynBackend, Result};

/// The name of every case, in the order they run.
pub fn case_names() -> Vec<&'static str> {
    cases::all_cases().into_iter().map(|c| c.name).collect()
}

/// Runs one case by name against `backend` in namespace `ns`, for tests of the suite itself
/// (a deliberately broken backend must fail the case that guards the broken rule). `reopen`
/// opens a second, independent backend object on the same storage.
///
/// # Errors
/// The case's failure, or an unknown case name.
pub async fn run_case<F, Fut>(
    backend: DynBackend,
    reopen: F,
    ns: &str,
    name: &str,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<DynBackend>> + Send + 'static,
{
    let case = cases::all_cases()
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| anyhow::anyhow!("no conformance case named {name}"))?;
    let caps = backend.capabilities();
    let reopen: cases::Reopen = Arc::new(move || {
        Box::pin(reopen()) as Pin<Box<dyn Future<Output = Result<DynBackend>> + Send>>
    });
    let ctx = cases::Ctx::new(backend, caps, reopen, ns.to_owned(), name);
    let outcome = (case.run)(ctx.clone()).await;
    ctx.cleanup().await;
    outcome
}
