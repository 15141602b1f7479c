//! Writes and deletes: the unnest upsert for small batches, binary COPY through a staging table
//! for large ones (with the HNSW index rebuilt after a bulk load into a small table), deletes by
//! key and by filter, and `clear` (TRUNCATE).
//!
//! Every statement here names the incarnation's own table, so none of them can write into
//! another incarnation (see `catalog.rs`): each either commits before a concurrent drop takes
//! the table's lock, or fails once the table is gone.

use std::time::Duration;

use futures_util::pin_mut;
use pgvector::Vector;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use vector_backend::driver::{CheckedFilter, KeySet, NamespaceState as _, WriteBatch};
use vector_backend::{FieldType, Metadata, NamespaceConfig, Result};

use crate::catalog::PgNamespace;
use crate::client::Client;
use crate::config::PgConfig;
use crate::filter::SqlBuilder;

/// Batches up to this size use one multi-row `INSERT ... SELECT FROM unnest(...)`; larger ones
/// use binary COPY into a staging table (one more round trip, but far less per-row work).
const UNNEST_MAX_ROWS: usize = 256;

/// A COPY batch at least this large into an HNSW namespace holding fewer rows than the batch
/// drops the index and builds it again after the load: one bulk build is many times faster
/// than inserting each vector into the graph.
const REBUILD_MIN_ROWS: usize = 5000;

/// Time a write gets per row on top of the operation timeout, by index: inserting into an HNSW
/// graph (or building it) costs up to about a millisecond per row on a small machine; a plain
/// table a few microseconds. Generous, so a bulk load is not cut half-way by a limit meant for
/// single statements, yet finite, so a frozen server still ends it.
fn per_row(hnsw: bool) -> Duration {
    if hnsw {
        Duration::from_millis(5)
    } else {
        Duration::from_micros(500)
    }
}

/// How long a write of `rows` rows may take, client- and server-side.
fn write_budget(client: &Client, ns: &PgNamespace, rows: usize) -> Duration {
    client.timeout() + per_row(ns.has_hnsw()) * u32::try_from(rows).unwrap_or(u32::MAX)
}

const UPSERT: &str = "ON CONFLICT (key) DO UPDATE SET embedding = EXCLUDED.embedding, meta = EXCLUDED.meta, filt = EXCLUDED.filt";

/// The written columns and the upsert clause: with `txt` (the text bag) in tables of
/// namespaces with text fields.
fn columns(ns: &PgNamespace) -> (&'static str, String) {
    if ns.has_text() {
        (
            "key, embedding, meta, filt, txt",
            format!("{UPSERT}, txt = EXCLUDED.txt"),
        )
    } else {
        ("key, embedding, meta, filt", UPSERT.to_owned())
    }
}

fn metadata_text(m: &Metadata) -> String {
    // Serializing a map of JSON values cannot fail.
    serde_json::to_string(m).unwrap_or_else(|_| "{}".to_owned())
}

/// The declared filterable fields of `m`, as the JSONB that filters run on; NULL when the
/// namespace declares none (nothing can filter on it). Text fields are left out: filters
/// cannot name them, and their tokens are in `txt`.
fn filter_projection(m: &Metadata, config: &NamespaceConfig) -> Option<serde_json::Value> {
    let mut fields = config
        .filterable
        .iter()
        .filter(|(_, ty)| **ty != FieldType::Text)
        .map(|(f, _)| f)
        .peekable();
    fields.peek()?;
    let projected: Metadata = fields
        .filter_map(|f| m.get(f).map(|v| (f.clone(), v.clone())))
        .collect();
    Some(serde_json::Value::Object(projected))
}

