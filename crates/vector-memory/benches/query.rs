//! Query throughput of the memory backend at 100,000 × 384, k = 10 (cosine, clustered seeded
//! data), beside a naive baseline (iterator dot products in f64 and a full sort) measured in
//! the same run, so the result is a ratio that survives a noisy machine.
//!
//! Run: `cargo xtask bench -p vector-memory` (or `cargo bench -p vector-memory`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vector_backend::VectorBackendExt as _;
use vector_backend::synth::{SplitMix64, clustered};
use vector_backend::{Metadata, Metric, NamespaceConfig, Record, VectorBackend, score};
use vector_memory::MemoryBackend;

const N: usize = 100_000;
const DIM: usize = 384;
const K: usize = 10;

fn naive_top_k(data: &[Vec<f32>], q: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(f64, usize)> = data
        .iter()
        .enumerate()
        .map(|(i, v)| (score::reference(Metric::Cosine, q, v).score, i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut rng = SplitMix64::new(42);
    let data = clustered(&mut rng, N, DIM, 100, 0.2);
    let queries = clustered(&mut rng, 64, DIM, 100, 0.25);
    let backend = MemoryBackend::default();
    rt.block_on(async {
        backend
            .create_namespace("bench", &NamespaceConfig::new(DIM))
            .await
            .expect("create");
        for (chunk_i, chunk) in data.chunks(10_000).enumerate() {
            let records = chunk
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    Record::new(
                        format!("k{}", chunk_i * 10_000 + i),
                        v.clone(),
                        Metadata::new(),
                    )
                })
                .collect();
            backend.upsert_batch("bench", records).await.expect("load");
        }
    });

    let mut group = c.benchmark_group("memory_query_100k_x_384_k10");
    group.throughput(Throughput::Elements(1));
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));
    let mut qi = 0;
    group.bench_function("vector_memory_parallel", |b| {
        b.iter(|| {
            qi = (qi + 1) % queries.len();
            let hits = rt
                .block_on(backend.query("bench", &queries[qi], K, None))
                .expect("query");
            black_box(hits)
        });
    });
    group.sample_size(10);
    group.bench_function("naive_f64_full_sort", |b| {
        b.iter(|| {
            qi = (qi + 1) % queries.len();
            black_box(naive_top_k(&data, &queries[qi], K))
        });
    });
    group.finish();

    let mut load = c.benchmark_group("memory_load");
    load.throughput(Throughput::Elements(10_000));
    load.sample_size(10);
    let batch: Vec<Record> = data[..10_000]
        .iter()
        .enumerate()
        .map(|(i, v)| Record::new(format!("k{i}"), v.clone(), Metadata::new()))
        .collect();
    load.bench_function("upsert_batch_10k_x_384", |b| {
        b.iter(|| {
            let fresh = MemoryBackend::default();
            rt.block_on(fresh.upsert_batch("load", batch.clone()))
                .expect("load");
            black_box(fresh)
        });
    });
    load.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
