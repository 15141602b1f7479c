#![doc = include_str!("../README.md")]

mod backend;
mod client;
mod config;
mod error;
mod filter;
mod schema;

pub use backend::RedisBackend;
pub use config::RedisConfig;
