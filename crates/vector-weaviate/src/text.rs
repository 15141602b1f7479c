//! Keyword search and hybrid legs: GraphQL `bm25` over the text bag (`vt_text`), with `limit`
//! and the same `where` as vector search, scores as Weaviate's native BM25F (a float32 sent as
//! a String). Hybrid sends both legs in one GraphQL request (aliased `Get` fields, with the
//! catalogue check), and the core fuses them. Weaviate's own `hybrid` operator is not used: its
//! fusion constants, depths, float32 arithmetic and tie order differ from the contract.
//!
//! Like `search.rs`, this returns `fetch` candidates, best first; the core finishes (order,
//! threshold, `k`, ties at the k-th place). A filter that the server can only widen is
//! re-checked on every candidate, and more candidates are fetched until `fetch` of them match,
//! up to the server's `QUERY_MAXIMUM_RESULTS` (see the crate README's limits).

use vector_backend::driver::{KeywordQuery, NamespaceState as _, Query};
use vector_backend::{Result, SearchResult};

use crate::backend::WeaviateDriver;
use crate::catalog::WeaviateNamespace;
use crate::error::WeaviateError;
use crate::filter::{Translated, translate};
use crate::graphql::{Document, Fetch, get_field};
use crate::reply::{Hit, hits};
use crate::search::Prepared;

/// One keyword query, ready to send: its translated filter.
struct Keyword<'q> {
    query: &'q KeywordQuery<'q>,
    filter: Option<Translated>,
}

impl<'q> Keyword<'q> {
    fn new(ns: &WeaviateNamespace, query: &'q KeywordQuery<'q>) -> Self {
        Self {
            query,
            filter: query
                .filter()
                .map(|f| translate(f, &ns.config().filterable)),
        }
    }

    fn exact(&self) -> bool {
        self.filter.as_ref().is_none_or(|t| t.exact)
    }

    fn fetch(&self, limit: usize) -> Fetch<'_> {
        Fetch {
            bm25: Some(self.query.tokens()),
            condition: self.filter.as_ref().and_then(|t| t.condition.as_ref()),
            limit,
            meta: true,
            vector: self.query.include_embedding(),
            ..Fetch::default()
        }
    }

    /// The candidates among `hits` and whether they answer the query (see
    /// `search::Prepared::candidates`).
    fn candidates(
        &self,
        hits: Vec<Hit>,
        limit: usize,
    ) -> Result<(Vec<SearchResult>, bool), WeaviateError> {
        let exhausted = hits.len() < limit;
        let filter = self.query.filter().filter(|_| !self.exact());
        let mut out = Vec::with_capacity(hits.len());
        for h in hits {
            if filter.is_some_and(|f| !f.matches(&h.metadata)) {
                continue;
            }
            let s = h
                .score
                .ok_or_else(|| WeaviateError::decode("GraphQL Get", "a result without score"))?;
            out.push(SearchResult::new(h.key, s, -s, h.metadata, h.vector));
        }
        let done = self.exact() || exhausted || out.len() >= self.query.fetch();
        Ok((out, done))
    }
}

/// The aliases of the two legs in a hybrid request.
const VECTOR_LEG: &str = "v";
const KEYWORD_LEG: &str = "k";

impl WeaviateDriver {
    /// Up to `fetch` keyword candidates, best first by BM25.
    pub(crate) async fn keyword_search(
        &self,
        ns: &WeaviateNamespace,
        query: &KeywordQuery<'_>,
    ) -> Result<Vec<SearchResult>> {
        let k = Keyword::new(ns, query);
        let max = self.max_results();
        let mut limit = query.fetch().min(max);
        loop {
            let doc = Document {
                get: vec![get_field(KEYWORD_LEG, ns.class(), &k.fetch(limit))],
                ..Document::default()
            };
            let data = self.query_checked(ns, &doc).await?;
            let found = hits(&data["Get"][KEYWORD_LEG], "GraphQL Get")?;
            let (results, done) = k.candidates(found, limit)?;
            // Past the server's result limit a widened filter's remaining matches cannot be
            // reached by BM25 rank: what matched among the best `max` is the answer.
            if done || limit >= max {
                return Ok(results);
            }
            limit = (limit * 4).min(max);
        }
    }

    /// Both legs of a hybrid query from one GraphQL request; a leg whose widened filter needs
    /// more candidates continues on its own.
    pub(crate) async fn hybrid_legs(
        &self,
        ns: &WeaviateNamespace,
        vector: &Query<'_>,
        keyword: &KeywordQuery<'_>,
    ) -> Result<(Vec<SearchResult>, Vec<SearchResult>)> {
        let max = self.max_results();
        let v = Prepared::new(ns, vector);
        let k = Keyword::new(ns, keyword);
        let (v_limit, k_limit) = (vector.fetch().min(max), keyword.fetch().min(max));
        let mut get = vec![get_field(KEYWORD_LEG, ns.class(), &k.fetch(k_limit))];
        if let Some(v) = &v {
            get.push(get_field(VECTOR_LEG, ns.class(), &v.fetch(v_limit)));
        }
        let data = self
            .query_checked(
                ns,
                &Document {
                    get,
                    ..Document::default()
                },
            )
            .await?;
        let vector_hits = match &v {
            None => Vec::new(),
            Some(p) => {
                let found = hits(&data["Get"][VECTOR_LEG], "GraphQL Get")?;
                let (results, done) = p.candidates(ns.config().metric, found, v_limit)?;
                if done {
                    results
                } else {
                    self.nearest(ns, vector).await?
                }
            }
        };
        let found = hits(&data["Get"][KEYWORD_LEG], "GraphQL Get")?;
        let (results, done) = k.candidates(found, k_limit)?;
        let keyword_hits = if done || k_limit >= max {
            results
        } else {
            self.keyword_search(ns, keyword).await?
        };
        Ok((vector_hits, keyword_hits))
    }
}
