//! The exact scan's first pass: an int8 copy of the rows, scanned with a per-row error bound so
//! that the answer is **provably** the exact one (the f64 reference's), not "usually".
//!
//! ## Keys
//! Every metric is ranked through a *key* that is increasing in the contract's score and
//! affine in one dot product, so a single bound on a dot product serves all three:
//!
//! | metric | row stored as `x'` | key | score from key |
//! |---|---|---|---|
//! | dot product | `x` | `x·q` | `key` |
//! | cosine | `x/‖x‖` (f64) | `x'·q = cos·‖q‖` | `key/‖q‖` |
//! | euclidean | `x` | `x·q − ‖x‖²/2` | `−√(‖q‖² − 2·key)` |
//!
//! ## The bound
//! Row: scale `s = max|x'_i|/127` (an f32), codes `c = round(x'/s)` ∈ [−127, 127],
//! `x̂ = s·c`, residual `e = x' − x̂`; stored per row `s`, `‖e‖` and `‖x̂‖` (computed in f64 from
//! the stored `s`, rounded up to f32). Query: `t = max|q_i|/QMAX`, i16 codes `g = round(q/t)`,
//! `q̂ = t·g`, residual `f = q − q̂` (i16 keeps `‖f‖` ~300× smaller than i8 would, and i8 × i16
//! still maps to `vpmaddwd`). Then
//!
//!   `x'·q = x̂·q̂ + x̂·f + e·q`, so `|x'·q − s·t·Σcᵢgᵢ| ≤ ‖x̂‖·‖f‖ + ‖e‖·‖q‖` (Cauchy–Schwarz),
//!
//! with `Σcᵢgᵢ` exact in i32 (`QMAX` keeps `stride·127·QMAX < 2³¹`) and `s·t·Σ` computed in f64
//! (two f32 factors: exact product; one rounding of 2⁻⁵³ after). The contract ranks by the f64
//! reference (`score::reference`), not by the real value: its rounding is at most `d·2⁻⁵³`
//! relative to `‖x‖‖q‖` (dot, cosine) or to `‖x‖² + ‖q‖²` (euclidean), far below the slack
//! `SLACK = 1e-9` added in those units. So `[approx − err, approx + err]` holds the reference
//! key of every row.
//!
//! ## Why the answer is exact
//! Let `L` be the `fetch`-th largest lower bound among the rows the filter accepts. Those
//! `fetch` rows all have reference keys ≥ `L`, so the `fetch`-th best reference key is ≥ `L`, and
//! every row of the exact top-`fetch` (ties included) has `upper ≥ key ≥ L`. Re-scoring every
//! row with `upper ≥ L` by the reference and keeping the best `fetch` is therefore the exact
//! answer. A threshold only raises the floor (rows with `upper` below it cannot pass). A NaN or
//! infinite bound (rows near f32's limits) makes the row a survivor: slower, never wrong.
//!
//! About 10–20 rows survive per query on real embeddings (k = 10), so the re-score is free and
//! the scan reads ~d + 12 bytes per row instead of 4·d.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use pulp::{Arch, Simd, WithSimd};
use vector_backend::Metric;

use crate::kernel::{I8_PAD, dot_i8_i16_simd};

/// Relative slack for roundings outside the bound (the reference's own, the f64 key math).
const SLACK: f64 = 1e-9;

/// Rows per block: the integer dots of a block are computed first (a tight vectorised loop),
/// then the bound bookkeeping runs over the block.
const BLOCK: usize = 256;

/// The int8 copy of a namespace's rows with the per-row facts the bound needs. It follows the
/// f32 store's lifecycle (append, replace in place, swap-remove), row for row.
#[derive(Debug, Clone)]
pub(crate) struct QuantStore {
    metric: Metric,
    dim: usize,
    /// Row stride in `codes`: the dimension rounded up to [`I8_PAD`].
    stride: usize,
    codes: Vec<i8>,
    scale: Vec<f32>,
    /// `‖e‖`, rounded up.
    enorm: Vec<f32>,
    /// `‖x̂‖`, rounded up.
    hnorm: Vec<f32>,
    /// Euclidean only: `‖x‖²` in f64 (the key's offset is `−‖x‖²/2`).
    sqnorm: Vec<f64>,
    /// `‖x‖` of the stored row (not normalised), rounded up: the batched path's bound.
    norm: Vec<f32>,
}

/// The nearest f32 at or above `x` (so a stored norm never understates the bound).
fn round_up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x { f.next_up() } else { f }
}

