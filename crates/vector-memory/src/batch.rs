//! Batched exact search: the f32 scores of a block of queries against a block of rows come
//! from one matrix product (`faer`), and the same bound-and-re-score rule as the int8 scan
//! ([`crate::quant`]) makes the answer provably the exact one.
//!
//! ## The bound
//! Any f32 evaluation of a `d`-term dot product, in any order and with or without FMA, is within
//! `γ_d·Σ|xᵢqᵢ| ≤ γ_d·‖x‖‖q‖` of the real value, `γ_d = d·u/(1 − d·u)`, `u = 2⁻²⁴` (Higham,
//! *Accuracy and Stability of Numerical Algorithms*, §3.1). We use `γ_{d+8}`: the 8 extra units
//! cover the few f32 roundings around the product (turning it into an upper bound, the
//! cosine rows' normalisation and the stored norms), and the reference's own f64 rounding
//! (~`d·2⁻⁵³`). In the keys of [`crate::quant`] that gives, per query `i` and row `j`,
//!
//! | metric | key | bound |
//! |---|---|---|
//! | cosine | `fl(xⱼ·qᵢ)·(1/‖xⱼ‖)` | `γ‖qᵢ‖ + 4e-7·‖qᵢ‖` |
//! | dot product | `xⱼ·qᵢ` | `γ‖xⱼ‖‖qᵢ‖` |
//! | euclidean | `xⱼ·qᵢ − ‖xⱼ‖²/2` | `γ‖xⱼ‖‖qᵢ‖ + 2γ·‖xⱼ‖²/2 + 1e-9·(‖xⱼ‖² + ‖qᵢ‖²)` |
//!
//! so rows whose upper bound falls below the `fetch`-th best lower bound are dropped and the
//! rest are re-scored in f64. The bound is ~10⁻⁵ relative at d = 384: a few rows beyond `k`
//! survive per query.
//!
//! ## Speed
//! Blocks of up to [`QUERY_BLOCK`] queries (one block per thread when they fit) × [`ROW_BLOCK`]
//! rows; the product runs single-threaded (`Par::Seq`) and threads split the query blocks
//! (rayon), so rayon's pool stays the only pool. Few, large query blocks matter: the product
//! packs every row block once per query block (with 128-query blocks packing took a tenth of
//! the time at d = 384).
//! Most score chunks lose to the query's current bar: 64 upper bounds are reduced to their
//! maximum first, and only a chunk that can win is walked.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;
use vector_backend::Metric;

use crate::quant::{Lows, key_floor};

/// Most queries per product block.
pub(crate) const QUERY_BLOCK: usize = 512;
/// Rows per product block: at most 512 × 1024 f32 scores = 2 MiB.
pub(crate) const ROW_BLOCK: usize = 1024;
/// Score chunk reduced to its maximum before it is walked.
const CHUNK: usize = 64;

/// One query of a batch.
#[derive(Debug)]
pub(crate) struct BatchQuery<'a> {
    pub(crate) embedding: &'a [f32],
    pub(crate) fetch: usize,
    /// Already widened by the pushdown margin.
    pub(crate) threshold: Option<f64>,
}

/// The rows of a namespace as the batched path reads them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) dim: usize,
    pub(crate) metric: Metric,
    /// `‖xⱼ‖`, rounded up.
    pub(crate) norms: &'a [f32],
}

/// Per-query constants of the bound.
#[derive(Debug, Clone, Copy)]
struct Consts {
    /// Factor of `eⱼ` (`‖xⱼ‖`, or 1 under cosine).
    c: f32,
    /// Constant slack.
    c0: f32,
    /// The threshold's floor in key units, rounded down to f32.
    floor: f32,
}

/// Per-row terms of the bound, for the whole namespace: `key = s·aⱼ − hⱼ`,
/// `err = c·eⱼ + gⱼ + c0`.
#[derive(Debug)]
struct RowTerms {
    /// `1/‖xⱼ‖` under cosine (the product runs on the raw rows), else 1.
    a: Vec<f32>,
    /// `‖xⱼ‖` (rounded up), or 1 under cosine.
    e: Vec<f32>,
    /// Euclidean: `‖xⱼ‖²/2`, else 0.
    h: Vec<f32>,
    /// Euclidean: the slack of `hⱼ` and of the reference, else 0.
    g: Vec<f32>,
}

