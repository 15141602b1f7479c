//! `vtier bench --text DIR`: retrieval quality of vector, keyword and hybrid search on a
//! labelled corpus, per backend. The corpus folder (built by `bench/data/build_text_corpus.py`
//! from WordNet glosses and the all-MiniLM-L6-v2 model, both registry packages) holds
//! `docs.jsonl` (`key`, `text`, `label`, `embedding` = row of `docs.fvecs`) and
//! `queries.jsonl` (`qid`, `kind`, `text`, `relevant` keys, `embedding` = row of
//! `queries.fvecs`). For each backend: load the documents into a namespace with a text field,
//! then for every query run the four modes and report recall@k and median latency.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vector_tier::{
    DynBackend, FieldType, Fusion, Metadata, NamespaceConfig, QueryRequest, Record,
    VectorBackend as _,
};

use super::{Latency, Target};
use crate::data;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Builds one mode's request from the query's embedding, text and k.
type MakeRequest = fn(&[f32], &str, usize) -> QueryRequest;

#[derive(Deserialize)]
struct Doc {
    key: String,
    text: String,
    label: String,
    embedding: usize,
}

#[derive(Deserialize)]
struct Query {
    kind: String,
    text: String,
    relevant: Vec<String>,
    embedding: usize,
}

/// One mode's figures on one backend.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ModeResult {
    /// `vector`, `keyword`, `hybrid rrf(60)` or `hybrid weighted(0.5)`.
    pub mode: String,
    /// Mean recall@k over every query.
    pub recall: f64,
    /// Mean recall@k per query kind (`example`, `lemma`).
    pub recall_by_kind: Vec<(String, f64)>,
    /// Query latency, milliseconds.
    pub latency_ms: Latency,
}

/// The quality figures of one backend.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TextResult {
    /// The backend.
    pub backend: String,
    /// One entry per mode, or empty when the run failed.
    pub modes: Vec<ModeResult>,
    /// Why it failed.
    pub error: Option<String>,
}

fn jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
        })
        .collect()
}

