//! The backend support layer: what every backend has in common, written once.
//!
//! A backend crate implements [`Driver`]: its I/O and its translation to the server's
//! language, on inputs the core has already checked. [`Backend`] turns any driver into a
//! [`VectorBackend`](crate::VectorBackend). It
//!
//! - validates every request exactly once, before any I/O, and hands the driver prepared
//!   types ([`WriteBatch`], [`KeySet`], [`Query`], [`CheckedFilter`], [`ScanSpec`]) that only
//!   this module can build, so a driver can neither forget a check nor repeat one;
//! - keeps the **namespace catalogue**: what this object knows about the namespaces on the
//!   server (see below);
//! - folds duplicate keys (the last record wins; a key read twice is fetched once);
//! - finishes results: the inclusive threshold, the contract's order, `k`, and ties at the
//!   k-th place, which it completes by asking the driver for more candidates;
//! - encodes and decodes scan cursors.
//!
//! # The namespace catalogue
//!
//! A driver describes one *incarnation* of a namespace by its [`Driver::Namespace`] type: the
//! config, plus whatever identifies this incarnation on the server (a generation number, a
//! table name that is never reused). [`Backend`] caches these entries, but a cached entry is
//! only ever a hint: every data operation the driver runs is checked **on the server, atomically
//! with the operation**, against the incarnation it was given. When the namespace was dropped,
//! or dropped and re-created by another client (another process, another replica), the driver
//! returns [`Error::namespace_changed`](crate::Error::namespace_changed) and writes nothing;
//! `Backend` then reloads the entry, validates the request again against what the namespace is
//! now, and retries. So after client B drops `ns`, client A's next upsert is an upsert on an
//! absent namespace (implicit creation, then the write), and after B re-creates `ns` with
//! another dimension, A's upsert of the old dimension fails with `DimensionMismatch`.
//! How each server makes the check atomic is the driver's business and is described in
//! `ARCHITECTURE.md`.

mod backend;
mod catalog;
mod prepared;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

pub use backend::Backend;
pub use catalog::MAX_CACHED_NAMESPACES;
pub use prepared::{
    CheckedFilter, Ensured, KeySet, KeywordQuery, NamespaceName, Page, Query, ScanSpec, WriteBatch,
};

use crate::error::{Error, Result};
pub use crate::score::NativeDistance;
use crate::types::{Capabilities, NamespaceConfig, SearchResult, StoredVector};

/// The default of every backend's operation timeout: how long one network call (connect, pool
/// checkout, statement or command) may take before it fails with `Timeout`.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// What a driver knows about one incarnation of a namespace.
pub trait NamespaceState: fmt::Debug + Send + Sync + 'static {
    /// Its config, fixed for the life of the incarnation.
    fn config(&self) -> &NamespaceConfig;
}

