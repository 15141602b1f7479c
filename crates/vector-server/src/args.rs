//! [`ServeArgs`]: every setting of `vtier serve`, as flags or the design document's
//! environment variables (`PORT`, `BACKEND_TYPE`, and each backend's keys from the registry:
//! `REDIS_URL`, `WEAVIATE_URL`, `PG_CONNECTION_STRING`, ...) and `VTIER_*` ones.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use std::collections::BTreeMap;

use vector_tier::driver::ConfigKey;
use vector_tier::{BackendConfig, BackendKind, redact_url};

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Settings of the HTTP service.
#[derive(Clone, clap::Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// TCP port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// Address to bind. Without API tokens the service warns at startup when this is not a
    /// loopback address: the API is then open to whoever reaches the port.
    #[arg(long, env = "VTIER_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Backend: memory, redis, weaviate or pgvector.
    #[arg(long, env = "BACKEND_TYPE", default_value = "memory")]
    pub backend: BackendKind,

    /// Every compiled-in backend's configuration keys (`--redis-url` / `REDIS_URL`, ...).
    #[command(flatten)]
    pub backend_keys: BackendKeys,

    /// File of API tokens: `NAME:SECRET` entries separated by line breaks, spaces or `,`; a
    /// line starting with `#` is a comment. NAME is 1..=64 of [A-Za-z0-9_.-] (the audit log's
    /// `who`); SECRET is everything after the first `:`, any characters but whitespace and
    /// `,`. A file without any entry is an error (the service refuses to start open). Without
    /// this and --api-tokens the API needs no authentication.
    #[arg(long, env = "VTIER_API_TOKENS_FILE")]
    pub api_tokens_file: Option<PathBuf>,

    /// API tokens, `NAME:SECRET` entries separated by `,` or whitespace (added to the file's).
    /// Set but empty is an error.
    #[arg(long, env = "VTIER_API_TOKENS", hide_env_values = true)]
    pub api_tokens: Option<String>,

    /// Requests per second allowed per token (per client when auth is off); 0 disables.
    #[arg(long, env = "VTIER_RATE_LIMIT", default_value_t = 0.0)]
    pub rate_limit: f64,

    /// Burst size of the rate limit (requests allowed at once).
    #[arg(long, env = "VTIER_RATE_BURST", default_value_t = 50)]
    pub rate_burst: u32,

    /// TLS certificate chain (PEM); with --tls-key serves HTTPS.
    #[arg(long, env = "VTIER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(long, env = "VTIER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "VTIER_MAX_BODY_BYTES", default_value_t = crate::limits::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Seconds a request may take before it is answered with 503 (waiting for admission
    /// included). A write that reached the backend still finishes, and is audited.
    #[arg(long, env = "VTIER_REQUEST_TIMEOUT_SECS", default_value_t = 30.0)]
    pub request_timeout_secs: f64,

    /// Most keys of one `vectors:get` or `vectors:delete`.
    #[arg(long, env = "VTIER_MAX_BATCH_KEYS", default_value_t = crate::limits::DEFAULT_MAX_BATCH_KEYS)]
    pub max_batch_keys: usize,

    /// Most records of one `vectors:upsert`.
    #[arg(long, env = "VTIER_MAX_BATCH_RECORDS", default_value_t = crate::limits::DEFAULT_MAX_BATCH_RECORDS)]
    pub max_batch_records: usize,

    /// Largest `k` of a query.
    #[arg(long, env = "VTIER_MAX_K", default_value_t = crate::limits::DEFAULT_MAX_K)]
    pub max_k: usize,

    /// Largest scan page (and the page size when a scan gives none).
    #[arg(long, env = "VTIER_MAX_SCAN_PAGE", default_value_t = crate::limits::DEFAULT_MAX_SCAN_PAGE)]
    pub max_scan_page: usize,

    /// Most bytes of one answer (query with embeddings, scan page, batch get).
    #[arg(long, env = "VTIER_MAX_RESPONSE_BYTES", default_value_t = crate::limits::DEFAULT_MAX_RESPONSE_BYTES)]
    pub max_response_bytes: usize,

    /// Most /v1 requests handled at once; more wait, within the request timeout.
    #[arg(long, env = "VTIER_MAX_CONCURRENT_REQUESTS", default_value_t = crate::limits::DEFAULT_MAX_CONCURRENT_REQUESTS)]
    pub max_concurrent_requests: usize,

    /// Most request-body bytes handled at once; more wait, within the request timeout.
    #[arg(long, env = "VTIER_MAX_INFLIGHT_BODY_BYTES", default_value_t = crate::limits::DEFAULT_MAX_INFLIGHT_BODY_BYTES)]
    pub max_inflight_body_bytes: usize,

    /// Most open client connections; more wait in the listen backlog.
    #[arg(long, env = "VTIER_MAX_CONNECTIONS", default_value_t = crate::serve::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Most TLS handshakes in progress at once.
    #[arg(long, env = "VTIER_MAX_TLS_HANDSHAKES", default_value_t = crate::serve::DEFAULT_MAX_TLS_HANDSHAKES)]
    pub max_tls_handshakes: usize,

    /// Seconds a client may take to send a request's headers, and an idle keep-alive
    /// connection may wait for its next request, before the connection is closed.
    #[arg(long, env = "VTIER_HEADER_READ_TIMEOUT_SECS", default_value_t = 10.0)]
    pub header_read_timeout_secs: f64,

    /// Seconds running requests get to finish after SIGTERM before connections are closed.
    #[arg(long, env = "VTIER_SHUTDOWN_TIMEOUT_SECS", default_value_t = 20.0)]
    pub shutdown_timeout_secs: f64,

    /// Seconds between refreshes of the namespace gauges from the backend (in the background;
    /// a scrape never calls the backend).
    #[arg(long, env = "VTIER_METRICS_REFRESH_SECS", default_value_t = 15.0)]
    pub metrics_refresh_secs: f64,

    /// Most namespaces that get their own `namespace` metric label (the rest: `__other__`).
    #[arg(long, env = "VTIER_METRICS_MAX_NAMESPACES", default_value_t = 100)]
    pub metrics_max_namespaces: usize,

    /// Log format.
    #[arg(long, env = "VTIER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter (tracing EnvFilter syntax); `RUST_LOG` is used when unset.
    #[arg(long, env = "VTIER_LOG")]
    pub log: Option<String>,

    /// OpenTelemetry collector to export spans to with OTLP over HTTP, e.g.
    /// http://collector:4318 (`/v1/traces` is appended). Off when unset.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// The configuration keys of every compiled-in backend, as flags and environment variables:
