//! The connection: one redis-rs `ConnectionManager` (a multiplexed connection that reconnects
//! by itself), with every call bounded by the operation timeout and its errors classified by
//! [`RedisError::from_client`].

use std::fmt;
use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, Pipeline, RedisResult, ScriptInvocation, Value};

use crate::config::RedisConfig;
use crate::error::RedisError;

pub(crate) type RResult<T> = std::result::Result<T, RedisError>;

/// A self-healing connection to one Redis server.
#[derive(Clone)]
pub(crate) struct Client {
    config: RedisConfig,
    manager: ConnectionManager,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to the server `config` names, within its timeout.
    ///
    /// # Errors
    /// `InvalidArgument` when redis-rs rejects the URL; `Unavailable` or `Timeout`.
    pub(crate) async fn connect(config: RedisConfig) -> vector_backend::Result<Self> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| {
            // redis-rs parse errors name the problem, not the URL; add the redacted URL.
            vector_backend::Error::invalid_argument(format!(
                "invalid Redis URL {}",
                config.redacted_url()
            ))
            .with_source(e)
        })?;
        let limit = config.timeout;
        let settings = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(limit))
            // Replies are bounded per call by `bounded` instead, so that a bulk write can give
            // its chunks the time they may spend queued behind each other.
            .set_response_timeout(None)
            // Few, quick reconnect attempts: callers get `Unavailable` fast while the server is
            // down, and the first call after it is back reconnects at once.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(250));
        let manager = bounded(limit, ConnectionManager::new_with_config(client, settings)).await?;
        Ok(Self { config, manager })
    }

    /// The operation timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// Whether the server answers and has RediSearch with vector fields (`MODULE LIST`).
    pub(crate) async fn has_vector_search(&self) -> RResult<bool> {
        let modules: Value = self.cmd(redis::cmd("MODULE").arg("LIST")).await?;
        Ok(crate::reply::search_module_has_vectors(&modules))
    }

    /// The server's RediSearch version (`MODULE LIST`), `None` without RediSearch.
    pub(crate) async fn search_version(&self) -> RResult<Option<i64>> {
        let modules: Value = self.cmd(redis::cmd("MODULE").arg("LIST")).await?;
        Ok(crate::reply::search_module_version(&modules))
    }

    /// One reply of a [`Client::pipe`], its error classified.
    pub(crate) fn classify<T>(&self, reply: RedisResult<T>) -> RResult<T> {
        reply.map_err(|e| RedisError::from_client(e, self.timeout()))
    }

    /// One command.
    pub(crate) async fn cmd<T: FromRedisValue>(&self, cmd: &Cmd) -> RResult<T> {
        let mut conn = self.manager.clone();
        bounded(
            self.timeout(),
            async move { cmd.query_async(&mut conn).await },
        )
        .await
    }

    /// One script: `EVALSHA`, loading the script first when the server does not know it
    /// (after a restart or `SCRIPT FLUSH`); a script that was not found did not run, so
    /// sending it again is safe.
    pub(crate) async fn script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> RResult<T> {
        self.script_within(self.timeout(), invocation).await
    }

    /// [`Client::script`] with another time limit.
    pub(crate) async fn script_within<T: FromRedisValue>(
        &self,
        limit: Duration,
        invocation: &ScriptInvocation<'_>,
    ) -> RResult<T> {
        let mut conn = self.manager.clone();
        bounded(
            limit,
            async move { invocation.invoke_async(&mut conn).await },
        )
        .await
    }

    /// A pipeline (not a transaction): every command's own result, in order. The pipeline
    /// itself fails only when the connection does.
    pub(crate) async fn pipe(&self, mut p: Pipeline) -> RResult<Vec<RedisResult<Value>>> {
        p.ignore_errors();
        let mut conn = self.manager.clone();
        bounded(
            self.timeout(),
            async move { p.query_async(&mut conn).await },
        )
        .await
    }
}

/// Runs a redis-rs call within `limit`, classifying its error. redis-rs has timeouts of its
/// own for connecting and for each reply, but a call may also wait for a reconnection or load
/// a script first: this bounds the whole.
async fn bounded<T>(limit: Duration, call: impl Future<Output = RedisResult<T>>) -> RResult<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(r) => r.map_err(|e| RedisError::from_client(e, limit)),
        Err(_) => Err(RedisError::Timeout {
            limit,
            source: None,
        }),
    }
}
