//! Throughput and latency of the Redis backend against the live server `REDIS_URL` names, at
//! 100,000 × 384 and k = 10, beside the same commands sent raw over one redis-rs connection,
//! so the abstraction's overhead reads as a ratio.
//!
//! - `bulk_load/*`: 10,000-record batches (FLAT index, fresh keys every iteration):
//!   `upsert_batch` vs. the equivalent raw pipeline of `DEL` + `HSET` + `ZADD` in MULTI/EXEC.
//! - `query_100k/*`: one k = 10 query on 100,000 vectors (default HNSW index): `query` vs. the
//!   same `FT.SEARCH` text and parameters sent raw.
//! - Printed beside criterion's report: the initial 100k load rate, and p50 / p99 / QPS of
//!   1,000 sequential queries for both paths.
//!
//! Without `REDIS_URL` it prints "not run" and exits 0. Run: `cargo xtask bench -p vector-redis`.

#![allow(clippy::print_stderr)] // A benchmark reports on the terminal.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::json;
use vector_backend::synth::SplitMix64;
use vector_backend::{
    IndexKind, NamespaceConfig, OpenBackend, Record, VectorBackend, VectorBackendExt as _,
};
use vector_redis::RedisBackend;

/// Vectors in the query namespace; `VTIER_BENCH_N` sets another number (a multiple of
/// `BATCH`) on machines where loading 100,000 into HNSW takes too long.
const N: usize = 100_000;
const DIM: usize = 384;
const K: usize = 10;
const BATCH: usize = 10_000;