/// derived from the backend registry (`vector_tier::registry`), so a backend added there gets
/// its `--flag` and variable here without a line of this crate changing.
#[derive(Clone, Default)]
pub struct BackendKeys {
    values: BTreeMap<&'static str, String>,
}

impl BackendKeys {
    /// Sets a key (`redis_url`, ...).
    pub fn set(&mut self, key: &'static str, value: impl Into<String>) {
        self.values.insert(key, value.into());
    }

    /// Removes a key.
    pub fn unset(&mut self, key: &str) {
        self.values.remove(key);
    }

    /// The keys as the facade's config.
    pub fn to_config(&self) -> BackendConfig {
        self.values
            .iter()
            .fold(BackendConfig::default(), |c, (k, v)| c.set(k, v.clone()))
    }

    fn keys() -> impl Iterator<Item = &'static ConfigKey> {
        vector_tier::registry().iter().flat_map(|e| e.config_keys)
    }
}

impl fmt::Debug for BackendKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_config(), f)
    }
}

impl clap::FromArgMatches for BackendKeys {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut keys = Self::default();
        keys.update_from_arg_matches(matches)?;
        Ok(keys)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for key in Self::keys() {
            if let Some(v) = matches.get_one::<String>(key.name) {
                self.values.insert(key.name, v.clone());
            }
        }
        Ok(())
    }
}

impl clap::Args for BackendKeys {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for key in Self::keys() {
            cmd = cmd.arg(
                clap::Arg::new(key.name)
                    .long(key.flag())
                    .env(key.env())
                    .hide_env_values(key.secret)
                    .value_name("VALUE")
                    .help(key.help),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            port: 8000,
            bind: IpAddr::from([0, 0, 0, 0]),
            backend: BackendKind::Memory,
            backend_keys: BackendKeys::default(),
            api_tokens_file: None,
            api_tokens: None,
            rate_limit: 0.0,
            rate_burst: 50,
            tls_cert: None,
            tls_key: None,
            max_body_bytes: crate::limits::DEFAULT_MAX_BODY_BYTES,
            request_timeout_secs: 30.0,
            max_batch_keys: crate::limits::DEFAULT_MAX_BATCH_KEYS,
            max_batch_records: crate::limits::DEFAULT_MAX_BATCH_RECORDS,
            max_k: crate::limits::DEFAULT_MAX_K,
            max_scan_page: crate::limits::DEFAULT_MAX_SCAN_PAGE,
            max_response_bytes: crate::limits::DEFAULT_MAX_RESPONSE_BYTES,
            max_concurrent_requests: crate::limits::DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_inflight_body_bytes: crate::limits::DEFAULT_MAX_INFLIGHT_BODY_BYTES,
            max_connections: crate::serve::DEFAULT_MAX_CONNECTIONS,
            max_tls_handshakes: crate::serve::DEFAULT_MAX_TLS_HANDSHAKES,
            header_read_timeout_secs: 10.0,
            shutdown_timeout_secs: 20.0,
            metrics_refresh_secs: 15.0,
            metrics_max_namespaces: 100,
            log_format: LogFormat::Text,
            log: None,
            otlp_endpoint: None,
        }
    }
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeArgs")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("backend", &self.backend)
            .field("backend_keys", &self.backend_keys)
            .field("api_tokens_file", &self.api_tokens_file)
            .field("api_tokens", &self.api_tokens.as_ref().map(|_| "***"))
            .field("rate_limit", &self.rate_limit)
            .field("rate_burst", &self.rate_burst)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("max_batch_keys", &self.max_batch_keys)
            .field("max_batch_records", &self.max_batch_records)
            .field("max_k", &self.max_k)
            .field("max_scan_page", &self.max_scan_page)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("max_inflight_body_bytes", &self.max_inflight_body_bytes)
            .field("max_connections", &self.max_connections)
            .field("max_tls_handshakes", &self.max_tls_handshakes)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("shutdown_timeout_secs", &self.shutdown_timeout_secs)
            .field("metrics_refresh_secs", &self.metrics_refresh_secs)
            .field("metrics_max_namespaces", &self.metrics_max_namespaces)
            .field("log_format", &self.log_format)
            .field("log", &self.log)
            .field(
                "otlp_endpoint",
                &self.otlp_endpoint.as_deref().map(redact_url),
            )
            .finish()
    }
}
