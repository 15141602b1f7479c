//! Keyword search and hybrid queries: `FT.SEARCH` over the text bag, scored by `BM25STD`.
//!
//! A namespace with text fields keeps each record's text bag (the core's tokens, see
//! `vector_backend::text`) in the hash field `x`, a `TEXT NOSTEM` field of an index created
//! with `STOPWORDS 0` ([`crate::schema`]). A keyword query is the OR of the query's distinct
//! tokens, each `[a-z0-9]+`, so no user character ever reaches the query parser, sent with
//! `VERBATIM` (no stemming expansion of the query) and `SCORER BM25STD` (2.10's default is
//! TFIDF). `BM25STD` is BM25 with k1 = 1.2 and b = 0.5 over the whole index's statistics: the
//! contract's formula, to 6e-8 (relative) on a namespace written once (see the README for
//! how the statistics drift after updates and deletes).
//!
//! Without a filter the query is the plain union `@x:(t1 | t2)`. With one, RediSearch 2.10
//! under-scores a union intersected with other clauses (issue #4673: after a skip, the union
//! reports only the first child that reached the document), so the query matches with the
//! union and the filter each under a double negation, which scores 0, and scores with one
//! optional leaf per token, each of which scores its own term exactly:
//!
//! ```text
//! (-(-(@x:(t1 | t2)))) (-(-(FILTER))) ~(@x:t1) ~(@x:t2)
//! ```
//!
//! `FT.SEARCH ... WITHSCORES LIMIT 0 fetch` returns the best `fetch` by score with their
//! scores in full precision, loading key, metadata (and embedding) for those only. Its ties
//! come in index order; the core orders hits by score then key and asks for more while a tie
//! at the k-th place may continue past the last one returned, as for vector queries. (The
//! alternative, `FT.AGGREGATE ... ADDSCORES LOAD 1 @__key SORTBY 4 @__score DESC @__key ASC`,
//! orders ties by key on the server but loads the key of *every* match before sorting: 48 ms
//! instead of 4.6 ms per query in `benches/redis.rs` (50,000 records), and its scores are
//! printed to 12 digits.) Every query goes in a pipeline ending with the incarnation check,
//! like every other read; a hybrid query sends its KNN leg, its keyword leg and the check in
//! one pipeline.

use redis::{Cmd, Value};
use vector_backend::driver::KeywordQuery;
use vector_backend::driver::{NamespaceState as _, Query};
use vector_backend::{Result, SearchResult};

use crate::catalog::{self, RedisNamespace};
use crate::client::Client;
use crate::error::RedisError;
use crate::filter::to_query;
use crate::reply;
use crate::schema::{F_KEY, F_META, F_TEXT, F_VEC};
use crate::search::{self, decode_hit, ft_search};

pub(crate) async fn keyword(
    client: &Client,
    ns: &RedisNamespace,
    query: &KeywordQuery<'_>,
) -> Result<Vec<SearchResult>> {
    if query.tokens().is_empty() {
        return Ok(Vec::new());
    }
    let mut p = redis::pipe();
    p.add_command(keyword_command(client, ns, query));
    let reply = catalog::checked_read_one(client, ns, p).await?;
    hits(query, &reply)
}

/// Both legs of a hybrid query in one round trip: the KNN leg, the keyword leg, then the
/// incarnation check.
pub(crate) async fn hybrid(
    client: &Client,
    ns: &RedisNamespace,
    vector: &Query<'_>,
    keyword: &KeywordQuery<'_>,
) -> Result<(Vec<SearchResult>, Vec<SearchResult>)> {
    if keyword.tokens().is_empty() {
        return Ok((search::search(client, ns, vector).await?, Vec::new()));
    }
    let mut p = redis::pipe();
    p.add_command(search::knn_command(client, ns, vector));
    p.add_command(keyword_command(client, ns, keyword));
    let mut replies = catalog::checked_read(client, ns, p).await?.into_iter();
    let (Some(v), Some(k)) = (replies.next(), replies.next()) else {
        return Err(RedisError::reply("a hybrid pipeline", "fewer than two replies").into());
    };
    let v = search::hits(ns, vector, &client.classify(v)?)?;
    let k = hits(keyword, &client.classify(k)?)?;
    Ok((v, k))
}

/// The query text: the OR of `tokens` on the text bag, and with a filter (already translated)
/// the form that scores exactly under it (see the module docs).
pub(crate) fn query_text(tokens: &[String], filter: Option<&str>) -> String {
    let union = format!("@{F_TEXT}:({})", tokens.join(" | "));
    let Some(filter) = filter else {
        return union;
    };
    let mut q = format!("(-(-({union}))) (-(-({filter})))");
    for t in tokens {
        q.push_str(&format!(" ~(@{F_TEXT}:{t})"));
    }
    q
}

/// The `FT.SEARCH` of a keyword query: the best [`KeywordQuery::fetch`] records by BM25
/// (ties in any order), with key, metadata and (when asked for) the embedding.
fn keyword_command(client: &Client, ns: &RedisNamespace, query: &KeywordQuery<'_>) -> Cmd {
    let filter = query.filter().map(|f| to_query(f, ns.config()));
    let mut cmd = ft_search(client, ns, &query_text(query.tokens(), filter.as_deref()));
    let include_embedding = query.include_embedding();
    cmd.arg("VERBATIM")
        .arg("SCORER")
        .arg("BM25STD")
        .arg("WITHSCORES")
        .arg("RETURN")
        .arg(if include_embedding { 3 } else { 2 })
        .arg(F_KEY)
        .arg(F_META);
    if include_embedding {
        cmd.arg(F_VEC);
    }
    cmd.arg("LIMIT").arg(0).arg(query.fetch());
    cmd
}

/// The matches of one `FT.SEARCH ... WITHSCORES` reply, in the server's order: score =
/// BM25STD, distance = -score.
fn hits(query: &KeywordQuery<'_>, reply: &Value) -> Result<Vec<SearchResult>> {
    let mut out = Vec::new();
    for (score, doc) in reply::search_scored_documents(reply)? {
        if let Some(hit) = decode_hit(&doc, Some(score), query.include_embedding())? {
            out.push(SearchResult::new(
                hit.key,
                hit.native,
                -hit.native,
                hit.metadata,
                hit.embedding,
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_hold_only_tokens_and_fixed_syntax() {
        let t = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(query_text(&t(&["hello"]), None), "@x:(hello)");
        assert_eq!(
            query_text(&t(&["a", "14", "not"]), None),
            "@x:(a | 14 | not)"
        );
        assert_eq!(
            query_text(&t(&["a", "b"]), Some("@t1:{s61}")),
            "(-(-(@x:(a | b)))) (-(-(@t1:{s61}))) ~(@x:a) ~(@x:b)"
        );
    }
}
