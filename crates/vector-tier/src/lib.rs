#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod factory;

pub use config::{BackendConfig, BackendKind};
pub use factory::{VectorBackendFactory, open, with_vector_backend};
#[doc(inline)]
pub use vector_backend::*;
/// Prometheus metrics for any backend (feature `metrics`).
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use vector_metrics as metrics;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use vector_metrics::create_prometheus_metrics_callback;

/// Declares every backend the facade knows: its cargo feature, module name, crate and type.
/// Adding a backend to the facade is one row here plus its feature in `Cargo.toml`.
macro_rules! backends {
    ($($feature:literal => $module:ident: $krate:ident :: $ty:ident;)*) => {
        $(
            #[cfg(feature = $feature)]
            #[cfg_attr(docsrs, doc(cfg(feature = $feature)))]
            #[doc(inline)]
            pub use $krate as $module;
        )*

        /// Opens the backend whose URL scheme matches, among the enabled features.
        pub(crate) async fn open_by_scheme(scheme: &str, url: &str) -> Option<Result<DynBackend>> {
            $(
                #[cfg(feature = $feature)]
                if <$krate::$ty as OpenBackend>::SCHEMES.contains(&scheme) {
                    return Some(
                        <$krate::$ty as OpenBackend>::open(url)
                            .await
                            .map(|b| std::sync::Arc::new(b) as DynBackend),
                    );
                }
            )*
            let _ = (scheme, url);
            None
        }

        /// The backends compiled into this build, by name.
        pub fn enabled_backends() -> Vec<&'static str> {
            vec![$(
                #[cfg(feature = $feature)]
                <$krate::$ty as OpenBackend>::NAME,
            )*]
        }
    };
}

backends! {
    "memory" => memory: vector_memory::MemoryBackend;
    "pgvector" => pgvector: vector_pgvector::PgVectorBackend;
    "redis" => redis: vector_redis::RedisBackend;
    "weaviate" => weaviate: vector_weaviate::WeaviateBackend;
}
