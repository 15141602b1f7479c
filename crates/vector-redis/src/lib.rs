#![doc = include_str!("../README.md")]

mod backend;
mod catalog;
mod client;
mod config;
mod error;
mod filter;
mod reply;
mod scan;
mod schema;
mod search;
mod text;
mod write;

pub use backend::RedisDriver;
pub use catalog::RedisNamespace;
pub use config::RedisConfig;

/// The Redis Stack backend: a [`vector_backend::VectorBackend`] over a [`RedisDriver`].
/// `RedisBackend::connect(RedisConfig::from_url(url)?)` or `RedisBackend::open(url)` connects
/// and checks that the server has vector search.
pub type RedisBackend = vector_backend::driver::Backend<RedisDriver>;
