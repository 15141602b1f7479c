#![doc = include_str!("../README.md")]

mod backend;
mod catalog;
mod client;
mod config;
mod error;
mod filter;
mod graphql;
mod reply;
#[cfg(test)]
mod reply_props;
mod scan;
mod schema;
mod search;
mod text;
mod write;

pub use backend::WeaviateDriver;
pub use catalog::WeaviateNamespace;
pub use config::{API_KEY_ENV, WeaviateConfig};

/// The Weaviate backend: a [`vector_backend::VectorBackend`] over a [`WeaviateDriver`].
/// `WeaviateBackend::connect(WeaviateConfig::new("http://localhost:8080"))` or
/// `WeaviateBackend::open("weaviate+http://localhost:8080")` opens one (both check the server).
pub type WeaviateBackend = vector_backend::driver::Backend<WeaviateDriver>;

/// Conversions the golden tests check against Weaviate's documented numbers; not a stable API.
#[doc(hidden)]
pub mod golden {
    pub use crate::search::{Bound, bound, scored};
}