/// Per-row bytes of the int8 copy at dimension `dim`, for the capacity accounting.
pub(crate) fn bytes_per_row(dim: usize, metric: Metric) -> u64 {
    let euclid = if metric == Metric::Euclidean { 8 } else { 0 };
    (dim.div_ceil(I8_PAD) * I8_PAD + 16 + euclid) as u64
}

impl QuantStore {
    pub(crate) fn new(dim: usize, metric: Metric) -> Self {
        Self {
            metric,
            dim,
            stride: dim.div_ceil(I8_PAD) * I8_PAD,
            codes: Vec::new(),
            scale: Vec::new(),
            enorm: Vec::new(),
            hnorm: Vec::new(),
            sqnorm: Vec::new(),
            norm: Vec::new(),
        }
    }

    /// `‖x‖` of row `i`, rounded up to f32.
    pub(crate) fn norms(&self) -> &[f32] {
        &self.norm
    }

    pub(crate) fn len(&self) -> usize {
        self.scale.len()
    }

    /// Appends a row.
    pub(crate) fn push(&mut self, row: &[f32]) {
        let i = self.len();
        self.codes.resize((i + 1) * self.stride, 0);
        self.scale.push(0.0);
        self.enorm.push(0.0);
        self.hnorm.push(0.0);
        self.norm.push(0.0);
        if self.metric == Metric::Euclidean {
            self.sqnorm.push(0.0);
        }
        self.set(i, row);
    }

    /// Replaces row `i`.
    pub(crate) fn set(&mut self, i: usize, row: &[f32]) {
        assert_eq!(row.len(), self.dim, "row of the namespace's dimension");
        let sq: f64 = row.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        // Cosine ranks the normalised row; its norm is taken in f64 like the reference's.
        let w = if self.metric == Metric::Cosine && sq > 0.0 {
            1.0 / sq.sqrt()
        } else {
            1.0
        };
        let amax = row
            .iter()
            .fold(0.0f64, |m, &x| m.max((f64::from(x) * w).abs()));
        // Any positive scale keeps the bound valid (it is computed from the actual residual);
        // the nearest one makes it tight. A scale that underflows f32 is replaced by the
        // smallest normal one, which leaves those rows with a loose bound: re-scored, not lost.
        let mut s = (amax / 127.0) as f32;
        if !s.is_normal() {
            s = f32::MIN_POSITIVE;
        }
        let sd = f64::from(s);
        let (mut e2, mut h2) = (0.0f64, 0.0f64);
        let codes = &mut self.codes[i * self.stride..(i + 1) * self.stride];
        for (c, &x) in codes.iter_mut().zip(row) {
            let x = f64::from(x) * w;
            let code = (x / sd).round().clamp(-127.0, 127.0);
            *c = code as i8;
            let xh = sd * code;
            e2 += (x - xh) * (x - xh);
            h2 += xh * xh;
        }
        codes[row.len()..].fill(0);
        self.scale[i] = s;
        // The f64 sums above carry relative errors ~d·2⁻⁵³; the factor covers them.
        self.enorm[i] = round_up(e2.sqrt() * (1.0 + 1e-12));
        self.hnorm[i] = round_up(h2.sqrt() * (1.0 + 1e-12));
        if self.metric == Metric::Euclidean {
            self.sqnorm[i] = sq;
        }
        self.norm[i] = round_up(sq.sqrt() * (1.0 + 1e-12));
    }

    /// Removes row `i` by moving the last row into its place (as the f32 store does).
    pub(crate) fn swap_remove(&mut self, i: usize) {
        let last = self.len() - 1;
        let st = self.stride;
        if i != last {
            self.codes.copy_within(last * st..(last + 1) * st, i * st);
        }
        self.codes.truncate(last * st);
        self.scale.swap_remove(i);
        self.enorm.swap_remove(i);
        self.hnorm.swap_remove(i);
        self.norm.swap_remove(i);
        if self.metric == Metric::Euclidean {
            self.sqnorm.swap_remove(i);
        }
    }

