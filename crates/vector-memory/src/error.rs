//! The memory backend's own failures, kept private and converted into
//! `vector_backend::Error` at its boundary.

use vector_backend::{Error, ErrorKind};

/// What only the memory backend can get wrong.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MemoryError {
    #[error(
        "memory backend capacity exceeded: the write needs {needed} {unit} in all, the limit is {limit}"
    )]
    Capacity {
        needed: u64,
        limit: u64,
        unit: &'static str,
    },
}

impl From<MemoryError> for Error {
    fn from(e: MemoryError) -> Self {
        let kind = match e {
            MemoryError::Capacity { .. } => ErrorKind::CapacityExceeded,
        };
        Error::new(kind, e.to_string())
    }
}
