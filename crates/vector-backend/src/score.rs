//! Score math: the f64 reference every backend is checked against, the conversions from each
//! server's native distance to the contract's `(score, distance)`, and the shared ordering and
//! threshold rules.
//!
//! | metric | score (higher is better) | distance (lower is better) |
//! |---|---|---|
//! | cosine | cos(a, b) | 1 - cos(a, b) |
//! | dot product | a·b | -(a·b) |
//! | euclidean | -‖a-b‖ | ‖a-b‖ |

use std::cmp::Ordering;

use crate::types::{Metric, SearchResult};

/// A score and its distance, in the contract's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// Higher is better.
    pub score: f64,
    /// Lower is better.
    pub distance: f64,
}

impl Scored {
    /// From a cosine similarity.
    pub fn from_cosine_similarity(sim: f64) -> Self {
        Self {
            score: sim,
            distance: 1.0 - sim,
        }
    }
    /// From a cosine distance `1 - cos` (Redis `COSINE`, pgvector `<=>`, Weaviate `cosine`).
    pub fn from_cosine_distance(d: f64) -> Self {
        Self {
            score: 1.0 - d,
            distance: d,
        }
    }
    /// From a dot product.
    pub fn from_dot(dot: f64) -> Self {
        Self {
            score: dot,
            distance: -dot,
        }
    }
    /// From a negated dot product `-(a·b)` (pgvector `<#>`, Weaviate `dot`).
    pub fn from_negative_dot(d: f64) -> Self {
        Self::from_dot(-d)
    }
    /// From `1 - a·b` (Redis `IP`).
    pub fn from_one_minus_dot(d: f64) -> Self {
        Self::from_dot(1.0 - d)
    }
    /// From a Euclidean distance (pgvector `<->`).
    pub fn from_euclidean(d: f64) -> Self {
        Self {
            score: -d,
            distance: d,
        }
    }
    /// From a squared Euclidean distance (Redis `L2`, Weaviate `l2-squared`). Tiny negative
    /// values from rounding are clamped to zero.
    pub fn from_squared_euclidean(d2: f64) -> Self {
        Self::from_euclidean(d2.max(0.0).sqrt())
    }
    /// From a metric's score.
    pub fn from_score(metric: Metric, score: f64) -> Self {
        match metric {
            Metric::Cosine => Self::from_cosine_similarity(score),
            Metric::DotProduct => Self::from_dot(score),
            Metric::Euclidean => Self::from_euclidean(-score),
        }
    }
}

/// A server's native distance, and how it maps to the contract's `(score, distance)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NativeDistance {
    /// `1 - cos` (Redis `COSINE`, pgvector `<=>`, Weaviate `cosine`).
    CosineDistance,
    /// `1 - a·b` (Redis `IP`).
    OneMinusDot,
    /// `-(a·b)` (pgvector `<#>`, Weaviate `dot`).
    NegativeDot,
    /// `‖a-b‖` (pgvector `<->`).
    Euclidean,
    /// `‖a-b‖²` (Redis `L2`, Weaviate `l2-squared`).
    SquaredEuclidean,
}

impl NativeDistance {
    /// The contract's score and distance for a native distance `d`.
    pub fn scored(self, d: f64) -> Scored {
        match self {
            Self::CosineDistance => Scored::from_cosine_distance(d),
            Self::OneMinusDot => Scored::from_one_minus_dot(d),
            Self::NegativeDot => Scored::from_negative_dot(d),
            Self::Euclidean => Scored::from_euclidean(d),
            Self::SquaredEuclidean => Scored::from_squared_euclidean(d),
        }
    }

    /// The largest native distance whose score can still reach `threshold`, widened by
    /// [`pushdown_margin`] so that server rounding never drops a record the exact check keeps.
    /// Negative when no record can pass (a positive threshold on a Euclidean score).
    pub fn bound(self, threshold: f64) -> f64 {
        let m = pushdown_margin(threshold);
        match self {
            Self::CosineDistance | Self::OneMinusDot => 1.0 - threshold + m,
            Self::NegativeDot | Self::Euclidean => -threshold + m,
            Self::SquaredEuclidean => {
                let d = -threshold + m;
                if d < 0.0 { -1.0 } else { d * d }
            }
        }
    }
}

