//! Namespace incarnations on the server: the catalog `vtier_namespaces` (one row per namespace:
//! name, table, dimension, metric, index kind, filterable fields), one table per namespace, the
//! DDL that creates and drops them under an advisory lock, and the incarnation check.
//!
//! Table names are `vtier_ns_<id>_<slug>`: `<id>` comes from a sequence, so two namespaces never
//! share a table whatever PostgreSQL's case folding and 63-byte identifier limit would do to
//! their names (`Docs` vs `docs`, `a-b` vs `a_b`, 64-character names), and **a table is never
//! reused**: a [`PgNamespace`] (one incarnation) is identified by its table. That is the whole
//! incarnation check. A statement on a dropped incarnation names a table that no longer exists
//! and fails (undefined_table, or an internal "could not open relation" error for a statement
//! that was already waiting for the table's lock when the drop committed), which
//! [`PgNamespace::checked`] turns into `namespace_changed`. `DROP TABLE` takes an ACCESS
//! EXCLUSIVE lock and every write holds at least ROW EXCLUSIVE on the table until it commits,
//! so a write either commits before the drop (it was acknowledged before it) or fails after it
//! without writing anything; it can never land in a later incarnation, which has another table.
//! `<slug>` (lower-cased, at most 32 characters) is only there to help humans reading `\dt`.
//!
//! A namespace with text fields also gets the keyword columns, a GIN index and the statistics
//! triggers (`text.rs`); a drop removes its rows of `vtier_text_stats` in the same transaction.

use std::collections::BTreeMap;

use vector_backend::driver::{Ensured, NamespaceName, NamespaceState, NativeDistance};
use vector_backend::{Error, FieldType, IndexKind, Metric, NamespaceConfig};

use crate::client::Conn;
use crate::error::PgError;

/// pgvector's HNSW index on `vector` columns supports at most this many dimensions.
pub(crate) const HNSW_MAX_DIM: usize = 2000;

/// The advisory lock key serialising catalog DDL (`vtier` in ASCII).
const DDL_LOCK: i64 = 0x0076_7469_6572;

/// One incarnation of a namespace: its config and its table.
#[derive(Debug, Clone)]
pub struct PgNamespace {
    name: String,
    config: NamespaceConfig,
    /// The table's name, unquoted (index names derive from it).
    table_name: String,
    /// The table, quoted for SQL.
    table: String,
}

impl NamespaceState for PgNamespace {
    fn config(&self) -> &NamespaceConfig {
        &self.config
    }
}

impl PgNamespace {
    fn new(name: &str, config: NamespaceConfig, table_name: String) -> Self {
        Self {
            name: name.to_owned(),
            config,
            table: quote_ident(&table_name),
            table_name,
        }
    }

    /// The incarnation check: an error that says this incarnation's table is gone becomes
    /// `namespace_changed` (the core reloads and retries); anything else converts as usual.
    pub(crate) fn checked(&self, e: PgError) -> Error {
        if e.is_relation_gone() {
            Error::namespace_changed(&self.name).with_source(e)
        } else {
            e.into()
        }
    }

    /// The quoted table.
    pub(crate) fn table(&self) -> &str {
        &self.table
    }

    /// The table's name, unquoted: the key of its rows in `vtier_text_stats`.
    pub(crate) fn table_name(&self) -> &str {
        &self.table_name
    }

    /// Whether the namespace declares text fields: its table then has the keyword columns
    /// (`txt`, `tsv`, `len`), the GIN index and the statistics triggers (see `text.rs`).
    pub(crate) fn has_text(&self) -> bool {
        self.config.has_text()
    }

    /// Whether the namespace has an HNSW index (Auto and Hnsw up to 2000 dimensions).
    pub(crate) fn has_hnsw(&self) -> bool {
        self.config.index != IndexKind::Flat && self.config.dimension <= HNSW_MAX_DIM
    }

