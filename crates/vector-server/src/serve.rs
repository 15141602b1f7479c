//! Running the service: [`Server::bind`] opens the backend and the socket, [`Server::run`]
//! serves until a shutdown signal, then drains requests and closes the backend.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use vector_tier::{BackendConfig, VectorBackend as _, VectorBackendFactory};

use crate::args::{LogFormat, ServeArgs};
use crate::auth::{parse_tokens, read_token_file};
use crate::ratelimit::RateLimit;
use crate::routes::router;
use crate::state::{AppConfig, AppState};

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A setting is invalid (bad token file, TLS files, numbers).
    #[error("configuration: {0}")]
    Config(String),
    /// The backend could not be opened.
    #[error("cannot open the {backend} backend: {source}")]
    Backend {
        /// `BACKEND_TYPE`.
        backend: &'static str,
        /// The backend's error (without passwords).
        #[source]
        source: vector_tier::Error,
    },
    /// Binding or serving the socket failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn seconds(what: &str, secs: f64) -> Result<Duration, ServeError> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| ServeError::Config(format!("{what} must be a positive number of seconds")))
}

impl AppConfig {
    /// The router settings of `args`, reading the token file.
    ///
    /// # Errors
    /// `Config` for an unreadable token file, a bad token entry or a bad duration.
    pub fn from_args(args: &ServeArgs) -> Result<Self, ServeError> {
        let mut tokens = Vec::new();
        if let Some(path) = &args.api_tokens_file {
            tokens.extend(read_token_file(path).map_err(ServeError::Config)?);
        }
        if let Some(list) = &args.api_tokens {
            tokens.extend(
                parse_tokens(list)
                    .map_err(|m| ServeError::Config(format!("VTIER_API_TOKENS: {m}")))?,
            );
        }
        if !(args.rate_limit >= 0.0 && args.rate_limit.is_finite()) {
            return Err(ServeError::Config(
                "--rate-limit must be a non-negative number".into(),
            ));
        }
        let mut config = AppConfig::default()
            .with_tokens(tokens)
            .with_request_timeout(seconds(
                "--request-timeout-secs",
                args.request_timeout_secs,
            )?)
            .with_max_body_bytes(args.max_body_bytes);
        config.metrics_max_namespaces = args.metrics_max_namespaces;
        if args.rate_limit > 0.0 {
            config = config.with_rate_limit(RateLimit {
                per_second: args.rate_limit,
                burst: args.rate_burst,
            });
        }
        Ok(config)
    }
}

/// Installs the global log subscriber: `--log` or `RUST_LOG` (default `info`), text or JSON,
/// on stderr; plus OpenTelemetry trace export when `--otlp-endpoint` is set (see
/// [`crate::telemetry`]). Does nothing when one is already installed (tests, embedding
/// applications).
pub fn init_logging(args: &ServeArgs) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = match &args.log {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    // Colours only on a terminal: escape codes in files and log collectors are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let mut layers = vec![match args.log_format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    }];
    let mut guard = None;
    let mut otlp_error = None;
    if let Some(endpoint) = args.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) {
        match crate::telemetry::otlp_layer(endpoint) {
            Ok((layer, g)) => {
                layers.push(layer);
                guard = Some(g);
            }
            Err(e) => otlp_error = Some(e),
        }
    }
    let installed = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init()
        .is_ok();
    if let Some(e) = otlp_error {
        tracing::error!(error = %e, "OpenTelemetry export disabled");
    }
    if let Some(g) = guard {
        if installed {
            tracing::info!(
                endpoint = %crate::telemetry::traces_url(args.otlp_endpoint.as_deref().unwrap_or_default()),
                "exporting spans with OTLP"
            );
            *crate::telemetry::INSTALLED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(g);
        } else {
            g.shutdown();
        }
    }
}

enum Listener {
    Plain(TcpListener),
    #[cfg(feature = "tls")]
    Tls(crate::tls::TlsListener),
}

