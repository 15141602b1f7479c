#![doc = include_str!("../README.md")]

mod backend;
mod config;
mod error;
mod kernel;
mod namespace;

pub use backend::MemoryBackend;
pub use config::MemoryConfig;
