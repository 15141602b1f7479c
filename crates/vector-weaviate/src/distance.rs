//! Weaviate's distances (`cosine`, `dot`, `l2-squared`) in the contract's units, and score
//! thresholds as Weaviate distance bounds.

use vector_backend::Metric;
use vector_backend::score::{Scored, pushdown_margin};

/// The contract's score and distance for a distance Weaviate reported.
pub fn scored(metric: Metric, d: f64) -> Scored {
    match metric {
        // 1 - cos of the normalised vectors.
        Metric::Cosine => Scored::from_cosine_distance(d),
        // -(a·b) on the raw vectors.
        Metric::DotProduct => Scored::from_negative_dot(d),
        // Σ(aᵢ-bᵢ)², no square root.
        Metric::Euclidean => Scored::from_squared_euclidean(d),
    }
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

/// The distance bound for an inclusive minimum score, widened by [`pushdown_margin`] so f32
/// rounding on the server never drops a record whose reported score meets the threshold; the
/// exact check runs afterwards on the reported score.
pub fn bound(metric: Metric, threshold: Option<f64>) -> Bound {
    let Some(t) = threshold else {
        return Bound::All;
    };
    let margin = pushdown_margin(t);
    match metric {
        Metric::Cosine => {
            let d = 1.0 - t + margin;
            // Cosine distances lie in [0, 2] (plus rounding).
            if d >= 2.0 + margin {
                Bound::All
            } else {
                Bound::Max(d)
            }
        }
        Metric::DotProduct => Bound::Max(-t + margin),
        Metric::Euclidean => {
            // score = -‖a-b‖ <= 0.
            if t > 0.0 {
                Bound::Nothing
            } else {
                let e = -t + margin;
                Bound::Max(e * e)
            }
        }
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