/// The exact score of `a` against `b` under `metric`, computed in f64: the reference.
///
/// # Panics
/// Never; lengths are assumed equal (extra values of the longer slice are ignored).
pub fn reference(metric: Metric, a: &[f32], b: &[f32]) -> Scored {
    let pairs = a.iter().zip(b).map(|(x, y)| (f64::from(*x), f64::from(*y)));
    match metric {
        Metric::Cosine => {
            let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
            for (x, y) in pairs {
                dot += x * y;
                na += x * x;
                nb += y * y;
            }
            Scored::from_cosine_similarity(dot / (na.sqrt() * nb.sqrt()))
        }
        Metric::DotProduct => Scored::from_dot(pairs.map(|(x, y)| x * y).sum()),
        Metric::Euclidean => {
            Scored::from_euclidean(pairs.map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt())
        }
    }
}

/// The tolerance the contract allows between a reported value and the f64 reference:
/// `1e-4 × max(1, |value|)`.
pub fn tolerance(reference: f64) -> f64 {
    1e-4 * reference.abs().max(1.0)
}

/// Whether `reported` is within [`tolerance`] of `reference`.
pub fn close(reported: f64, reference: f64) -> bool {
    (reported - reference).abs() <= tolerance(reference)
}

/// A safety margin to widen a threshold pushed down to a server, whose arithmetic (f32, a
/// different formula) may differ slightly from the reported score; the exact inclusive check
/// then runs on the reported score with [`passes_threshold`].
pub fn pushdown_margin(threshold: f64) -> f64 {
    1e-3 * threshold.abs().max(1.0)
}

/// The contract's inclusive threshold.
pub fn passes_threshold(score: f64, threshold: Option<f64>) -> bool {
    threshold.is_none_or(|t| score >= t)
}

/// The contract's result order: score descending, then key ascending (byte order).
pub fn result_order(a: &SearchResult, b: &SearchResult) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key))
}

/// Applies the threshold, sorts by [`result_order`] and keeps at most `k`: the last step of
/// every backend's query.
pub fn finish(
    mut results: Vec<SearchResult>,
    k: usize,
    threshold: Option<f64>,
) -> Vec<SearchResult> {
    results.retain(|r| passes_threshold(r.score, threshold));
    results.sort_by(result_order);
    results.truncate(k);
    results
}

/// How many candidates a backend whose server breaks ties arbitrarily should fetch so that
/// ties at the k-th place can still be broken by key: `k` plus a margin.
pub fn overfetch(k: usize) -> usize {
    (k + k / 4 + 16).min(crate::validate::MAX_K + 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values_on_fixed_vectors() {
        let a = [1.0, 0.0];
        let b = [0.0, 1.0];
        let c = [-1.0, 0.0];
        assert_eq!(reference(Metric::Cosine, &a, &a).score, 1.0);
        assert_eq!(reference(Metric::Cosine, &a, &b).score, 0.0);
        assert_eq!(reference(Metric::Cosine, &a, &c).score, -1.0);
        assert_eq!(reference(Metric::Cosine, &a, &c).distance, 2.0);
        assert_eq!(
            reference(Metric::DotProduct, &[2.0, 3.0], &[4.0, 5.0]).score,
            23.0
        );
        assert_eq!(
            reference(Metric::DotProduct, &[2.0, 3.0], &[4.0, 5.0]).distance,
            -23.0
        );
        let e = reference(Metric::Euclidean, &[0.0, 0.0], &[3.0, 4.0]);
        assert_eq!((e.score, e.distance), (-5.0, 5.0));
        assert_eq!(Scored::from_squared_euclidean(25.0), e);
        assert_eq!(Scored::from_one_minus_dot(1.0 - 23.0).score, 23.0);
        assert_eq!(Scored::from_negative_dot(-23.0).score, 23.0);
        assert_eq!(Scored::from_cosine_distance(0.25).score, 0.75);
    }

    #[test]
    fn native_bounds_keep_every_passing_distance() {
        use NativeDistance::*;
        for (native, d) in [
            (CosineDistance, 0.25),
            (OneMinusDot, 0.25),
            (NegativeDot, -3.0),
            (Euclidean, 2.0),
            (SquaredEuclidean, 4.0),
        ] {
            let t = native.scored(d).score;
            assert!(d <= native.bound(t), "{native:?}");
        }
        assert!(Euclidean.bound(0.5) < 0.0);
        assert!(SquaredEuclidean.bound(0.5) < 0.0);
    }

    #[test]
    fn finish_orders_ties_by_key_and_threshold_is_inclusive() {
        let r = |k: &str, s: f64| SearchResult::new(k, s, -s, Default::default(), None);
        let out = finish(
            vec![r("b", 0.5), r("a", 0.5), r("c", 0.9), r("d", 0.1)],
            3,
            Some(0.5),
        );
        let keys: Vec<_> = out.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["c", "a", "b"]);
    }
}
