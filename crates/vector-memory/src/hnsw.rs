//! An HNSW graph (Malkov & Yashunin), hand-written in safe Rust after hnswlib's design, for
//! namespaces created with `index: hnsw`.
//!
//! Why our own: of the crates measured, usearch served 0.4–0.7× hnswlib's queries/s and needs a
//! C++ build; hnsw_rs has no delete and was 4–5× slower (see the project's issue 13 notes).
//!
//! ## Layout
//! Nodes are numbered in insertion order and own a copy of their vector: graph walks read one
//! node-major array instead of chasing the namespace's rows, which move on delete. Each copy is
//! zero-padded to a multiple of 16 floats and the array is 64-byte aligned (stored as
//! `__m512` blocks), so a distance is whole AVX-512 loads with no tail and no cache-line split. Every metric
//! becomes a true metric in f32 there, because the graph's neighbour heuristic assumes one:
//! cosine stores normalised vectors (ranked by `−x·q`), euclidean ranks by `‖x − q‖²`, and dot
//! product uses the classic reduction of inner-product search to L2 search (Bachrach et al.,
//! 2014): each node gets one extra coordinate `√(Φ² − ‖x‖²)` and the query a zero there, so
//! `‖x̃ − q̃‖² = Φ² + ‖q‖² − 2x·q` orders rows exactly as `x·q` does. (Searching raw inner
//! products instead, as hnswlib's `ip` space does, reached recall 0.88 on the conformance
//! suite's clustered data.) `Φ` is 1.25 × the largest norm when the graph is built; a row with
//! a larger norm rebuilds it. Level-0
//! links are one flat array of `2M + 1` words per node (count, then ids), upper levels a
//! second flat array with `M + 1` words per level, as in hnswlib. Links are `AtomicU32` so that
//! a parallel build can read lists that other threads are rewriting without `unsafe` and
//! without a lock per read (a torn read only ever yields valid node ids); on x86 a relaxed
//! atomic load is a plain load, so queries pay nothing for it. Writers take the node's mutex.
//!
//! ## Lifecycle
//! - Insert: the namespace appends the node (vector, level, empty lists) under its write lock,
//!   and [`Hnsw::link_pending`] links every new node of a write batch in parallel (rayon).
//! - Replace: the old node becomes a tombstone and a new node is inserted.
//! - Delete: tombstone. Tombstones stay in the graph as waypoints (they keep it navigable) but
//!   are never returned. When they exceed a third of the nodes the namespace rebuilds the
//!   graph from the live rows (parallel), so their memory and wasted visits stay bounded.
//! - Queries walk the graph under the namespace's read lock (no writer can run meanwhile).
//!
//! ## Search
//! Greedy descent through the upper levels, then a best-first search of width `ef` at level 0.
//! Nodes the predicate refuses (tombstones, rows outside the filter) are traversed but not
//! kept, and the walk goes on until `ef` accepted nodes are held (hnswlib's filtered search).
//! Distances are f32 under one pulp dispatch (AVX2 / AVX-512); the namespace re-scores the
//! kept nodes in f64, so reported scores and the inclusive threshold are exact.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;
use vector_backend::Metric;

use crate::catalog::lock;
use crate::kernel::{dot_f32, l2sq_f32, prefetch};

/// 16 floats, 64-byte aligned: the unit of the vector array.
#[cfg(target_arch = "x86_64")]
type Block = core::arch::x86_64::__m512;
#[cfg(not(target_arch = "x86_64"))]
type Block = [f32; 16];

/// A node with no row: a tombstone.
pub(crate) const NONE: u32 = u32::MAX;

/// The graph's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HnswParams {
    /// Links per node on the upper levels (`2M` on level 0). Default 16, at most 64.
    pub m: usize,
    /// Search width while inserting. Default 200.
    pub ef_construction: usize,
    /// Least search width of a query; a query searches `max(ef_search, 2k, fetch)` wide.
    /// Default 128.
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 200,
            ef_search: 128,
        }
    }
}

