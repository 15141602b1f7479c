//! Client-side cost of the Weaviate backend: query building, JSON encoding and decoding, and
//! HTTP round trips, against the in-process emulator (or a real server at `WEAVIATE_URL`).
//! Against the emulator the numbers are the backend's overhead plus the emulator's, not
//! Weaviate's search speed.
//!
//! `weaviate/text/*` compares, on one namespace with a text field, vector-only queries (k = 10,
//! and k = 40, the depth of each hybrid leg), keyword-only queries and hybrid queries (both legs
//! in one GraphQL request, fused by the core), with and without a filter. Criterion's median
//! of each is in `target/criterion/<name>/new/estimates.json` (`median.point_estimate`, ns).

use criterion::{Criterion, criterion_group, criterion_main};
use vector_backend::{
    FieldType, Filter, NamespaceConfig, OpenBackend, QueryRequest, Record, VectorBackend,
    VectorBackendExt as _,
};
use vector_weaviate::WeaviateBackend;

const DIM: usize = 64;
const N: usize = 2000;

fn vector(i: usize) -> Vec<f32> {
    (0..DIM)
        .map(|j| (((i * 31 + j * 17) % 97) as f32 - 48.0) / 48.0)
        .collect()
}

fn bench(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let url = match std::env::var("WEAVIATE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => match rt.block_on(weaviate_emulator::Emulator::start()) {
            Ok(e) => e.leak(),
            Err(_) => return,
        },
    };
    let Ok(backend) = rt.block_on(WeaviateBackend::open(&url)) else {
        return;
    };
    let ns = "vt_bench_query";
    let _ = rt.block_on(backend.drop_namespace(ns));
    let config = NamespaceConfig::new(DIM).with_field("group", FieldType::Keyword);
    if rt.block_on(backend.create_namespace(ns, &config)).is_err() {
        return;
    }
    let records: Vec<Record> = (0..N)
        .map(|i| {
            let mut m = vector_backend::Metadata::new();
            m.insert("group".into(), format!("g{}", i % 10).into());
            Record::new(format!("k{i:05}"), vector(i), m)
        })
        .collect();
    if rt
        .block_on(backend.upsert_batch(ns, records.clone()))
        .is_err()
    {
        return;
    }
    let q = vector(12345);
    c.bench_function("weaviate/query k=10 (2000 x 64)", |b| {
        b.iter(|| rt.block_on(backend.query(ns, &q, 10, None)));
    });
    let filtered = QueryRequest::new(q.clone(), 10).with_filter(Filter::eq("group", "g3"));
    c.bench_function("weaviate/query k=10 with keyword filter", |b| {
        b.iter(|| rt.block_on(backend.search(ns, &filtered)));
    });
    c.bench_function("weaviate/upsert_batch 100", |b| {
        b.iter(|| rt.block_on(backend.upsert_batch(ns, records[..100].to_vec())));
    });
    // The bulk-load rate: every record again, in the backend's chunks (200 objects each).
    c.bench_function("weaviate/upsert_batch 2000 (bulk load)", |b| {
        b.iter(|| rt.block_on(backend.upsert_batch(ns, records.clone())));
    });
    let _ = rt.block_on(backend.drop_namespace(ns));
    bench_text(c, &rt, &backend);
}

/// Words of the text field: a small vocabulary, so queries match a few hundred records.
const WORDS: [&str; 16] = [
    "amber", "birch", "cedar", "dune", "fjord", "grove", "heath", "inlet", "jade", "knoll",
    "larch", "marsh", "north", "oak", "pine", "quartz",
];

/// Vector-only, keyword-only and hybrid queries on one namespace with a text field.
fn bench_text(c: &mut Criterion, rt: &tokio::runtime::Runtime, backend: &WeaviateBackend) {
    let ns = "vt_bench_text";
    let _ = rt.block_on(backend.drop_namespace(ns));
    let config = NamespaceConfig::new(DIM)
        .with_field("body", FieldType::Text)
        .with_field("group", FieldType::Keyword);
    if rt.block_on(backend.create_namespace(ns, &config)).is_err() {
        return;
    }
    let records: Vec<Record> = (0..N)
        .map(|i| {
            let body: Vec<&str> = (0..4 + i % 9)
                .map(|j| WORDS[(i * 7 + j * j * 3 + j) % WORDS.len()])
                .collect();
            let mut m = vector_backend::Metadata::new();
            m.insert("body".into(), body.join(" ").into());
            m.insert("group".into(), format!("g{}", i % 10).into());
            Record::new(format!("k{i:05}"), vector(i), m)
        })
        .collect();
    if rt.block_on(backend.upsert_batch(ns, records)).is_err() {
        return;
    }
    let q = vector(4242);
    let text = "cedar fjord quartz";
    let g3 = Filter::eq("group", "g3");
    let cases = [
        ("vector k=10", QueryRequest::new(q.clone(), 10)),
        ("vector k=40", QueryRequest::new(q.clone(), 40)),
        ("keyword k=10", QueryRequest::keyword(text, 10)),
        (
            "hybrid rrf k=10",
            QueryRequest::new(q.clone(), 10).with_text(text),
        ),
        (
            "vector k=10 filtered",
            QueryRequest::new(q.clone(), 10).with_filter(g3.clone()),
        ),
        (
            "hybrid rrf k=10 filtered",
            QueryRequest::new(q.clone(), 10)
                .with_text(text)
                .with_filter(g3),
        ),
    ];
    for (name, request) in &cases {
        if rt.block_on(backend.search(ns, request)).is_err() {
            return;
        }
        c.bench_function(&format!("weaviate/text/{name} (2000 x 64)"), |b| {
            b.iter(|| rt.block_on(backend.search(ns, request)));
        });
    }
    let _ = rt.block_on(backend.drop_namespace(ns));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
