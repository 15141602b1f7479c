//! Every kind of request this backend sends, against a fresh in-process emulator that checks each
//! request body against the Weaviate 1.39 OpenAPI definitions: none may violate the spec.
//! (The conformance run checks the same for the whole suite; this test names the operations
//! one by one so a violation points at its cause.)

#![allow(clippy::print_stderr)] // Says on the terminal when the spec file is absent.

use serde_json::json;
use vector_backend::{
    FieldType, Filter, IndexKind, Metric, NamespaceConfig, OpenBackend, QueryRequest, Record,
    ScanRequest, VectorBackend, VectorBackendExt as _,
};
use vector_weaviate::WeaviateBackend;

fn meta(v: serde_json::Value) -> vector_backend::Metadata {
    v.as_object().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_validates_against_the_spec() -> anyhow::Result<()> {
    let emulator = weaviate_emulator::Emulator::start().await?;
    if !emulator.spec_loaded() {
        // The spec is shared reference data outside the repository; without it there is
        // nothing to validate against (the operations below still run).
        eprintln!("the Weaviate OpenAPI spec file is absent: request bodies are not validated");
    }
    let b = WeaviateBackend::open(&emulator.url()).await?;
    anyhow::ensure!(b.health_check().await, "healthy");

    for metric in Metric::ALL {
        for index in [IndexKind::Auto, IndexKind::Flat, IndexKind::Hnsw] {
            let ns = format!("spec_{}_{}", metric.as_str(), index.as_str());
            b.create_namespace(
                &ns,
                &NamespaceConfig::new(2)
                    .with_metric(metric)
                    .with_index(index),
            )
            .await?;
            b.upsert(&ns, "k", vec![1.0, 0.5], meta(json!({}))).await?;
            let hits = b.query(&ns, &[1.0, 0.5], 3, Some(-10.0)).await?;
            anyhow::ensure!(hits.len() == 1, "{metric}/{index:?}: {hits:?}");
        }
    }

    let ns = "Spec-Filters_1";
    let config = NamespaceConfig::new(3)
        .with_field("color", FieldType::Keyword)
        .with_field("price", FieldType::Number)
        .with_field("ok", FieldType::Bool);
    b.create_namespace(ns, &config).await?;
    b.create_namespace(ns, &config).await?;
    let hostile = [
        "red",
        " red",
        "\") { id } }",
        "new\nline",
        "\u{202e}rtl",
        "",
    ];
    let records: Vec<Record> = (0..40)
        .map(|i| {
            let mut m = json!({"price": i as f64 - 10.5, "ok": i % 2 == 0, "note": {"i": i}});
            if i % 3 != 0 {
                m["color"] = if i % 5 == 0 {
                    json!([hostile[i % 6], "x"])
                } else {
                    json!(hostile[i % 6])
                };
            }
            Record::new(format!("key {i} \"'"), vec![1.0, i as f32, -0.25], meta(m))
        })
        .collect();
    b.upsert_batch(ns, records).await?;
    anyhow::ensure!(b.get(ns, "key 3 \"'").await?.is_some(), "get");
    let got = b
        .get_batch(ns, &["key 1 \"'".into(), "missing".into()])
        .await?;
    anyhow::ensure!(got[0].is_some() && got[1].is_none(), "get_batch");

    let exact = Filter::and([
        Filter::eq("color", " red"),
        Filter::gt("price", -5),
        Filter::not(Filter::eq("ok", true)),
    ]);
    let widened = Filter::or([
        Filter::ne("color", "red"),
        Filter::not(Filter::exists("price")),
    ]);
    for f in [
        exact.clone(),
        widened.clone(),
        Filter::is_in("color", hostile),
        Filter::nin("price", [1.5, 2.5]),
    ] {
        let q = QueryRequest::new(vec![1.0, 3.0, 0.0], 5)
            .with_filter(f.clone())
            .with_threshold(-1.0)
            .with_embeddings();
        let hits = b.search(ns, &q).await?;
        let n = b.count(ns, Some(&f)).await?;
        anyhow::ensure!(hits.len() as u64 <= n.max(5), "{f}");
        let page = b
            .scan_page(ns, &ScanRequest::new(4).with_filter(f.clone()))
            .await?;
        if let Some(c) = page.next_cursor {
            b.scan_page(ns, &ScanRequest::new(4).with_filter(f).with_cursor(Some(c)))
                .await?;
        }
    }
    anyhow::ensure!(b.count(ns, None).await? == 40, "count");
    anyhow::ensure!(
        b.namespace_info(ns)
            .await?
            .is_some_and(|i| i.count == 40 && i.config == config),
        "info"
    );
    let n1 = b.delete_by_filter(ns, &exact).await?;
    let n2 = b.delete_by_filter(ns, &widened).await?;
    anyhow::ensure!(n1 + n2 > 0, "delete_by_filter deleted something");
    b.delete(ns, "key 2 \"'").await?;
    b.delete_batch(ns, &["key 4 \"'".into(), "key 5 \"'".into()])
        .await?;
    b.clear_namespace(ns).await?;
    anyhow::ensure!(b.list_namespaces().await?.iter().any(|n| n == ns), "listed");
    anyhow::ensure!(b.drop_namespace(ns).await?, "dropped");
    anyhow::ensure!(b.count(ns, None).await? == 0, "gone");

    // Keyword and hybrid search: the class with its text bag, writes carrying it (empty for a
    // record without text), the bm25 and nearVector legs, with filters exact and widened.
    let ns = "spec_text";
    let config = NamespaceConfig::new(2)
        .with_field("body", FieldType::Text)
        .with_field("title", FieldType::Text)
        .with_field("color", FieldType::Keyword);
    b.create_namespace(ns, &config).await?;
    let records: Vec<Record> = (0..12)
        .map(|i| {
            let m = match i % 3 {
                0 => {
                    json!({"body": format!("Alpha beta {i} \"quoted\" {{ Get }}"), "color": "red"})
                }
                1 => json!({"title": "beta gamma", "color": "blue"}),
                _ => json!({}),
            };
            Record::new(format!("t{i}"), vec![1.0, i as f32], meta(m))
        })
        .collect();
    b.upsert_batch(ns, records).await?;
    for f in [
        None,
        Some(Filter::eq("color", "red")),
        Some(Filter::ne("color", "red")),
    ] {
        let with = |mut q: QueryRequest| {
            if let Some(f) = &f {
                q = q.with_filter(f.clone());
            }
            q
        };
        let kw = b
            .search(ns, &with(QueryRequest::keyword("beta alpha", 3)))
            .await?;
        let hy = b
            .search(
                ns,
                &with(QueryRequest::new(vec![1.0, 2.0], 3).with_text("beta")).with_embeddings(),
            )
            .await?;
        anyhow::ensure!(kw.len() <= 3 && hy.len() <= 3, "{kw:?} {hy:?}");
    }
    anyhow::ensure!(b.drop_namespace(ns).await?, "dropped");

    if !emulator.spec_loaded() {
        return Ok(());
    }
    let violations = emulator.spec_violations();
    anyhow::ensure!(
        violations.is_empty(),
        "requests that violate the spec:\n{}",
        violations.join("\n")
    );
    anyhow::ensure!(
        emulator.validated_requests() > 50,
        "the emulator validated {} requests",
        emulator.validated_requests()
    );
    Ok(())
}