impl HnswParams {
    /// Parameters with `m` (clamped to 2..=64), `ef_construction` and `ef_search` (at
    /// least 1 each).
    pub fn new(m: usize, ef_construction: usize, ef_search: usize) -> Self {
        Self {
            // The walk copies a level-0 list (2M ids) into a fixed 128-entry buffer.
            m: m.clamp(2, 64),
            ef_construction: ef_construction.max(1),
            ef_search: ef_search.max(1),
        }
    }

    /// Bytes of graph per node at dimension `dim`: vector copy, level-0 links, the expected
    /// upper-level links (a node reaches level ≥ 1 with probability 1/M), and the per-node
    /// bookkeeping (level, row, lock, offsets, visited marks).
    pub(crate) fn bytes_per_node(&self, dim: usize) -> u64 {
        let upper = (self.m + 1) * 4 / (self.m - 1).max(1) + 1;
        (dim * 4 + (2 * self.m + 1) * 4 + upper + 1 + 4 + 4 + 8 + 4 + 2) as u64
    }
}

/// Which f32 distance ranks the nodes (smaller is closer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Space {
    /// `−x·q` (cosine on normalised vectors, dot product).
    Ip,
    /// `‖x − q‖²`.
    L2,
}

#[inline(always)]
fn distance<S: Simd>(simd: S, space: Space, a: &[f32], b: &[f32]) -> f32 {
    match space {
        Space::Ip => -dot_f32(simd, a, b),
        Space::L2 => l2sq_f32(simd, a, b),
    }
}

/// `(distance, node)` packed in a u64 whose integer order is the distance's order (then the
/// node's), so heaps compare one integer.
#[inline(always)]
fn pack(d: f32, node: u32) -> u64 {
    let b = d.to_bits();
    let key = if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    };
    (u64::from(key) << 32) | u64::from(node)
}

#[inline(always)]
fn unpack_node(p: u64) -> u32 {
    p as u32
}

#[inline(always)]
fn unpack_dist(p: u64) -> f32 {
    let key = (p >> 32) as u32;
    let b = if key & 0x8000_0000 != 0 {
        key & 0x7fff_ffff
    } else {
        !key
    };
    f32::from_bits(b)
}

/// Epoch-stamped visited marks (one u16 per node, reset by bumping the epoch), as in hnswlib.
#[derive(Debug, Default)]
struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `i`; true when it was not marked yet.
    #[inline(always)]
    fn insert(&mut self, i: u32) -> bool {
        let m = &mut self.marks[i as usize];
        if *m == self.epoch {
            false
        } else {
            *m = self.epoch;
            true
        }
    }
}

/// The graph. See the module docs.
#[derive(Debug)]
pub(crate) struct Hnsw {
    dim: usize,
    /// Floats per node: `dim`, plus the extra coordinate under dot product, rounded up to 16.
    stride: usize,
    space: Space,
    /// Cosine: vectors are stored (and queries searched) normalised.
    normalise: bool,
    /// Dot product: the extra coordinate of the L2 reduction is stored.
    augment: bool,
    /// `Φ²` of the reduction.
    phi2: f64,
    /// The largest `‖x‖²` pushed.
    max_n2: f64,
    params: HnswParams,
    /// Level-generation factor `1/ln M`.
    mult: f64,
    /// The nodes' vectors, `stride` floats each (see [`Hnsw::floats`]).
    vectors: Vec<Block>,
    /// Per node `2M + 1` words: count, then ids.
    links0: Vec<AtomicU32>,
    /// Per upper level of a node `M + 1` words; a node's levels start at `upper_off[node]`.
    upper: Vec<AtomicU32>,
    upper_off: Vec<u32>,
    levels: Vec<u8>,
    /// Node → row of the namespace, or [`NONE`] for a tombstone.
    row_of: Vec<u32>,
    /// Row → node.
    node_of: Vec<u32>,
    locks: Vec<Mutex<()>>,
    /// Entry point and top level; `None` while no node is linked.
    entry: Mutex<Option<(u32, u8)>>,
    /// Held by an insert that raises the top level, for its whole insertion.
    grow: Mutex<()>,
    /// Nodes from this one on are not linked yet.
    pending_from: usize,
    /// Wall-clock seconds spent linking and rebuilding so far.
    build_seconds: f64,
    tombstones: usize,
    rng: u64,
    visited: Mutex<Vec<Visited>>,
}

