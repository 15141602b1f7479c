//! kNN search: `ORDER BY embedding <op> $1 LIMIT $2` on the namespace's table, with the filter
//! and a widened threshold bound pushed down, and several queries (or the two legs of a hybrid
//! query, the keyword one from `text.rs`) pipelined on one connection in one round trip.
//!
//! On HNSW namespaces the query-time settings (`hnsw.ef_search`, `hnsw.iterative_scan`) are set
//! with `SET LOCAL` inside `BEGIN ... COMMIT`, so they end with the transaction and never leak
//! to the next user of the pooled connection; every request (settings, queries, commit) is sent
//! before any reply is awaited. If one fails, the transaction is aborted and `COMMIT` rolls it
//! back. Unfiltered statements are fixed per table and prepared; filtered ones run unnamed.

use pgvector::Vector;
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};
use vector_backend::driver::{KeywordQuery, NativeDistance, Query};
use vector_backend::{Result, SearchResult};

use crate::catalog::PgNamespace;
use crate::client::{Client, Request, pipeline};
use crate::config::PgConfig;
use crate::error::PgError;
use crate::filter::SqlBuilder;
use crate::{reply, text};

/// pgvector's largest `hnsw.ef_search`.
const MAX_EF_SEARCH: usize = 1000;

/// The kNN SQL on `ns` (`$1` the query vector, `$2` the limit), with `conditions` ANDed.
pub(crate) fn knn_sql(ns: &PgNamespace, include_embedding: bool, conditions: &[String]) -> String {
    let (op, _) = ns.distance();
    let emb = if include_embedding { ", embedding" } else { "" };
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    format!(
        "SELECT key, meta, (embedding {op} $1)::float8{emb} FROM {}{filter} ORDER BY embedding {op} $1 LIMIT $2",
        ns.table()
    )
}

/// One query, ready to send.
struct Plan {
    sql: String,
    params: SqlBuilder,
    /// Whether the SQL text is fixed per table (no filter), so it may be prepared by name.
    named: bool,
    /// The HNSW settings for it.
    settings: String,
    include_embedding: bool,
}

fn plan(client: &Client, config: &PgConfig, ns: &PgNamespace, q: &Query<'_>) -> Plan {
    let (op, native) = ns.distance();
    let mut params = SqlBuilder::with(vec![
        (
            Box::new(Vector::from(q.embedding().to_vec())),
            client.vector_type().clone(),
        ),
        (Box::new(q.fetch() as i64), Type::INT8),
    ]);
    let mut conditions = Vec::new();
    if let Some(t) = q.threshold() {
        let bound = params.bind(native.bound(t), Type::FLOAT8);
        conditions.push(format!("(embedding {op} $1) <= {bound}"));
    }
    if let Some(f) = q.filter() {
        conditions.push(params.condition(f));
    }
    let ef = (config.ef_search as usize)
        .max(q.fetch())
        .min(MAX_EF_SEARCH);
    // An iterative scan keeps going until the limit is met when a filter or threshold rejects
    // candidates, or when more are wanted than one ef_search pass can return.
    let iterative = if q.filter().is_some() || q.threshold().is_some() || q.fetch() > ef {
        "relaxed_order"
    } else {
        "off"
    };
    Plan {
        sql: knn_sql(ns, q.include_embedding(), &conditions),
        named: q.filter().is_none(),
        params,
        settings: format!(
            "SET LOCAL hnsw.ef_search = {ef}; SET LOCAL hnsw.iterative_scan = {iterative}"
        ),
        include_embedding: q.include_embedding(),
    }
}

