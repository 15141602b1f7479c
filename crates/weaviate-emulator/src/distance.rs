//! Weaviate's distance functions, computed in `f32` the way its distancers do
//! (`adapters/repos/db/vector/hnsw/distancer`): cosine normalises both vectors first and
//! returns `1 - dot`, `dot` is the negated raw product, `l2-squared` has no square root.

/// A distance metric of a vector index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metric {
    Cosine,
    Dot,
    L2Squared,
    Manhattan,
    Hamming,
}

impl Metric {
    /// Parses the `vectorIndexConfig.distance` name.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "cosine" => Self::Cosine,
            "dot" => Self::Dot,
            "l2-squared" => Self::L2Squared,
            "manhattan" => Self::Manhattan,
            "hamming" => Self::Hamming,
            _ => return None,
        })
    }

    /// The name as Weaviate spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::Dot => "dot",
            Self::L2Squared => "l2-squared",
            Self::Manhattan => "manhattan",
            Self::Hamming => "hamming",
        }
    }

    /// The distance between a stored vector and a query vector of the same length.
    pub(crate) fn distance(self, stored: &[f32], query: &[f32]) -> f32 {
        match self {
            Self::Cosine => 1.0 - dot(&normalize(stored), &normalize(query)),
            Self::Dot => -dot(stored, query),
            Self::L2Squared => stored
                .iter()
                .zip(query)
                .map(|(a, b)| (a - b) * (a - b))
                .sum(),
            Self::Manhattan => stored.iter().zip(query).map(|(a, b)| (a - b).abs()).sum(),
            Self::Hamming => stored.iter().zip(query).filter(|(a, b)| a != b).count() as f32,
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `distancer.Normalize`: the norm is summed in f32 and its square root taken in f64;
/// a zero vector stays all zeros (so its cosine distance to anything is 1).
pub(crate) fn normalize(v: &[f32]) -> Vec<f32> {
    let norm: f32 = v.iter().map(|x| x * x).sum();
    if norm == 0.0 {
        return vec![0.0; v.len()];
    }
    let norm = f64::from(norm).sqrt() as f32;
    v.iter().map(|x| x / norm).collect()
}

/// `certainty = 1 - d/2`, defined for cosine only (`entities/additional/distance.go`).
pub(crate) fn certainty(distance: f32) -> f64 {
    1.0 - f64::from(distance) / 2.0
}

/// `floatcomp.InDelta`-style inclusive threshold check used for `distance` arguments.
pub(crate) fn within_distance(distance: f32, max: f64) -> bool {
    let d = f64::from(distance);
    d <= max || (d - max).abs() <= 1e-6
}

/// The certainty-threshold check: kept when certainty reaches the minimum (same tolerance).
pub(crate) fn within_certainty(distance: f32, min: f64) -> bool {
    let c = certainty(distance);
    c >= min || (c - min).abs() <= 1e-6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f64, tol: f64) -> bool {
        (f64::from(a) - b).abs() <= tol
    }

    // Golden values of WEAVIATE.md section 2.7 (from test/acceptance/vector_distances).
    #[test]
    fn cosine_golden_values() {
        let q = [0.7, 0.3];
        let m = Metric::Cosine;
        assert!(close(m.distance(&[0.7, 0.3], &q), 0.0, 1e-6));
        assert!(
            close(m.distance(&[1.4, 0.6], &q), 0.0, 1e-6),
            "parallel vector"
        );
        assert!(close(m.distance(&[1.0, 1.0], &q), 0.0715, 1e-4));
        assert!(close(m.distance(&[-0.7, -0.3], &q), 2.0, 1e-6));
        assert!(close(
            certainty(m.distance(&[1.0, 1.0], &q)) as f32,
            0.96,
            1e-2
        ));
        assert!(close(
            certainty(m.distance(&[-0.7, -0.3], &q)) as f32,
            0.0,
            1e-6
        ));
        // A zero vector normalises to zeros: distance 1 under cosine.
        assert_eq!(m.distance(&[0.0, 0.0], &q), 1.0);
    }

    #[test]
    fn dot_golden_values() {
        let q = [3.0, 4.0, 5.0];
        let m = Metric::Dot;
        assert_eq!(m.distance(&[3.0, 4.0, 5.0], &q), -50.0);
        assert_eq!(m.distance(&[1.0, 1.0, 1.0], &q), -12.0);
        assert_eq!(m.distance(&[0.0, 0.0, 0.0], &q), 0.0);
        assert_eq!(m.distance(&[-3.0, -4.0, -5.0], &q), 50.0);
        let all = [
            [3.0, 4.0, 5.0],
            [1.0, 1.0, 1.0],
            [0.0, 0.0, 0.0],
            [-3.0, -4.0, -5.0],
        ];
        let kept = |t: f64| {
            all.iter()
                .filter(|v| within_distance(m.distance(*v, &q), t))
                .count()
        };
        assert_eq!(kept(30.0), 3);
        assert_eq!(kept(0.0), 3, "inclusive threshold");
    }

    #[test]
    fn l2_squared_golden_values() {
        let q = [10.0, 11.0, 12.0];
        let m = Metric::L2Squared;
        assert_eq!(m.distance(&[10.0, 11.0, 12.0], &q), 0.0);
        assert_eq!(m.distance(&[13.0, 15.0, 17.0], &q), 50.0);
        assert_eq!(m.distance(&[0.0, 0.0, 0.0], &q), 365.0);
        assert!(!within_distance(365.0, 364.0));
        assert!(within_distance(365.0, 365.0));
        assert!(within_distance(365.000_000_5, 365.0), "1e-6 tolerance");
    }

    #[test]
    fn other_metrics() {
        assert_eq!(Metric::Manhattan.distance(&[1.0, -2.0], &[0.0, 0.0]), 3.0);
        assert_eq!(
            Metric::Hamming.distance(&[1.0, 2.0, 3.0], &[1.0, 0.0, 0.0]),
            2.0
        );
        for name in ["cosine", "dot", "l2-squared", "manhattan", "hamming"] {
            assert_eq!(Metric::parse(name).unwrap().name(), name);
        }
        assert!(Metric::parse("euclidean").is_none());
    }

    #[test]
    fn identical_vectors_can_be_off_by_float_rounding() {
        // f32 normalisation does not always give exactly 0 for identical vectors; Weaviate
        // does not clamp either, so neither does the emulator.
        let v = [0.1_f32, 0.2, 0.3, 0.4, 0.5];
        let d = Metric::Cosine.distance(&v, &v);
        assert!(d.abs() < 1e-6, "{d}");
        assert!(within_certainty(d, 1.0));
    }
}