impl Hnsw {
    pub(crate) fn new(dim: usize, metric: Metric, params: HnswParams) -> Self {
        let params = HnswParams::new(params.m, params.ef_construction, params.ef_search);
        let augment = metric == Metric::DotProduct;
        Self {
            dim,
            stride: (dim + usize::from(augment)).div_ceil(16) * 16,
            space: if metric == Metric::Cosine {
                Space::Ip
            } else {
                Space::L2
            },
            normalise: metric == Metric::Cosine,
            augment,
            phi2: 0.0,
            max_n2: 0.0,
            mult: 1.0 / (params.m as f64).ln(),
            params,
            vectors: Vec::new(),
            links0: Vec::new(),
            upper: Vec::new(),
            upper_off: Vec::new(),
            levels: Vec::new(),
            row_of: Vec::new(),
            node_of: Vec::new(),
            locks: Vec::new(),
            entry: Mutex::new(None),
            grow: Mutex::new(()),
            pending_from: 0,
            build_seconds: 0.0,
            tombstones: 0,
            rng: 0x2545_f491_4f6c_dd1d,
            visited: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn params(&self) -> HnswParams {
        self.params
    }

    /// Nodes, tombstones included.
    pub(crate) fn nodes(&self) -> usize {
        self.levels.len()
    }

    pub(crate) fn tombstones(&self) -> usize {
        self.tombstones
    }

    /// True when tombstones exceed a third of the nodes, or (dot product) a new row's norm
    /// exceeds the reduction's `Φ` while linked nodes exist: time to [`Hnsw::rebuilt`].
    pub(crate) fn needs_rebuild(&self) -> bool {
        (self.tombstones > 0 && 3 * self.tombstones > self.nodes())
            || (self.max_n2 > self.phi2 && self.pending_from > 0)
    }

    fn vector(&self, node: u32) -> &[f32] {
        let i = node as usize;
        &self.floats()[i * self.stride..(i + 1) * self.stride]
    }

    fn floats(&self) -> &[f32] {
        pulp::bytemuck::cast_slice(&self.vectors)
    }

    fn floats_mut(&mut self) -> &mut [f32] {
        pulp::bytemuck::cast_slice_mut(&mut self.vectors)
    }

    /// Sets `Φ` from the largest norm and recomputes every node's extra coordinate. Only
    /// while no node is linked (the graph's distances would change under it).
    fn set_phi(&mut self) {
        debug_assert_eq!(self.pending_from, 0);
        self.phi2 = self.max_n2 * 1.5625;
        let (d, phi2) = (self.dim, self.phi2);
        let stride = self.stride;
        for v in self.floats_mut().chunks_exact_mut(stride) {
            let n2: f64 = v[..d].iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            v[d] = (phi2 - n2).max(0.0).sqrt() as f32;
        }
    }

    /// A level drawn as `⌊−ln U · mult⌋` from a xorshift generator (deterministic per graph).
    fn draw_level(&mut self) -> u8 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let u = ((self.rng >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        (-u.ln() * self.mult).floor().min(30.0) as u8
    }

    /// Appends an unlinked node for `row` (its vector copied, normalised under cosine); the
    /// next [`Hnsw::link_pending`] links it. A row that had a node leaves a tombstone.
    pub(crate) fn push(&mut self, row: usize, v: &[f32]) {
        let node = self.nodes() as u32;
        let n2: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        let (stride, d) = (self.stride, self.dim);
        let want = ((node as usize + 1) * stride).div_ceil(16);
        let have = self.vectors.len();
        self.vectors
            .extend((have..want).map(|_| <Block as pulp::bytemuck::Zeroable>::zeroed()));
        let w = if self.normalise && n2 > 0.0 {
            1.0 / n2.sqrt()
        } else {
            1.0
        };
        let extra = (self.phi2 - n2).max(0.0).sqrt() as f32;
        let augment = self.augment;
        if augment {
            self.max_n2 = self.max_n2.max(n2);
        }
        let slot = &mut self.floats_mut()[node as usize * stride..(node as usize + 1) * stride];
        for (o, &x) in slot.iter_mut().zip(v) {
            *o = if w == 1.0 {
                x
            } else {
                (f64::from(x) * w) as f32
            };
        }
        if augment {
            slot[d] = extra;
        }
        let level = self.draw_level();
        let m0 = 2 * self.params.m;
        self.links0.extend((0..=m0).map(|_| AtomicU32::new(0)));
        self.upper_off.push(self.upper.len() as u32);
        self.upper
            .extend((0..usize::from(level) * (self.params.m + 1)).map(|_| AtomicU32::new(0)));
        self.levels.push(level);
        self.locks.push(Mutex::new(()));
        self.row_of.push(row as u32);
        if row < self.node_of.len() {
            let old = self.node_of[row];
            if old != NONE {
                self.row_of[old as usize] = NONE;
                self.tombstones += 1;
            }
            self.node_of[row] = node;
        } else {
            debug_assert_eq!(row, self.node_of.len());
            self.node_of.push(node);
        }
    }

    /// The namespace removed `row` by moving its last row into its place.
    pub(crate) fn swap_remove_row(&mut self, row: usize) {
        let node = self.node_of[row];
        self.row_of[node as usize] = NONE;
        self.tombstones += 1;
        self.node_of.swap_remove(row);
        if let Some(&moved) = self.node_of.get(row) {
            self.row_of[moved as usize] = row as u32;
        }
    }

    /// A fresh graph over the live nodes (rows in order), built in parallel.
    pub(crate) fn rebuilt(&self) -> Self {
        let mut g = Self::new(self.dim, Metric::Euclidean, self.params);
        (g.space, g.augment, g.stride) = (self.space, self.augment, self.stride);
        // The stored vectors are already normalised; the extra coordinate is set anew.
        g.normalise = false;
        for (row, &node) in self.node_of.iter().enumerate() {
            g.push(row, &self.vector(node)[..self.dim]);
        }
        g.normalise = self.normalise;
        g.link_pending();
        g.build_seconds += self.build_seconds;
        g
    }

    /// Wall-clock seconds spent linking nodes and rebuilding, since the graph was created.
    pub(crate) fn build_seconds(&self) -> f64 {
        self.build_seconds
    }

    /// Level `lev`'s list of `node`: count word, then ids.
    #[inline(always)]
    fn list(&self, node: u32, lev: u8) -> &[AtomicU32] {
        if lev == 0 {
            let w = 2 * self.params.m + 1;
            let i = node as usize * w;
            &self.links0[i..i + w]
        } else {
            let w = self.params.m + 1;
            let i = self.upper_off[node as usize] as usize + (usize::from(lev) - 1) * w;
            &self.upper[i..i + w]
        }
    }

    /// Copies a list's ids into `out` (a racing writer can only make the copy stale).
    #[inline(always)]
    fn read_list(&self, node: u32, lev: u8, out: &mut Vec<u32>) {
        let l = self.list(node, lev);
        let n = (l[0].load(Relaxed) as usize).min(l.len() - 1);
        out.clear();
        out.extend(l[1..=n].iter().map(|a| a.load(Relaxed)));
    }

    fn take_visited(&self) -> Visited {
        let mut v = lock(&self.visited).pop().unwrap_or_default();
        v.reset(self.nodes());
        v
    }

    fn give_visited(&self, v: Visited) {
        lock(&self.visited).push(v);
    }

    /// Links every node pushed since the last call, in parallel.
    pub(crate) fn link_pending(&mut self) {
        let (t0, before) = (std::time::Instant::now(), self.build_seconds);
        self.link_pending_timed();
        self.build_seconds = before + t0.elapsed().as_secs_f64();
    }

    fn link_pending_timed(&mut self) {
        if self.augment && self.max_n2 > self.phi2 {
            if self.pending_from > 0 {
                // Linked nodes would see their distances change: the caller rebuilds instead.
                *self = self.rebuilt();
                return;
            }
            self.set_phi();
        }
        let (from, to) = (self.pending_from, self.nodes());
        self.pending_from = to;
        if from == to {
            return;
        }
        let this = &*self;
        let arch = Arch::new();
        let run = |nodes: std::ops::Range<usize>| {
            let mut visited = this.take_visited();
            for node in nodes {
                arch.dispatch(Link {
                    g: this,
                    node: node as u32,
                    visited: &mut visited,
                });
            }
            this.give_visited(visited);
        };
        // The first node of an empty graph becomes the entry point before the others start.
        let mut from = from;
        if lock(&self.entry).is_none() {
            run(from..from + 1);
            from += 1;
        }
        const CHUNK: usize = 64;
        if to - from <= CHUNK {
            run(from..to);
        } else {
            let starts: Vec<usize> = (from..to).step_by(CHUNK).collect();
            starts
                .into_par_iter()
                .for_each(|s| run(s..(s + CHUNK).min(to)));
        }
    }

    /// The up to `ef` live nodes closest to `q` that `filter` takes (called with the row), as
    /// `(f32 distance, row)`, closest first.
    pub(crate) fn search(
        &self,
        q: &[f32],
        ef: usize,
        filter: Option<&dyn Fn(usize) -> bool>,
    ) -> Vec<(f32, usize)> {
        if lock(&self.entry).is_none() || ef == 0 {
            return Vec::new();
        }
        let mut q: Vec<f32> = if self.normalise {
            let n2: f64 = q.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            let w = if n2 > 0.0 { 1.0 / n2.sqrt() } else { 1.0 };
            q.iter().map(|&x| (f64::from(x) * w) as f32).collect()
        } else {
            q.to_vec()
        };
        // Zeros in the padding (and in the dot product's extra coordinate).
        q.resize(self.stride, 0.0);
        let mut visited = self.take_visited();
        let arch = Arch::new();
        let (g, q, v) = (self, q.as_slice(), &mut visited);
        // Three monomorphised walks: the common one (no filter, no tombstone) checks nothing
        // per node.
        let found = match (filter, self.tombstones) {
            (None, 0) => arch.dispatch(Query {
                g,
                q,
                ef,
                accept: |_: u32| true,
                visited: v,
            }),
            (None, _) => arch.dispatch(Query {
                g,
                q,
                ef,
                accept: |node: u32| g.row_of[node as usize] != NONE,
                visited: v,
            }),
            (Some(f), _) => arch.dispatch(Query {
                g,
                q,
                ef,
                accept: |node: u32| {
                    let row = g.row_of[node as usize];
                    row != NONE && f(row as usize)
                },
                visited: v,
            }),
        };
        self.give_visited(visited);
        found
            .into_iter()
            .map(|p| {
                (
                    unpack_dist(p),
                    self.row_of[unpack_node(p) as usize] as usize,
                )
            })
            .collect()
    }

    /// Greedy descent on level `lev` from `(d, cur)`.
    #[inline(always)]
    fn greedy<S: Simd>(
        &self,
        simd: S,
        q: &[f32],
        mut cur: u32,
        mut d: f32,
        lev: u8,
        buf: &mut Vec<u32>,
    ) -> (u32, f32) {
        loop {
            let mut changed = false;
            self.read_list(cur, lev, buf);
            for &n in buf.iter() {
                let dn = distance(simd, self.space, q, self.vector(n));
                if dn < d {
                    d = dn;
                    cur = n;
                    changed = true;
                }
            }
            if !changed {
                return (cur, d);
            }
        }
    }

    /// Best-first search of width `ef` on level `lev` from `start`; returns the accepted nodes
    /// found, packed, closest first.
    // Eight arguments: bundling them would only move them into a struct on the hot path.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn search_layer<S: Simd, F: Fn(u32) -> bool>(
        &self,
        simd: S,
        q: &[f32],
        start: (u32, f32),
        ef: usize,
        lev: u8,
        visited: &mut Visited,
        accept: &F,
    ) -> Vec<u64> {
        visited.reset(self.nodes());
        let mut cands: BinaryHeap<Reverse<u64>> = BinaryHeap::with_capacity(4 * ef);
        let mut top: BinaryHeap<u64> = BinaryHeap::with_capacity(ef + 1);
        let first = pack(start.1, start.0);
        visited.insert(start.0);
        cands.push(Reverse(first));
        if accept(start.0) {
            top.push(first);
        }
        let mut bound = if top.is_empty() { u64::MAX } else { first };
        let w = if lev == 0 {
            2 * self.params.m + 1
        } else {
            self.params.m + 1
        };
        let mut ids = [0u32; 129];
        while let Some(Reverse(c)) = cands.pop() {
            if c > bound && top.len() >= ef {
                break;
            }
            let l = self.list(unpack_node(c), lev);
            let cnt = (l[0].load(Relaxed) as usize).min(w - 1);
            for (o, a) in ids.iter_mut().zip(&l[1..=cnt]) {
                *o = a.load(Relaxed);
            }
            let ids = &ids[..cnt];
            if let Some(&n) = ids.first() {
                prefetch(simd, self.vector(n));
            }
            for (j, &n) in ids.iter().enumerate() {
                if let Some(&next) = ids.get(j + 1) {
                    prefetch(simd, self.vector(next));
                }
                if !visited.insert(n) {
                    continue;
                }
                let d = distance(simd, self.space, q, self.vector(n));
                let p = pack(d, n);
                if top.len() < ef || p < bound {
                    cands.push(Reverse(p));
                    if accept(n) {
                        top.push(p);
                        if top.len() > ef {
                            top.pop();
                        }
                    }
                    bound = top.peek().copied().unwrap_or(u64::MAX);
                }
            }
        }
        top.into_sorted_vec()
    }

    /// hnswlib's neighbour heuristic: from `cands` (packed, closest first) keep a candidate
    /// when it is closer to the base than to every one kept so far, up to `m`.
    #[inline(always)]
    fn select<S: Simd>(&self, simd: S, cands: &[u64], m: usize) -> Vec<u32> {
        let mut kept: Vec<u32> = Vec::with_capacity(m);
        for &c in cands {
            if kept.len() >= m {
                break;
            }
            let (n, dq) = (unpack_node(c), unpack_dist(c));
            let v = self.vector(n);
            // A plain loop, not `Iterator::all` with a closure: a closure the inliner leaves
            // out of line is compiled for the baseline target and calls each SIMD intrinsic
            // as a function (measured: a fifth of the build time).
            let mut good = true;
            for &r in &kept {
                if distance(simd, self.space, v, self.vector(r)) < dq {
                    good = false;
                    break;
                }
            }
            if good {
                kept.push(n);
            }
        }
        kept
    }

    /// Writes `ids` as `node`'s list on `lev` (caller holds the node's lock).
    fn write_list(&self, node: u32, lev: u8, ids: &[u32]) {
        let l = self.list(node, lev);
        for (a, &id) in l[1..].iter().zip(ids) {
            a.store(id, Relaxed);
        }
        l[0].store(ids.len() as u32, Relaxed);
    }

    /// Adds `new` to `node`'s list on `lev`, pruning with the heuristic when full.
    #[inline(always)]
    fn add_link<S: Simd>(&self, simd: S, node: u32, new: u32, lev: u8, buf: &mut Vec<u32>) {
        let cap = if lev == 0 {
            2 * self.params.m
        } else {
            self.params.m
        };
        let _g = lock(&self.locks[node as usize]);
        self.read_list(node, lev, buf);
        if buf.contains(&new) {
            return;
        }
        if buf.len() < cap {
            let l = self.list(node, lev);
            l[buf.len() + 1].store(new, Relaxed);
            l[0].store(buf.len() as u32 + 1, Relaxed);
            return;
        }
        let v = self.vector(node);
        let mut cands: Vec<u64> = buf
            .iter()
            .chain(std::iter::once(&new))
            .map(|&n| pack(distance(simd, self.space, v, self.vector(n)), n))
            .collect();
        cands.sort_unstable();
        let kept = self.select(simd, &cands, cap);
        self.write_list(node, lev, &kept);
    }
}

/// Inserts one pending node (inside one dispatch).
struct Link<'a> {
    g: &'a Hnsw,
    node: u32,
    visited: &'a mut Visited,
}

impl WithSimd for Link<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self { g, node, visited } = self;
        let level = g.levels[node as usize];
        let q = g.vector(node);
        let (ep, top) = loop {
            let e = *lock(&g.entry);
            if let Some(e) = e {
                break e;
            }
            let _grow = lock(&g.grow);
            let mut entry = lock(&g.entry);
            if entry.is_none() {
                *entry = Some((node, level));
                return;
            }
        };
        // An insert that raises the top level holds `grow` throughout (as hnswlib does), so
        // two such inserts never race for the entry point.
        let grow = (level > top).then(|| lock(&g.grow));
        let (ep, top) = if grow.is_some() {
            lock(&g.entry).unwrap_or((ep, top))
        } else {
            (ep, top)
        };
        let mut buf = Vec::with_capacity(2 * g.params.m + 1);
        let mut cur = (ep, distance(simd, g.space, q, g.vector(ep)));
        let mut lev = top;
        while lev > level {
            let (c, d) = g.greedy(simd, q, cur.0, cur.1, lev, &mut buf);
            cur = (c, d);
            lev -= 1;
        }
        let accept = |n: u32| n != node && g.row_of[n as usize] != NONE;
        let m = g.params.m;
        loop {
            let w = g.search_layer(
                simd,
                q,
                cur,
                g.params.ef_construction,
                lev,
                visited,
                &accept,
            );
            let chosen = g.select(simd, &w, m);
            {
                // Another insert may have linked to this node already: keep those links too.
                let _own = lock(&g.locks[node as usize]);
                g.read_list(node, lev, &mut buf);
                let cap = if lev == 0 { 2 * m } else { m };
                let mut ids = chosen.clone();
                for &b in buf.iter() {
                    if !ids.contains(&b) && ids.len() < cap {
                        ids.push(b);
                    }
                }
                g.write_list(node, lev, &ids);
            }
            for &n in &chosen {
                g.add_link(simd, n, node, lev, &mut buf);
            }
            if let Some(&p) = w.first() {
                cur = (unpack_node(p), unpack_dist(p));
            }
            if lev == 0 {
                break;
            }
            lev -= 1;
        }
        if grow.is_some() {
            let mut entry = lock(&g.entry);
            if entry.is_none_or(|(_, t)| level > t) {
                *entry = Some((node, level));
            }
        }
    }
}

