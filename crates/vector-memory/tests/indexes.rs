//! The memory backend's own search paths beyond the shared conformance suite: batched exact
//! queries on every metric and index, HNSW through filters, deletes, replacements and
//! thresholds, and the graph's bytes in the capacity limit.

use std::collections::HashSet;

use serde_json::json;
use vector_backend::synth::{SplitMix64, clustered};
use vector_backend::{
    FieldType, Filter, IndexKind, Metadata, Metric, NamespaceConfig, QueryRequest, Record,
    SearchResult, VectorBackend, VectorBackendExt as _, score,
};
use vector_memory::{MemoryBackend, MemoryConfig};

fn meta(i: usize) -> Metadata {
    match json!({ "g": (i % 10) as f64, "rare": i % 500 == 7 }) {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    }
}

async fn filled(b: &MemoryBackend, ns: &str, metric: Metric, index: IndexKind, data: &[Vec<f32>]) {
    let config = NamespaceConfig::new(data[0].len())
        .with_metric(metric)
        .with_index(index)
        .with_field("g", FieldType::Number)
        .with_field("rare", FieldType::Bool);
    b.create_namespace(ns, &config).await.unwrap();
    let records: Vec<Record> = data
        .iter()
        .enumerate()
        .map(|(i, v)| Record::new(format!("k{i:05}"), v.clone(), meta(i)))
        .collect();
    for chunk in records.chunks(700) {
        b.upsert_batch(ns, chunk.to_vec()).await.unwrap();
    }
}

