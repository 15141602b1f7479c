//! Hybrid search's fusion contract, computed here for every backend: each backend returns its
//! two ranked legs (vector top-m and keyword top-m, [`leg_depth`]), each sorted by score then
//! key, and [`fuse`] combines them. Native fusion (Weaviate `hybrid`, Redis `FT.HYBRID`) is not
//! used: its constants, depths, float32 arithmetic and tie orders differ from this contract.

use std::collections::BTreeMap;

use crate::score::result_order;
use crate::types::{Fusion, LegHit, Legs, SearchResult};

/// How many results each leg of a hybrid query returns: `4 × k` (at most the contract's
/// largest `k`). Measured on a labelled corpus, 4k was the best or tied depth for reciprocal
/// rank fusion among k, 2k, 4k and 10k; deeper legs let records far down both lists win.
pub fn leg_depth(k: usize) -> usize {
    (4 * k).min(crate::validate::MAX_K)
}

/// Fuses two legs, each sorted by the contract's order (score descending, then key) and cut
/// at the leg depth, into the top `k`: score = fused score, `distance = -score`, and
/// [`SearchResult::legs`] says where each hit stood. Ties are broken by key. Computed in f64.
pub fn fuse(
    vector: &[SearchResult],
    keyword: &[SearchResult],
    fusion: Fusion,
    k: usize,
) -> Vec<SearchResult> {
    // Key → (hit, legs). BTreeMap: deterministic whatever the legs' order.
    let mut hits: BTreeMap<&str, (SearchResult, Legs)> = BTreeMap::new();
    for (leg, list) in [(Leg::Vector, vector), (Leg::Keyword, keyword)] {
        for (i, h) in list.iter().enumerate() {
            let entry = hits.entry(h.key.as_str()).or_insert_with(|| {
                let mut base = h.clone();
                base.legs = None;
                (base, Legs::default())
            });
            if entry.0.embedding.is_none() {
                entry.0.embedding.clone_from(&h.embedding);
            }
            let at = Some(LegHit::new(h.score, i + 1));
            match leg {
                Leg::Vector => entry.1.vector = at,
                Leg::Keyword => entry.1.keyword = at,
            }
        }
    }
    let (vmin, vmax) = bounds(vector);
    let (kmin, kmax) = bounds(keyword);
    let mut out: Vec<SearchResult> = hits
        .into_values()
        .map(|(mut hit, legs)| {
            let score = match fusion {
                Fusion::Rrf { k: c } => {
                    let rrf =
                        |l: Option<LegHit>| l.map_or(0.0, |l| 1.0 / (f64::from(c) + l.rank as f64));
                    rrf(legs.vector) + rrf(legs.keyword)
                }
                Fusion::Weighted { alpha } => {
                    alpha * minmax(legs.vector, vmin, vmax)
                        + (1.0 - alpha) * minmax(legs.keyword, kmin, kmax)
                }
            };
            hit.score = score;
            hit.distance = -score;
            hit.legs = Some(legs);
            hit
        })
        .collect();
    out.sort_by(result_order);
    out.truncate(k);
    out
}

#[derive(Clone, Copy)]
enum Leg {
    Vector,
    Keyword,
}

fn bounds(list: &[SearchResult]) -> (f64, f64) {
    list.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), h| {
            (lo.min(h.score), hi.max(h.score))
        })
}

/// Min-max normalisation over the leg's list: 1 when every score is equal, 0 when absent.
fn minmax(hit: Option<LegHit>, min: f64, max: f64) -> f64 {
    match hit {
        None => 0.0,
        Some(_) if max <= min => 1.0,
        Some(h) => (h.score - min) / (max - min),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(key: &str, score: f64) -> SearchResult {
        SearchResult::new(key, score, -score, Default::default(), None)
    }

    #[test]
    fn rrf_sums_reciprocal_ranks_and_breaks_ties_by_key() {
        let v = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.1)];
        let k = [hit("c", 7.0), hit("b", 3.0), hit("d", 1.0)];
        let out = fuse(&v, &k, Fusion::RRF, 10);
        let keys: Vec<&str> = out.iter().map(|h| h.key.as_str()).collect();
        // c: 1/63 + 1/61 > b: 1/62 + 1/62 > a: 1/61 > d: 1/63.
        assert_eq!(keys, ["c", "b", "a", "d"]);
        assert_eq!(out[1].score, 2.0 / 62.0);
        assert_eq!(out[0].distance, -out[0].score);
        let legs = out[0].legs.clone().unwrap();
        assert_eq!(legs.vector.unwrap().rank, 3);
        assert_eq!(legs.keyword.unwrap().rank, 1);
        // Equal fused scores: key order.
        let out = fuse(&[hit("z", 1.0)], &[hit("y", 1.0)], Fusion::RRF, 2);
        assert_eq!(out[0].key, "y");
    }

    #[test]
    fn weighted_normalises_each_leg() {
        let v = [hit("a", 0.9), hit("b", 0.5)];
        let k = [hit("b", 10.0), hit("c", 2.0)];
        let out = fuse(&v, &k, Fusion::Weighted { alpha: 0.5 }, 3);
        let got: Vec<(&str, f64)> = out.iter().map(|h| (h.key.as_str(), h.score)).collect();
        assert_eq!(got, [("a", 0.5), ("b", 0.5), ("c", 0.0)]);
    }
}
