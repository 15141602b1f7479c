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

pub use fixture::{Lcg, clustered, random_unit};
pub use harness::{Harness, REQUIRE_ENV};