fn keys(hits: &[SearchResult]) -> Vec<(String, u64)> {
    hits.iter()
        .map(|h| (h.key.clone(), h.score.to_bits()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_equal_single_queries_on_every_metric_and_index() {
    let mut rng = SplitMix64::new(3);
    let mut data = clustered(&mut rng, 1500, 20, 12, 0.2);
    // Exact duplicates: ties at the k-th place.
    for i in 0..30 {
        data[100 + i] = data[99].clone();
    }
    let queries = clustered(&mut rng, 40, 20, 12, 0.3);
    let b = MemoryBackend::default();
    for metric in [Metric::Cosine, Metric::DotProduct, Metric::Euclidean] {
        for index in [IndexKind::Flat, IndexKind::Hnsw] {
            let ns = format!("b_{}_{}", metric.as_str(), index.as_str());
            filled(&b, &ns, metric, index, &data).await;
            let mut requests: Vec<QueryRequest> = queries
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    let mut r = QueryRequest::new(q.clone(), [1, 10, 25, 60][i % 4]);
                    if i % 3 == 1 {
                        r = r.with_filter(Filter::lt("g", 3.0));
                    }
                    if i % 5 == 2 {
                        // The score of some row: inclusive thresholds meet exact values.
                        let s = score::reference(metric, q, &data[i * 7]).score;
                        r = r.with_threshold(s);
                    }
                    r
                })
                .collect();
            requests.push(QueryRequest::new(data[99].clone(), 10));
            let batch = b.search_batch(&ns, &requests).await.unwrap();
            for (i, (r, got)) in requests.iter().zip(&batch).enumerate() {
                let single = b.search(&ns, r).await.unwrap();
                assert_eq!(keys(got), keys(&single), "{ns} query {i}");
                if index == IndexKind::Flat {
                    // Exact: the oracle's answer.
                    let mut want: Vec<(f64, String)> = data
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| r.filter.as_ref().is_none_or(|f| f.matches(&meta(*j))))
                        .map(|(j, v)| {
                            (
                                score::reference(metric, &r.embedding, v).score,
                                format!("k{j:05}"),
                            )
                        })
                        .filter(|(s, _)| r.threshold.is_none_or(|t| *s >= t))
                        .collect();
                    want.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                    want.truncate(r.k);
                    let want: Vec<&str> = want.iter().map(|w| w.1.as_str()).collect();
                    let got: Vec<&str> = got.iter().map(|h| h.key.as_str()).collect();
                    assert_eq!(got, want, "{ns} query {i} is exact");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hnsw_filters_return_min_k_matches() {
    let mut rng = SplitMix64::new(5);
    let data = clustered(&mut rng, 4000, 16, 20, 0.2);
    let b = MemoryBackend::default();
    filled(&b, "f", Metric::Cosine, IndexKind::Hnsw, &data).await;
    let rare = Filter::eq("rare", true);
    let matches = b.count("f", Some(&rare)).await.unwrap() as usize;
    assert_eq!(matches, 8);
    for (i, q) in data.iter().step_by(97).enumerate() {
        for (filter, want) in [
            (rare.clone(), matches.min(10)),
            (Filter::eq("g", 4.0), 10),
            (Filter::lt("g", 5.0), 10),
        ] {
            let r = QueryRequest::new(q.clone(), 10).with_filter(filter.clone());
            let hits = b.search("f", &r).await.unwrap();
            assert_eq!(hits.len(), want, "query {i} {filter:?}");
            for h in &hits {
                let j: usize = h.key[1..].parse().unwrap();
                assert!(filter.matches(&meta(j)), "{} outside the filter", h.key);
            }
        }
        // k larger than the matches: every match comes back.
        let r = QueryRequest::new(q.clone(), 50).with_filter(rare.clone());
        assert_eq!(b.search("f", &r).await.unwrap().len(), matches);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hnsw_follows_deletes_and_replacements() {
    let mut rng = SplitMix64::new(9);
    let mut all = clustered(&mut rng, 3400, 24, 20, 0.2);
    let queries = all.split_off(3300);
    let fresh = all.split_off(3000);
    let mut data = all;
    let b = MemoryBackend::default();
    filled(&b, "h", Metric::Euclidean, IndexKind::Hnsw, &data).await;
    // Delete 1200 rows (past a third of the nodes: the graph is rebuilt on the way).
    let gone: Vec<String> = (0..3000)
        .step_by(5)
        .chain((1..3000).step_by(5))
        .map(|i| format!("k{i:05}"))
        .collect();
    assert_eq!(b.delete_batch("h", &gone).await.unwrap(), 1200);
    let gone: HashSet<String> = gone.into_iter().collect();
    // Replace 300 live rows with fresh vectors.
    let mut replaced = Vec::new();
    for (n, v) in fresh.iter().enumerate() {
        let i = 2 + 5 * n;
        data[i] = v.clone();
        replaced.push(Record::new(format!("k{i:05}"), v.clone(), meta(i)));
    }
    b.upsert_batch("h", replaced).await.unwrap();
    assert_eq!(b.count("h", None).await.unwrap(), 1800);
    let stats = b.driver().index_stats("h").unwrap();
    assert_eq!((stats.index, stats.rows), (IndexKind::Hnsw, 1800));
    assert!(stats.graph_nodes >= 1800 && stats.tombstones * 3 <= stats.graph_nodes);
    assert!(stats.build_seconds > 0.0 && stats.bytes > 0);
    // A replaced row is found by its new vector, at distance 0.
    for n in [0usize, 150, 299] {
        let i = 2 + 5 * n;
        let hits = b.query("h", &fresh[n], 1, None).await.unwrap();
        assert_eq!(hits[0].key, format!("k{i:05}"));
        assert_eq!(hits[0].distance, 0.0);
    }
    let mut found = 0;
    for q in &queries {
        let hits = b.query("h", q, 10, None).await.unwrap();
        assert_eq!(hits.len(), 10);
        assert!(
            hits.iter().all(|h| !gone.contains(&h.key)),
            "a deleted key came back"
        );
        let mut want: Vec<(f64, String)> = data
            .iter()
            .enumerate()
            .map(|(j, v)| (j, format!("k{j:05}"), v))
            .filter(|(_, k, _)| !gone.contains(k))
            .map(|(_, k, v)| (score::reference(Metric::Euclidean, q, v).score, k))
            .collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let want: HashSet<String> = want.into_iter().take(10).map(|w| w.1).collect();
        found += hits.iter().filter(|h| want.contains(&h.key)).count();
        // Scores are the reference's (f64 re-score), and the threshold is inclusive.
        let last = hits[9].score;
        let again = b.query("h", q, 10, Some(last)).await.unwrap();
        assert!(again.iter().any(|h| h.score == last));
    }
    let recall = found as f64 / (queries.len() * 10) as f64;
    assert!(recall >= 0.95, "recall {recall}");
    // Clearing leaves an empty, working graph.
    b.clear_namespace("h").await.unwrap();
    assert!(b.query("h", &queries[0], 5, None).await.unwrap().is_empty());
    b.upsert("h", "again", queries[0].clone(), Metadata::new())
        .await
        .unwrap();
    assert_eq!(
        b.query("h", &queries[0], 5, None).await.unwrap()[0].key,
        "again"
    );
}

#[tokio::test]
async fn the_graph_counts_in_the_byte_limit() {
    // A budget that holds 200 flat rows of 64 floats refuses them once they carry a graph.
    let records: Vec<Record> = (0..200)
        .map(|i| Record::new(format!("r{i}"), vec![1.0 + i as f32; 64], Metadata::new()))
        .collect();
    let flat_bytes: u64 = 200 * (64 * 4 + 4 + 64 + 64 + 16 + 8);
    let b = MemoryBackend::new(MemoryConfig::default().with_max_bytes(flat_bytes + 4096));
    let config = |index| NamespaceConfig::new(64).with_index(index);
    b.create_namespace("flat", &config(IndexKind::Flat))
        .await
        .unwrap();
    b.upsert_batch("flat", records.clone()).await.unwrap();
    b.drop_namespace("flat").await.unwrap();
    b.create_namespace("graph", &config(IndexKind::Hnsw))
        .await
        .unwrap();
    let err = b.upsert_batch("graph", records).await.unwrap_err();
    assert_eq!(err.kind(), vector_backend::ErrorKind::CapacityExceeded);
}
