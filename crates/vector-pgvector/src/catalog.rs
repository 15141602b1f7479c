//! The catalog: one row per namespace in `vtier_namespaces` (original name, table, dimension,
//! metric, index kind, filterable fields), one table per namespace, and the DDL that creates
//! and drops them under an advisory lock so concurrent (implicit) creation is safe.
//!
//! Table names are `vtier_ns_<id>_<slug>`: `<id>` comes from a sequence, so two namespaces never
//! share a table whatever PostgreSQL's case folding and 63-byte identifier limit would do to
//! their names (`Docs` vs `docs`, `a-b` vs `a_b`, 64-character names), and a table is never
//! reused after a drop, so a stale cached entry can only point at a table that no longer
//! exists. `<slug>` (lower-cased, at most 32 characters) is only there to help humans reading
//! `\dt`.

use std::collections::BTreeMap;

use tokio_postgres::GenericClient;
use vector_backend::{FieldType, IndexKind, Metric, NamespaceConfig};

use crate::error::PgError;

/// pgvector's HNSW index on `vector` columns supports at most this many dimensions.
pub(crate) const HNSW_MAX_DIM: usize = 2000;

/// The advisory lock key serialising catalog DDL (`vtier` in ASCII).
const DDL_LOCK: i64 = 0x0076_7469_6572;

/// A namespace as the catalog records it.
#[derive(Debug, Clone)]
pub(crate) struct NsEntry {
    pub(crate) config: NamespaceConfig,
    /// The table, already quoted for SQL.
    pub(crate) table: String,
    /// The table's name, unquoted (index names derive from it).
    pub(crate) table_name: String,
}

impl NsEntry {
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
        format!(
            "CREATE INDEX {} ON {} USING hnsw (embedding {}) WITH (m = {m}, ef_construction = {ef_construction})",
            self.index_name(),
            self.table,
            opclass(self.config.metric)
        )
    }

    /// pgvector's distance operator for the metric.
    pub(crate) fn op(&self) -> &'static str {
        op(self.config.metric)
    }
}

pub(crate) fn op(metric: Metric) -> &'static str {
    match metric {
        Metric::Cosine => "<=>",
        Metric::DotProduct => "<#>",
        Metric::Euclidean => "<->",
    }
}

fn opclass(metric: Metric) -> &'static str {
    match metric {
        Metric::Cosine => "vector_cosine_ops",
        Metric::DotProduct => "vector_ip_ops",
        Metric::Euclidean => "vector_l2_ops",
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

fn metric_from(s: &str) -> Result<Metric, PgError> {
    Metric::ALL
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| PgError::Corrupt(format!("unknown metric {s:?} in the catalog")))
}

fn index_from(s: &str) -> Result<IndexKind, PgError> {
    [IndexKind::Auto, IndexKind::Flat, IndexKind::Hnsw]
        .into_iter()
        .find(|i| i.as_str() == s)
        .ok_or_else(|| PgError::Corrupt(format!("unknown index kind {s:?} in the catalog")))
}

/// Creates the `vector` extension (when missing and allowed) and the catalog.
pub(crate) async fn bootstrap(client: &mut deadpool_postgres::Object) -> Result<(), PgError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
        .await?;
    let has_vector = tx
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'vector'", &[])
        .await?
        .is_some();
    if !has_vector
        && let Err(e) = tx
            .batch_execute("CREATE EXTENSION IF NOT EXISTS vector")
            .await
    {
        let why = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned());
        return Err(PgError::Extension(format!(
            "the pgvector extension is not installed in this database and could not be created ({why}); \
             install pgvector on the server and run CREATE EXTENSION vector as a user allowed to"
        )));
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
    tx.commit().await?;
    Ok(())
}

/// Reads one namespace from the catalog.
pub(crate) async fn load(
    client: &(impl GenericClient + Sync),
    name: &str,
) -> Result<Option<NsEntry>, PgError> {
    let row = client
        .query_opt(
            "SELECT table_name, dimension, metric, index_kind, filterable FROM vtier_namespaces WHERE name = $1",
            &[&name],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let table: String = row.get(0);
    let dimension: i32 = row.get(1);
    let metric: String = row.get(2);
    let index: String = row.get(3);
    let filterable: serde_json::Value = row.get(4);
    let filterable: BTreeMap<String, FieldType> = serde_json::from_value(filterable)
        .map_err(|e| PgError::Corrupt(format!("filterable fields of {name:?}: {e}")))?;
    let mut config = NamespaceConfig::new(usize::try_from(dimension).unwrap_or(0))
        .with_metric(metric_from(&metric)?)
        .with_index(index_from(&index)?);
    config.filterable = filterable;
    Ok(Some(NsEntry {
        config,
        table: quote_ident(&table),
        table_name: table,
    }))
}

/// What [`ensure`] found.
pub(crate) enum Ensured {
    /// The namespace was created now.
    Created(NsEntry),
    /// It existed already (with this config, which may differ from the requested one).
    Existing(NsEntry),
}

/// Creates the namespace with `config` unless it exists; returns what is there now. Runs in one
/// transaction holding the DDL advisory lock, so two processes creating the same name at once
/// end with one table.
pub(crate) async fn ensure(
    client: &mut deadpool_postgres::Object,
    name: &str,
    config: &NamespaceConfig,
    m: u32,
    ef_construction: u32,
) -> Result<Ensured, PgError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
        .await?;
    if let Some(existing) = load(&*tx, name).await? {
        return Ok(Ensured::Existing(existing));
    }
    let id: i64 = tx
        .query_one("SELECT nextval('vtier_namespace_ids')", &[])
        .await?
        .get(0);
    let table = format!("vtier_ns_{id}_{}", slug(name));
    let quoted = quote_ident(&table);
    let filterable =
        serde_json::to_value(&config.filterable).map_err(|e| PgError::Corrupt(e.to_string()))?;
    let dimension =
        i32::try_from(config.dimension).map_err(|_| PgError::Corrupt("dimension".into()))?;
    tx.execute(
        "INSERT INTO vtier_namespaces (name, table_name, dimension, metric, index_kind, filterable) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&name, &table, &dimension, &config.metric.as_str(), &config.index.as_str(), &filterable],
    )
    .await?;
    // The dimension is a validated integer and the table name is ours: no user text in DDL.
    tx.batch_execute(&format!(
        "CREATE TABLE {quoted} (
             key text COLLATE \"C\" PRIMARY KEY,
             embedding vector({dimension}) NOT NULL,
             meta text NOT NULL,
             filt jsonb
         )"
    ))
    .await?;
    let entry = NsEntry {
        config: config.clone(),
        table: quoted,
        table_name: table,
    };
    if entry.has_hnsw() {
        tx.batch_execute(&entry.create_index_sql(m, ef_construction))
            .await?;
    }
    tx.commit().await?;
    Ok(Ensured::Created(entry))
}

/// Drops the namespace's table and catalog row; true when it existed.
pub(crate) async fn drop(
    client: &mut deadpool_postgres::Object,
    name: &str,
) -> Result<bool, PgError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
        .await?;
    let row = tx
        .query_opt(
            "DELETE FROM vtier_namespaces WHERE name = $1 RETURNING table_name",
            &[&name],
        )
        .await?;
    let Some(row) = row else { return Ok(false) };
    let table: String = row.get(0);
    tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", quote_ident(&table)))
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Every namespace name, in byte order.
pub(crate) async fn list(client: &(impl GenericClient + Sync)) -> Result<Vec<String>, PgError> {
    let rows = client
        .query(
            "SELECT name FROM vtier_namespaces ORDER BY name COLLATE \"C\"",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
