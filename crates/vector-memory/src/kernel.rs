//! The inner loops, compiled for the CPU found at run time **without `unsafe` in this crate and
//! without `-C target-cpu`**.
//!
//! How: `pulp::Arch::new()` detects the CPU once (x86-64-v3 = AVX2 + FMA, x86-64-v4 = AVX-512
//! F/BW/CD/DQ/VL) and `Arch::dispatch(op)` calls `op.with_simd(simd)` from inside a
//! `#[target_feature]` function that pulp owns (the `unsafe` lives in pulp). Everything that is
//! `#[inline(always)]`-inlined into `with_simd` is compiled *for that target*: explicit
//! `S::f32s` operations become zmm FMAs and plain loops are auto-vectorised with the wider
//! instruction set. A helper that is *not* inlined falls back to the baseline (SSE2) code, so
//! every kernel here is `#[inline(always)]`, and callers put a whole scan or graph walk inside
//! one dispatch (one branch per query, not per row).
//!
//! The int8 kernel has an explicit AVX-512 form ([`v4`]) written with pulp's safe intrinsic
//! wrappers: holding the `V4` token proves the CPU has the features, so the wrappers are safe.
//! Auto-vectorisation only reached `vpmaddwd ymm` for it.

use pulp::Simd;

/// `a · b` in f32 with four independent SIMD accumulators (breaks the FMA latency chain).
#[inline(always)]
pub(crate) fn dot_f32<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let (ah, at) = S::as_simd_f32s(a);
    let (bh, bt) = S::as_simd_f32s(b);
    let zero = simd.splat_f32s(0.0);
    let (mut s0, mut s1, mut s2, mut s3) = (zero, zero, zero, zero);
    let (a4, a1) = ah.as_chunks::<4>();
    let (b4, b1) = bh.as_chunks::<4>();
    for (x, y) in a4.iter().zip(b4) {
        s0 = simd.mul_add_e_f32s(x[0], y[0], s0);
        s1 = simd.mul_add_e_f32s(x[1], y[1], s1);
        s2 = simd.mul_add_e_f32s(x[2], y[2], s2);
        s3 = simd.mul_add_e_f32s(x[3], y[3], s3);
    }
    for (x, y) in a1.iter().zip(b1) {
        s0 = simd.mul_add_e_f32s(*x, *y, s0);
    }
    if !at.is_empty() {
        // Masked load of the last partial register (zeros beyond the end).
        s1 = simd.mul_add_e_f32s(simd.partial_load_f32s(at), simd.partial_load_f32s(bt), s1);
    }
    let s = simd.add_f32s(simd.add_f32s(s0, s1), simd.add_f32s(s2, s3));
    simd.reduce_sum_f32s(s)
}

/// `‖a − b‖²` in f32, four independent SIMD accumulators.
#[inline(always)]
pub(crate) fn l2sq_f32<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let (ah, at) = S::as_simd_f32s(a);
    let (bh, bt) = S::as_simd_f32s(b);
    let zero = simd.splat_f32s(0.0);
    let (mut s0, mut s1, mut s2, mut s3) = (zero, zero, zero, zero);
    let (a4, a1) = ah.as_chunks::<4>();
    let (b4, b1) = bh.as_chunks::<4>();
    for (x, y) in a4.iter().zip(b4) {
        let d0 = simd.sub_f32s(x[0], y[0]);
        let d1 = simd.sub_f32s(x[1], y[1]);
        let d2 = simd.sub_f32s(x[2], y[2]);
        let d3 = simd.sub_f32s(x[3], y[3]);
        s0 = simd.mul_add_e_f32s(d0, d0, s0);
        s1 = simd.mul_add_e_f32s(d1, d1, s1);
        s2 = simd.mul_add_e_f32s(d2, d2, s2);
        s3 = simd.mul_add_e_f32s(d3, d3, s3);
    }
    for (x, y) in a1.iter().zip(b1) {
        let d = simd.sub_f32s(*x, *y);
        s0 = simd.mul_add_e_f32s(d, d, s0);
    }
    if !at.is_empty() {
        let d = simd.sub_f32s(simd.partial_load_f32s(at), simd.partial_load_f32s(bt));
        s1 = simd.mul_add_e_f32s(d, d, s1);
    }
    let s = simd.add_f32s(simd.add_f32s(s0, s1), simd.add_f32s(s2, s3));
    simd.reduce_sum_f32s(s)
}

/// Bytes per quantised row block: int8 rows are zero-padded to a multiple of this, so the
/// kernel has no tail and every chunk fills whole zmm registers.
pub(crate) const I8_PAD: usize = 64;

/// Σ a_i·b_i for i8 row codes and i16 query codes, exact in i32.
///
/// A plain sum of sign-extended products: the loop vectoriser turns it into a multiply-add
/// reduction that the x86 backend folds into `pmaddwd` (an explicit lane array defeats that
/// and was 3× slower). The caller guarantees `len · 127 · max|b| < 2³¹`.
#[inline(always)]
pub(crate) fn dot_i8_i16(a: &[i8], b: &[i16]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = 0i32;
    for (&x, &y) in a.iter().zip(b) {
        acc += i32::from(x) * i32::from(y);
    }
    acc
}

/// [`dot_i8_i16`] through the explicit AVX-512 kernel when the dispatched `Simd` is x86-64-v4.
#[inline(always)]
pub(crate) fn dot_i8_i16_simd<S: Simd>(simd: S, a: &[i8], b: &[i16]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if let Some(v4) = as_v4(simd) {
        return v4::dot_i8_i16(v4, a, b);
    }
    let _ = simd;
    dot_i8_i16(a, b)
}