    /// Prepares a query: its i16 codes and the constants of the bound.
    pub(crate) fn query(&self, q: &[f32]) -> QuantQuery {
        let qmax = f64::from(query_scale(self.stride));
        let amax = q.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
        let mut t = (f64::from(amax) / qmax) as f32;
        if !t.is_normal() {
            t = f32::MIN_POSITIVE;
        }
        let td = f64::from(t);
        let mut codes = vec![0i16; self.stride];
        let (mut f2, mut q2) = (0.0f64, 0.0f64);
        for (c, &x) in codes.iter_mut().zip(q) {
            let x = f64::from(x);
            let v = (x / td).round().clamp(-qmax, qmax);
            *c = v as i16;
            f2 += (x - td * v) * (x - td * v);
            q2 += x * x;
        }
        let qnorm = q2.sqrt() * (1.0 + 1e-12);
        let fnorm = f2.sqrt() * (1.0 + 1e-12);
        let (c_s, c_0) = match self.metric {
            Metric::Euclidean => (SLACK, SLACK * q2),
            Metric::Cosine => (0.0, SLACK * qnorm),
            Metric::DotProduct => (0.0, 0.0),
        };
        QuantQuery {
            codes,
            t: td,
            c_e: qnorm * (1.0 + SLACK),
            c_h: fnorm * (1.0 + SLACK) + SLACK * qnorm,
            c_s,
            c_0,
            qnorm: q2.sqrt(),
        }
    }

    /// One pass over `rows`: the `keep` best lower bounds among the rows `accept` takes, and
    /// every such row whose upper bound can still reach them (or `floor`). Merge the partials
    /// of several ranges with [`Partial::merge`], then [`Partial::survivors`].
    pub(crate) fn scan<F: Fn(usize) -> bool>(
        &self,
        arch: Arch,
        q: &QuantQuery,
        rows: std::ops::Range<usize>,
        keep: usize,
        floor: f64,
        accept: F,
    ) -> Partial {
        arch.dispatch(Scan {
            st: self,
            q,
            rows,
            keep,
            floor,
            accept,
        })
    }

    /// The floor in key units below which no row passes `threshold` (already widened by the
    /// caller's margin); `+∞` when no row can pass.
    pub(crate) fn key_floor(&self, q: &QuantQuery, threshold: Option<f64>) -> f64 {
        key_floor(self.metric, q.qnorm, threshold)
    }

    /// Heap bytes held (capacities), for tests of the accounting.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.codes.capacity()
            + (self.scale.capacity()
                + self.enorm.capacity()
                + self.hnorm.capacity()
                + self.norm.capacity())
                * 4
            + self.sqnorm.capacity() * 8
    }
}

/// The floor in key units (see the module docs) below which no row passes `threshold`, for a
/// query of norm `qnorm`; `+∞` when no row can pass.
pub(crate) fn key_floor(metric: Metric, qnorm: f64, threshold: Option<f64>) -> f64 {
    let Some(t) = threshold else {
        return f64::NEG_INFINITY;
    };
    match metric {
        Metric::DotProduct => t,
        Metric::Cosine => t * qnorm,
        Metric::Euclidean if t > 0.0 => f64::INFINITY,
        Metric::Euclidean => (qnorm * qnorm - t * t) / 2.0,
    }
}

/// Largest query code magnitude such that `stride·127·QMAX < 2³¹` (no i32 overflow).
fn query_scale(stride: usize) -> i32 {
    ((i32::MAX as usize) / (stride * 127)).min(i16::MAX as usize) as i32
}

/// A query prepared for [`QuantStore::scan`].
#[derive(Debug, Clone)]
pub(crate) struct QuantQuery {
    codes: Vec<i16>,
    t: f64,
    /// Factor of `‖e‖` in the bound.
    c_e: f64,
    /// Factor of `‖x̂‖`.
    c_h: f64,
    /// Factor of `‖x‖²` (euclidean slack).
    c_s: f64,
    /// Constant slack.
    c_0: f64,
    qnorm: f64,
}

/// The `keep` largest values seen (a min-heap: its top is the smallest kept).
#[derive(Debug, Default)]
pub(crate) struct Lows {
    keep: usize,
    heap: BinaryHeap<Reverse<Ord64>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Ord64(f64);
impl Eq for Ord64 {}
impl PartialOrd for Ord64 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ord64 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

impl Lows {
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            keep,
            heap: BinaryHeap::with_capacity(keep + 1),
        }
    }

    /// The smallest kept value once `keep` are held; `-∞` before.
    #[inline(always)]
    pub(crate) fn floor(&self) -> f64 {
        if self.heap.len() < self.keep {
            f64::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f64::NEG_INFINITY, |r| r.0.0)
        }
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, v: f64) {
        if self.keep == 0 {
            return;
        }
        if self.heap.len() < self.keep {
            self.heap.push(Reverse(Ord64(v)));
        } else if v > self.floor() {
            self.heap.pop();
            self.heap.push(Reverse(Ord64(v)));
        }
    }
}