fn blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn records(rng: &mut SplitMix64, from: usize, n: usize) -> Vec<Record> {
    (from..from + n)
        .map(|i| {
            Record::new(
                format!("doc-{i:07}"),
                rng.vector(DIM),
                json!({"i": i}).as_object().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// The Redis names of a namespace's current generation (see the crate's `schema` module):
/// index, record prefix, keys set.
async fn names(raw: &mut redis::aio::MultiplexedConnection, ns: &str) -> (String, String, String) {
    let generation: String = redis::cmd("HGET")
        .arg(format!("vtier:cfg:{ns}"))
        .arg("gen")
        .query_async(raw)
        .await
        .expect("generation");
    (
        format!("vtier:idx:{ns}:{generation}"),
        format!("vtier:rec:{ns}:{generation}:"),
        format!("vtier:keys:{ns}:{generation}"),
    )
}

/// The same FT.SEARCH the backend sends for an unfiltered k = 10 cosine HNSW query.
fn raw_query(index: &str, q: &[f32]) -> redis::Cmd {
    let fetch = vector_backend::score::overfetch(K);
    let mut cmd = redis::cmd("FT.SEARCH");
    cmd.arg(index)
        .arg("(*)=>[KNN $K @v $B EF_RUNTIME $EF AS __vtier_distance]")
        .arg("PARAMS")
        .arg(6)
        .arg("K")
        .arg(fetch)
        .arg("B")
        .arg(blob(q))
        .arg("EF")
        .arg((2 * fetch).max(100))
        .arg("SORTBY")
        .arg("__vtier_distance")
        .arg("ASC")
        .arg("RETURN")
        .arg(3)
        .arg("__vtier_distance")
        .arg("k")
        .arg("m")
        .arg("LIMIT")
        .arg(0)
        .arg(fetch)
        .arg("TIMEOUT")
        .arg(5_000)
        .arg("DIALECT")
        .arg(2);
    cmd
}

fn percentiles(mut lat: Vec<Duration>, total: Duration) -> String {
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    format!(
        "p50 {:.3} ms, p99 {:.3} ms, {:.0} QPS (sequential)",
        p(0.50).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        lat.len() as f64 / total.as_secs_f64()
    )
}

fn main() {
    let Some(url) = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!(
            "benches/redis: not run: REDIS_URL unset (run: cargo xtask bench -p vector-redis)"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let backend = rt.block_on(RedisBackend::open(&url)).expect("open");
    let client = redis::Client::open(url.split('?').next().unwrap_or(&url)).expect("raw client");
    let mut raw = rt
        .block_on(client.get_multiplexed_async_connection())
        .expect("raw connection");
    // The backend's default operation timeout (redis-rs's own is 500 ms).
    raw.set_response_timeout(Duration::from_secs(5));
    let run = std::process::id();
    let (ns_query, ns_load, ns_raw) = (
        format!("bench_q_{run}"),
        format!("bench_load_{run}"),
        format!("bench_raw_{run}"),
    );

    // The 100k namespace for queries (default index: HNSW).
    let mut rng = SplitMix64::new(7);
    rt.block_on(backend.create_namespace(&ns_query, &NamespaceConfig::new(DIM)))
        .expect("create");
    let start = Instant::now();
    let n: usize = std::env::var("VTIER_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(N);
    for from in (0..n).step_by(BATCH) {
        rt.block_on(backend.upsert_batch(&ns_query, records(&mut rng, from, BATCH)))
            .expect("load");
    }
    let took = start.elapsed();
    eprintln!(
        "benches/redis: initial load of {n} x {DIM} into an HNSW index: {took:.1?} ({:.0} vectors/s)",
        n as f64 / took.as_secs_f64()
    );
    let queries: Vec<Vec<f32>> = (0..1000).map(|_| rng.vector(DIM)).collect();

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));

    // Bulk load: fresh keys each iteration so every batch inserts.
    let flat = NamespaceConfig::new(DIM).with_index(IndexKind::Flat);
    rt.block_on(backend.create_namespace(&ns_load, &flat))
        .expect("create load ns");
    rt.block_on(backend.create_namespace(&ns_raw, &flat))
        .expect("create raw ns");
    let (_, raw_prefix, raw_keys) = rt.block_on(names(&mut raw, &ns_raw));
    let batch_data = records(&mut rng, 0, BATCH);
    let next = AtomicUsize::new(0);
    {
        let mut g = c.benchmark_group("bulk_load");
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_function("vector_redis_upsert_batch_10k_x_384", |b| {
            b.to_async(&rt).iter(|| {
                let offset = next.fetch_add(1, Ordering::Relaxed) * BATCH;
                let batch: Vec<Record> = batch_data
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        Record::new(
                            format!("doc-{:08}", offset + i),
                            r.embedding.clone(),
                            r.metadata.clone(),
                        )
                    })
                    .collect();
                let backend = &backend;
                let ns = &ns_load;
                async move { backend.upsert_batch(ns, batch).await.expect("upsert") }
            });
        });
        g.bench_function("raw_pipeline_10k_x_384", |b| {
            b.to_async(&rt).iter(|| {
                let offset = next.fetch_add(1, Ordering::Relaxed) * BATCH;
                let mut pipes = Vec::new();
                for (c_i, chunk) in batch_data.chunks(500).enumerate() {
                    let mut p = redis::pipe();
                    p.atomic();
                    for (i, r) in chunk.iter().enumerate() {
                        let key = format!("doc-{:08}", offset + c_i * 500 + i);
                        let hk = format!("{raw_prefix}{key}");
                        p.cmd("DEL").arg(&hk).ignore();
                        p.cmd("HSET")
                            .arg(&hk)
                            .arg("k")
                            .arg(&key)
                            .arg("v")
                            .arg(blob(&r.embedding))
                            .arg("m")
                            .arg(serde_json::to_string(&r.metadata).unwrap_or_default())
                            .ignore();
                        p.cmd("ZADD").arg(&raw_keys).arg(0).arg(&key).ignore();
                    }
                    pipes.push(p);
                }
                let conn = raw.clone();
                async move {
                    // The same 8 transactions in flight as the backend.
                    let sends: Vec<_> = pipes
                        .into_iter()
                        .map(|p| {
                            let mut conn = conn.clone();
                            async move { p.query_async::<()>(&mut conn).await }
                        })
                        .collect();
                    futures_util::stream::iter(sends)
                        .buffer_unordered(8)
                        .try_collect::<Vec<()>>()
                        .await
                        .expect("raw pipeline");
                }
            });
        });
        g.finish();
    }

    let (query_index, _, _) = rt.block_on(names(&mut raw, &ns_query));
    {
        let mut g = c.benchmark_group("query_100k_x_384_k10");
        let i = AtomicUsize::new(0);
        g.bench_function("vector_redis_query", |b| {
            b.to_async(&rt).iter(|| {
                let q = &queries[i.fetch_add(1, Ordering::Relaxed) % queries.len()];
                let backend = &backend;
                let ns = &ns_query;
                async move { backend.query(ns, q, K, None).await.expect("query") }
            });
        });
        g.bench_function("raw_ft_search", |b| {
            b.to_async(&rt).iter(|| {
                let cmd = raw_query(
                    &query_index,
                    &queries[i.fetch_add(1, Ordering::Relaxed) % queries.len()],
                );
                let mut conn = raw.clone();
                async move {
                    cmd.query_async::<redis::Value>(&mut conn)
                        .await
                        .expect("raw query")
                }
            });
        });
        g.finish();
    }

    // p50 / p99 / QPS of 1,000 sequential queries per path.
    let (lat_b, total_b) = rt.block_on(async {
        let start = Instant::now();
        let mut lat = Vec::new();
        for q in &queries {
            let t = Instant::now();
            let hits = backend.query(&ns_query, q, K, None).await.expect("query");
            assert_eq!(hits.len(), K);
            lat.push(t.elapsed());
        }
        (lat, start.elapsed())
    });
    let (lat_r, total_r) = rt.block_on(async {
        let start = Instant::now();
        let mut lat = Vec::new();
        for q in &queries {
            let t = Instant::now();
            let _: redis::Value = raw_query(&query_index, q)
                .query_async(&mut raw)
                .await
                .expect("raw query");
            lat.push(t.elapsed());
        }
        (lat, start.elapsed())
    });
    eprintln!(
        "benches/redis: vector-redis query k=10 on 100k x 384: {}",
        percentiles(lat_b, total_b)
    );
    eprintln!(
        "benches/redis: raw FT.SEARCH     k=10 on 100k x 384: {}",
        percentiles(lat_r, total_r)
    );

    for ns in [&ns_query, &ns_load, &ns_raw] {
        let _ = rt.block_on(backend.drop_namespace(ns));
    }
    c.final_summary();
}
