#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod factory;
mod registry;

pub use config::BackendConfig;
pub use factory::{VectorBackendFactory, open, with_vector_backend};
pub use registry::BackendEntry;
#[doc(inline)]
pub use vector_backend::*;
/// Prometheus metrics for any backend (feature `metrics`).
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use vector_metrics as metrics;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use vector_metrics::create_prometheus_metrics_callback;

/// THE list of backends. Each row: the [`BackendKind`] variant, the backend's name (also its
/// cargo feature and `BACKEND_TYPE` value), the module it is re-exported as, and its driver.
/// Everything else (URL dispatch, the factory, [`BackendConfig`]'s keys and environment
/// variables, the service's flags, `vtier bench --all-configured`) is derived from the driver's
/// [`driver::Connect`] implementation. Adding a backend is one row here plus its feature in
/// `Cargo.toml` (see `docs/adding-a-backend.md`; a tidy test checks the wiring).
macro_rules! backends {
    ($($kind:ident $name:literal $module:ident => $krate:ident :: $driver:ident;)*) => {
        $(
            #[cfg(feature = $name)]
            #[cfg_attr(docsrs, doc(cfg(feature = $name)))]
            #[doc(inline)]
            pub use $krate as $module;
        )*

        /// Which backend to open.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum BackendKind {
            $(
                #[doc = concat!("The `", $name, "` backend (cargo feature `", $name, "`).")]
                $kind,
            )*
        }

        /// The first row: the in-memory backend.
        impl Default for BackendKind {
            fn default() -> Self {
                Self::ALL[0]
            }
        }

        impl BackendKind {
            /// Every kind, compiled in or not.
            pub const ALL: &'static [BackendKind] = &[$(Self::$kind,)*];

            /// The name used by `BACKEND_TYPE`, metric labels and `backend_type()`.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$kind => $name,)*
                }
            }
        }

        /// Every backend compiled into this build, in the order of the list.
        pub fn registry() -> &'static [BackendEntry] {
            static ENTRIES: std::sync::OnceLock<Vec<BackendEntry>> = std::sync::OnceLock::new();
            ENTRIES.get_or_init(|| {
                vec![$(
                    #[cfg(feature = $name)]
                    BackendEntry::of::<$krate::$driver>(BackendKind::$kind),
                )*]
            })
        }
    };
}
backends! {
    Memory "memory" memory => vector_memory::MemoryDriver;
    Redis "redis" redis => vector_redis::RedisDriver;
    Weaviate "weaviate" weaviate => vector_weaviate::WeaviateDriver;
    Pgvector "pgvector" pgvector => vector_pgvector::PgDriver;
}
