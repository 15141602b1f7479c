#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod args;
mod audit;
mod auth;
mod bounded;
mod error;
mod extract;
mod limits;
mod model;
mod ratelimit;
mod routes;
mod serve;
mod state;
pub mod telemetry;
#[cfg(feature = "tls")]
mod tls;

pub use args::{LogFormat, ServeArgs};
pub use audit::AUDIT_TARGET;
pub use auth::{ApiToken, Caller, parse_tokens, read_token_file};
pub use error::ApiError;
pub use limits::Limits;
pub use ratelimit::RateLimit;
pub use routes::docs::document as openapi_document;
pub use routes::router;
pub use serve::{ServeError, Server, init_logging, serve, shutdown_signal};
pub use state::{AppConfig, AppState};
