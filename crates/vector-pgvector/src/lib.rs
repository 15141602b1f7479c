#![doc = include_str!("../README.md")]

mod backend;
mod catalog;
mod client;
mod config;
mod error;
mod filter;
mod reply;
mod scan;
mod search;
mod text;
mod write;

pub use backend::PgDriver;
pub use catalog::PgNamespace;
pub use config::PgConfig;

/// The PostgreSQL + pgvector backend: a [`vector_backend::VectorBackend`] over a [`PgDriver`].
/// Open it with `PgVectorBackend::open(url)` or `PgVectorBackend::connect(PgConfig)`.
pub type PgVectorBackend = vector_backend::driver::Backend<PgDriver>;

/// The most named prepared statements a pooled connection keeps on the server (test
/// diagnostics; filtered statements are never prepared by name).
#[cfg(feature = "test-support")]
pub const MAX_PREPARED_PER_CONNECTION: usize = client::MAX_PREPARED;
