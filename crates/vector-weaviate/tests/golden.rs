//! Golden values from Weaviate's own acceptance tests (`test/acceptance/vector_distances/`, as
//! summarised in WEAVIATE.md section 2.7): the distance Weaviate reports for a pair of vectors,
//! converted by this backend, must equal the contract's f64 reference score; and a score
//! threshold, turned into a distance bound, must keep and drop the same objects as Weaviate's
//! own `distance` argument does in those tests.

use vector_backend::Metric;
use vector_backend::score::{close, reference};
use vector_weaviate::golden::{Bound, bound, scored};

/// Weaviate's distance for `(query, stored)`, the converted score, and the reference score.
fn check(metric: Metric, query: &[f32], stored: &[f32], weaviate_distance: f64) {
    let got = scored(metric, weaviate_distance);
    let want = reference(metric, query, stored);
    assert!(
        close(got.score, want.score) && close(got.distance, want.distance),
        "{metric}: Weaviate distance {weaviate_distance} for {stored:?} converts to {got:?}, reference {want:?}"
    );
}

fn keeps(b: Bound, distance: f64) -> bool {
    match b {
        Bound::All => true,
        Bound::Max(max) => distance <= max,
        Bound::Nothing => false,
    }
}

#[test]
fn cosine_golden_distances() {
    // cosine_test.go: query [0.7, 0.3]; the same and a parallel vector give 0, [1, 1] gives
    // 0.0715 (printed to 4 places), the opposite vector 2. Certainty = 1 - d/2: 1, 1, 0.96, 0.
    let q = [0.7, 0.3];
    check(Metric::Cosine, &q, &[0.7, 0.3], 0.0);
    check(Metric::Cosine, &q, &[1.4, 0.6], 0.0);
    check(Metric::Cosine, &q, &[1.0, 1.0], 0.0715);
    check(Metric::Cosine, &q, &[-0.7, -0.3], 2.0);
    let certainty = |d: f64| 1.0 - d / 2.0;
    assert!((certainty(0.0715) - 0.96).abs() < 0.005);
    // Certainty is (1 + score) / 2, not the score.
    assert!((certainty(0.0715) - (1.0 + scored(Metric::Cosine, 0.0715).score) / 2.0).abs() < 1e-12);
}

#[test]
fn dot_golden_distances_and_thresholds() {
    // dot_test.go: query [3, 4, 5]; itself -50, [1, 1, 1] -12, the zero vector 0, the negated
    // vector 50.
    let q = [3.0, 4.0, 5.0];
    let objects: [([f32; 3], f64); 4] = [
        ([3.0, 4.0, 5.0], -50.0),
        ([1.0, 1.0, 1.0], -12.0),
        ([0.0, 0.0, 0.0], 0.0),
        ([-3.0, -4.0, -5.0], 50.0),
    ];
    for (v, d) in &objects {
        check(Metric::DotProduct, &q, v, *d);
    }
    // `distance: 30` keeps three; so does score >= -30. `distance: 0` keeps three (inclusive);
    // so does score >= 0.
    for (threshold, kept) in [(-30.0, 3), (0.0, 3), (12.0, 2), (50.0, 1), (50.5, 0)] {
        let b = bound(Metric::DotProduct, Some(threshold));
        let n = objects.iter().filter(|(_, d)| keeps(b, *d)).count();
        // The bound may only be wider than the threshold (the exact check follows on the
        // reported score); here the golden distances are far enough apart to be exact.
        assert_eq!(n, kept, "threshold {threshold}");
        let exact = objects
            .iter()
            .filter(|(_, d)| scored(Metric::DotProduct, *d).score >= threshold)
            .count();
        assert_eq!(exact, kept, "threshold {threshold}, reported scores");
    }
}

#[test]
fn l2_squared_golden_distances_and_thresholds() {
    // l2_test.go: query [10, 11, 12]; itself 0, the zero vector 365 (no square root);
    // `distance: 364` drops the zero vector.
    let q = [10.0, 11.0, 12.0];
    check(Metric::Euclidean, &q, &[10.0, 11.0, 12.0], 0.0);
    check(Metric::Euclidean, &q, &[0.0, 0.0, 0.0], 365.0);
    check(Metric::Euclidean, &q, &[15.0, 16.0, 12.0], 50.0);
    let t = -(364.0f64).sqrt();
    let b = bound(Metric::Euclidean, Some(t));
    assert!(
        keeps(b, 0.0) && keeps(b, 50.0) && keeps(b, 364.0) && !keeps(b, 365.0),
        "{b:?}"
    );
    // Scores are at most 0 under Euclidean: a positive threshold keeps nothing.
    assert_eq!(bound(Metric::Euclidean, Some(0.5)), Bound::Nothing);
    // Rounding: a tiny negative squared distance from f32 arithmetic is a distance of 0.
    assert_eq!(scored(Metric::Euclidean, -1e-7).distance, 0.0);
}

#[test]
fn cosine_thresholds_bound_distances_inclusively() {
    // score >= t  <=>  d <= 1 - t, widened by the pushdown margin.
    for (t, d, kept) in [
        (0.5, 0.5, true),
        (0.5, 0.5005, true),
        (0.5, 0.51, false),
        (1.0, 0.0, true),
        (-1.0, 2.0, true),
    ] {
        assert_eq!(
            keeps(bound(Metric::Cosine, Some(t)), d),
            kept,
            "t {t}, d {d}"
        );
    }
    // Identical vectors: Weaviate may report a tiny negative distance (no clamping).
    check(Metric::Cosine, &[1.0, 2.0], &[1.0, 2.0], -1.1920929e-7);
}
