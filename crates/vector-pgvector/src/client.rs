//! The connection pool, the deadline of every operation, the bounded statement cache and the
//! in-order pipeline.
//!
//! Every operation runs through [`Client::run`]: a pooled connection is checked out and the
//! operation's statements run on it, all within one client-side deadline (the budget plus a
//! tenth, at most a second). The server enforces the budget per statement
//! (`statement_timeout`, set on every connection), which on a live server fires first and
//! leaves the connection usable; the client-side deadline is what ends a call to a server that
//! does not answer at all (stopped, black-holed). A connection
//! whose operation was cut mid-statement, or that failed without an answer from the server, is
//! taken out of the pool and closed instead of being returned: its next user would otherwise
//! queue behind a statement the server may still be running.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures_util::future::{MaybeDone, maybe_done};
use futures_util::{TryStreamExt as _, pin_mut};
use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, Statement};
use vector_backend::{Error, Result};

use crate::config::PgConfig;
use crate::error::PgError;
use crate::filter::SqlBuilder;

/// Named prepared statements kept per connection. Only statements whose text is fixed for a
/// table are prepared (filtered statements run unnamed, see [`Conn::prepare`]), but tables
/// come and go, so the cache is emptied when it reaches this size: the server never holds more
/// than this many statements per connection, and a dropped table's statements do not live on.
pub(crate) const MAX_PREPARED: usize = 64;

/// The pool and what every operation needs to talk to the server.
#[derive(Clone)]
pub(crate) struct Client {
    pool: Pool,
    timeout: Duration,
    /// The `vector` type, whose OID differs per database: learned at connect.
    vector: Type,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the pool and checks, within the timeout, that a connection can be made; `setup`
    /// then runs on it (extension and catalog).
    pub(crate) async fn connect(
        config: &PgConfig,
        setup: impl AsyncFnOnce(&mut Conn) -> Result<(), PgError>,
    ) -> Result<Self> {
        let manager = Manager::from_config(
            config.connection(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let t = Some(config.timeout);
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(t)
            .create_timeout(t)
            .recycle_timeout(t)
            .build()
            .map_err(|e| {
                Error::invalid_argument("cannot build the PostgreSQL pool").with_source(e)
            })?;
        let mut client = Self {
            pool,
            timeout: config.timeout,
            vector: Type::TEXT,
        };
        client.vector = client
            .run(config.timeout, "connect", async |c| {
                setup(c).await?;
                let stmt = c.prepare("SELECT $1::vector").await?;
                stmt.params()
                    .first()
                    .cloned()
                    .ok_or_else(|| PgError::Corrupt("no vector type".into()))
            })
            .await?;
        Ok(client)
    }

    /// The operation timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The `vector` type of this database.
    pub(crate) fn vector_type(&self) -> &Type {
        &self.vector
    }

    /// The pool (test diagnostics only).
    #[cfg(feature = "test-support")]
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Closes the pool; later operations fail with `Unavailable`.
    pub(crate) fn close(&self) {
        self.pool.close();
    }

    /// Runs `op` on a pooled connection within `budget` (checkout included); `what` names it
    /// in a timeout error.
    ///
    /// # Errors
    /// `PgError::Deadline` when the budget runs out, or `op`'s own error.
    pub(crate) async fn run<T>(
        &self,
        budget: Duration,
        what: &'static str,
        op: impl AsyncFnOnce(&mut Conn) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        let attempt = async {
            let mut conn = Conn::new(self.pool.get().await?);
            let out = op(&mut conn).await;
            conn.keep = match &out {
                Ok(_) => true,
                Err(e) => e.server_answered(),
            };
            out
        };
        // A little past the server's own statement_timeout, so that a live but slow server
        // cancels the statement itself (a clean error on a connection that stays usable) and
        // this deadline only ends calls to a server that does not answer at all. Dropping
        // `attempt` drops its connection without `keep`: closed.
        let limit = budget + grace(budget);
        tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or(Err(PgError::Deadline { what, limit }))
    }
}

/// How long past an operation's budget the client-side deadline fires: a tenth of it, at most
/// a second.
fn grace(budget: Duration) -> Duration {
    (budget / 10).min(Duration::from_secs(1))
}

/// A checked-out connection that goes back to the pool only when its operation finished in
/// step with the server; dropped any other way (an error without an answer, a deadline, a
/// cancelled caller), it is closed.
pub(crate) struct Conn {
    object: Option<Object>,
    keep: bool,
}

impl Conn {
    fn new(object: Object) -> Self {
        Self {
            object: Some(object),
            keep: false,
        }
    }

    /// A named prepared statement for `sql`, from this connection's cache. Only for SQL whose
    /// text is fixed per table (never for text that depends on a filter's shape: that runs
    /// unnamed with `query_typed`), and never more than [`MAX_PREPARED`] per connection.
    pub(crate) async fn prepare(&self, sql: &str) -> Result<Statement, PgError> {
        let cache = &self.statement_cache;
        if cache.size() >= MAX_PREPARED {
            // Dropping the statements closes them on the server.
            cache.clear();
        }
        Ok(self.prepare_cached(sql).await?)
    }

    /// Runs filter-shaped SQL as an unnamed statement (one round trip, nothing kept on the
    /// server) and returns how many rows it affected.
    pub(crate) async fn execute_unnamed(
        &self,
        sql: &str,
        params: &SqlBuilder,
    ) -> Result<u64, PgError> {
        let stream = self.query_typed_raw(sql, params.params()).await?;
        pin_mut!(stream);
        while stream.try_next().await?.is_some() {}
        Ok(stream.rows_affected().unwrap_or(0))
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

impl Deref for Conn {
    type Target = deadpool_postgres::ClientWrapper;
    fn deref(&self) -> &Self::Target {
        // `object` is `None` only inside `drop`.
        self.object.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.object.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(object) = self.object.take()
            && !self.keep
        {
            // Out of the pool; dropping the client closes the socket.
            drop(Object::take(object));
        }
    }
}

/// A request future on one connection.
pub(crate) type Request<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, tokio_postgres::Error>> + Send + 'a>>;

/// Runs requests on one connection as one pipeline: tokio-postgres sends a request when its
/// future is first polled, so polling every future once, in order, before awaiting any reply
/// puts them all on the wire in that order (one round trip). Returns every outcome, in order,
/// so the caller can report the first failure rather than the "transaction aborted" errors
/// that follow it.
pub(crate) async fn pipeline<T>(
    requests: Vec<Request<'_, T>>,
) -> Vec<Result<T, tokio_postgres::Error>> {
    let mut pending: Vec<MaybeDone<Request<'_, T>>> =
        requests.into_iter().map(maybe_done).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for f in &mut pending {
            // Every element is polled on every wake-up, in order; a finished one is a no-op.
            done &= Pin::new(f).poll(cx).is_ready();
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    pending
        .into_iter()
        .map(|mut f| {
            Pin::new(&mut f)
                .take_output()
                .unwrap_or_else(|| unreachable!("every request finished"))
        })
        .collect()
}