/// A bound, not yet serving, service.
pub struct Server {
    listener: Listener,
    local_addr: SocketAddr,
    state: AppState,
    refresh: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the backend (wrapped for metrics) and binds the socket.
    ///
    /// # Errors
    /// `Config`, `Backend` or `Io` (address in use).
    pub async fn bind(args: &ServeArgs) -> Result<Self, ServeError> {
        let config = AppConfig::from_args(args)?;
        let refresh = seconds("--metrics-refresh-secs", args.metrics_refresh_secs)?;
        let mut backend_config = BackendConfig::from_env();
        backend_config.redis_url.clone_from(&args.redis_url);
        backend_config.weaviate_url.clone_from(&args.weaviate_url);
        backend_config
            .weaviate_api_key
            .clone_from(&args.weaviate_api_key);
        backend_config
            .pg_connection_string
            .clone_from(&args.pg_connection_string);
        let backend = VectorBackendFactory::create(args.backend, &backend_config)
            .await
            .map_err(|source| ServeError::Backend {
                backend: args.backend.as_str(),
                source,
            })?;
        let state = AppState::new(backend, config);
        let addr = SocketAddr::new(args.bind, args.port);
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Io {
                what: format!("cannot listen on {addr}"),
                source,
            })?;
        let local_addr = tcp.local_addr().map_err(|source| ServeError::Io {
            what: "local address".into(),
            source,
        })?;
        let listener = match (&args.tls_cert, &args.tls_key) {
            #[cfg(feature = "tls")]
            (Some(cert), Some(key)) => {
                let acceptor = crate::tls::acceptor(cert, key).map_err(ServeError::Config)?;
                let tls = crate::tls::TlsListener::new(tcp, acceptor).map_err(|source| {
                    ServeError::Io {
                        what: "TLS listener".into(),
                        source,
                    }
                })?;
                Listener::Tls(tls)
            }
            #[cfg(not(feature = "tls"))]
            (Some(_), Some(_)) => {
                return Err(ServeError::Config(
                    "TLS was requested but vector-server was built without the `tls` feature"
                        .into(),
                ));
            }
            (None, None) => Listener::Plain(tcp),
            _ => {
                return Err(ServeError::Config(
                    "--tls-cert and --tls-key go together".into(),
                ));
            }
        };
        Ok(Self {
            listener,
            local_addr,
            state,
            refresh,
        })
    }

    /// The address the socket is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the service speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        !matches!(self.listener, Listener::Plain(_))
    }

    /// The router's state (its backend and metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, lets running requests finish, closes the backend.
    ///
    /// # Errors
    /// `Io` when serving fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Self {
            listener,
            local_addr,
            state,
            refresh,
        } = self;
        let backend = state.backend_handle();
        tracing::info!(
            addr = %local_addr,
            backend = backend.backend_type(),
            tls = !matches!(listener, Listener::Plain(_)),
            auth = state.inner.auth.enabled(),
            "vtier serving"
        );
        let refresher = tokio::spawn({
            let state = state.clone();
            async move {
                let mut tick = tokio::time::interval(refresh);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    match tokio::time::timeout(refresh, state.refresh_gauges()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::warn!(error = %e, "metrics gauge refresh failed"),
                        Err(_) => tracing::warn!("metrics gauge refresh timed out"),
                    }
                }
            }
        });
        let app = router(state);
        let result = match listener {
            Listener::Plain(tcp) => axum::serve(tcp, app).with_graceful_shutdown(shutdown).await,
            #[cfg(feature = "tls")]
            Listener::Tls(tls) => axum::serve(tls, app).with_graceful_shutdown(shutdown).await,
        };
        refresher.abort();
        backend.close().await;
        tracing::info!("vtier stopped");
        result.map_err(|source| ServeError::Io {
            what: "serving".into(),
            source,
        })
    }
}

/// Completes on Ctrl-C or SIGTERM (what Kubernetes and `docker stop` send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining requests");
}

/// Runs the service with `args` until Ctrl-C or SIGTERM: `vtier serve`.
///
/// # Errors
/// See [`ServeError`].
pub async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    init_logging(&args);
    tracing::debug!(?args, "starting");
    let result = match Server::bind(&args).await {
        Ok(server) => server.run(shutdown_signal()).await,
        Err(e) => Err(e),
    };
    crate::telemetry::shutdown_installed();
    result
}
