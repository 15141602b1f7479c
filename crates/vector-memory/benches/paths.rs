//! Each search path of the memory backend on its own: the exact int8-bounded scan one query at
//! a time, batched exact queries (1 and 2 threads), HNSW queries at two search widths and the
//! HNSW build (1 and 2 threads).
//!
//! Data: set `VECTOR_MEMORY_BENCH_DATA` to a folder in the TEXMEX layout (`base.fvecs`,
//! `query.fvecs`, e.g. `shared/data/glove50-100k`) to measure real embeddings; otherwise seeded
//! clustered data (20,000 × 128, cosine) is generated, so the bench runs on a fresh machine.
//! `VECTOR_MEMORY_BENCH_ROWS` caps the rows used (the graph build is measured on at most
//! 20,000 of them). Ratios against FAISS / hnswlib come from `examples/annbench.rs` next to
//! `shared/bench/anchors.py`; this bench tracks the paths over time.
//!
//! Run: `cargo bench -p vector-memory --bench paths`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vector_backend::Metric;
use vector_backend::synth::{SplitMix64, clustered};
use vector_memory::raw::{Exact, Graph, HnswParams};

/// Rows, queries (row-major) and the dimension.
fn data() -> (Vec<f32>, Vec<f32>, usize) {
    let cap: usize = std::env::var("VECTOR_MEMORY_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    if let Ok(dir) = std::env::var("VECTOR_MEMORY_BENCH_DATA") {
        let (base, d) = fvecs(&format!("{dir}/base.fvecs"));
        let (queries, _) = fvecs(&format!("{dir}/query.fvecs"));
        let n = (base.len() / d).min(cap);
        return (base[..n * d].to_vec(), queries, d);
    }
    let mut rng = SplitMix64::new(2026);
    let d = 128;
    let n = 20_000.min(cap);
    let rows = clustered(&mut rng, n + 512, d, 64, 0.2);
    let base = rows[..n].iter().flatten().copied().collect();
    let queries = rows[n..].iter().flatten().copied().collect();
    (base, queries, d)
}

fn fvecs(path: &str) -> (Vec<f32>, usize) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let d = u32::from_le_bytes(bytes[..4].try_into().expect("header")) as usize;
    let v = bytes
        .chunks_exact(4 + 4 * d)
        .flat_map(|r| {
            r[4..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        })
        .collect();
    (v, d)
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
}

fn bench(c: &mut Criterion) {
    let (base, queries, d) = data();
    let n = base.len() / d;
    let qs: Vec<&[f32]> = queries.chunks_exact(d).take(256).collect();
    let batch: Vec<f32> = qs.iter().flat_map(|q| q.iter().copied()).collect();
    let k = 10;
    let tag = format!("{n}x{d}");

    let exact = Exact::new(d, Metric::Cosine, base.clone());
    let mut g = c.benchmark_group(format!("memory_exact_{tag}"));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("one_query_int8_bounded", |b| {
        b.iter(|| {
            i = (i + 1) % qs.len();
            black_box(exact.search(qs[i], k))
        });
    });
    g.throughput(Throughput::Elements(qs.len() as u64));
    for threads in [1, 2] {
        let p = pool(threads);
        g.bench_with_input(
            BenchmarkId::new("batch_gemm_threads", threads),
            &threads,
            |b, _| b.iter(|| p.install(|| black_box(exact.search_batch(&batch, k)))),
        );
    }
    g.finish();
    drop(exact);

    let graph =
        pool(2).install(|| Graph::build(d, Metric::Cosine, HnswParams::default(), base.clone()));
    let mut g = c.benchmark_group(format!("memory_hnsw_query_{tag}"));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    for ef in [64usize, 128] {
        let mut i = 0;
        g.bench_with_input(BenchmarkId::new("ef", ef), &ef, |b, &ef| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                black_box(graph.search(qs[i], k, ef))
            });
        });
    }
    g.finish();
    drop(graph);

    let m = n.min(20_000);
    let sub = base[..m * d].to_vec();
    let mut g = c.benchmark_group(format!("memory_hnsw_build_{m}x{d}"));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(m as u64));
    for threads in [1, 2] {
        let p = pool(threads);
        g.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, _| {
            b.iter(|| {
                p.install(|| {
                    black_box(Graph::build(
                        d,
                        Metric::Cosine,
                        HnswParams::default(),
                        sub.clone(),
                    ))
                })
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
