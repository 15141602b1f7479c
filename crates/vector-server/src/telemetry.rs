//! OpenTelemetry trace export (feature `otlp`, off at run time unless an endpoint is given):
//! the spans of the metrics wrapper (one per backend operation: its name, `backend`,
//! `namespace`, `outcome`; never keys, vectors or secrets) are sent with OTLP over HTTP
//! (protobuf) to `--otlp-endpoint` / `OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. an OpenTelemetry
//! Collector on `http://collector:4318`. The service name is `OTEL_SERVICE_NAME`, else `vtier`.

use std::sync::Mutex;

use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The exporter pipeline of an installed layer; [`TracingGuard::shutdown`] flushes it.
#[must_use = "dropping the guard does not flush; call shutdown() before exiting"]
pub struct TracingGuard {
    #[cfg(feature = "otlp")]
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

impl std::fmt::Debug for TracingGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TracingGuard(..)")
    }
}

impl TracingGuard {
    /// Exports the spans still queued and stops the exporter.
    pub fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "OpenTelemetry exporter shutdown");
        }
    }
}

/// The OTLP/HTTP traces URL of a collector endpoint: `/v1/traces` is appended unless present.
pub fn traces_url(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    if e.ends_with("/v1/traces") {
        e.to_owned()
    } else {
        format!("{e}/v1/traces")
    }
}

/// A `tracing` layer exporting spans to the OTLP/HTTP collector at `endpoint`, and the guard
/// that flushes it.
///
/// # Errors
/// A message when the exporter cannot be built (a bad URL), or when the crate was built
/// without the `otlp` feature.
pub fn otlp_layer<S>(
    endpoint: &str,
) -> Result<(Box<dyn Layer<S> + Send + Sync>, TracingGuard), String>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    #[cfg(feature = "otlp")]
    {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_otlp::WithExportConfig as _;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(traces_url(endpoint))
            .build()
            .map_err(|e| format!("OTLP exporter for {endpoint}: {e}"))?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("vtier");
        }
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer("vector-tier");
        let layer = tracing_opentelemetry::layer().with_tracer(tracer);
        Ok((Box::new(layer), TracingGuard { provider }))
    }
    #[cfg(not(feature = "otlp"))]
    {
        Err(format!(
            "an OTLP endpoint ({endpoint}) was given but vector-server was built without the `otlp` feature"
        ))
    }
}

/// The guard of the layer [`crate::init_logging`] installed, flushed when `serve` ends.
pub(crate) static INSTALLED: Mutex<Option<TracingGuard>> = Mutex::new(None);

/// Flushes and stops the exporter installed by [`crate::init_logging`], if any.
pub(crate) fn shutdown_installed() {
    let guard = INSTALLED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(g) = guard {
        g.shutdown();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn traces_url() {
        assert_eq!(
            super::traces_url("http://c:4318"),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            super::traces_url("http://c:4318/"),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            super::traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
