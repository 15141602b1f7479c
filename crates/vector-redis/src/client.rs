//! The connection: one redis-rs `ConnectionManager` (a multiplexed connection that reconnects
//! by itself), created lazily so that opening a backend needs no live server, with every
//! operation bounded by the configured timeout and its errors mapped to [`RedisError`].

use std::fmt;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::RedisConfig;
use crate::error::RedisError;

pub(crate) type RResult<T> = std::result::Result<T, RedisError>;

/// A lazily connecting, self-healing connection to one Redis server.
pub(crate) struct Client {
    config: RedisConfig,
    client: redis::Client,
    manager: OnceLock<ConnectionManager>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `config`; connects on first use.
    pub(crate) fn new(config: RedisConfig) -> vector_backend::Result<Self> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| {
            // redis-rs parse errors name the problem, not the URL; add the redacted URL.
            vector_backend::Error::invalid_argument(format!(
                "invalid Redis URL {}: {e}",
                config.redacted_url()
            ))
        })?;
        Ok(Self {
            config,
            client,
            manager: OnceLock::new(),
        })
    }

    pub(crate) fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The longest any one operation may take before it fails.
    pub(crate) fn deadline(&self) -> Duration {
        self.config
            .response_timeout
            .max(self.config.connect_timeout)
    }

    fn manager(&self) -> RResult<ConnectionManager> {
        if let Some(m) = self.manager.get() {
            return Ok(m.clone());
        }
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.config.connect_timeout))
            .set_response_timeout(Some(self.config.response_timeout))
            // Few, quick reconnect attempts: callers get `Unavailable` fast while the server is
            // down, and the next call after it returns reconnects.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let m = ConnectionManager::new_lazy_with_config(self.client.clone(), cfg)
            .map_err(RedisError::from)?;
        Ok(self.manager.get_or_init(|| m).clone())
    }

    /// Runs `op` on the connection within the deadline.
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> RResult<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.manager()?;
        let deadline = self.deadline();
        match tokio::time::timeout(deadline, op(conn)).await {
            Ok(r) => r.map_err(RedisError::from),
            Err(_) => Err(RedisError::Unavailable(format!(
                "no reply within {deadline:?}"
            ))),
        }
    }

    /// One command.
    pub(crate) async fn cmd<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> RResult<T> {
        self.run(|mut c| async move { cmd.query_async::<T>(&mut c).await })
            .await
    }

    /// One pipeline (atomic when built with `.atomic()`).
    pub(crate) async fn pipe<T: redis::FromRedisValue>(&self, p: &redis::Pipeline) -> RResult<T> {
        self.run(|mut c| async move { p.query_async::<T>(&mut c).await })
            .await
    }
}
