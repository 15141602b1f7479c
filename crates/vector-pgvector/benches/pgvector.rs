//! Benchmarks against the live server `PG_CONNECTION_STRING` names (`cargo xtask bench -p
//! vector-pgvector` starts one): bulk-load rate through the COPY path, single-query latency
//! (p50, p99) and QPS at 100,000 × 384, k = 10, for the backend beside the same query sent as
//! raw SQL over the same pool (so the abstraction's overhead is a ratio), the latency of a
//! filtered query (unnamed statements) and of a batch of ten queries (one pipelined round
//! trip).
//!
//! Keyword and hybrid search (`text` below): a namespace of `VTIER_BENCH_N` × 384 records with
//! a text field of 20-60 words drawn from a Zipf-distributed vocabulary of 30,000 words; the
//! latency (p50, p99) of vector-only, keyword-only and hybrid queries (k = 10, queries of three
//! words taken from one record, so common words are as frequent as in real text), hybrid with a
//! filter, the two legs one after the other (what the pipelined hybrid saves), the per-query
//! cost of counting the statistics that the triggers keep instead, and the write cost of the
//! text columns (one-record upsert, COPY of 10,000). `VTIER_BENCH_ONLY=text` runs only these.
//!
//! Without the variable it prints "not run" and exits 0. `VTIER_BENCH_N` overrides the
//! number of vectors (default 100,000). With `VTIER_BENCH_REUSE=1` the query namespace is kept
//! after the run and reused by the next one when it holds the same data (the HNSW build takes
//! a minute or more), so that before/after runs can be interleaved quickly.

#![allow(clippy::print_stdout)] // A benchmark reports on the terminal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use pgvector::Vector;
#[allow(unused_imports)] // The one-record conveniences (`query`); the API section explains.
use vector_backend::VectorBackendExt as _;
use vector_backend::synth::SplitMix64;
use vector_backend::{
    FieldType, Filter, IndexKind, Metadata, NamespaceConfig, OpenBackend, QueryRequest, Record,
    VectorBackend,
};
use vector_pgvector::PgVectorBackend;

const DIM: usize = 384;
const K: usize = 10;
const CLUSTERS: usize = 100;
/// Queries per batch in the batch benchmark.
const BATCH: usize = 10;

/// What differs between this crate's API and its predecessor's, so the same benchmark can run
/// against both side by side (the before/after comparison of a port).
mod api {
    use vector_backend::{QueryRequest, Result, SearchResult, VectorBackend as _};
    use vector_pgvector::PgVectorBackend;

    pub(crate) fn pool(b: &PgVectorBackend) -> deadpool_postgres::Pool {
        b.driver().pool().clone()
    }

    pub(crate) async fn knn_sql(b: &PgVectorBackend, ns: &str) -> String {
        b.driver()
            .knn_sql(ns, false)
            .await
            .expect("sql")
            .expect("namespace")
    }

    pub(crate) async fn batch(
        b: &PgVectorBackend,
        ns: &str,
        requests: &[QueryRequest],
    ) -> Result<Vec<Vec<SearchResult>>> {
        b.search_batch(ns, requests).await
    }
}

/// Clustered vectors: the shape of real embeddings (uniform data is an index's worst case).
fn clustered(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = SplitMix64::new(seed);
    let centres: Vec<Vec<f32>> = (0..CLUSTERS)
        .map(|_| (0..DIM).map(|_| rng.signed()).collect())
        .collect();
    (0..n)
        .map(|_| {
            let c = &centres[rng.below(CLUSTERS)];
            c.iter().map(|x| x + 0.15 * rng.normal()).collect()
        })
        .collect()
}

