//! Searches: GraphQL `nearVector` with `limit` and `where`, the threshold pushed down as a
//! distance bound, Weaviate distances turned into contract scores. Several queries go in one
//! request as aliased `Get` fields (`search_batch`).
//!
//! The core finishes every answer (exact threshold, order, `k`, ties at the k-th place); this
//! module only has to return `fetch` candidates, best first. A filter that the server can only
//! widen (see `filter.rs`) is re-checked here on every candidate, and more candidates are
//! fetched until `fetch` of them match; past the server's `QUERY_MAXIMUM_RESULTS`, every match
//! is scored client-side (exact, and costly, but never wrong).

use vector_backend::driver::{NamespaceState as _, NativeDistance, Query};
use vector_backend::score::{self, Scored};
use vector_backend::{Metric, Result, SearchResult};

use crate::backend::WeaviateDriver;
use crate::catalog::WeaviateNamespace;
use crate::error::WeaviateError;
use crate::filter::{Translated, translate};
use crate::graphql::{Document, Fetch, get_field};
use crate::reply::{Hit, hits};

/// Weaviate's distance for each metric: `cosine` (1 - cos), `dot` (-a·b), `l2-squared`.
fn native(metric: Metric) -> NativeDistance {
    match metric {
        Metric::Cosine => NativeDistance::CosineDistance,
        Metric::DotProduct => NativeDistance::NegativeDot,
        Metric::Euclidean => NativeDistance::SquaredEuclidean,
    }
}

/// The contract's score and distance for a distance Weaviate reported.
pub fn scored(metric: Metric, d: f64) -> Scored {
    native(metric).scored(d)
}

/// What a minimum score means as a Weaviate `nearVector.distance`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// No threshold, or one every distance meets: send no distance.
    All,
    /// Send this distance (inclusive on the server, already widened by the pushdown margin).
    Max(f64),
    /// No record can reach the threshold (a positive threshold under Euclidean).
    Nothing,
}

/// The distance bound for an inclusive minimum score (the core's widened bound).
pub fn bound(metric: Metric, threshold: Option<f64>) -> Bound {
    let Some(t) = threshold else {
        return Bound::All;
    };
    let d = native(metric).bound(t);
    // A negative bound is a real distance under `dot` only; the others are never negative.
    if d < 0.0 && metric != Metric::DotProduct {
        Bound::Nothing
    } else if metric == Metric::Cosine && d >= 2.0 + score::pushdown_margin(t) {
        // Cosine distances lie in [0, 2] (plus rounding): every record passes.
        Bound::All
    } else {
        Bound::Max(d)
    }
}

/// One query, ready to send: its translated filter and distance bound.
pub(crate) struct Prepared<'q> {
    pub(crate) query: &'q Query<'q>,
    filter: Option<Translated>,
    max_distance: Option<f64>,
}

impl<'q> Prepared<'q> {
    /// `None` when no record can pass the threshold.
    pub(crate) fn new(ns: &WeaviateNamespace, query: &'q Query<'q>) -> Option<Self> {
        let max_distance = match bound(ns.config().metric, query.threshold()) {
            Bound::Nothing => return None,
            Bound::All => None,
            Bound::Max(d) => Some(d),
        };
        Some(Self {
            query,
            filter: query
                .filter()
                .map(|f| translate(f, &ns.config().filterable)),
            max_distance,
        })
    }

    fn exact(&self) -> bool {
        self.filter.as_ref().is_none_or(|t| t.exact)
    }

    pub(crate) fn fetch(&self, limit: usize) -> Fetch<'_> {
        Fetch {
            near: Some((self.query.embedding(), self.max_distance)),
            condition: self.filter.as_ref().and_then(|t| t.condition.as_ref()),
            limit,
            meta: true,
            vector: self.query.include_embedding(),
            ..Fetch::default()
        }
    }

    /// The candidates among `hits` (all of them, or those the filter matches when the server
    /// could only widen it), and whether they answer the query: the server returned fewer
    /// than asked (it has no more), or enough candidates passed.
    pub(crate) fn candidates(
        &self,
        metric: Metric,
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
            let d = h
                .distance
                .ok_or_else(|| WeaviateError::decode("GraphQL Get", "a result without distance"))?;
            let s = scored(metric, d);
            out.push(SearchResult::new(
                h.key, s.score, s.distance, h.metadata, h.vector,
            ));
        }
        let done = self.exact() || exhausted || out.len() >= self.query.fetch();
        Ok((out, done))
    }
}

