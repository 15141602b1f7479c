//! The design document's quick start: store a few vectors on the in-memory backend, query
//! them, print the results.

#![allow(clippy::print_stdout)] // An example prints its results.

use serde_json::json;
use vector_tier::{
    BackendConfig, BackendKind, FieldType, Filter, NamespaceConfig, QueryRequest, Result,
    VectorBackend, VectorBackendExt, with_vector_backend,
};

#[tokio::main]
async fn main() -> Result<()> {
    let kind: BackendKind = std::env::var("BACKEND_TYPE")
        .unwrap_or_else(|_| "memory".into())
        .parse()?;
    let config = BackendConfig::from_env();
    println!("backend: {kind}");
    with_vector_backend(kind, &config, |backend| async move {
        let ns = "quickstart";
        backend.drop_namespace(ns).await?;
        backend
            .create_namespace(
                ns,
                &NamespaceConfig::new(3).with_field("category", FieldType::Keyword),
            )
            .await?;
        let docs = [
            ("doc1", [0.1, 0.2, 0.3], "example"),
            ("doc2", [0.9, 0.1, 0.0], "news"),
            ("doc3", [0.1, 0.25, 0.3], "example"),
            ("doc4", [-0.3, 0.8, 0.1], "news"),
        ];
        for (key, embedding, category) in docs {
            let meta = json!({"title": format!("Document {key}"), "category": category});
            let meta = meta.as_object().cloned().unwrap_or_default();
            backend.upsert(ns, key, embedding.to_vec(), meta).await?;
        }
        println!(
            "stored {} vectors in {ns:?}",
            backend.count(ns, None).await?
        );

        let results = backend.query(ns, &[0.1, 0.2, 0.35], 5, None).await?;
        println!("nearest to [0.1, 0.2, 0.35]:");
        for r in &results {
            println!(
                "  Found: {}, Score: {:.3}, Distance: {:.3}",
                r.key, r.score, r.distance
            );
        }

        let filtered = backend
            .search(
                ns,
                &QueryRequest::new(vec![0.1, 0.2, 0.35], 5)
                    .with_filter(Filter::eq("category", "news")),
            )
            .await?;
        println!("only category = news:");
        for r in &filtered {
            println!(
                "  Found: {}, Score: {:.3}, title: {}",
                r.key, r.score, r.metadata["title"]
            );
        }
        backend.drop_namespace(ns).await?;
        Ok(())
    })
    .await
}
