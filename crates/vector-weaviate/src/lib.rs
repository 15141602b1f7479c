#![doc = include_str!("../README.md")]

mod backend;
mod client;
mod config;
mod distance;
mod error;
mod filter;
mod schema;

pub use backend::WeaviateBackend;
pub use config::{API_KEY_ENV, WeaviateConfig};

/// Conversions the golden tests check against Weaviate's documented numbers; not a stable API.
#[doc(hidden)]
pub mod golden {
    pub use crate::distance::{Bound, bound, scored};
}