impl WeaviateDriver {
    /// Up to `fetch` candidates for one query, best first.
    pub(crate) async fn nearest(
        &self,
        ns: &WeaviateNamespace,
        query: &Query<'_>,
    ) -> Result<Vec<SearchResult>> {
        let Some(p) = Prepared::new(ns, query) else {
            return Ok(Vec::new());
        };
        let max = self.max_results();
        let mut limit = query.fetch().min(max);
        loop {
            let hits = self.get_hits(ns, &p.fetch(limit)).await?;
            let (results, done) = p.candidates(ns.config().metric, hits, limit)?;
            if done {
                return Ok(results);
            }
            if limit >= max {
                return self.score_every_match(ns, &p).await;
            }
            limit = (limit * 4).min(max);
        }
    }

    /// The candidates of several queries from one request (aliased `Get` fields); a query
    /// whose widened filter needs more candidates continues on its own.
    pub(crate) async fn nearest_batch(
        &self,
        ns: &WeaviateNamespace,
        queries: &[Query<'_>],
    ) -> Result<Vec<Vec<SearchResult>>> {
        let prepared: Vec<Option<Prepared<'_>>> =
            queries.iter().map(|q| Prepared::new(ns, q)).collect();
        let max = self.max_results();
        let limits: Vec<usize> = queries.iter().map(|q| q.fetch().min(max)).collect();
        let doc = Document {
            get: prepared
                .iter()
                .zip(&limits)
                .enumerate()
                .filter_map(|(i, (p, limit))| {
                    Some(get_field(
                        &format!("q{i}"),
                        ns.class(),
                        &p.as_ref()?.fetch(*limit),
                    ))
                })
                .collect(),
            ..Document::default()
        };
        if doc.get.is_empty() {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        let data = self.query_checked(ns, &doc).await?;
        let mut out = Vec::with_capacity(queries.len());
        for (i, (p, limit)) in prepared.iter().zip(&limits).enumerate() {
            let Some(p) = p else {
                out.push(Vec::new());
                continue;
            };
            let hits = hits(&data["Get"][format!("q{i}")], "GraphQL Get")?;
            let (results, done) = p.candidates(ns.config().metric, hits, *limit)?;
            out.push(if done {
                results
            } else {
                self.nearest(ns, p.query).await?
            });
        }
        Ok(out)
    }

    /// Every match of a widened filter, scored client-side with the reference formula.
    async fn score_every_match(
        &self,
        ns: &WeaviateNamespace,
        p: &Prepared<'_>,
    ) -> Result<Vec<SearchResult>> {
        let Some(t) = &p.filter else {
            return Ok(Vec::new());
        };
        let metric = ns.config().metric;
        let q = p.query;
        self.all_matching(ns, q.filter().map(|f| f.filter()), t, true)
            .await?
            .into_iter()
            .map(|mut h| {
                let v = h.take_vector("GraphQL Get")?;
                let s = score::reference(metric, q.embedding(), &v);
                let v = q.include_embedding().then_some(v);
                Ok(SearchResult::new(h.key, s.score, s.distance, h.metadata, v))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_per_metric() {
        assert_eq!(bound(Metric::Cosine, None), Bound::All);
        assert_eq!(bound(Metric::Cosine, Some(-1.5)), Bound::All);
        assert!(
            matches!(bound(Metric::Cosine, Some(0.5)), Bound::Max(d) if (d - 0.501).abs() < 1e-12)
        );
        assert!(
            matches!(bound(Metric::DotProduct, Some(11.0)), Bound::Max(d) if (d - (-11.0 + 0.011)).abs() < 1e-12)
        );
        assert_eq!(bound(Metric::Euclidean, Some(0.1)), Bound::Nothing);
        assert!(
            matches!(bound(Metric::Euclidean, Some(-2.0)), Bound::Max(d) if (d - 2.002f64.powi(2)).abs() < 1e-12)
        );
        assert!(
            matches!(bound(Metric::Euclidean, Some(0.0)), Bound::Max(d) if d > 0.0 && d < 1e-5)
        );
    }
}
