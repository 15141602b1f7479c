#![doc = include_str!("../README.md")]

mod backend;
mod batch;
mod catalog;
mod config;
mod error;
mod hnsw;
mod kernel;
mod namespace;
mod quant;
#[doc(hidden)]
pub mod raw;
mod text;
mod write;

pub use backend::{IndexStats, MemoryDriver};
pub use catalog::MemoryNamespace;
pub use config::MemoryConfig;
pub use hnsw::HnswParams;

/// The in-memory backend: a [`vector_backend::VectorBackend`] over a [`MemoryDriver`].
/// `MemoryBackend::new(MemoryConfig::default())` or `MemoryBackend::default()` opens one with
/// a new, empty store.
pub type MemoryBackend = vector_backend::driver::Backend<MemoryDriver>;
