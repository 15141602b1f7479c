//! Running the service: [`Server::bind`] opens the backend and the socket, [`Server::run`]
//! serves until a shutdown signal, then drains requests (within a deadline) and closes the
//! backend.
//!
//! The accept loop is our own, on hyper's HTTP/1 connection, so that hostile or careless
//! clients cannot hold the service: at most `--max-connections` connections are open (more
//! wait in the kernel's listen backlog), at most `--max-tls-handshakes` handshakes run at once
//! and each must finish within [`HANDSHAKE_TIMEOUT`], a client must send a request's headers
//! within `--header-read-timeout-secs` (which also closes idle keep-alive connections), and on
//! shutdown connections get `--shutdown-timeout-secs` to finish before they are closed.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing_subscriber::EnvFilter;
use vector_tier::{VectorBackend as _, VectorBackendFactory};

use crate::args::{LogFormat, ServeArgs};
use crate::auth::{check_distinct, parse_tokens, read_token_file};
use crate::limits::Limits;
use crate::ratelimit::RateLimit;
use crate::routes::router;
use crate::state::{AppConfig, AppState};

/// Default of `--max-connections`.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default of `--max-tls-handshakes`.
pub(crate) const DEFAULT_MAX_TLS_HANDSHAKES: usize = 64;
/// Most bytes buffered per connection while reading a request head.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// A TLS handshake (waiting for a handshake slot included) that takes longer is dropped.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
        // A token source that is configured but yields nothing is a mistake (a Secret with
        // only comments, `VTIER_API_TOKENS=""`): refuse to start rather than serve an open API.
        let mut tokens = Vec::new();
        if let Some(path) = &args.api_tokens_file {
            let found = read_token_file(path).map_err(ServeError::Config)?;
            if found.is_empty() {
                return Err(ServeError::Config(format!(
                    "the API token file {} (--api-tokens-file, VTIER_API_TOKENS_FILE) holds no \
                     token, only blank lines or comments; refusing to start with the API open. \
                     Add NAME:SECRET entries, or remove the setting to run without \
                     authentication",
                    path.display()
                )));
            }
            tokens.extend(found);
        }
        if let Some(list) = &args.api_tokens {
            let found = parse_tokens(list)
                .map_err(|m| ServeError::Config(format!("VTIER_API_TOKENS: {m}")))?;
            if found.is_empty() {
                return Err(ServeError::Config(
                    "VTIER_API_TOKENS (--api-tokens) is set but holds no token; refusing to \
                     start with the API open. Set NAME:SECRET entries, or unset it to run \
                     without authentication"
                        .into(),
                ));
            }
            tokens.extend(found);
        }
        check_distinct(&tokens).map_err(ServeError::Config)?;
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
        let limits = Limits {
            max_batch_keys: positive("--max-batch-keys", args.max_batch_keys)?,
            max_batch_records: positive("--max-batch-records", args.max_batch_records)?,
            max_k: positive("--max-k", args.max_k)?,
            max_scan_page: positive("--max-scan-page", args.max_scan_page)?,
            max_response_bytes: positive("--max-response-bytes", args.max_response_bytes)?,
            max_concurrent_requests: positive(
                "--max-concurrent-requests",
                args.max_concurrent_requests,
            )?,
            max_inflight_body_bytes: positive(
                "--max-inflight-body-bytes",
                args.max_inflight_body_bytes,
            )?,
        };
        config = config.with_limits(limits);
        if args.rate_limit > 0.0 {
            config = config.with_rate_limit(RateLimit {
                per_second: args.rate_limit,
                burst: args.rate_burst,
            });
        }
        Ok(config)
    }
}

