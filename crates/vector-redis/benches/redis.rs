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
//! - `text`: keyword and hybrid search against vector-only on 50,000 × 384 records with text
//!   (`VTIER_BENCH_TEXT_N` sets another number): bodies of 8..=40 words drawn from a
//!   Zipf-distributed vocabulary of 20,000 words, queries of 3 such words, a `lang` field for a
//!   filter passing a third. Printed: p50 / p99 of 500 sequential queries per path through the
//!   backend (vector-only, keyword-only and hybrid, and each leg alone at the hybrid's depth,
//!   with and without the filter), and of the server's own commands sent raw, with their text,
//!   to show what the filtered keyword query's work-around (RediSearch #4673) costs against
//!   the plain union and what ordering ties by key on the server would cost. The paths run
//!   interleaved, query by query, so that all see the same load.
//!
//! Without `REDIS_URL` it prints "not run" and exits 0. Run: `cargo xtask bench -p vector-redis`
//! (`VTIER_BENCH_TEXT_ONLY=1` runs only the `text` part).

#![allow(clippy::print_stderr)] // A benchmark reports on the terminal.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::json;
use vector_backend::synth::SplitMix64;
use vector_backend::{
    FieldType, Filter, Fusion, IndexKind, NamespaceConfig, OpenBackend, QueryRequest, Record,
    VectorBackend, VectorBackendExt as _,
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

/// Records in the text namespace, its vocabulary, and how many queries each path runs.
const TEXT_N: usize = 50_000;
const VOCABULARY: usize = 20_000;
const TEXT_QUERIES: usize = 500;

/// A pronounceable made-up word per rank (distinct for distinct ranks).
fn word(rank: usize) -> String {
    const C: &[u8] = b"bdfgklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut w = String::new();
    let mut r = rank + 1;
    while r > 0 {
        w.push(C[r % C.len()] as char);
        r /= C.len();
        w.push(V[r % V.len()] as char);
        r /= V.len();
    }
    w
}

/// Zipf (s = 1) ranks over the vocabulary by inverse CDF.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|r| {
                acc += 1.0 / r as f64;
                acc
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= acc);
        Self(cdf)
    }

    fn sample(&self, rng: &mut SplitMix64) -> usize {
        let u = rng.next_f64();
        self.0.partition_point(|c| *c < u).min(self.0.len() - 1)
    }

    fn words(&self, rng: &mut SplitMix64, n: usize) -> String {
        (0..n)
            .map(|_| word(self.sample(rng)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn median_of(mut lat: Vec<Duration>) -> (f64, f64) {
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    (p(0.50).as_secs_f64() * 1e3, p(0.99).as_secs_f64() * 1e3)
}

/// The `text` part (see the module docs).
async fn text_latency(backend: &RedisBackend, raw: &mut redis::aio::MultiplexedConnection) {
    let n: usize = std::env::var("VTIER_BENCH_TEXT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TEXT_N);
    let ns = format!("bench_text_{}", std::process::id());
    let config = NamespaceConfig::new(DIM)
        .with_field("body", FieldType::Text)
        .with_field("lang", FieldType::Keyword);
    backend
        .create_namespace(&ns, &config)
        .await
        .expect("create");
    let zipf = Zipf::new(VOCABULARY);
    let mut rng = SplitMix64::new(11);
    let start = Instant::now();
    let mut tokens = 0;
    for from in (0..n).step_by(BATCH) {
        let batch: Vec<Record> = (from..(from + BATCH).min(n))
            .map(|i| {
                let len = 8 + rng.below(33);
                tokens += len;
                let body = zipf.words(&mut rng, len);
                let lang = ["en", "de", "fr"][i % 3];
                Record::new(
                    format!("doc-{i:07}"),
                    rng.vector(DIM),
                    json!({"body": body, "lang": lang})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                )
            })
            .collect();
        backend.upsert_batch(&ns, batch).await.expect("load");
    }
    let took = start.elapsed();
    eprintln!(
        "benches/redis: text: loaded {n} x {DIM} with {:.1} words per body (HNSW + TEXT) in {took:.1?} ({:.0} records/s)",
        tokens as f64 / n as f64,
        n as f64 / took.as_secs_f64()
    );
    let texts: Vec<String> = (0..TEXT_QUERIES).map(|_| zipf.words(&mut rng, 3)).collect();
    let vectors: Vec<Vec<f32>> = (0..TEXT_QUERIES).map(|_| rng.vector(DIM)).collect();
    let en = Filter::eq("lang", "en");
    // Every path runs once per query in turn (starting at a rotating path), so that all see
    // the same load: on a shared machine the load drifts over minutes.
    let mut requests: Vec<(String, Vec<QueryRequest>)> = Vec::new();
    for filtered in [false, true] {
        let with = |r: QueryRequest| {
            if filtered {
                r.with_filter(en.clone())
            } else {
                r
            }
        };
        let tag = if filtered { " lang=en" } else { "" };
        let each = |f: &dyn Fn(usize) -> QueryRequest| (0..TEXT_QUERIES).map(f).collect::<Vec<_>>();
        requests.push((
            format!("vector-only k=10{tag}"),
            each(&|i| with(QueryRequest::new(vectors[i].clone(), K))),
        ));
        requests.push((
            format!("keyword-only k=10{tag}"),
            each(&|i| with(QueryRequest::keyword(texts[i].clone(), K))),
        ));
        requests.push((
            format!("hybrid rrf k=10 (legs of 40){tag}"),
            each(&|i| {
                with(
                    QueryRequest::new(vectors[i].clone(), K)
                        .with_text(texts[i].clone())
                        .with_fusion(Fusion::RRF),
                )
            }),
        ));
        requests.push((
            format!("vector-only k=40 (the hybrid's vector leg){tag}"),
            each(&|i| with(QueryRequest::new(vectors[i].clone(), 4 * K))),
        ));
        requests.push((
            format!("keyword-only k=40 (the hybrid's keyword leg){tag}"),
            each(&|i| with(QueryRequest::keyword(texts[i].clone(), 4 * K))),
        ));
    }

    // The server's own commands, raw: what the keyword query costs in its forms.
    let (index, _, _) = names(raw, &ns).await;
    let fetch = vector_backend::score::overfetch(K);
    let tag = format!(
        "@t1:{{s{}}}",
        "en".bytes().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let union = |ts: &[String]| format!("@x:({})", ts.join(" | "));
    let optionals = |ts: &[String]| ts.iter().map(|t| format!(" ~(@x:{t})")).collect::<String>();
    type Form = Box<dyn Fn(&[String]) -> String + Send + Sync>;
    let forms: Vec<(&str, Form)> = vec![
        (
            "plain union (exact without a filter; used)",
            Box::new(move |ts| union(ts)),
        ),
        (
            "work-around without a filter (not used)",
            Box::new(move |ts| format!("(-(-({}))){}", union(ts), optionals(ts))),
        ),
        ("union AND filter (wrong scores, #4673)", {
            let tag = tag.clone();
            Box::new(move |ts| format!("({}) ({tag})", union(ts)))
        }),
        ("work-around with the filter (used)", {
            let tag = tag.clone();
            Box::new(move |ts| format!("(-(-({}))) (-(-({tag}))){}", union(ts), optionals(ts)))
        }),
    ];
    let query_tokens: Vec<Vec<String>> = texts
        .iter()
        .map(|t| vector_backend::text::query_tokens(t))
        .collect();
    // FT.SEARCH as the backend sends it; FT.AGGREGATE as the research proposed it (ties by
    // key on the server, which needs every match's key loaded before sorting).
    let search = |q: String| {
        let mut c = redis::cmd("FT.SEARCH");
        c.arg(&index)
            .arg(q)
            .arg("VERBATIM")
            .arg("SCORER")
            .arg("BM25STD")
            .arg("WITHSCORES")
            .arg("RETURN")
            .arg(2)
            .arg("k")
            .arg("m")
            .arg("LIMIT")
            .arg(0)
            .arg(fetch)
            .arg("DIALECT")
            .arg(2);
        c
    };
    let aggregate = |q: String| {
        let mut c = redis::cmd("FT.AGGREGATE");
        c.arg(&index)
            .arg(q)
            .arg("VERBATIM")
            .arg("SCORER")
            .arg("BM25STD")
            .arg("ADDSCORES")
            .arg("LOAD")
            .arg(1)
            .arg("@__key")
            .arg("SORTBY")
            .arg(4)
            .arg("@__score")
            .arg("DESC")
            .arg("@__key")
            .arg("ASC")
            .arg("LIMIT")
            .arg(0)
            .arg(fetch)
            .arg("LOAD")
            .arg(2)
            .arg("@k")
            .arg("@m")
            .arg("DIALECT")
            .arg(2);
        c
    };
    let mut raws: Vec<(String, &Form, bool)> = forms
        .iter()
        .map(|(what, f)| (format!("raw FT.SEARCH: {what}"), f, false))
        .collect();
    raws.push((
        "raw FT.AGGREGATE ties by key: plain union (not used)".to_owned(),
        &forms[0].1,
        true,
    ));
    raws.push((
        "raw FT.AGGREGATE ties by key: work-around with filter (not used)".to_owned(),
        &forms[3].1,
        true,
    ));

    let paths = requests.len() + raws.len();
    let mut lat: Vec<Vec<Duration>> = vec![Vec::with_capacity(TEXT_QUERIES); paths];
    for round in 0..TEXT_QUERIES + 10 {
        // Ten warm-up rounds first.
        let i = round % TEXT_QUERIES;
        for step in 0..paths {
            let path = (round + step) % paths;
            let t = Instant::now();
            if let Some((_, reqs)) = requests.get(path) {
                let hits = backend.search(&ns, &reqs[i]).await.expect("search");
                std::hint::black_box(hits);
            } else {
                let (_, form, agg) = &raws[path - requests.len()];
                let q = form(&query_tokens[i]);
                let cmd = if *agg { aggregate(q) } else { search(q) };
                let v: redis::Value = cmd.query_async(raw).await.expect("raw command");
                std::hint::black_box(v);
            }
            if round >= 10 {
                lat[path].push(t.elapsed());
            }
        }
    }
    let names = requests
        .iter()
        .map(|(w, _)| w.clone())
        .chain(raws.iter().map(|(w, _, _)| w.clone()));
    for (what, l) in names.zip(lat) {
        let (p50, p99) = median_of(l);
        eprintln!("benches/redis: text {n}: {what:<66} p50 {p50:7.3} ms  p99 {p99:7.3} ms");
    }
    let example = &query_tokens[0];
    eprintln!(
        "benches/redis: text: the raw commands, with <query> for the tokens {example:?} of the first query:"
    );
    eprintln!(
        "benches/redis: text:   FT.SEARCH {index} <query> VERBATIM SCORER BM25STD WITHSCORES RETURN 2 k m LIMIT 0 {fetch} DIALECT 2"
    );
    eprintln!(
        "benches/redis: text:   FT.AGGREGATE {index} <query> VERBATIM SCORER BM25STD ADDSCORES LOAD 1 @__key SORTBY 4 @__score DESC @__key ASC LIMIT 0 {fetch} LOAD 2 @k @m DIALECT 2"
    );
    for (what, form) in &forms {
        eprintln!("benches/redis: text:   <query> {what}: {}", form(example));
    }
    let _ = backend.drop_namespace(&ns).await;
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
    rt.block_on(text_latency(&backend, &mut raw));
    if std::env::var("VTIER_BENCH_TEXT_ONLY").is_ok_and(|v| v == "1") {
        return;
    }
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