fn records(data: &[Vec<f32>], offset: usize) -> Vec<Record> {
    data.iter()
        .enumerate()
        .map(|(i, v)| {
            let mut m = Metadata::new();
            m.insert("i".into(), (offset + i).into());
            m.insert("c".into(), format!("c{}", (offset + i) % 10).into());
            Record::new(format!("doc-{:07}", offset + i), v.clone(), m)
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// p50 and p99 of `rounds` sequential calls of `f(round)`.
async fn latency<F, Fut>(rounds: usize, mut f: F) -> (Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let t = Instant::now();
        f(r).await;
        times.push(t.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// The same kNN the backend sends, by hand: settings in a transaction, k rows, no over-fetch,
/// no validation, no metadata parsing.
async fn raw_query(pool: &deadpool_postgres::Pool, sql: &str, q: &Vector) -> usize {
    let client = pool.get().await.expect("pool");
    let stmt = client.prepare_cached(sql).await.expect("prepare");
    let limit = K as i64;
    let (a, rows, c) = futures_util::future::join3(
        client.batch_execute("BEGIN; SET LOCAL hnsw.ef_search = 400"),
        client.query(&stmt, &[q, &limit]),
        client.batch_execute("COMMIT"),
    )
    .await;
    a.and(c).expect("transaction");
    let rows = rows.expect("query");
    rows.iter().map(|r| r.get::<_, &str>(0).len()).sum()
}

fn main() {
    let Some(url) = std::env::var("PG_CONNECTION_STRING")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!(
            "pgvector benchmarks: not run: PG_CONNECTION_STRING unset (cargo xtask bench -p vector-pgvector starts a server)"
        );
        return;
    };
    let n: usize = std::env::var("VTIER_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let backend = Arc::new(rt.block_on(PgVectorBackend::open(&url)).expect("open"));
    let ns = format!("vtbench_{n}x{DIM}");
    let flat = format!("vtbench_load_{DIM}");
    let data = clustered(n, 1);
    let queries: Vec<Vec<f32>> = {
        let mut rng = SplitMix64::new(99);
        (0..200)
            .map(|i| {
                data[(i * 7919) % n]
                    .iter()
                    .map(|x| x + 0.1 * rng.normal())
                    .collect()
            })
            .collect()
    };

    // Setup: the query namespace (auto = HNSW), loaded in one COPY batch; the index is built
    // after the load.
    let reuse = std::env::var("VTIER_BENCH_REUSE").is_ok_and(|v| v == "1");
    let mut c = Criterion::default().configure_from_args();
    text::run(&rt, &backend, &mut c, &data, &queries, reuse);
    if std::env::var("VTIER_BENCH_ONLY").is_ok_and(|v| v == "text") {
        c.final_summary();
        return;
    }
    rt.block_on(async {
        if reuse && backend.count(&ns, None).await.ok() == Some(n as u64) {
            println!("setup: reusing the loaded namespace {ns}");
            return;
        }
        let _ = backend.drop_namespace(&ns).await;
        let cfg = NamespaceConfig::new(DIM).with_field("c", FieldType::Keyword);
        backend.create_namespace(&ns, &cfg).await.expect("create");
        let started = Instant::now();
        backend.upsert_batch(&ns, records(&data, 0)).await.expect("load");
        let took = started.elapsed();
        println!(
            "setup: loaded {n} × {DIM} into an HNSW namespace (COPY, then index build) in {took:.1?} = {:.0} vectors/s",
            n as f64 / took.as_secs_f64()
        );
    });

    // Bulk-load rate through COPY (no index: the load path itself).
    {
        let batch = 10_000.min(n);
        let chunk = records(&data[..batch], 0);
        let mut g = c.benchmark_group("bulk_load");
        g.throughput(Throughput::Elements(batch as u64))
            .sample_size(10);
        rt.block_on(async {
            let _ = backend.drop_namespace(&flat).await;
            let cfg = NamespaceConfig::new(DIM).with_index(IndexKind::Flat);
            backend.create_namespace(&flat, &cfg).await.expect("create");
        });
        g.bench_function(format!("copy_upsert_{batch}x{DIM}"), |b| {
            b.to_async(&rt)
                .iter(|| backend.upsert_batch(&flat, chunk.clone()));
        });
        g.finish();
        rt.block_on(async {
            let _ = backend.drop_namespace(&flat).await;
        });
    }

    let sql = rt.block_on(api::knn_sql(&backend, &ns));
    let pool = api::pool(&backend);
    let qvecs: Vec<Vector> = queries.iter().map(|q| Vector::from(q.clone())).collect();
    // Warm the caches both ways first, so neither path pays for loading the index pages.
    rt.block_on(async {
        for (q, v) in queries.iter().zip(&qvecs) {
            backend.query(&ns, q, K, None).await.expect("query");
            raw_query(&pool, &sql, v).await;
        }
    });
    {
        let mut g = c.benchmark_group(format!("query_{n}x{DIM}_k{K}"));
        let mut i = 0usize;
        g.bench_function("backend", |b| {
            b.to_async(&rt).iter(|| {
                i += 1;
                backend.query(&ns, &queries[i % queries.len()], K, None)
            });
        });
        let mut j = 0usize;
        g.bench_function("raw_sql", |b| {
            b.to_async(&rt).iter(|| {
                j += 1;
                raw_query(&pool, &sql, &qvecs[j % qvecs.len()])
            });
        });
        g.finish();
    }

    // Latency percentiles (sequential) and throughput (8 concurrent clients), both ways; then
    // filtered queries and batches through the backend.
    rt.block_on(async {
        let rounds = 1000;
        let (bp50, bp99) = latency(rounds, |r| {
            let (backend, ns, q) = (backend.clone(), ns.clone(), queries[r % queries.len()].clone());
            async move {
                backend.query(&ns, &q, K, None).await.expect("query");
            }
        })
        .await;
        let (rp50, rp99) = latency(rounds, |r| {
            let (pool, sql, v) = (pool.clone(), sql.clone(), qvecs[r % qvecs.len()].clone());
            async move {
                raw_query(&pool, &sql, &v).await;
            }
        })
        .await;
        let qps = |backend_path: bool| {
            let backend = backend.clone();
            let (ns, sql, pool) = (ns.clone(), sql.clone(), pool.clone());
            let (queries, qvecs) = (Arc::new(queries.clone()), Arc::new(qvecs.clone()));
            async move {
                let window = Duration::from_secs(5);
                let start = Instant::now();
                let mut tasks = tokio::task::JoinSet::new();
                for w in 0..8usize {
                    let (backend, ns, sql, pool) = (backend.clone(), ns.clone(), sql.clone(), pool.clone());
                    let (queries, qvecs) = (queries.clone(), qvecs.clone());
                    tasks.spawn(async move {
                        let mut done = 0usize;
                        while start.elapsed() < window {
                            let r = w * 31 + done;
                            if backend_path {
                                backend.query(&ns, &queries[r % queries.len()], K, None).await.expect("query");
                            } else {
                                raw_query(&pool, &sql, &qvecs[r % qvecs.len()]).await;
                            }
                            done += 1;
                        }
                        done
                    });
                }
                let mut total = 0;
                while let Some(d) = tasks.join_next().await {
                    total += d.expect("task");
                }
                total as f64 / start.elapsed().as_secs_f64()
            }
        };
        let bq = qps(true).await;
        let rq = qps(false).await;
        // A filtered query (one field, a tenth of the records): statement text that depends
        // on the filter's shape.
        let (fp50, fp99) = latency(500, |r| {
            let (backend, ns) = (backend.clone(), ns.clone());
            let req = QueryRequest::new(queries[r % queries.len()].clone(), K)
                .with_filter(Filter::eq("c", format!("c{}", r % 10)));
            async move {
                backend.search(&ns, &req).await.expect("filtered query");
            }
        })
        .await;
        // Ten queries at once, and the same ten one after the other.
        let batches: Vec<Vec<QueryRequest>> = (0..20)
            .map(|b| {
                (0..BATCH)
                    .map(|i| QueryRequest::new(queries[(b * BATCH + i) % queries.len()].clone(), K))
                    .collect()
            })
            .collect();
        // Alternating, so that neither way gains from running second (warmer caches) or
        // loses to a noisy neighbour in its own window.
        let mut batched = Vec::new();
        let mut single = Vec::new();
        for r in 0..400 {
            let reqs = &batches[r / 2 % batches.len()];
            let t = Instant::now();
            if r % 2 == 0 {
                api::batch(&backend, &ns, reqs).await.expect("batch");
                batched.push(t.elapsed());
            } else {
                for q in reqs {
                    backend.search(&ns, q).await.expect("query");
                }
                single.push(t.elapsed());
            }
        }
        batched.sort();
        single.sort();
        let (tp50, tp99) = (percentile(&batched, 0.5), percentile(&batched, 0.99));
        let (sp50, sp99) = (percentile(&single, 0.5), percentile(&single, 0.99));
        // Cheap operations, where the client's own work per call is most visible: a read by
        // key, and a one-record upsert into a small flat namespace.
        let (gp50, gp99) = latency(2000, |r| {
            let (backend, ns) = (backend.clone(), ns.clone());
            let key = format!("doc-{:07}", (r * 7919) % n);
            async move {
                assert!(backend.get_batch(&ns, &[key]).await.expect("get")[0].is_some());
            }
        })
        .await;
        let small = format!("vtbench_small_{DIM}");
        let _ = backend.drop_namespace(&small).await;
        let cfg = NamespaceConfig::new(DIM).with_index(IndexKind::Flat);
        backend.create_namespace(&small, &cfg).await.expect("create");
        let (wp50, wp99) = latency(1000, |r| {
            let (backend, small) = (backend.clone(), small.clone());
            let record = records(&data[r % 100..r % 100 + 1], r % 100);
            async move {
                backend.upsert_batch(&small, record).await.expect("upsert");
            }
        })
        .await;
        let _ = backend.drop_namespace(&small).await;
        // Recall@10 of the backend against exact f64 search, on 50 queries.
        let mut found = 0;
        for q in queries.iter().take(50) {
            let mut exact: Vec<(f64, usize)> = data
                .iter()
                .enumerate()
                .map(|(i, v)| (vector_backend::score::reference(vector_backend::Metric::Cosine, q, v).score, i))
                .collect();
            exact.select_nth_unstable_by(K, |a, b| b.0.total_cmp(&a.0));
            let want: Vec<String> = exact[..K].iter().map(|(_, i)| format!("doc-{i:07}")).collect();
            let got = backend.query(&ns, q, K, None).await.expect("query");
            found += got.iter().filter(|h| want.contains(&h.key)).count();
        }
        println!("\n== pgvector at {n} × {DIM}, k = {K}, cosine, HNSW (m 16, ef_construction 64, ef_search 400)");
        println!("| path | p50 | p99 | QPS (8 clients) |");
        println!("|---|---|---|---|");
        println!("| backend | {bp50:.2?} | {bp99:.2?} | {bq:.0} |");
        println!("| raw SQL | {rp50:.2?} | {rp99:.2?} | {rq:.0} |");
        println!(
            "| backend cost (latency backend/raw, QPS raw/backend) | {:.2} | {:.2} | {:.2} |",
            bp50.as_secs_f64() / rp50.as_secs_f64(),
            bp99.as_secs_f64() / rp99.as_secs_f64(),
            rq / bq
        );
        println!("| backend, filtered (c = one of 10 values) | {fp50:.2?} | {fp99:.2?} | |");
        println!("| backend, search_batch of {BATCH} | {tp50:.2?} | {tp99:.2?} | |");
        println!("| backend, the same {BATCH} one by one | {sp50:.2?} | {sp99:.2?} | |");
        println!("| backend, get of one key | {gp50:.2?} | {gp99:.2?} | |");
        println!("| backend, upsert of one record (flat) | {wp50:.2?} | {wp99:.2?} | |");
        println!("recall@10 of the backend vs exact search: {:.3}", found as f64 / (50 * K) as f64);
        if !reuse {
            let _ = backend.drop_namespace(&ns).await;
        }
    });
    c.final_summary();
}

/// Keyword and hybrid search (see the module docs).
mod text {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use criterion::{Criterion, Throughput};
    use vector_backend::synth::SplitMix64;
    use vector_backend::{
        FieldType, Filter, IndexKind, Metadata, NamespaceConfig, QueryRequest, Record,
        VectorBackend as _,
    };
    use vector_pgvector::PgVectorBackend;

    use super::{DIM, K, latency, percentile};

    /// Vocabulary size.
    const WORDS: usize = 30_000;

    /// A word of Zipf rank `r` (exponent about 1): log-uniform ranks.
    fn word(rng: &mut SplitMix64) -> String {
        let r = ((WORDS as f64 + 1.0).ln() * rng.next_f64()).exp() as usize - 1;
        format!("w{}", r.min(WORDS - 1))
    }

    fn body(rng: &mut SplitMix64) -> String {
        let n = 20 + rng.below(41);
        (0..n).map(|_| word(rng)).collect::<Vec<_>>().join(" ")
    }

    fn records(data: &[Vec<f32>], offset: usize, seed: u64) -> Vec<Record> {
        let mut rng = SplitMix64::new(seed);
        data.iter()
            .enumerate()
            .map(|(i, v)| {
                let mut m = Metadata::new();
                m.insert("c".into(), format!("c{}", (offset + i) % 10).into());
                m.insert("body".into(), body(&mut rng).into());
                Record::new(format!("doc-{:07}", offset + i), v.clone(), m)
            })
            .collect()
    }

    fn config() -> NamespaceConfig {
        NamespaceConfig::new(DIM)
            .with_field("c", FieldType::Keyword)
            .with_field("body", FieldType::Text)
    }

    fn ms(d: Duration) -> String {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }

    pub(crate) fn run(
        rt: &tokio::runtime::Runtime,
        backend: &Arc<PgVectorBackend>,
        c: &mut Criterion,
        data: &[Vec<f32>],
        queries: &[Vec<f32>],
        reuse: bool,
    ) {
        let n = data.len();
        let ns = format!("vtbench_text_{n}x{DIM}");
        let all = records(data, 0, 7);
        rt.block_on(async {
            if reuse && backend.count(&ns, None).await.ok() == Some(n as u64) {
                println!("setup: reusing the loaded text namespace {ns}");
                return;
            }
            let _ = backend.drop_namespace(&ns).await;
            backend
                .create_namespace(&ns, &config())
                .await
                .expect("create");
            let started = Instant::now();
            backend.upsert_batch(&ns, all.clone()).await.expect("load");
            println!(
                "setup: loaded {n} × {DIM} with text into an HNSW namespace in {:.1?}",
                started.elapsed()
            );
        });
        // Three words of one record (in its order), for each query vector.
        let texts: Vec<String> = (0..queries.len())
            .map(|i| {
                let bag = all[(i * 7919) % n].metadata["body"]
                    .as_str()
                    .unwrap_or_default();
                let words: Vec<&str> = bag.split(' ').collect();
                let at = (i * 13) % (words.len() - 3);
                words[at..at + 3].join(" ")
            })
            .collect();
        // The same without the 300 most common words: selective queries.
        let rare: Vec<String> = (0..queries.len())
            .map(|i| {
                let bag = all[(i * 7919) % n].metadata["body"]
                    .as_str()
                    .unwrap_or_default();
                let words: Vec<&str> = bag
                    .split(' ')
                    .filter(|w| w[1..].parse::<usize>().is_ok_and(|r| r >= 300))
                    .take(3)
                    .collect();
                words.join(" ")
            })
            .collect();
        let vector = |i: usize| QueryRequest::new(queries[i % queries.len()].clone(), K);
        let keyword = |i: usize| QueryRequest::keyword(texts[i % texts.len()].clone(), K);
        let hybrid = |i: usize| vector(i).with_text(texts[i % texts.len()].clone());
        rt.block_on(async {
            for i in 0..queries.len() {
                backend.search(&ns, &hybrid(i)).await.expect("warm-up");
            }
        });
        {
            let mut g = c.benchmark_group(format!("text_{n}x{DIM}_k{K}"));
            g.sample_size(20);
            let mut i = 0usize;
            g.bench_function("vector", |b| {
                b.to_async(rt).iter(|| {
                    i += 1;
                    let q = vector(i);
                    let (backend, ns) = (backend.clone(), ns.clone());
                    async move { backend.search(&ns, &q).await.expect("query") }
                });
            });
            g.bench_function("keyword", |b| {
                b.to_async(rt).iter(|| {
                    i += 1;
                    let q = keyword(i);
                    let (backend, ns) = (backend.clone(), ns.clone());
                    async move { backend.search(&ns, &q).await.expect("query") }
                });
            });
            g.bench_function("hybrid", |b| {
                b.to_async(rt).iter(|| {
                    i += 1;
                    let q = hybrid(i);
                    let (backend, ns) = (backend.clone(), ns.clone());
                    async move { backend.search(&ns, &q).await.expect("query") }
                });
            });
            g.finish();
        }
        rt.block_on(async {
            let rounds = 100;
            // Interleaved, so that every kind sees the same machine load.
            let kinds = 7;
            let mut times: Vec<Vec<Duration>> = vec![Vec::new(); kinds];
            let table = backend
                .driver()
                .table_name(&ns)
                .await
                .expect("table")
                .expect("namespace");
            let pool = backend.driver().pool().clone();
            for r in 0..rounds * kinds {
                let (kind, i) = (r % kinds, r / kinds);
                let t = Instant::now();
                match kind {
                    0 => {
                        backend.search(&ns, &vector(i)).await.expect("vector");
                    }
                    1 => {
                        backend.search(&ns, &keyword(i)).await.expect("keyword");
                    }
                    2 => {
                        backend.search(&ns, &hybrid(i)).await.expect("hybrid");
                    }
                    3 => {
                        let q = hybrid(i).with_filter(Filter::eq("c", format!("c{}", i % 10)));
                        backend.search(&ns, &q).await.expect("filtered hybrid");
                    }
                    5 => {
                        let q = QueryRequest::keyword(rare[i % rare.len()].clone(), K);
                        backend.search(&ns, &q).await.expect("selective keyword");
                    }
                    6 => {
                        let q = vector(i).with_text(rare[i % rare.len()].clone());
                        backend.search(&ns, &q).await.expect("selective hybrid");
                    }
                    _ => {
                        // The two legs as separate queries (m = 4k each), one after the other.
                        let m = vector_backend::fusion::leg_depth(K);
                        let v = QueryRequest::new(queries[i % queries.len()].clone(), m);
                        backend.search(&ns, &v).await.expect("vector leg");
                        let k = QueryRequest::keyword(texts[i % texts.len()].clone(), m);
                        backend.search(&ns, &k).await.expect("keyword leg");
                    }
                }
                times[kind].push(t.elapsed());
            }
            // What a query would pay to count N and the total length itself.
            let (sp50, sp99) = latency(50, |_| {
                let (pool, table) = (pool.clone(), table.clone());
                async move {
                    let client = pool.get().await.expect("pool");
                    client
                        .query_one(&format!("SELECT count(*), sum(len) FROM {table}"), &[])
                        .await
                        .expect("recount");
                }
            })
            .await;
            // Matching records per query (how much each keyword query scores).
            let mut matched = Vec::new();
            let mut matched_rare = Vec::new();
            {
                let client = pool.get().await.expect("pool");
                for (rare_words, t) in texts
                    .iter()
                    .take(50)
                    .map(|t| (false, t))
                    .chain(rare.iter().take(50).map(|t| (true, t)))
                {
                    let tokens = vector_backend::text::query_tokens(t).join(" | ");
                    let row = client
                        .query_one(
                            &format!("SELECT count(*) FROM {table} WHERE tsv @@ $1::text::tsquery"),
                            &[&tokens],
                        )
                        .await
                        .expect("matches");
                    let into = if rare_words { &mut matched_rare } else { &mut matched };
                    into.push(row.get::<_, i64>(0));
                }
            }
            matched.sort_unstable();
            matched_rare.sort_unstable();
            for t in &mut times {
                t.sort();
            }
            let names = [
                "vector only (k = 10)",
                "keyword only (k = 10)",
                "hybrid, RRF (k = 10, legs of 40, one round trip)",
                "hybrid with a filter (c = one of 10 values)",
                "the two legs one after the other (vector k = 40, then keyword k = 40)",
                "keyword only, selective words (none of the 300 most common)",
                "hybrid, selective words",
            ];
            println!("\n== pgvector keyword and hybrid search at {n} × {DIM}, text of 20-60 Zipf words, queries of 3 words, interleaved, {rounds} each");
            println!("| query | p50 | p99 |");
            println!("|---|---|---|");
            for (name, t) in names.iter().zip(&times) {
                println!("| {name} | {} | {} |", ms(percentile(t, 0.5)), ms(percentile(t, 0.99)));
            }
            println!("| counting N and the total length per query instead of the kept statistics (`SELECT count(*), sum(len)`) | {} | {} |", ms(sp50), ms(sp99));
            for (what, m) in [("a keyword query", &matched), ("a selective one", &matched_rare)] {
                println!(
                    "records matching {what}: median {}, p90 {}, max {} (of {n})",
                    m[m.len() / 2],
                    m[m.len() * 9 / 10],
                    m[m.len() - 1]
                );
            }
            // Write cost of the text columns and triggers: one-record upserts into small
            // flat namespaces with and without a text field.
            let small = format!("vtbench_textw_{DIM}");
            let plain = format!("vtbench_plainw_{DIM}");
            for (name, cfg) in [
                (&small, config().with_index(IndexKind::Flat)),
                (&plain, NamespaceConfig::new(DIM).with_field("c", FieldType::Keyword).with_index(IndexKind::Flat)),
            ] {
                let _ = backend.drop_namespace(name).await;
                backend.create_namespace(name, &cfg).await.expect("create");
            }
            let mut with_text = Vec::new();
            let mut without = Vec::new();
            for r in 0..2000 {
                let record = records(&data[r % 100..r % 100 + 1], r % 100, r as u64);
                let t = Instant::now();
                if r % 2 == 0 {
                    backend.upsert_batch(&small, record).await.expect("upsert");
                    with_text.push(t.elapsed());
                } else {
                    backend.upsert_batch(&plain, record).await.expect("upsert");
                    without.push(t.elapsed());
                }
            }
            with_text.sort();
            without.sort();
            println!("| upsert of one record, flat, with a text field | {} | {} |", ms(percentile(&with_text, 0.5)), ms(percentile(&with_text, 0.99)));
            println!("| the same without a text field | {} | {} |", ms(percentile(&without, 0.5)), ms(percentile(&without, 0.99)));
            let _ = backend.drop_namespace(&small).await;
            let _ = backend.drop_namespace(&plain).await;
        });
        // COPY of 10,000 records with and without a text field (flat: the load path itself).
        {
            let batch = 10_000.min(n);
            let chunk = records(&data[..batch], 0, 3);
            let mut plain_chunk = chunk.clone();
            for r in &mut plain_chunk {
                r.metadata.remove("body");
            }
            let with = format!("vtbench_textload_{DIM}");
            let without = format!("vtbench_plainload_{DIM}");
            rt.block_on(async {
                for (name, cfg) in [
                    (&with, config().with_index(IndexKind::Flat)),
                    (
                        &without,
                        NamespaceConfig::new(DIM)
                            .with_field("c", FieldType::Keyword)
                            .with_index(IndexKind::Flat),
                    ),
                ] {
                    let _ = backend.drop_namespace(name).await;
                    backend.create_namespace(name, &cfg).await.expect("create");
                }
            });
            let mut g = c.benchmark_group("text_bulk_load");
            g.throughput(Throughput::Elements(batch as u64))
                .sample_size(10);
            g.bench_function(format!("copy_upsert_{batch}x{DIM}_with_text"), |b| {
                b.to_async(rt)
                    .iter(|| backend.upsert_batch(&with, chunk.clone()));
            });
            g.bench_function(format!("copy_upsert_{batch}x{DIM}_without_text"), |b| {
                b.to_async(rt)
                    .iter(|| backend.upsert_batch(&without, plain_chunk.clone()));
            });
            g.finish();
            rt.block_on(async {
                let _ = backend.drop_namespace(&with).await;
                let _ = backend.drop_namespace(&without).await;
            });
        }
        if !reuse {
            rt.block_on(async {
                let _ = backend.drop_namespace(&ns).await;
            });
        }
    }
}
