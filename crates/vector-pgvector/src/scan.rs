//! Reads: `count`, reads by key, and keyset-paginated scans. Unfiltered statements are fixed
//! per table and prepared; filtered ones run unnamed.
//!
//! Each statement names the incarnation's table, so a read of a dropped incarnation fails
//! (and is retried by the core on the current one) instead of reading an empty or old table.

use std::collections::HashMap;

use tokio_postgres::types::Type;
use vector_backend::driver::{CheckedFilter, KeySet, Page, ScanSpec};
use vector_backend::{Result, StoredVector};

use crate::catalog::PgNamespace;
use crate::client::Client;
use crate::error::PgError;
use crate::filter::SqlBuilder;
use crate::reply;

/// How many records `ns` holds, or match `filter`.
pub(crate) async fn count(
    client: &Client,
    ns: &PgNamespace,
    filter: Option<&CheckedFilter<'_>>,
) -> Result<u64> {
    client
        .run(client.timeout(), "count", async |c| {
            let row = match filter {
                None => {
                    let stmt = c
                        .prepare(&format!("SELECT count(*) FROM {}", ns.table()))
                        .await?;
                    c.query_one(&stmt, &[]).await?
                }
                Some(f) => {
                    let mut b = SqlBuilder::default();
                    let sql = format!(
                        "SELECT count(*) FROM {} WHERE {}",
                        ns.table(),
                        b.condition(f)
                    );
                    c.query_typed(&sql, &b.params())
                        .await?
                        .into_iter()
                        .next()
                        .ok_or_else(|| PgError::Corrupt("count(*) returned no row".into()))?
                }
            };
            let n: i64 = row.try_get(0)?;
            Ok(n as u64)
        })
        .await
        .map_err(|e| ns.checked(e))
}

/// The stored vector of each key, in the order of `keys`.
pub(crate) async fn read(
    client: &Client,
    ns: &PgNamespace,
    keys: &KeySet<'_>,
) -> Result<Vec<Option<StoredVector>>> {
    client
        .run(client.timeout(), "read", async |c| {
            let stmt = c
                .prepare(&format!(
                    "SELECT key, embedding, meta FROM {} WHERE key = ANY($1::text[])",
                    ns.table()
                ))
                .await?;
            let rows = c.query(&stmt, &[&keys.keys()]).await?;
            let mut found = rows
                .iter()
                .map(reply::stored)
                .collect::<Result<HashMap<_, _>, _>>()?;
            Ok(keys.keys().iter().map(|k| found.remove(*k)).collect())
        })
        .await
        .map_err(|e| ns.checked(e))
}

/// One page of records in key order: keyset pagination on the primary key, whose `COLLATE "C"`
/// makes its order byte order.
pub(crate) async fn scan(client: &Client, ns: &PgNamespace, spec: &ScanSpec<'_>) -> Result<Page> {
    let limit = spec.limit() as i64 + 1;
    let after = spec.after().map(str::to_owned);
    client
        .run(client.timeout(), "scan", async |c| {
            let rows = match spec.filter() {
                None => {
                    let stmt = c
                        .prepare(&format!(
                            "SELECT key, embedding, meta FROM {} WHERE ($1::text IS NULL OR key > $1::text) ORDER BY key LIMIT $2",
                            ns.table()
                        ))
                        .await?;
                    c.query(&stmt, &[&after, &limit]).await?
                }
                Some(f) => {
                    let mut b = SqlBuilder::default();
                    let after = b.bind(after.clone(), Type::TEXT);
                    let limit = b.bind(limit, Type::INT8);
                    let sql = format!(
                        "SELECT key, embedding, meta FROM {} WHERE ({after} IS NULL OR key > {after}) AND {} ORDER BY key LIMIT {limit}",
                        ns.table(),
                        b.condition(f)
                    );
                    c.query_typed(&sql, &b.params()).await?
                }
            };
            let more = rows.len() > spec.limit();
            let records = rows
                .iter()
                .take(spec.limit())
                .map(reply::record)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::new(records, more))
        })
        .await
        .map_err(|e| ns.checked(e))
}