/// Asks the CPU to start loading the cache line holding `x[0]` (a hint: no effect on results).
/// Used by the graph walk for the next neighbour's row, as hnswlib does; a no-op where the
/// dispatched target has no safe prefetch.
#[inline(always)]
pub(crate) fn prefetch<S: Simd, T>(simd: S, x: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::_MM_HINT_T0;
        let p = x.as_ptr().cast::<i8>();
        if let Some(v4) = as_v4(simd) {
            v4.sse._mm_prefetch::<_MM_HINT_T0>(p);
        } else if let Some(v3) = as_v3(simd) {
            v3.sse._mm_prefetch::<_MM_HINT_T0>(p);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (simd, x);
}

/// AVX-512 form of the int8 kernel, with pulp's safe intrinsic wrappers on the `V4` token.
#[cfg(target_arch = "x86_64")]
pub(crate) mod v4 {
    use core::arch::x86_64::{__m256i, __m512i};
    use pulp::x86::V4;

    /// Σ a_i·b_i, i8 × i16 → i32: 32 codes per `vpmovsxbw` + `vpmaddwd` + `vpaddd` (zmm).
    /// `a.len()` must be a multiple of 64 (rows are padded), `b` at least as long.
    #[inline(always)]
    pub(crate) fn dot_i8_i16(s: V4, a: &[i8], b: &[i16]) -> i32 {
        let (ac, _) = a.as_chunks::<64>();
        let (bc, _) = b.as_chunks::<64>();
        let mut acc0: __m512i = s.avx512f._mm512_setzero_si512();
        let mut acc1 = acc0;
        for (x, y) in ac.iter().zip(bc) {
            let [x0, x1]: [[i8; 32]; 2] = pulp::cast(*x);
            let [y0, y1]: [[i16; 32]; 2] = pulp::cast(*y);
            let xw0 = s
                .avx512bw
                ._mm512_cvtepi8_epi16(pulp::cast::<_, __m256i>(x0));
            let xw1 = s
                .avx512bw
                ._mm512_cvtepi8_epi16(pulp::cast::<_, __m256i>(x1));
            let p0 = s
                .avx512bw
                ._mm512_madd_epi16(xw0, pulp::cast::<_, __m512i>(y0));
            let p1 = s
                .avx512bw
                ._mm512_madd_epi16(xw1, pulp::cast::<_, __m512i>(y1));
            acc0 = s.avx512f._mm512_add_epi32(acc0, p0);
            acc1 = s.avx512f._mm512_add_epi32(acc1, p1);
        }
        s.avx512f
            ._mm512_reduce_add_epi32(s.avx512f._mm512_add_epi32(acc0, acc1))
    }
}

/// `Some(V4)` when the dispatched `Simd` type is the AVX-512 one. `S` is a concrete type in each
/// monomorphised copy, so this folds to a constant.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn as_v4<S: Simd>(simd: S) -> Option<pulp::x86::V4> {
    (&simd as &dyn core::any::Any)
        .downcast_ref::<pulp::x86::V4>()
        .copied()
}

/// `Some(V3)` when the dispatched `Simd` type is the AVX2 one.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn as_v3<S: Simd>(simd: S) -> Option<pulp::x86::V3> {
    (&simd as &dyn core::any::Any)
        .downcast_ref::<pulp::x86::V3>()
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulp::{Arch, WithSimd};

    struct Both<'a>(&'a [f32], &'a [f32]);
    impl WithSimd for Both<'_> {
        type Output = (f32, f32);
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) -> (f32, f32) {
            prefetch(simd, self.0);
            (
                dot_f32(simd, self.0, self.1),
                l2sq_f32(simd, self.0, self.1),
            )
        }
    }

    struct I8<'a>(&'a [i8], &'a [i16]);
    impl WithSimd for I8<'_> {
        type Output = i32;
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) -> i32 {
            dot_i8_i16_simd(simd, self.0, self.1)
        }
    }

    #[test]
    fn kernels_match_naive_sums() {
        let arch = Arch::new();
        for d in [1usize, 7, 16, 37, 50, 63, 64, 65, 128, 384] {
            let a: Vec<f32> = (0..d)
                .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
                .collect();
            let b: Vec<f32> = (0..d)
                .map(|i| ((i * 104_729) % 97) as f32 / 48.0 - 1.0)
                .collect();
            let dot: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            let l2: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                .sum();
            let (gd, gl) = arch.dispatch(Both(&a, &b));
            assert!((f64::from(gd) - dot).abs() < 1e-4, "d={d}");
            assert!((f64::from(gl) - l2).abs() < 1e-4, "d={d}");
            let pad = d.div_ceil(I8_PAD) * I8_PAD;
            let mut ai = vec![0i8; pad];
            let mut bi = vec![0i16; pad];
            for i in 0..d {
                ai[i] = ((i * 31) % 255) as i16 as i8;
                bi[i] = (((i * 977) % 65_535) as i32 - 32_767) as i16;
            }
            let exact: i64 = ai
                .iter()
                .zip(&bi)
                .map(|(&x, &y)| i64::from(x) * i64::from(y))
                .sum();
            assert_eq!(i64::from(dot_i8_i16(&ai, &bi)), exact);
            assert_eq!(i64::from(arch.dispatch(I8(&ai, &bi))), exact);
        }
    }
}
