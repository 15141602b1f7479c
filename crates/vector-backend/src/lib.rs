#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
pub mod driver;
mod error;
pub mod filter;
pub mod fusion;
mod redact;
pub mod score;
pub mod synth;
pub mod text;
mod types;
pub mod validate;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;

pub use backend::{DynBackend, OpenBackend, VectorBackend, VectorBackendExt};
pub use error::{BoxError, Error, ErrorKind, Result};
pub use filter::{Filter, FilterValue};
pub use redact::redact_url;
pub use types::{
    Capabilities, FieldType, FilterOp, Fusion, IndexKind, LegHit, Legs, Metadata, Metric,
    NamespaceConfig, NamespaceInfo, QueryMode, QueryRequest, Record, ScanPage, ScanRequest,
    SearchResult, StoredVector,
};

/// Re-exported so backends implement [`VectorBackend`] with the same macro version.
pub use async_trait::async_trait;