impl RowTerms {
    fn new(rows: Rows<'_>, gamma: f64) -> Self {
        let n = rows.norms.len();
        let (mut a, mut e) = (vec![1.0f32; n], vec![1.0f32; n]);
        let (mut h, mut g) = (vec![0.0f32; n], vec![0.0f32; n]);
        for (j, &norm) in rows.norms.iter().enumerate() {
            match rows.metric {
                Metric::Cosine => a[j] = (1.0 / f64::from(norm)) as f32,
                Metric::DotProduct => e[j] = norm,
                Metric::Euclidean => {
                    e[j] = norm;
                    let half = f64::from(norm) * f64::from(norm) / 2.0;
                    h[j] = half as f32;
                    g[j] = ((2.0 * gamma + 2e-9) * half * (1.0 + 1e-6)) as f32;
                }
            }
        }
        Self { a, e, h, g }
    }
}

/// Whether the batched path's f32 arithmetic stays finite for these norms (products and, under
/// euclidean, squared norms below ~10³⁶); otherwise the caller scans query by query.
pub(crate) fn in_range(row_norm_max: f32, query_norm_max: f64) -> bool {
    let r = f64::from(row_norm_max);
    r * r.max(query_norm_max) < 1e36 && query_norm_max * query_norm_max < 1e36
}