/// One query (inside one dispatch).
struct Query<'a, F> {
    g: &'a Hnsw,
    q: &'a [f32],
    ef: usize,
    accept: F,
    visited: &'a mut Visited,
}

impl<F: Fn(u32) -> bool> WithSimd for Query<'_, F> {
    type Output = Vec<u64>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Vec<u64> {
        let Self {
            g,
            q,
            ef,
            accept,
            visited,
        } = self;
        let Some((ep, top)) = *lock(&g.entry) else {
            return Vec::new();
        };
        let mut buf = Vec::with_capacity(2 * g.params.m + 1);
        let mut cur = (ep, distance(simd, g.space, q, g.vector(ep)));
        for lev in (1..=top).rev() {
            cur = g.greedy(simd, q, cur.0, cur.1, lev, &mut buf);
        }
        g.search_layer(simd, q, cur, ef, 0, visited, &accept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clustered(n: usize, d: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = vector_backend::synth::SplitMix64::new(seed);
        vector_backend::synth::clustered(&mut rng, n, d, 20, 0.2)
    }

    fn exact(data: &[Vec<f32>], live: &[bool], q: &[f32], k: usize, metric: Metric) -> Vec<usize> {
        let mut s: Vec<(f64, usize)> = data
            .iter()
            .enumerate()
            .filter(|(i, _)| live[*i])
            .map(|(i, v)| (vector_backend::score::reference(metric, q, v).score, i))
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        s.into_iter().take(k).map(|x| x.1).collect()
    }

    fn recall(g: &Hnsw, data: &[Vec<f32>], live: &[bool], qs: &[Vec<f32>], metric: Metric) -> f64 {
        let mut hit = 0;
        for q in qs {
            let want = exact(data, live, q, 10, metric);
            let got: Vec<usize> = g.search(q, 64, None).into_iter().map(|x| x.1).collect();
            assert!(got.iter().all(|&r| live[r]), "a tombstone was returned");
            hit += want
                .iter()
                .filter(|w| got[..10.min(got.len())].contains(w))
                .count();
        }
        hit as f64 / (qs.len() * 10) as f64
    }

    #[test]
    fn packing_orders_like_floats() {
        let xs = [-3.5f32, -1.0, -0.0, 0.0, 1e-30, 0.5, 2.0, f32::INFINITY];
        for w in xs.windows(2) {
            assert!(pack(w[0], 7) <= pack(w[1], 3) || w[0] == w[1], "{w:?}");
            assert_eq!(unpack_dist(pack(w[0], 1)).to_bits(), w[0].to_bits());
        }
        assert_eq!(unpack_node(pack(1.0, 42)), 42);
    }

    #[test]
    fn recall_through_inserts_replacements_and_deletes() {
        let (n, d) = (3000, 24);
        for metric in [Metric::Cosine, Metric::DotProduct, Metric::Euclidean] {
            // One draw, so replacements and queries come from the data's own clusters.
            let mut all = clustered(n + 550, d, 1);
            let qs = all.split_off(n + 500);
            let fresh = all.split_off(n);
            let mut data = all;
            let mut g = Hnsw::new(d, metric, HnswParams::default());
            // Two batches (the second links into an existing graph).
            for (i, v) in data.iter().enumerate().take(2000) {
                g.push(i, v);
            }
            g.link_pending();
            for (i, v) in data.iter().enumerate().skip(2000) {
                g.push(i, v);
            }
            g.link_pending();
            let mut live = vec![true; n];
            let r = recall(&g, &data, &live, &qs, metric);
            assert!(r >= 0.95, "{metric:?} recall {r}");
            // Replace 500 rows with fresh vectors.
            for (i, v) in fresh.into_iter().enumerate() {
                let row = i * 5;
                data[row] = v;
                g.push(row, &data[row]);
            }
            g.link_pending();
            assert_eq!(g.tombstones(), 500);
            let r = recall(&g, &data, &live, &qs, metric);
            assert!(r >= 0.95, "{metric:?} recall after replacements {r}");
            // Tombstone a third of the rows (as swap-removes would, but keep row numbers here
            // by marking them only in `live`): the graph must never return them.
            let mut h = g.rebuilt();
            for row in (0..n).step_by(3) {
                let node = h.node_of[row];
                h.row_of[node as usize] = NONE;
                h.tombstones += 1;
                live[row] = false;
            }
            let r = recall(&h, &data, &live, &qs, metric);
            assert!(r >= 0.9, "{metric:?} recall with tombstones {r}");
            assert!(h.needs_rebuild() || h.tombstones() * 3 <= h.nodes());
        }
    }

    #[test]
    fn swap_removes_keep_rows_and_nodes_in_step() {
        let d = 8;
        let data = clustered(100, d, 9);
        let mut g = Hnsw::new(d, Metric::Euclidean, HnswParams::default());
        for (i, v) in data.iter().enumerate() {
            g.push(i, v);
        }
        g.link_pending();
        // Remove row 10: row 99 moves into it.
        g.swap_remove_row(10);
        let hits = g.search(&data[99], 5, None);
        assert_eq!(hits[0].1, 10, "the moved row is found under its new number");
        assert!(hits[0].0 < 1e-6);
        let none = g.search(&data[10], 100, None);
        assert!(
            none.iter().all(|&(d, _)| d > 0.0),
            "the removed vector is gone"
        );
        // A filter refusing everything returns nothing; one accepting two rows finds both.
        assert!(g.search(&data[0], 10, Some(&|_| false)).is_empty());
        let two = g.search(&data[0], 10, Some(&|r| r == 3 || r == 50));
        assert_eq!(two.len(), 2);
        let r = g.rebuilt();
        assert_eq!((r.nodes(), r.tombstones()), (99, 0));
    }
}
