//! A few thousand seeded, clustered vectors: top-k against the exact oracle. An exact index
//! must return identical keys; an approximate one must reach recall@10 of at least 0.95.

use std::collections::HashSet;

use anyhow::ensure;

use super::{Ctx, tag};
use crate::VectorBackendExt as _;
use crate::synth::clustered;
use crate::{IndexKind, Metric, NamespaceConfig, Record, score};

const N: usize = 3000;
const DIM: usize = 48;
const QUERIES: usize = 40;
const K: usize = 10;

async fn differential(ctx: &Ctx, metric: Metric) -> anyhow::Result<()> {
    let mut rng = ctx.rng();
    let data = clustered(&mut rng, N, DIM, 30, 0.15);
    let queries = clustered(&mut rng, QUERIES, DIM, 30, 0.2);
    for index in [IndexKind::Auto, IndexKind::Flat, IndexKind::Hnsw] {
        let ns = ctx.extra_ns(index.as_str());
        if !ctx
            .create_if_supported(
                &ns,
                &NamespaceConfig::new(DIM)
                    .with_metric(metric)
                    .with_index(index),
            )
            .await?
        {
            continue;
        }
        let exact =
            index == IndexKind::Flat || (index == IndexKind::Auto && ctx.caps.auto_index_is_exact);
        let records: Vec<Record> = data
            .iter()
            .enumerate()
            .map(|(i, v)| Record::new(format!("v{i:04}"), v.clone(), tag(i)))
            .collect();
        for chunk in records.chunks(1000) {
            ctx.put_all(&ns, chunk.to_vec()).await?;
        }
        let mut found = 0usize;
        for q in &queries {
            let mut oracle: Vec<(f64, usize)> = data
                .iter()
                .enumerate()
                .map(|(i, v)| (score::reference(metric, q, v).score, i))
                .collect();
            oracle.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            let want: Vec<String> = oracle
                .iter()
                .take(K)
                .map(|(_, i)| format!("v{i:04}"))
                .collect();
            let hits = ctx.backend.query(&ns, q, K, None).await?;
            ensure!(
                hits.len() == K,
                "{metric}/{index:?}: {} results",
                hits.len()
            );
            let got: Vec<String> = hits.iter().map(|h| h.key.clone()).collect();
            if exact {
                ensure!(
                    got == want,
                    "{metric}/{index:?} is exact but differs from the oracle\n got {got:?}\nwant {want:?}"
                );
            }
            let want: HashSet<&String> = want.iter().collect();
            found += got.iter().filter(|k| want.contains(k)).count();
        }
        let recall = found as f64 / (QUERIES * K) as f64;
        ensure!(
            recall >= 0.95,
            "{metric}/{index:?}: recall@{K} {recall:.3} below 0.95"
        );
    }
    Ok(())
}

pub(crate) async fn cosine_clustered_matches_oracle(ctx: Ctx) -> anyhow::Result<()> {
    differential(&ctx, Metric::Cosine).await
}

pub(crate) async fn dot_product_clustered_matches_oracle(ctx: Ctx) -> anyhow::Result<()> {
    differential(&ctx, Metric::DotProduct).await
}

pub(crate) async fn euclidean_clustered_matches_oracle(ctx: Ctx) -> anyhow::Result<()> {
    differential(&ctx, Metric::Euclidean).await
}