/// The candidates of each query, in one round trip.
pub(crate) async fn search_batch(
    client: &Client,
    config: &PgConfig,
    ns: &PgNamespace,
    queries: &[Query<'_>],
) -> Result<Vec<Vec<SearchResult>>> {
    Ok(pipelined(client, config, ns, queries, None).await?.0)
}

/// Both legs of a hybrid query in one round trip: the kNN query (inside its settings
/// transaction on HNSW namespaces) and the keyword query, sent on one connection before either
/// reply is read.
pub(crate) async fn hybrid(
    client: &Client,
    config: &PgConfig,
    ns: &PgNamespace,
    vector: &Query<'_>,
    keyword: &KeywordQuery<'_>,
) -> Result<(Vec<SearchResult>, Vec<SearchResult>)> {
    let (mut v, k) = pipelined(
        client,
        config,
        ns,
        std::slice::from_ref(vector),
        Some(keyword),
    )
    .await?;
    Ok((v.pop().unwrap_or_default(), k))
}

/// The kNN queries and, when given, a keyword query, pipelined on one connection: every
/// request (settings, queries, commit) is sent before any reply is awaited.
async fn pipelined(
    client: &Client,
    config: &PgConfig,
    ns: &PgNamespace,
    queries: &[Query<'_>],
    keyword: Option<&KeywordQuery<'_>>,
) -> Result<(Vec<Vec<SearchResult>>, Vec<SearchResult>)> {
    let plans: Vec<Plan> = queries
        .iter()
        .map(|q| plan(client, config, ns, q))
        .collect();
    let keyword = keyword
        .filter(|k| !k.tokens().is_empty())
        .map(|k| text::plan(ns, k));
    let (_, native) = ns.distance();
    let hnsw = ns.has_hnsw();
    client
        .run(client.timeout(), "search", async |c| {
            let mut statements = Vec::with_capacity(plans.len());
            for p in &plans {
                statements.push(if p.named {
                    Some(c.prepare(&p.sql).await?)
                } else {
                    None
                });
            }
            let c = &*c;
            let mut requests: Vec<Request<'_, Vec<Row>>> = Vec::new();
            for (i, (p, stmt)) in plans.iter().zip(&statements).enumerate() {
                if hnsw {
                    let begin = if i == 0 { "BEGIN; " } else { "" };
                    let settings = format!("{begin}{}", p.settings);
                    requests.push(Box::pin(async move {
                        c.batch_execute(&settings).await.map(|()| Vec::new())
                    }));
                }
                requests.push(match stmt {
                    Some(stmt) => Box::pin(async move {
                        let refs: Vec<&(dyn ToSql + Sync)> =
                            p.params.params().into_iter().map(|(v, _)| v).collect();
                        c.query(stmt, &refs).await
                    }),
                    None => {
                        Box::pin(async move { c.query_typed(&p.sql, &p.params.params()).await })
                    }
                });
            }
            // The keyword query runs unnamed (its text depends on the tokens and the filter),
            // inside the transaction when there is one: a failure of either leg rolls it back.
            if let Some(k) = &keyword {
                requests.push(Box::pin(async move {
                    c.query_typed(&k.sql, &k.params.params()).await
                }));
            }
            if hnsw && !plans.is_empty() {
                requests.push(Box::pin(async move {
                    c.batch_execute("COMMIT").await.map(|()| Vec::new())
                }));
            }
            let mut replies = pipeline(requests).await.into_iter();
            let mut out = Vec::with_capacity(plans.len());
            for p in &plans {
                if hnsw {
                    replies.next().transpose()?;
                }
                let rows = replies.next().transpose()?.unwrap_or_default();
                out.push(hits(&rows, native, p.include_embedding)?);
            }
            let keyword_hits = match &keyword {
                Some(k) => {
                    let rows = replies.next().transpose()?.unwrap_or_default();
                    text::hits(&rows, k.include_embedding)?
                }
                None => Vec::new(),
            };
            if let Some(commit) = replies.next() {
                commit?;
            }
            Ok((out, keyword_hits))
        })
        .await
        .map_err(|e| ns.checked(e))
}

fn hits(
    rows: &[Row],
    native: NativeDistance,
    with_embedding: bool,
) -> Result<Vec<SearchResult>, PgError> {
    rows.iter()
        .map(|r| reply::hit(r, native, with_embedding))
        .collect()
}