    /// The quoted name of the HNSW index.
    pub(crate) fn index_name(&self) -> String {
        quote_ident(&format!("{}_hnsw", self.table_name))
    }

    /// The DDL of the namespace's HNSW index (integers and our own names only).
    pub(crate) fn create_index_sql(&self, m: u32, ef_construction: u32) -> String {
        let opclass = match self.config.metric {
            Metric::Cosine => "vector_cosine_ops",
            Metric::DotProduct => "vector_ip_ops",
            Metric::Euclidean => "vector_l2_ops",
        };
        format!(
            "CREATE INDEX {} ON {} USING hnsw (embedding {opclass}) WITH (m = {m}, ef_construction = {ef_construction})",
            self.index_name(),
            self.table,
        )
    }

    /// pgvector's distance operator for the metric, and what its value means.
    pub(crate) fn distance(&self) -> (&'static str, NativeDistance) {
        match self.config.metric {
            Metric::Cosine => ("<=>", NativeDistance::CosineDistance),
            Metric::DotProduct => ("<#>", NativeDistance::NegativeDot),
            Metric::Euclidean => ("<->", NativeDistance::Euclidean),
        }
    }
}

/// Quotes an identifier (ours are `[a-z0-9_]`, but quoting keeps that an invariant of this
/// function rather than of its callers).
pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn slug(name: &str) -> String {
    name.chars()
        .take(32)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn parse_enum<T: Copy>(all: &[T], as_str: fn(&T) -> &'static str, s: &str) -> Result<T, PgError> {
    all.iter()
        .find(|v| as_str(v) == s)
        .copied()
        .ok_or_else(|| PgError::Corrupt(format!("unknown value {s:?} in the catalog")))
}

/// Creates the `vector` extension (when missing and allowed) and the catalog.
pub(crate) async fn bootstrap(conn: &mut Conn) -> Result<(), PgError> {
    let tx = conn.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
        .await?;
    let has_vector = tx
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'vector'", &[])
        .await?
        .is_some();
    if !has_vector {
        tx.batch_execute("CREATE EXTENSION IF NOT EXISTS vector")
            .await
            .map_err(PgError::Extension)?;
    }
    tx.batch_execute(
        "CREATE SEQUENCE IF NOT EXISTS vtier_namespace_ids;
         CREATE TABLE IF NOT EXISTS vtier_namespaces (
             name text COLLATE \"C\" PRIMARY KEY,
             table_name text NOT NULL UNIQUE,
             dimension integer NOT NULL,
             metric text NOT NULL,
             index_kind text NOT NULL,
             filterable jsonb NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    crate::text::bootstrap(&tx).await?;
    tx.commit().await?;
    Ok(())
}

/// True when the server answers and has the `vector` extension.
pub(crate) async fn healthy(conn: &mut Conn) -> Result<bool, PgError> {
    let stmt = conn
        .prepare("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        .await?;
    Ok(conn.query_opt(&stmt, &[]).await?.is_some())
}

const LOAD_SQL: &str = "SELECT table_name, dimension, metric, index_kind, filterable FROM vtier_namespaces WHERE name = $1";

/// The namespace's current incarnation, from the catalog.
pub(crate) async fn load(conn: &mut Conn, name: &str) -> Result<Option<PgNamespace>, PgError> {
    let stmt = conn.prepare(LOAD_SQL).await?;
    let row = conn.query_opt(&stmt, &[&name]).await?;
    row.map(|row| from_row(name, &row)).transpose()
}

fn from_row(name: &str, row: &tokio_postgres::Row) -> Result<PgNamespace, PgError> {
    let table: String = row.try_get(0)?;
    let dimension: i32 = row.try_get(1)?;
    let metric: String = row.try_get(2)?;
    let index: String = row.try_get(3)?;
    let filterable: serde_json::Value = row.try_get(4)?;
    let filterable: BTreeMap<String, FieldType> = serde_json::from_value(filterable)
        .map_err(|e| PgError::Corrupt(format!("filterable fields of {name:?}: {e}")))?;
    let mut config = NamespaceConfig::new(usize::try_from(dimension).unwrap_or(0))
        .with_metric(parse_enum(&Metric::ALL, Metric::as_str, &metric)?)
        .with_index(parse_enum(
            &[IndexKind::Auto, IndexKind::Flat, IndexKind::Hnsw],
            IndexKind::as_str,
            &index,
        )?);
    config.filterable = filterable;
    Ok(PgNamespace::new(name, config, table))
}

/// Creates the namespace with `config` unless it exists; returns what is there now. Runs in one
/// transaction holding the DDL advisory lock, so two processes creating the same name at once
/// end with one table.
pub(crate) async fn create(
    conn: &mut Conn,
    name: NamespaceName<'_>,
    config: &NamespaceConfig,
    (m, ef_construction): (u32, u32),
) -> Result<Ensured<PgNamespace>, PgError> {
    let tx = conn.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
        .await?;
    if let Some(row) = tx.query_opt(LOAD_SQL, &[&name.as_str()]).await? {
        return Ok(Ensured::existing(from_row(name.as_str(), &row)?));
    }
    let id: i64 = tx
        .query_one("SELECT nextval('vtier_namespace_ids')", &[])
        .await?
        .try_get(0)?;
    let ns = PgNamespace::new(
        name.as_str(),
        config.clone(),
        format!("vtier_ns_{id}_{}", slug(name.as_str())),
    );
    let filterable =
        serde_json::to_value(&config.filterable).map_err(|e| PgError::Corrupt(e.to_string()))?;
    let dimension =
        i32::try_from(config.dimension).map_err(|_| PgError::Corrupt("dimension".into()))?;
    tx.execute(
        "INSERT INTO vtier_namespaces (name, table_name, dimension, metric, index_kind, filterable) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&name.as_str(), &ns.table_name, &dimension, &config.metric.as_str(), &config.index.as_str(), &filterable],
    )
    .await?;
    // The dimension is a validated integer and the table name is ours: no user text in DDL.
    let text = if ns.has_text() {
        crate::text::COLUMNS
    } else {
        ""
    };
    tx.batch_execute(&format!(
        "CREATE TABLE {} (
             key text COLLATE \"C\" PRIMARY KEY,
             embedding vector({dimension}) NOT NULL,
             meta text NOT NULL,
             filt jsonb{text}
         )",
        ns.table
    ))
    .await?;
    if ns.has_hnsw() {
        tx.batch_execute(&ns.create_index_sql(m, ef_construction))
            .await?;
    }
    if ns.has_text() {
        tx.batch_execute(&crate::text::create_sql(&ns)).await?;
    }
    tx.commit().await?;
    Ok(Ensured::created(ns))
}

/// Drops the namespace's table and catalog row in one transaction; true when it existed.
pub(crate) async fn drop(conn: &mut Conn, name: NamespaceName<'_>) -> Result<bool, PgError> {
    let tx = conn.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
        .await?;
    let row = tx
        .query_opt(
            "DELETE FROM vtier_namespaces WHERE name = $1 RETURNING table_name",
            &[&name.as_str()],
        )
        .await?;
    let Some(row) = row else { return Ok(false) };
    let table: String = row.try_get(0)?;
    tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", quote_ident(&table)))
        .await?;
    crate::text::forget(&tx, &table).await?;
    tx.commit().await?;
    Ok(true)
}

/// Every namespace name.
pub(crate) async fn list(conn: &mut Conn) -> Result<Vec<String>, PgError> {
    let stmt = conn.prepare("SELECT name FROM vtier_namespaces").await?;
    let rows = conn.query(&stmt, &[]).await?;
    rows.iter()
        .map(|r| r.try_get(0).map_err(PgError::from))
        .collect()
}