/// What one scan of a range of rows found: the best lower bounds and the possible survivors
/// (upper bound, row).
#[derive(Debug)]
pub(crate) struct Partial {
    lows: Lows,
    cands: Vec<(f64, u32)>,
    floor: f64,
}

impl Partial {
    /// Combines the partials of two ranges.
    pub(crate) fn merge(mut self, other: Self) -> Self {
        for Reverse(v) in other.lows.heap {
            self.lows.push(v.0);
        }
        self.cands.extend(other.cands);
        self
    }

    /// The rows whose reference score may reach the exact top `keep`: re-score these.
    pub(crate) fn survivors(self) -> Vec<usize> {
        let l = self.lows.floor().max(self.floor);
        self.cands
            .into_iter()
            // Not `u >= l`: a NaN bound keeps its row.
            .filter(|&(u, _)| u.partial_cmp(&l) != Some(std::cmp::Ordering::Less))
            .map(|(_, r)| r as usize)
            .collect()
    }
}

struct Scan<'a, F> {
    st: &'a QuantStore,
    q: &'a QuantQuery,
    rows: std::ops::Range<usize>,
    keep: usize,
    floor: f64,
    accept: F,
}

impl<F: Fn(usize) -> bool> WithSimd for Scan<'_, F> {
    type Output = Partial;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Partial {
        let Self {
            st,
            q,
            rows,
            keep,
            floor,
            accept,
        } = self;
        let euclid = st.metric == Metric::Euclidean;
        let mut lows = Lows::new(keep);
        let mut cands = Vec::with_capacity(2 * keep + 16);
        // The current bar: the larger of the threshold's floor and the keep-th lower bound.
        let mut bar = floor;
        let mut dots = [0i32; BLOCK];
        let mut start = rows.start;
        while start < rows.end {
            let m = BLOCK.min(rows.end - start);
            let codes = &st.codes[start * st.stride..(start + m) * st.stride];
            for (o, row) in dots.iter_mut().zip(codes.chunks_exact(st.stride)) {
                *o = dot_i8_i16_simd(simd, row, &q.codes);
            }
            let scale = &st.scale[start..start + m];
            let enorm = &st.enorm[start..start + m];
            let hnorm = &st.hnorm[start..start + m];
            for j in 0..m {
                let mut approx = f64::from(scale[j]) * q.t * f64::from(dots[j]);
                let mut err = f64::from(enorm[j]) * q.c_e + f64::from(hnorm[j]) * q.c_h + q.c_0;
                if euclid {
                    let sq = st.sqnorm[start + j];
                    approx -= sq / 2.0;
                    err += sq * q.c_s;
                }
                let upper = approx + err;
                // `upper < bar` is false for NaN: such rows are kept (and re-scored).
                if upper < bar {
                    continue;
                }
                let row = start + j;
                if !accept(row) {
                    continue;
                }
                let lower = approx - err;
                cands.push((upper, row as u32));
                lows.push(if lower.is_nan() {
                    f64::NEG_INFINITY
                } else {
                    lower
                });
                bar = floor.max(lows.floor());
            }
            start += m;
        }
        Partial { lows, cands, floor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vector_backend::score;

    /// xorshift64* in [-0.5, 0.5).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        }
        fn row(&mut self, d: usize) -> Vec<f32> {
            (0..d).map(|_| self.next() as f32).collect()
        }
    }

    /// The exact answer: reference scores, best first, ties by row.
    fn oracle(
        metric: Metric,
        rows: &[Vec<f32>],
        q: &[f32],
        threshold: Option<f64>,
        accept: &dyn Fn(usize) -> bool,
    ) -> Vec<(f64, usize)> {
        let mut s: Vec<(f64, usize)> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| accept(*i))
            .map(|(i, r)| (score::reference(metric, q, r).score, i))
            .filter(|(s, _)| threshold.is_none_or(|t| *s >= t))
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        s
    }

    /// The scan's answer, as the namespace computes it: survivors re-scored by the reference,
    /// best `k` (ties by row), threshold applied.
    fn scanned(
        st: &QuantStore,
        rows: &[Vec<f32>],
        q: &[f32],
        k: usize,
        threshold: Option<f64>,
        accept: &dyn Fn(usize) -> bool,
        split: usize,
    ) -> (Vec<(f64, usize)>, usize) {
        let arch = Arch::new();
        let qq = st.query(q);
        let floor = st.key_floor(&qq, threshold.map(|t| t - score::pushdown_margin(t)));
        let n = rows.len();
        let mid = split.min(n);
        let p = st.scan(arch, &qq, 0..mid, k, floor, accept).merge(st.scan(
            arch,
            &qq,
            mid..n,
            k,
            floor,
            accept,
        ));
        let surv = p.survivors();
        let count = surv.len();
        let mut s: Vec<(f64, usize)> = surv
            .into_iter()
            .map(|i| (score::reference(st.metric, q, &rows[i]).score, i))
            .filter(|(s, _)| threshold.is_none_or(|t| *s >= t))
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        s.truncate(k);
        (s, count)
    }

    fn check(metric: Metric, rows: &[Vec<f32>], queries: &[Vec<f32>], what: &str) {
        let mut st = QuantStore::new(rows[0].len(), metric);
        for r in rows {
            st.push(r);
        }
        let odd = |i: usize| i % 3 != 1;
        for (qi, q) in queries.iter().enumerate() {
            for k in [1usize, 10, 40] {
                for (accept, th) in [
                    (&(|_| true) as &dyn Fn(usize) -> bool, None),
                    (&odd as &dyn Fn(usize) -> bool, None),
                ]
                .into_iter()
                .chain(std::iter::once((
                    &(|_| true) as &dyn Fn(usize) -> bool,
                    // A threshold at some row's exact score (inclusive).
                    Some(score::reference(metric, q, &rows[qi % rows.len()]).score),
                ))) {
                    let mut want = oracle(metric, rows, q, th, accept);
                    want.truncate(k);
                    let (got, _) = scanned(&st, rows, q, k, th, accept, rows.len() / 3);
                    assert_eq!(got, want, "{what} {metric:?} query {qi} k={k} th={th:?}");
                }
            }
        }
    }

    #[test]
    fn exact_on_random_rows_all_metrics() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for d in [1usize, 3, 50, 64, 65, 384] {
            let rows: Vec<Vec<f32>> = (0..700).map(|_| rng.row(d)).collect();
            let queries: Vec<Vec<f32>> = (0..8).map(|_| rng.row(d)).collect();
            for metric in [Metric::Cosine, Metric::DotProduct, Metric::Euclidean] {
                check(metric, &rows, &queries, &format!("random d={d}"));
            }
        }
    }

    #[test]
    fn exact_on_adversarial_rows() {
        let mut rng = Rng(42);
        let d = 24;
        let mut rows: Vec<Vec<f32>> = Vec::new();
        let base = rng.row(d);
        // Exact duplicates (ties), near-duplicates one ulp apart, sign flips.
        for _ in 0..30 {
            rows.push(base.clone());
        }
        for i in 0..30 {
            let mut r = base.clone();
            r[i % d] = r[i % d].next_up();
            rows.push(r);
        }
        for _ in 0..20 {
            rows.push(base.iter().map(|x| -x).collect());
        }
        // Huge and tiny norms, a huge outlier coordinate, subnormals, one-hot, all-negative.
        for scale in [1e30f32, 1e-30, 1e15, 1e-15, 3e38 / 64.0] {
            for _ in 0..10 {
                rows.push(rng.row(d).iter().map(|x| x * scale).collect());
            }
        }
        for _ in 0..10 {
            let mut r = rng.row(d);
            r[3] = 1e20;
            rows.push(r);
        }
        rows.push(vec![f32::from_bits(1); d]);
        rows.push((0..d).map(|i| if i == 5 { 1.0 } else { 0.0 }).collect());
        rows.push(vec![-0.25; d]);
        rows.push(vec![0.0; d]);
        for _ in 0..200 {
            rows.push(rng.row(d));
        }
        let mut queries = vec![
            base.clone(),
            base.iter().map(|x| -x).collect(),
            base.iter().map(|x| x * 1e20).collect(),
            base.iter().map(|x| x * 1e-20).collect(),
            vec![1e-38; d],
            (0..d).map(|i| if i == 3 { 1.0 } else { 0.0 }).collect(),
        ];
        queries.extend((0..4).map(|_| rng.row(d)));
        for metric in [Metric::DotProduct, Metric::Euclidean] {
            check(metric, &rows, &queries, "adversarial");
        }
        // Cosine namespaces refuse zero rows and rows whose squared norm leaves f32's normal
        // range (validate::embedding); keep the rest.
        let ok = |r: &Vec<f32>| {
            let n2: f64 = r.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            (n2 as f32).is_normal()
        };
        let cos_rows: Vec<Vec<f32>> = rows.iter().filter(|r| ok(r)).cloned().collect();
        let cos_q: Vec<Vec<f32>> = queries.iter().filter(|r| ok(r)).cloned().collect();
        check(Metric::Cosine, &cos_rows, &cos_q, "adversarial");
    }

    #[test]
    fn the_bound_is_tight_on_unit_rows() {
        // On ordinary unit embeddings only a handful of rows beyond k need the exact re-score.
        let mut rng = Rng(7);
        let d = 128;
        let rows: Vec<Vec<f32>> = (0..5000)
            .map(|_| {
                let r = rng.row(d);
                let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
                r.iter().map(|x| x / n).collect()
            })
            .collect();
        let mut st = QuantStore::new(d, Metric::Cosine);
        for r in &rows {
            st.push(r);
        }
        let q = rows[17].clone();
        let (got, survivors) = scanned(&st, &rows, &q, 10, None, &|_| true, 5000);
        assert_eq!(got[0].1, 17);
        assert!(survivors < 60, "{survivors} survivors");
    }

    #[test]
    fn bound_holds_row_by_row() {
        // The property itself: |reference key − approx| ≤ err for every row and metric.
        let mut rng = Rng(99);
        for metric in [Metric::Cosine, Metric::DotProduct, Metric::Euclidean] {
            for d in [2usize, 17, 300] {
                let rows: Vec<Vec<f32>> = (0..200)
                    .map(|i| {
                        let s = [1.0f32, 1e-12, 1e12][i % 3];
                        rng.row(d).iter().map(|x| x * s).collect()
                    })
                    .collect();
                let mut st = QuantStore::new(d, metric);
                for r in &rows {
                    st.push(r);
                }
                for _ in 0..5 {
                    let q = rng.row(d);
                    let qq = st.query(&q);
                    // keep = n: every row survives, and its interval is checked against the
                    // reference key.
                    let p = st.scan(
                        Arch::new(),
                        &qq,
                        0..rows.len(),
                        rows.len(),
                        f64::NEG_INFINITY,
                        |_| true,
                    );
                    for &(upper, r) in &p.cands {
                        let s = score::reference(metric, &q, &rows[r as usize]).score;
                        let key = match metric {
                            Metric::DotProduct => s,
                            Metric::Cosine => s * qq.qnorm,
                            Metric::Euclidean => (qq.qnorm * qq.qnorm - s * s) / 2.0,
                        };
                        assert!(key <= upper, "{metric:?} d={d} row {r}: {key} > {upper}");
                    }
                    let lows: Vec<f64> = p.lows.heap.iter().map(|r| r.0.0).collect();
                    let mut keys: Vec<f64> = rows
                        .iter()
                        .map(|r| {
                            let s = score::reference(metric, &q, r).score;
                            match metric {
                                Metric::DotProduct => s,
                                Metric::Cosine => s * qq.qnorm,
                                Metric::Euclidean => (qq.qnorm * qq.qnorm - s * s) / 2.0,
                            }
                        })
                        .collect();
                    let mut lows_sorted = lows.clone();
                    lows_sorted.sort_by(f64::total_cmp);
                    keys.sort_by(f64::total_cmp);
                    // Sorted lower bounds lie below sorted keys, element by element.
                    for (l, k) in lows_sorted.iter().zip(&keys) {
                        assert!(l <= k, "{metric:?} d={d}: lower {l} > key {k}");
                    }
                }
            }
        }
    }

    #[test]
    fn follows_replacements_and_removals() {
        let mut rng = Rng(5);
        let d = 40;
        let mut rows: Vec<Vec<f32>> = (0..300).map(|_| rng.row(d)).collect();
        let mut st = QuantStore::new(d, Metric::Euclidean);
        for r in &rows {
            st.push(r);
        }
        let newrow = rng.row(d);
        rows[5] = newrow.clone();
        st.set(5, &newrow);
        let last = rows.pop().unwrap();
        rows[7] = last;
        st.swap_remove(7);
        assert_eq!(st.len(), rows.len());
        check(Metric::Euclidean, &rows, &[newrow], "after writes");
        assert!(st.heap_bytes() >= rows.len() * bytes_per_row(d, Metric::Euclidean) as usize);
    }
}
