//! The inner loops: dot products written so the compiler vectorises them (eight independent
//! accumulators break the floating-point dependency chain), and squared Euclidean distance.
//!
//! Plain `a * b + acc`, not `f32::mul_add`: without a target feature that guarantees FMA,
//! `mul_add` must round once and so compiles to a call to `fmaf` per element, which is several
//! times slower than the vectorised multiply-add the compiler emits for this form.

/// Lanes per accumulator block; 8 × f32 fills one AVX register.
const LANES: usize = 8;

/// `a · b` in f32.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ac, ar) = a.as_chunks::<LANES>();
    let (bc, br) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in ac.iter().zip(bc) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ar.iter().zip(br).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `‖a - b‖²` in f32.
#[inline]
pub(crate) fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    let (ac, ar) = a.as_chunks::<LANES>();
    let (bc, br) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in ac.iter().zip(bc) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let tail: f32 = ar.iter().zip(br).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// `1 / ‖a‖`, or 0 for a zero vector (which cosine namespaces reject anyway).
pub(crate) fn inverse_norm(a: &[f32]) -> f32 {
    let n = dot(a, a).sqrt();
    if n > 0.0 { 1.0 / n } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_naive_sums() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.25 - 3.0).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.125).collect();
        let naive_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let naive_l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((dot(&a, &b) - naive_dot).abs() < 1e-3);
        assert!((squared_l2(&a, &b) - naive_l2).abs() < 1e-3);
        assert!((inverse_norm(&[3.0, 4.0]) - 0.2).abs() < 1e-7);
    }
}
