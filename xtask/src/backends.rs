//! The backends the xtask knows: their crate, the variable that points the suite at a live
//! server, and how to start one. Adding a backend is one row here (and its crate).

use crate::servers::{self, Server};

/// One backend.
pub(crate) struct Backend {
    /// `OpenBackend::NAME`.
    pub(crate) name: &'static str,
    /// Its crate, which has a `tests/conformance.rs` target.
    pub(crate) package: &'static str,
    /// The variable the conformance harness reads (empty: needs no server).
    pub(crate) url_env: &'static str,
    /// Starts a server for it when `url_env` is unset; `None` when the crate's own test target
    /// provides one (the memory backend, the Weaviate emulator).
    pub(crate) start: Option<fn() -> anyhow::Result<Server>>,
}

/// Every backend, in the order CI runs them.
pub(crate) const BACKENDS: &[Backend] = &[
    Backend {
        name: "memory",
        package: "vector-memory",
        url_env: "",
        start: None,
    },
    Backend {
        name: "redis",
        package: "vector-redis",
        url_env: "REDIS_URL",
        start: Some(servers::redis::start),
    },
    Backend {
        name: "pgvector",
        package: "vector-pgvector",
        url_env: "PG_CONNECTION_STRING",
        start: Some(servers::postgres::start),
    },
    Backend {
        name: "weaviate",
        package: "vector-weaviate",
        url_env: "WEAVIATE_URL",
        start: None,
    },
];

impl Backend {
    /// Whether the backend's crate exists in this checkout (rows may precede their crates).
    pub(crate) fn exists(&self) -> bool {
        crate::util::root()
            .join("crates")
            .join(self.package)
            .join("Cargo.toml")
            .exists()
    }
}

/// The backends named (all when empty), failing on an unknown or absent name.
pub(crate) fn select(names: &[String]) -> anyhow::Result<Vec<&'static Backend>> {
    if names.is_empty() {
        return Ok(BACKENDS.iter().filter(|b| b.exists()).collect());
    }
    names
        .iter()
        .map(|n| {
            let b = BACKENDS.iter().find(|b| b.name == n).ok_or_else(|| {
                let known: Vec<_> = BACKENDS.iter().map(|b| b.name).collect();
                anyhow::anyhow!("unknown backend {n:?}; known: {known:?}")
            })?;
            anyhow::ensure!(
                b.exists(),
                "backend {n:?} has no crate ({}) in this checkout",
                b.package
            );
            Ok(b)
        })
        .collect()
}
