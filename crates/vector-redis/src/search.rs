//! Nearest-neighbour queries: `FT.SEARCH ... KNN` on the incarnation's index, in one
//! pipeline with the incarnation check; a batch of queries is one pipeline too.

use redis::{Cmd, Value};
use vector_backend::driver::{NamespaceState as _, Query};
use vector_backend::{IndexKind, Metadata, Metric, Result, SearchResult};

use crate::catalog::{self, RedisNamespace};
use crate::client::Client;
use crate::error::RedisError;
use crate::filter::to_query;
use crate::reply;
use crate::schema::{F_KEY, F_META, F_VEC, SCORE_ALIAS, blob};

pub(crate) async fn search(
    client: &Client,
    ns: &RedisNamespace,
    query: &Query<'_>,
) -> Result<Vec<SearchResult>> {
    let mut hits = search_batch(client, ns, std::slice::from_ref(query)).await?;
    Ok(hits.pop().unwrap_or_default())
}

pub(crate) async fn search_batch(
    client: &Client,
    ns: &RedisNamespace,
    queries: &[Query<'_>],
) -> Result<Vec<Vec<SearchResult>>> {
    let mut p = redis::pipe();
    for q in queries {
        p.add_command(knn_command(client, ns, q));
    }
    let replies = catalog::checked_read(client, ns, p).await?;
    queries
        .iter()
        .zip(replies)
        .map(|(q, r)| {
            let reply = client.classify(r)?;
            hits(ns, q, &reply)
        })
        .collect()
}

/// `FT.SEARCH` of `text` on the incarnation's index (query dialect 2), for the caller to add
/// options to. The server's own time limit is the operation timeout: its default (500 ms,
/// then return partial results) would silently cut large exact searches short.
pub(crate) fn ft_search(client: &Client, ns: &RedisNamespace, text: &str) -> Cmd {
    let mut cmd = redis::cmd("FT.SEARCH");
    cmd.arg(&ns.names().index)
        .arg(text)
        .arg("TIMEOUT")
        .arg(client.timeout().as_millis() as u64)
        .arg("DIALECT")
        .arg(2);
    cmd
}

/// The FT.SEARCH KNN command for a query: up to [`Query::fetch`] candidates, nearest first.
pub(crate) fn knn_command(client: &Client, ns: &RedisNamespace, query: &Query<'_>) -> Cmd {
    let config = ns.config();
    let fetch = query.fetch();
    let filtered = query.filter().is_some();
    let text = query
        .filter()
        .map_or_else(|| "*".to_owned(), |f| to_query(f, config));
    // With a filter, HYBRID_POLICY ADHOC_BF computes exact distances over the records that
    // pass it, so filtered results equal the exact oracle's even on an HNSW index (the
    // default batches policy may return fewer than K). Without one, HNSW searches with a
    // generous EF_RUNTIME for high recall.
    let hnsw = config.index != IndexKind::Flat;
    let mut knn = format!("({text})=>[KNN $K @{F_VEC} $B");
    if filtered {
        knn.push_str(" HYBRID_POLICY ADHOC_BF");
    } else if hnsw {
        knn.push_str(" EF_RUNTIME $EF");
    }
    knn.push_str(&format!(" AS {SCORE_ALIAS}]"));
    let mut cmd = ft_search(client, ns, &knn);
    // An HNSW graph built on inner products (not a metric) navigates worse than one on
    // cosine or L2 distances: measured recall@10 on the suite's clustered set was 0.86 at
    // EF_RUNTIME 100 and 0.93 at 300, so IP searches look much wider.
    let ef = match config.metric {
        Metric::DotProduct => (4 * fetch).max(1000),
        Metric::Cosine | Metric::Euclidean => (2 * fetch).max(100),
    };
    let with_ef = !filtered && hnsw;
    cmd.arg("PARAMS")
        .arg(if with_ef { 6 } else { 4 })
        .arg("K")
        .arg(fetch)
        .arg("B")
        .arg(blob(query.embedding()));
    if with_ef {
        cmd.arg("EF").arg(ef);
    }
    cmd.arg("SORTBY").arg(SCORE_ALIAS).arg("ASC");
    let include_embedding = query.include_embedding();
    cmd.arg("RETURN")
        .arg(if include_embedding { 4 } else { 3 })
        .arg(SCORE_ALIAS)
        .arg(F_KEY)
        .arg(F_META);
    if include_embedding {
        cmd.arg(F_VEC);
    }
    cmd.arg("LIMIT").arg(0).arg(fetch);
    cmd
}

/// The candidates of one FT.SEARCH reply, in the server's order, with contract scores.
pub(crate) fn hits(
    ns: &RedisNamespace,
    query: &Query<'_>,
    reply: &Value,
) -> Result<Vec<SearchResult>> {
    let distance = ns.distance();
    let mut out = Vec::new();
    for doc in reply::search_documents(reply)? {
        let native = doc.get(SCORE_ALIAS).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        });
        if let Some(hit) = decode_hit(&doc, native, query.include_embedding())? {
            let s = distance.scored(hit.native);
            out.push(SearchResult::new(
                hit.key,
                s.score,
                s.distance,
                hit.metadata,
                hit.embedding,
            ));
        }
    }
    Ok(out)
}

/// A hit as the server returned it: the native score (or distance) not yet converted.
pub(crate) struct Hit {
    pub(crate) key: String,
    pub(crate) native: f64,
    pub(crate) metadata: Metadata,
    pub(crate) embedding: Option<Vec<f32>>,
}

/// The hit of a returned document: key, metadata, its `native` score or distance (`None`
/// when the reply had none that parses: an error) and, when asked for, the embedding. `None`
/// for a record deleted between matching and loading (no key or metadata came back).
pub(crate) fn decode_hit(
    doc: &reply::Fields,
    native: Option<f64>,
    include_embedding: bool,
) -> Result<Option<Hit>> {
    let (Some(key), Some(meta)) = (doc.get(F_KEY), doc.get(F_META)) else {
        return Ok(None);
    };
    let key = String::from_utf8(key.clone())
        .map_err(|_| RedisError::corrupt("a search result", "key is not UTF-8"))?;
    let native = native.ok_or_else(|| {
        RedisError::corrupt(format!("the score of {key:?}"), "missing or not a number")
    })?;
    let metadata = reply::decode_metadata(&key, meta)?;
    let embedding = match (include_embedding, doc.get(F_VEC)) {
        (true, Some(v)) => Some(reply::decode_embedding(&key, v)?),
        (true, None) => {
            return Err(RedisError::corrupt(format!("record {key:?}"), "no embedding").into());
        }
        (false, _) => None,
    };
    Ok(Some(Hit {
        key,
        native,
        metadata,
        embedding,
    }))
}
