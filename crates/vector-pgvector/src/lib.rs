#![doc = include_str!("../README.md")]

mod backend;
mod catalog;
mod config;
mod error;
mod filter;

pub use backend::PgVectorBackend;
pub use config::PgConfig;