/// What a backend crate implements: the primitive operations, in the server's language, on
/// checked inputs. See the [module docs](self) for what the core does around them.
///
/// Every data operation receives the namespace incarnation (`ns`) its inputs were validated
/// against. It must act on that incarnation only, and return
/// [`Error::namespace_changed`] without changing anything when the namespace on the server is
/// no longer it: that check is what keeps several clients of one server consistent, so it must
/// be atomic with the operation (a generation compared in the same script or transaction, a
/// table that is never reused, a lock...).
///
/// Every network call is bounded by the driver's operation timeout (use [`deadline`]); a server
/// that does not answer gives `Timeout`, one that cannot be reached or says "try again" gives
/// `Unavailable`.
#[async_trait]
pub trait Driver: fmt::Debug + Send + Sync + Sized + 'static {
    /// One namespace incarnation.
    type Namespace: NamespaceState;

    /// The backend's name (`"memory"`, `"redis"`, ...), as in metric labels and URLs.
    const NAME: &'static str;

    /// Whether [`Backend`] should cache namespace entries between operations. True for
    /// servers (a load is a round trip); a driver whose [`Driver::load_namespace`] is a local
    /// lookup says false.
    const CACHE_NAMESPACES: bool = true;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// Checks a namespace config beyond [`Driver::capabilities`] (pgvector's HNSW dimension
    /// limit, say). Called after the common checks, before creating anything.
    ///
    /// # Errors
    /// `Unsupported` or `InvalidArgument`.
    fn check_config(&self, config: &NamespaceConfig) -> Result<()> {
        let _ = config;
        Ok(())
    }

    /// True when the server answers and has what the backend needs; within the timeout.
    async fn health_check(&self) -> bool;

    /// The namespace as the server has it now, or `None`.
    async fn load_namespace(&self, name: NamespaceName<'_>) -> Result<Option<Self::Namespace>>;

    /// Creates the namespace with `config` unless it exists (atomically: concurrent creators
    /// agree on one incarnation) and returns the one that exists now, saying whether this call
    /// created it. The core compares configs.
    async fn create_namespace(
        &self,
        name: NamespaceName<'_>,
        config: &NamespaceConfig,
    ) -> Result<Ensured<Self::Namespace>>;

    /// Removes the namespace, whichever incarnation it is, with every record. True when it
    /// existed. Once this returns, no write made through an entry of the dropped incarnation
    /// can succeed.
    async fn drop_namespace(&self, name: NamespaceName<'_>) -> Result<bool>;

    /// The names of every namespace, in any order.
    async fn list_namespaces(&self) -> Result<Vec<String>>;

    /// How many records `ns` holds, or match `filter`.
    async fn count(&self, ns: &Self::Namespace, filter: Option<&CheckedFilter<'_>>) -> Result<u64>;

    /// Deletes every record of `ns`, keeping it; returns how many.
    async fn clear(&self, ns: &Self::Namespace) -> Result<u64>;

    /// Writes the batch: every record inserted or replaced whole. All or nothing is not
    /// required across chunks, but nothing may be written into another incarnation.
    async fn write(&self, ns: &Self::Namespace, batch: &WriteBatch) -> Result<()>;

    /// The stored vector of each key, in the order of `keys`.
    async fn read(
        &self,
        ns: &Self::Namespace,
        keys: &KeySet<'_>,
    ) -> Result<Vec<Option<StoredVector>>>;

    /// Deletes the keys; returns how many existed.
    async fn delete(&self, ns: &Self::Namespace, keys: &KeySet<'_>) -> Result<u64>;

    /// Deletes every record matching `filter`; returns how many.
    async fn delete_matching(
        &self,
        ns: &Self::Namespace,
        filter: &CheckedFilter<'_>,
    ) -> Result<u64>;

    /// Up to [`Query::fetch`] candidates for the query, best first by the server's ranking,
    /// with contract scores (use [`NativeDistance`]). Returning fewer than `fetch` asserts that
    /// no other record passes the filter (and threshold, when pushed down). The core applies
    /// the exact threshold, the order and `k`, and asks again with a larger `fetch` when a tie
    /// at the k-th place may continue past what was returned.
    async fn search(&self, ns: &Self::Namespace, query: &Query<'_>) -> Result<Vec<SearchResult>>;

    /// The candidates of several queries, as [`Driver::search`] gives them for each. The
    /// default runs them one by one; servers that can answer several in one round trip
    /// override it.
    async fn search_batch(
        &self,
        ns: &Self::Namespace,
        queries: &[Query<'_>],
    ) -> Result<Vec<Vec<SearchResult>>> {
        let mut out = Vec::with_capacity(queries.len());
        for q in queries {
            out.push(self.search(ns, q).await?);
        }
        Ok(out)
    }

    /// Up to [`KeywordQuery::fetch`] records holding at least one of the query's tokens in their
    /// text bag ([`crate::text::text_bag`], which [`WriteBatch::text_bag`] gives for every record
    /// written), best first by BM25 ([`crate::text`]; the server's native relevance where it
    /// has BM25, documented per backend), with `score` = that relevance. Returning fewer than
    /// `fetch` asserts that no other record matches. The default says the backend has no
    /// keyword search (and its capabilities must say so too).
    async fn keyword(
        &self,
        ns: &Self::Namespace,
        query: &KeywordQuery<'_>,
    ) -> Result<Vec<SearchResult>> {
        let _ = (ns, query);
        Err(Error::unsupported("this backend has no keyword search"))
    }

    /// Both legs of a hybrid query, as [`Driver::search`] and [`Driver::keyword`] give them.
    /// The default runs one after the other; servers that can answer both in one round trip
    /// override it.
    async fn hybrid(
        &self,
        ns: &Self::Namespace,
        vector: &Query<'_>,
        keyword: &KeywordQuery<'_>,
    ) -> Result<(Vec<SearchResult>, Vec<SearchResult>)> {
        let v = self.search(ns, vector).await?;
        let k = self.keyword(ns, keyword).await?;
        Ok((v, k))
    }

    /// Up to [`ScanSpec::limit`] records with keys strictly after [`ScanSpec::after`] (byte
    /// order), matching the filter, in key order, and whether more follow.
    async fn scan(&self, ns: &Self::Namespace, spec: &ScanSpec<'_>) -> Result<Page>;

    /// Removes `ns` when it is still the current incarnation and holds no record: the rollback
    /// of an implicit creation whose first write the driver refused as a whole (the memory
    /// backend's capacity limit). The default does nothing, for drivers that never refuse a
    /// validated write before touching the server.
    async fn discard_if_empty(&self, ns: &Self::Namespace) -> Result<()> {
        let _ = ns;
        Ok(())
    }

    /// Releases connections.
    async fn close(&self) {}
}

/// One configuration key of a driver, as in the design document's config dict
/// (`redis_url`, `pg_connection_string`, ...). The facade's `BackendConfig`, its environment
/// variables ([`ConfigKey::env`]) and the service's flags ([`ConfigKey::flag`]) all come from
/// these, so a backend declares its settings once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigKey {
    /// The key, `snake_case`.
    pub name: &'static str,
    /// One line saying what it sets, for `--help`.
    pub help: &'static str,
    /// True when the value is a secret or may contain one (URLs with passwords): it is hidden
    /// in `Debug`, logs and `--help`.
    pub secret: bool,
}

impl ConfigKey {
    /// The environment variable: the key upper-cased (`redis_url` → `REDIS_URL`).
    pub fn env(&self) -> String {
        self.name.to_ascii_uppercase()
    }

    /// The command-line flag: the key with dashes (`redis_url` → `--redis-url`).
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }
}

/// How a driver is opened: its typed config, URL schemes, configuration keys and environment
/// variable. With it, [`Backend<D>`] is an [`OpenBackend`](crate::OpenBackend) and is
/// registered in the facade with one line.
#[async_trait]
pub trait Connect: Driver {
    /// The driver's typed configuration. Its `Debug` must not show secrets.
    type Config: fmt::Debug + Clone + Send + Sync + 'static;
    /// URL schemes accepted by [`Connect::config_from_url`].
    const SCHEMES: &'static [&'static str];
    /// The environment variable holding the server's address (empty for the memory backend);
    /// the upper-cased name of one of [`Connect::CONFIG_KEYS`].
    const URL_ENV: &'static str;
    /// The configuration keys [`Connect::config_from_keys`] reads.
    const CONFIG_KEYS: &'static [ConfigKey] = &[];

    /// Parses a URL into a config. Errors never contain the URL's password.
    ///
    /// # Errors
    /// `InvalidArgument`.
    fn config_from_url(url: &str) -> Result<Self::Config>;

    /// Builds a config from configuration keys (`get` returns a key's value), or `Ok(None)`
    /// when a key the backend cannot do without (its address) is absent.
    ///
    /// # Errors
    /// `InvalidArgument` for a value that does not parse.
    fn config_from_keys(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self::Config>> {
        let _ = get;
        Ok(None)
    }

    /// Connects: checks that the server answers (within the operation timeout) and has what
    /// the backend needs.
    ///
    /// # Errors
    /// `Unavailable`, `Timeout` or `Unsupported`.
    async fn connect(config: Self::Config) -> Result<Self>;
}

/// Runs `call` with a deadline: `Timeout` ("`what` did not answer within N ms") when it does
/// not finish in `limit`. Every network call of a driver goes through this (or an equivalent
/// setting of its client), so a frozen server can never hang a caller.
///
/// # Errors
/// `Timeout`, or the call's own error.
pub async fn deadline<T, E>(
    limit: Duration,
    what: &str,
    call: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T>
where
    E: Into<Error>,
{
    match tokio::time::timeout(limit, call).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(Error::timeout(what, limit)),
    }
}