/// For every query, the rows whose reference score may reach its exact top `fetch` (among
/// the rows `accept(query, row)` takes). Re-score those in f64. Call only when
/// [`in_range`] holds: every bound below is then finite.
pub(crate) fn survivors<F: Fn(usize, usize) -> bool + Sync>(
    rows: Rows<'_>,
    queries: &[BatchQuery<'_>],
    accept: F,
) -> Vec<Vec<usize>> {
    let g = gamma(rows.dim + 8);
    let terms = RowTerms::new(rows, g);
    // One query block per thread when that fits (the product packs each row block once per
    // query block, so fewer, larger query blocks pack less), within [64, QUERY_BLOCK].
    let threads = rayon::current_num_threads().max(1);
    let qb = queries.len().div_ceil(threads).clamp(64, QUERY_BLOCK);
    let blocks: Vec<usize> = (0..queries.len()).step_by(qb).collect();
    let run = |start: usize| {
        let end = (start + qb).min(queries.len());
        query_block(rows, &terms, g, &queries[start..end], start, &accept)
    };
    if blocks.len() > 1 && threads > 1 {
        blocks.into_par_iter().flat_map_iter(run).collect()
    } else {
        blocks.into_iter().flat_map(run).collect()
    }
}

/// `γ_n` for f32.
fn gamma(n: usize) -> f64 {
    let nu = n as f64 * f64::from(f32::EPSILON) / 2.0;
    nu / (1.0 - nu)
}

/// The nearest f32 at or below `x`.
fn round_down(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x { f.next_down() } else { f }
}

fn query_block<F: Fn(usize, usize) -> bool>(
    rows: Rows<'_>,
    terms: &RowTerms,
    g: f64,
    queries: &[BatchQuery<'_>],
    first: usize,
    accept: &F,
) -> Vec<Vec<usize>> {
    let Rows {
        data, dim, metric, ..
    } = rows;
    let n = terms.a.len();
    let nq = queries.len();
    let consts: Vec<Consts> = queries
        .iter()
        .map(|q| {
            let q2: f64 = q
                .embedding
                .iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum();
            let qn = q2.sqrt() * (1.0 + 1e-12);
            let (c, c0) = match metric {
                // The product's error γ‖x‖‖q‖ scaled by 1/‖x‖, plus the roundings of aⱼ
                // and of s·aⱼ.
                Metric::Cosine => (g * qn + 4e-7 * qn, 0.0),
                Metric::DotProduct => (g * qn, 0.0),
                Metric::Euclidean => (g * qn, 1e-9 * q2),
            };
            Consts {
                c: (c * (1.0 + 1e-6)) as f32,
                c0: (c0 * (1.0 + 1e-6)) as f32,
                floor: round_down(key_floor(metric, q2.sqrt(), q.threshold)),
            }
        })
        .collect();
    let qmat: Vec<f32> = queries
        .iter()
        .flat_map(|q| q.embedding.iter().copied())
        .collect();
    let mut lows: Vec<Lows> = queries.iter().map(|q| Lows::new(q.fetch)).collect();
    let mut cands: Vec<Vec<(f32, u32)>> = queries.iter().map(|_| Vec::new()).collect();
    let mut scores = vec![0.0f32; nq * ROW_BLOCK];
    let arch = Arch::new();
    let mut start = 0;
    while start < n {
        let nb = ROW_BLOCK.min(n - start);
        let s = &mut scores[..nq * nb];
        product(
            &qmat,
            nq,
            &data[start * dim..(start + nb) * dim],
            nb,
            dim,
            s,
        );
        let r = start..start + nb;
        arch.dispatch(Select {
            scores: s,
            nb,
            base: start,
            first,
            a: &terms.a[r.clone()],
            e: &terms.e[r.clone()],
            h: &terms.h[r.clone()],
            g: &terms.g[r],
            consts: &consts,
            lows: &mut lows,
            cands: &mut cands,
            accept,
        });
        start += nb;
    }
    cands
        .into_iter()
        .zip(lows)
        .zip(&consts)
        .map(|((c, l), k)| {
            let bar = l.floor().max(f64::from(k.floor));
            c.into_iter()
                .filter(|&(u, _)| f64::from(u) >= bar)
                .map(|(_, r)| r as usize)
                .collect()
        })
        .collect()
}

/// `out[i·nb + j] = q[i]·b[j]` for row-major `q` (nq × d), `b` (nb × d), `out` (nq × nb).
#[cfg(feature = "gemm")]
fn product(q: &[f32], nq: usize, b: &[f32], nb: usize, d: usize, out: &mut [f32]) {
    use faer::linalg::matmul::matmul;
    use faer::{Accum, MatMut, MatRef, Par};
    let lhs = MatRef::from_row_major_slice(q, nq, d);
    // Bᵀ as a d × nb view of the row-major rows: column j is row j, contiguous.
    let rhs = MatRef::from_row_major_slice(b, nb, d).transpose();
    let dst = MatMut::from_row_major_slice_mut(out, nq, nb);
    matmul(dst, Accum::Replace, lhs, rhs, 1.0f32, Par::Seq);
}

/// Without the `gemm` feature: the same product as plain dot products (correct, slower).
#[cfg(not(feature = "gemm"))]
fn product(q: &[f32], _nq: usize, b: &[f32], nb: usize, d: usize, out: &mut [f32]) {
    struct Dots<'a>(&'a [f32], &'a [f32], usize, usize, &'a mut [f32]);
    impl WithSimd for Dots<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let Self(q, b, nb, d, out) = self;
            for (qi, o) in q.chunks_exact(d).zip(out.chunks_exact_mut(nb)) {
                for (x, r) in o.iter_mut().zip(b.chunks_exact(d)) {
                    *x = crate::kernel::dot_f32(simd, qi, r);
                }
            }
        }
    }
    Arch::new().dispatch(Dots(q, b, nb, d, out));
}

/// Feeds one block of scores into every query's bound bookkeeping.
struct Select<'a, F> {
    scores: &'a [f32],
    nb: usize,
    base: usize,
    first: usize,
    a: &'a [f32],
    e: &'a [f32],
    h: &'a [f32],
    g: &'a [f32],
    consts: &'a [Consts],
    lows: &'a mut [Lows],
    cands: &'a mut [Vec<(f32, u32)>],
    accept: &'a F,
}