/// Runs the quality check on every target.
///
/// # Errors
/// Unreadable corpus, or Ctrl-C; a backend's failure is reported in its result.
pub(crate) async fn run(
    dir: &Path,
    targets: &[Target],
    k: usize,
    progress: Progress,
) -> Result<Vec<TextResult>> {
    let docs: Vec<Doc> = jsonl(&dir.join("docs.jsonl"))?;
    let queries: Vec<Query> = jsonl(&dir.join("queries.jsonl"))?;
    let doc_vectors = data::read_vectors(&dir.join("docs.fvecs"), None)?;
    let query_vectors = data::read_vectors(&dir.join("queries.fvecs"), None)?;
    let mut out = Vec::new();
    for target in targets {
        let backend = match target.open().await {
            Ok(b) => b,
            Err(e) => {
                out.push(TextResult {
                    backend: target.label(),
                    modes: Vec::new(),
                    error: Some(e.to_string()),
                });
                continue;
            }
        };
        let ns = format!("vtier_text_{:08x}", std::process::id());
        let r = tokio::select! {
            r = one(&backend, &ns, &docs, &queries, &doc_vectors, &query_vectors, k, progress) => r,
            _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
        };
        let _ = backend.drop_namespace(&ns).await;
        backend.close().await;
        match r {
            Ok(modes) => out.push(TextResult {
                backend: backend.backend_type().to_owned(),
                modes,
                error: None,
            }),
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => out.push(TextResult {
                backend: backend.backend_type().to_owned(),
                modes: Vec::new(),
                error: Some(e.to_string()),
            }),
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)] // One call site; the corpus parts travel together.
async fn one(
    backend: &DynBackend,
    ns: &str,
    docs: &[Doc],
    queries: &[Query],
    doc_vectors: &data::Matrix,
    query_vectors: &data::Matrix,
    k: usize,
    progress: Progress,
) -> Result<Vec<ModeResult>> {
    let config = NamespaceConfig::new(doc_vectors.dim)
        .with_index(vector_tier::IndexKind::Flat)
        .with_field("text", FieldType::Text)
        .with_field("label", FieldType::Keyword);
    backend
        .create_namespace(ns, &config)
        .await
        .map_err(Error::backend(format!("creating {ns}")))?;
    for chunk in docs.chunks(500) {
        let records = chunk
            .iter()
            .map(|d| {
                let mut m = Metadata::new();
                m.insert("text".into(), d.text.clone().into());
                m.insert("label".into(), d.label.clone().into());
                Record::new(d.key.clone(), doc_vectors.row(d.embedding).to_vec(), m)
            })
            .collect();
        backend
            .upsert_batch(ns, records)
            .await
            .map_err(Error::backend("loading the corpus"))?;
    }
    let modes: [(&str, MakeRequest); 4] = [
        ("vector", |e, _, k| QueryRequest::new(e.to_vec(), k)),
        ("keyword", |_, t, k| QueryRequest::keyword(t, k)),
        ("hybrid rrf(60)", |e, t, k| {
            QueryRequest::new(e.to_vec(), k)
                .with_text(t)
                .with_fusion(Fusion::RRF)
        }),
        ("hybrid weighted(0.5)", |e, t, k| {
            QueryRequest::new(e.to_vec(), k)
                .with_text(t)
                .with_fusion(Fusion::Weighted { alpha: 0.5 })
        }),
    ];
    let mut out = Vec::new();
    for (name, build) in modes {
        let bar = progress.bar(
            Some(queries.len() as u64),
            format!("{} {name}", backend.backend_type()),
        );
        let mut latencies: Vec<Duration> = Vec::with_capacity(queries.len());
        let mut by_kind: Vec<(String, f64, usize)> = Vec::new();
        let mut total = 0.0;
        for q in queries {
            let request = build(query_vectors.row(q.embedding), &q.text, k);
            let started = Instant::now();
            let hits = backend
                .search(ns, &request)
                .await
                .map_err(Error::backend(format!("{name} query")))?;
            latencies.push(started.elapsed());
            let relevant: HashSet<&str> = q.relevant.iter().map(String::as_str).collect();
            let found = hits
                .iter()
                .filter(|h| relevant.contains(h.key.as_str()))
                .count();
            let recall = found as f64 / relevant.len().min(k).max(1) as f64;
            total += recall;
            match by_kind.iter_mut().find(|(kind, _, _)| *kind == q.kind) {
                Some(e) => {
                    e.1 += recall;
                    e.2 += 1;
                }
                None => by_kind.push((q.kind.clone(), recall, 1)),
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        out.push(ModeResult {
            mode: name.to_owned(),
            recall: total / queries.len().max(1) as f64,
            recall_by_kind: by_kind
                .into_iter()
                .map(|(kind, sum, n)| (kind, sum / n as f64))
                .collect(),
            latency_ms: Latency::of(latencies),
        });
    }
    Ok(out)
}

/// The quality figures as a table.
pub(crate) fn table(results: &[TextResult], k: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<22} {:>10} {:>26} {:>9}",
        "backend",
        "mode",
        format!("recall@{k}"),
        "by kind",
        "p50 ms"
    );
    for r in results {
        if let Some(e) = &r.error {
            let _ = writeln!(out, "{:<10} FAILED: {e}", r.backend);
            continue;
        }
        for m in &r.modes {
            let kinds: Vec<String> = m
                .recall_by_kind
                .iter()
                .map(|(kind, v)| format!("{kind} {v:.3}"))
                .collect();
            let _ = writeln!(
                out,
                "{:<10} {:<22} {:>10.3} {:>26} {:>9.3}",
                r.backend,
                m.mode,
                m.recall,
                kinds.join(", "),
                m.latency_ms.p50
            );
        }
    }
    out
}
