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

/// Whether [`REQUIRE_ENV`] (`VTIER_REQUIRE`) names `backend` or `all`: then a live test whose
/// server is absent must fail instead of reporting itself as not run.
pub fn required(backend: &str) -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| {
        v.split(',')
            .any(|s| s.trim() == backend || s.trim() == "all")
    })
}

/// For live tests beyond the suite: the value of `var` (a server URL), or `None` after writing
/// "`test`: not run: `var` unset" straight to stderr (libtest hides a passing test's captured
/// output, and a test that did not run must say so). Panics instead when [`required`] says the
/// backend must run.
///
/// # Panics
/// When `var` is unset or empty and `backend` is required.
pub fn live_url(test: &str, var: &str, backend: &str) -> Option<String> {
    use std::io::Write as _;
    if let Some(url) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
        return Some(url);
    }
    assert!(
        !required(backend),
        "{test}: {var} is unset but {REQUIRE_ENV} names {backend}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "{test}: not run: {var} unset (run: cargo xtask ci)"
    );
    None
}

/// The name of every case, in the order they run.
pub fn case_names() -> Vec<&'static str> {
    cases::all_cases().into_iter().map(|c| c.name).collect()
}

/// Runs one case by name against `backend` in namespace `ns`, for tests of the suite itself
/// (a deliberately broken backend must fail the case that guards the broken rule). `reopen`
/// opens a second, independent backend object on the same storage (it also serves as the
/// second object of the cases about several clients).
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
    let ctx = cases::Ctx::new(backend, caps, reopen.clone(), reopen, ns.to_owned(), name);
    let outcome = (case.run)(ctx.clone()).await;
    ctx.cleanup().await;
    outcome
}