impl<F: Fn(usize, usize) -> bool> WithSimd for Select<'_, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self {
            scores,
            nb,
            base,
            first,
            a,
            e,
            h,
            g,
            consts,
            lows,
            cands,
            accept,
        } = self;
        for (i, row) in scores.chunks_exact(nb).enumerate() {
            let k = consts[i];
            let low = &mut lows[i];
            let cand = &mut cands[i];
            let mut bar = (low.floor() as f32).max(k.floor);
            let mut j0 = 0;
            while j0 < nb {
                let j1 = (j0 + CHUNK).min(nb);
                let (s, aa) = (&row[j0..j1], &a[j0..j1]);
                let (ee, hh, gg) = (&e[j0..j1], &h[j0..j1], &g[j0..j1]);
                // Upper bounds of the chunk (a plain loop: vectorised), then their maximum
                // with explicit SIMD max (a scalar `f32::max` reduction does not vectorise).
                let mut ub = [0.0f32; CHUNK];
                let ub = &mut ub[..s.len()];
                for t in 0..s.len() {
                    ub[t] = s[t] * aa[t] - hh[t] + k.c * ee[t] + gg[t];
                }
                let (head, tail) = S::as_simd_f32s(ub);
                let mut mv = simd.splat_f32s(f32::NEG_INFINITY);
                for &x in head {
                    mv = simd.max_f32s(mv, x);
                }
                let mut m = simd.reduce_max_f32s(mv);
                for &x in tail {
                    m = m.max(x);
                }
                if m + k.c0 >= bar {
                    for t in 0..s.len() {
                        let key = s[t] * aa[t] - hh[t];
                        let err = k.c * ee[t] + gg[t] + k.c0;
                        let upper = key + err;
                        if upper < bar {
                            continue;
                        }
                        let r = base + j0 + t;
                        if !accept(first + i, r) {
                            continue;
                        }
                        cand.push((upper, r as u32));
                        low.push(f64::from(key - err));
                        bar = (low.floor() as f32).max(k.floor);
                    }
                }
                j0 = j1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vector_backend::score;

    fn oracle(metric: Metric, data: &[f32], d: usize, q: &[f32], k: usize) -> Vec<usize> {
        let mut s: Vec<(f64, usize)> = data
            .chunks_exact(d)
            .enumerate()
            .map(|(i, r)| (score::reference(metric, q, r).score, i))
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        s.into_iter().take(k).map(|x| x.1).collect()
    }

    #[test]
    fn batched_survivors_hold_the_exact_answer() {
        let mut rng = vector_backend::synth::SplitMix64::new(11);
        for metric in [Metric::Cosine, Metric::DotProduct, Metric::Euclidean] {
            for d in [3usize, 37, 130] {
                let n = 5000;
                let mut data: Vec<f32> = (0..n * d).map(|_| rng.signed()).collect();
                // Duplicates and a scaled copy make ties and near-ties.
                let first: Vec<f32> = data[..d].to_vec();
                data[d..2 * d].copy_from_slice(&first);
                for (o, x) in data[2 * d..3 * d].iter_mut().zip(&first) {
                    *o = x * 1e3;
                }
                let norms: Vec<f32> = data
                    .chunks_exact(d)
                    .map(|r| {
                        let n2: f64 = r.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
                        (n2.sqrt() * (1.0 + 1e-7)) as f32
                    })
                    .collect();
                let qs: Vec<Vec<f32>> = (0..300)
                    .map(|i| {
                        if i == 0 {
                            first.clone()
                        } else {
                            (0..d).map(|_| rng.signed()).collect()
                        }
                    })
                    .collect();
                let batch: Vec<BatchQuery<'_>> = qs
                    .iter()
                    .map(|q| BatchQuery {
                        embedding: q,
                        fetch: 10,
                        threshold: None,
                    })
                    .collect();
                let rows = Rows {
                    data: &data,
                    dim: d,
                    metric,
                    norms: &norms,
                };
                let got = survivors(rows, &batch, |_, _| true);
                let mut total = 0;
                for (qi, q) in qs.iter().enumerate() {
                    total += got[qi].len();
                    let mut s: Vec<(f64, usize)> = got[qi]
                        .iter()
                        .map(|&r| {
                            (
                                score::reference(metric, q, &data[r * d..(r + 1) * d]).score,
                                r,
                            )
                        })
                        .collect();
                    s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                    let s: Vec<usize> = s.into_iter().take(10).map(|x| x.1).collect();
                    assert_eq!(
                        s,
                        oracle(metric, &data, d, q, 10),
                        "{metric:?} d={d} q={qi}"
                    );
                }
                assert!(total < 300 * 40, "{metric:?} d={d}: {total} survivors");
            }
        }
    }
}
