#![doc = include_str!("../README.md")]

mod batch;
mod bm25;
mod distance;
mod filter;
mod graphql;
mod objects;
#[cfg(test)]
mod response_tests;
mod rest;
mod schema;
mod server;
mod settings;
mod spec;
mod store;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::server::App;
use crate::settings::{Settings, Version};
use crate::store::Db;

/// The default Weaviate version reported by `/v1/meta` and used for version-dependent rules.
pub const DEFAULT_VERSION: &str = "1.39.0";

/// Environment variable naming the OpenAPI spec file to validate against.
pub const SPEC_ENV: &str = "WEAVIATE_OPENAPI_SPEC";

/// Where the spec is looked for when neither the options nor [`SPEC_ENV`] name a file: the
/// shared reference directory beside the checkout (`../shared/reference/` from the workspace).
pub const DEFAULT_SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/weaviate-openapi-v1.39.0.json"
);

/// Options for [`Emulator::start_with`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EmulatorOptions {
    /// Version string reported by `/v1/meta` (default [`DEFAULT_VERSION`]); it also selects
    /// version-dependent behaviour (e.g. `Not`/`ContainsNone` from 1.33, PUT-missing 404 from 1.37.11).
    pub version: Option<String>,
    /// When set, every endpoint except `/v1/.well-known/*` requires `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// The OpenAPI spec file (default: [`SPEC_ENV`], then [`DEFAULT_SPEC_PATH`]).
    pub spec_path: Option<PathBuf>,
    /// `AUTOSCHEMA_ENABLED` (default true, as in Weaviate).
    pub auto_schema: Option<bool>,
    /// `QUERY_DEFAULTS_LIMIT` (default 10).
    pub query_defaults_limit: Option<usize>,
    /// `QUERY_MAXIMUM_RESULTS` (default 10000).
    pub query_maximum_results: Option<usize>,
}

/// A running emulator; the server stops when this is dropped.
#[derive(Debug)]
pub struct Emulator {
    url: String,
    app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)
}

fn build_app(options: &EmulatorOptions) -> std::io::Result<Arc<App>> {
    let version_string = options
        .version
        .clone()
        .unwrap_or_else(|| DEFAULT_VERSION.to_owned());
    let version = Version::parse(&version_string)
        .ok_or_else(|| invalid(format!("invalid Weaviate version {version_string:?}")))?;
    let spec_path = options
        .spec_path
        .clone()
        .or_else(|| std::env::var_os(SPEC_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SPEC_PATH));
    let spec = spec::Spec::load(&spec_path)?;
    let settings = Settings {
        version,
        version_string,
        auto_schema: options.auto_schema.unwrap_or(true),
        default_limit: options.query_defaults_limit.unwrap_or(10),
        max_results: options.query_maximum_results.unwrap_or(10_000),
    };
    Ok(Arc::new(App {
        db: Mutex::new(Db::default()),
        settings,
        api_key: options.api_key.clone(),
        spec,
        violations: Mutex::new(Vec::new()),
        validated: AtomicUsize::new(0),
        control: server::Control::default(),
    }))
}

async fn serve(
    app: Arc<App>,
) -> std::io::Result<(String, oneshot::Sender<()>, impl Future<Output = ()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = axum::Router::new().fallback(server::handle).with_state(app);
    let (tx, rx) = oneshot::channel::<()>();
    let fut = async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    };
    Ok((url, tx, fut))
}

impl Emulator {
    /// Starts on 127.0.0.1 on a random free port, on the current tokio runtime.
    ///
    /// # Errors
    /// When the port cannot be bound or the spec file exists but is not a Swagger 2.0 JSON file.
    pub async fn start() -> std::io::Result<Emulator> {
        Self::start_with(EmulatorOptions::default()).await
    }

    /// Same, with options (version string reported by /v1/meta, API key required or not, spec
    /// path override, ...).
    ///
    /// # Errors
    /// As [`Emulator::start`], plus an unparsable version string.
    pub async fn start_with(options: EmulatorOptions) -> std::io::Result<Emulator> {
        let app = build_app(&options)?;
        let (url, tx, fut) = serve(app.clone()).await?;
        tokio::spawn(fut);
        Ok(Emulator {
            url,
            app,
            shutdown: Some(tx),
            thread: None,
        })
    }

    /// Starts on a dedicated OS thread with its own tokio runtime, so the server outlives the
    /// caller's runtimes (useful for harnesses that create a runtime per test).
    ///
    /// # Errors
    /// As [`Emulator::start_with`], plus failure to create the thread or runtime.
    pub fn start_in_thread(options: EmulatorOptions) -> std::io::Result<Emulator> {
        let app = build_app(&options)?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let app2 = app.clone();
        let thread = std::thread::Builder::new()
            .name("weaviate-emulator".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match serve(app2).await {
                        Ok((url, tx, fut)) => {
                            let _ = ready_tx.send(Ok((url, tx)));
                            fut.await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let (url, tx) = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("emulator thread exited before starting"))??;
        Ok(Emulator {
            url,
            app,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// "http://127.0.0.1:PORT"
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Every request body that failed validation against the OpenAPI spec so far (empty = all
    /// valid).
    pub fn spec_violations(&self) -> Vec<String> {
        self.app
            .violations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// How many request bodies were validated against the spec (0 when the spec file is absent).
    pub fn validated_requests(&self) -> usize {
        self.app.validated.load(Ordering::Relaxed)
    }

    /// Whether the OpenAPI spec was found and bodies are being validated.
    pub fn spec_loaded(&self) -> bool {
        self.app.spec.is_some()
    }

    /// Holds every request unanswered until [`Emulator::resume`], as a server whose process
    /// was stopped (`kill -STOP`) does: connections are accepted, nothing comes back. Requests
    /// already being handled finish.
    pub fn pause(&self) {
        self.app.control.paused.send_replace(true);
    }

    /// Answers again, the held requests first.
    pub fn resume(&self) {
        self.app.control.paused.send_replace(false);
    }

    /// Answers every request with `status` and `body` (JSON, or an empty body for `None`)
    /// until [`Emulator::heal`]: a proxy's 502/503/504, a 429, a server that is not ready.
    ///
    /// # Errors
    /// When `body` is not JSON.
    pub fn fail_with(&self, status: u16, body: Option<&str>) -> serde_json::Result<()> {
        let body = body.map(serde_json::from_str).transpose()?;
        *self
            .app
            .control
            .fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((status, body));
        Ok(())
    }

    /// Stops [`Emulator::fail_with`]: requests are handled normally again.
    pub fn heal(&self) {
        *self
            .app
            .control
            .fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Keeps the server running for the life of the process (for test harnesses). A server
    /// started with [`Emulator::start`] still lives on the runtime it was started on; use
    /// [`Emulator::start_in_thread`] when that runtime may end first.
    pub fn leak(mut self) -> String {
        if let Some(tx) = self.shutdown.take() {
            std::mem::forget(tx);
        }
        self.thread.take();
        self.url.clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // The thread ends once its server has shut down; not joined, so drop never blocks on
        // clients that keep connections open.
        self.thread.take();
    }
}