/// Writes a batch (one record per key, sorted by key, so concurrent batches lock rows in the
/// same order and cannot deadlock).
pub(crate) async fn write(
    client: &Client,
    config: &PgConfig,
    ns: &PgNamespace,
    batch: &WriteBatch,
) -> Result<()> {
    let budget = write_budget(client, ns, batch.len());
    let out = if batch.len() <= UNNEST_MAX_ROWS {
        client
            .run(budget, "upsert", async |c| {
                let (cols, upsert) = columns(ns);
                let txt = if ns.has_text() { ", $5::text[]" } else { "" };
                let stmt = c
                    .prepare(&format!(
                        "INSERT INTO {} ({cols}) \
                         SELECT * FROM unnest($1::text[], $2::vector[], $3::text[], $4::jsonb[]{txt}) {upsert}",
                        ns.table()
                    ))
                    .await?;
                let records = batch.records();
                let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
                let vectors: Vec<Vector> = records
                    .iter()
                    .map(|r| Vector::from(r.embedding.clone()))
                    .collect();
                let metas: Vec<String> = records.iter().map(|r| metadata_text(&r.metadata)).collect();
                let filts: Vec<Option<serde_json::Value>> = records
                    .iter()
                    .map(|r| filter_projection(&r.metadata, ns.config()))
                    .collect();
                if ns.has_text() {
                    let bags: Vec<String> = records
                        .iter()
                        .map(|r| batch.text_bag(r).unwrap_or_default())
                        .collect();
                    c.execute(&stmt, &[&keys, &vectors, &metas, &filts, &bags]).await?;
                } else {
                    c.execute(&stmt, &[&keys, &vectors, &metas, &filts]).await?;
                }
                Ok(())
            })
            .await
    } else {
        client
            .run(budget, "bulk upsert", async |c| {
                let vector = client.vector_type().clone();
                let table = ns.table();
                let tx = c.transaction().await?;
                // The batch gets time in proportion to its size, as the client-side deadline.
                tx.batch_execute(&format!(
                    "SET LOCAL statement_timeout = {}",
                    budget.as_millis()
                ))
                .await?;
                let mut rebuild = false;
                if ns.has_hnsw() && batch.len() >= REBUILD_MIN_ROWS {
                    // Blocks other writers (not readers) so the row count stays true until
                    // commit; also fails at once when this incarnation's table is gone.
                    tx.batch_execute(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
                        .await?;
                    let limit = batch.len() as i64;
                    let existing: i64 = tx
                        .query_one(
                            &format!("SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT $1) s"),
                            &[&limit],
                        )
                        .await?
                        .try_get(0)?;
                    rebuild = existing < limit;
                }
                let text = ns.has_text();
                let (cols, upsert) = columns(ns);
                tx.batch_execute(&format!(
                    "CREATE TEMP TABLE vtier_stage (key text COLLATE \"C\", embedding vector, meta text, filt jsonb{}) ON COMMIT DROP",
                    if text { ", txt text" } else { "" }
                ))
                .await?;
                let sink = tx
                    .copy_in(&format!("COPY vtier_stage ({cols}) FROM STDIN (FORMAT BINARY)"))
                    .await?;
                let mut types = vec![Type::TEXT, vector, Type::TEXT, Type::JSONB];
                if text {
                    types.push(Type::TEXT);
                }
                let writer = BinaryCopyInWriter::new(sink, &types);
                pin_mut!(writer);
                for r in batch.records() {
                    let v = Vector::from(r.embedding.clone());
                    let meta = metadata_text(&r.metadata);
                    let filt = filter_projection(&r.metadata, ns.config());
                    if text {
                        let bag = batch.text_bag(r).unwrap_or_default();
                        writer.as_mut().write(&[&r.key, &v, &meta, &filt, &bag]).await?;
                    } else {
                        writer.as_mut().write(&[&r.key, &v, &meta, &filt]).await?;
                    }
                }
                writer.finish().await?;
                if rebuild {
                    tx.batch_execute(&format!("DROP INDEX IF EXISTS {}", ns.index_name()))
                        .await?;
                }
                tx.batch_execute(&format!(
                    "INSERT INTO {table} ({cols}) SELECT {cols} FROM vtier_stage ORDER BY key {upsert}"
                ))
                .await?;
                if rebuild {
                    tx.batch_execute(&ns.create_index_sql(config.hnsw_m, config.hnsw_ef_construction))
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            })
            .await
    };
    out.map_err(|e| ns.checked(e))
}

/// Deletes the keys; returns how many existed.
pub(crate) async fn delete(client: &Client, ns: &PgNamespace, keys: &KeySet<'_>) -> Result<u64> {
    client
        .run(client.timeout(), "delete", async |c| {
            let stmt = c
                .prepare(&format!(
                    "DELETE FROM {} WHERE key = ANY($1::text[])",
                    ns.table()
                ))
                .await?;
            Ok(c.execute(&stmt, &[&keys.keys()]).await?)
        })
        .await
        .map_err(|e| ns.checked(e))
}

/// Deletes every record matching the filter (unnamed: the text depends on its shape).
pub(crate) async fn delete_matching(
    client: &Client,
    ns: &PgNamespace,
    filter: &CheckedFilter<'_>,
) -> Result<u64> {
    let mut b = SqlBuilder::default();
    let sql = format!("DELETE FROM {} WHERE {}", ns.table(), b.condition(filter));
    client
        .run(client.timeout(), "delete by filter", async |c| {
            c.execute_unnamed(&sql, &b).await
        })
        .await
        .map_err(|e| ns.checked(e))
}

/// Deletes every record, keeping the namespace; returns how many there were.
pub(crate) async fn clear(client: &Client, ns: &PgNamespace) -> Result<u64> {
    client
        .run(client.timeout(), "clear", async |c| {
            let table = ns.table();
            let tx = c.transaction().await?;
            // TRUNCATE also empties the HNSW index (DELETE would leave dead entries to vacuum);
            // the lock makes the count exact.
            tx.batch_execute(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
                .await?;
            let n: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?
                .try_get(0)?;
            tx.batch_execute(&format!("TRUNCATE {table}")).await?;
            tx.commit().await?;
            Ok(n as u64)
        })
        .await
        .map_err(|e| ns.checked(e))
}