fn positive(what: &str, n: usize) -> Result<usize, ServeError> {
    if n == 0 {
        return Err(ServeError::Config(format!("{what} must be at least 1")));
    }
    Ok(n)
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

/// How connections are handled (the socket part of [`ServeArgs`]).
#[derive(Clone, Debug)]
struct ConnSettings {
    max_connections: usize,
    max_tls_handshakes: usize,
    header_read_timeout: Duration,
    shutdown_timeout: Duration,
}

/// A bound, not yet serving, service.
pub struct Server {
    listener: TcpListener,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
    local_addr: SocketAddr,
    state: AppState,
    refresh: Duration,
    conn: ConnSettings,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("state", &self.state)
            .field("conn", &self.conn)
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
        let conn = ConnSettings {
            max_connections: positive("--max-connections", args.max_connections)?,
            max_tls_handshakes: positive("--max-tls-handshakes", args.max_tls_handshakes)?,
            header_read_timeout: seconds(
                "--header-read-timeout-secs",
                args.header_read_timeout_secs,
            )?,
            shutdown_timeout: seconds("--shutdown-timeout-secs", args.shutdown_timeout_secs)?,
        };
        #[cfg(feature = "tls")]
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                Some(crate::tls::acceptor(cert, key).map_err(ServeError::Config)?)
            }
            (None, None) => None,
            _ => {
                return Err(ServeError::Config(
                    "--tls-cert and --tls-key go together".into(),
                ));
            }
        };
        #[cfg(not(feature = "tls"))]
        if args.tls_cert.is_some() || args.tls_key.is_some() {
            return Err(ServeError::Config(
                "TLS was requested but vector-server was built without the `tls` feature".into(),
            ));
        }
        // Flags and their environment variables (clap reads both).
        let backend_config = args.backend_keys.to_config();
        let backend = VectorBackendFactory::create(args.backend, &backend_config)
            .await
            .map_err(|source| ServeError::Backend {
                backend: args.backend.as_str(),
                source,
            })?;
        let state = AppState::new(backend, config);
        let addr = SocketAddr::new(args.bind, args.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Io {
                what: format!("cannot listen on {addr}"),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServeError::Io {
            what: "local address".into(),
            source,
        })?;
        Ok(Self {
            listener,
            #[cfg(feature = "tls")]
            tls,
            local_addr,
            state,
            refresh,
            conn,
        })
    }

    /// The address the socket is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the service speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The router's state (its backend and metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes; then stops accepting, lets running requests finish
    /// within `--shutdown-timeout-secs` (closing the connections still open after it), waits
    /// for writes still running, and closes the backend.
    ///
    /// # Errors
    /// None today; kept for errors of serving.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let tls = self.is_tls();
        let Self {
            listener,
            #[cfg(feature = "tls")]
                tls: acceptor,
            local_addr,
            state,
            refresh,
            conn,
        } = self;
        let backend = state.backend_handle();
        let auth = state.inner.auth.enabled();
        tracing::info!(
            addr = %local_addr,
            backend = backend.backend_type(),
            tls,
            auth,
            "vtier serving"
        );
        if !auth && !local_addr.ip().is_loopback() {
            tracing::warn!(
                addr = %local_addr,
                "no API tokens are configured: every /v1 route is open to whoever reaches this \
                 address; set VTIER_API_TOKENS_FILE or VTIER_API_TOKENS, or bind to 127.0.0.1"
            );
        }
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
        let app = router(state.clone());
        let connections = Arc::new(Semaphore::new(conn.max_connections));
        let handshakes = Arc::new(Semaphore::new(conn.max_tls_handshakes));
        let (closing, closing_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut shutdown = pin!(shutdown);
        loop {
            // Reap finished connections so the set does not grow.
            while tasks.try_join_next().is_some() {}
            let permit = tokio::select! {
                () = &mut shutdown => break,
                p = connections.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (tcp, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let app = app.clone();
            let settings = conn.clone();
            let closing = closing_rx.clone();
            #[cfg(feature = "tls")]
            let acceptor = acceptor.clone();
            let handshakes = handshakes.clone();
            tasks.spawn(async move {
                let _permit = permit;
                #[cfg(feature = "tls")]
                if let Some(acceptor) = acceptor {
                    let handshake = async {
                        let _slot = handshakes.acquire().await.ok()?;
                        acceptor.accept(tcp).await.ok()
                    };
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Some(tls)) => serve_connection(tls, app, &settings, closing).await,
                        Ok(None) => tracing::debug!(%peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                    return;
                }
                let _ = (&handshakes, peer);
                serve_connection(tcp, app, &settings, closing).await;
            });
        }
        // Stop accepting, ask every connection to finish its request and close.
        drop(listener);
        refresher.abort();
        let _ = closing.send(true);
        let deadline = Instant::now() + conn.shutdown_timeout;
        let drained = tokio::time::timeout_at(deadline.into(), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                connections = tasks.len(),
                "connections still busy after the shutdown deadline are closed"
            );
            tasks.abort_all();
        }
        // Writes cut from their requests run on in their own tasks holding a request slot:
        // let them finish (within the deadline) before the backend is closed.
        let all =
            u32::try_from(state.inner.config.limits.max_concurrent_requests).unwrap_or(u32::MAX);
        if tokio::time::timeout_at(deadline.into(), state.inner.requests.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("writes still running after the shutdown deadline");
        }
        backend.close().await;
        tracing::info!("vtier stopped");
        Ok(())
    }
}

/// Serves one connection: HTTP/1.1 with keep-alive, the header-read timeout, and a graceful
/// close once `closing` turns true.
async fn serve_connection<I>(
    io: I,
    app: Router,
    settings: &ConnSettings,
    mut closing: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        // A request head (method, path, headers) must fit in 64 KiB: what an idle or slow
        // connection may make the service buffer.
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    let mut connection = pin!(connection);
    let closing = async move {
        // The guard `wait_for` returns is dropped at once (it is not `Send`).
        let _ = closing.wait_for(|closing| *closing).await.is_ok();
    };
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection closed");
            }
        }
        () = closing => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
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
