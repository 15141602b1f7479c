//! Many concurrent writers and readers end in a consistent state.

use anyhow::ensure;
use serde_json::json;

use super::{Ctx, meta};
use crate::Record;
use crate::VectorBackendExt as _;

pub(crate) async fn writers_and_readers_end_consistent(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns().to_owned();
    ctx.put(&ns, "seed", vec![1.0, 0.0, 0.0], meta(json!({"w": -1})))
        .await?;
    let writers = 8;
    let per_writer = 60;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let b = ctx.backend.clone();
        let ns = ns.clone();
        tasks.spawn(async move {
            for i in 0..per_writer {
                let key = format!("w{w}-{i}");
                let e = vec![1.0, w as f32, i as f32];
                if i % 10 == 9 {
                    let batch = (0..5)
                        .map(|j| {
                            Record::new(
                                format!("{key}-b{j}"),
                                e.clone(),
                                meta(json!({"w": w, "i": i, "j": j})),
                            )
                        })
                        .collect();
                    b.upsert_batch(&ns, batch).await?;
                } else {
                    b.upsert(&ns, &key, e, meta(json!({"w": w, "i": i})))
                        .await?;
                }
            }
            anyhow::Ok(())
        });
    }
    for r in 0..4 {
        let b = ctx.backend.clone();
        let ns = ns.clone();
        tasks.spawn(async move {
            for i in 0..40 {
                let hits = b.query(&ns, &[1.0, r as f32, i as f32], 10, None).await?;
                ensure!(!hits.is_empty(), "a reader sees at least the seed record");
                for w in hits.windows(2) {
                    ensure!(
                        w[0].score >= w[1].score,
                        "order holds under concurrent writes"
                    );
                }
                let _ = b.count(&ns, None).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(res) = tasks.join_next().await {
        res??;
    }
    // 9 single upserts and one batch of 5 per ten writes: 54 + 30 = 84 per writer, plus the seed.
    let expected = writers * (per_writer / 10 * 9 + per_writer / 10 * 5) + 1;
    let count = ctx.backend.count(&ns, None).await?;
    ensure!(
        count == expected as u64,
        "count {count}, expected {expected}"
    );
    for w in 0..writers {
        for i in [0, 17, 58] {
            let got = ctx.backend.get(&ns, &format!("w{w}-{i}")).await?;
            ensure!(
                got.is_some_and(|g| g.embedding == vec![1.0, w as f32, i as f32]
                    && g.metadata == meta(json!({"w": w, "i": i}))),
                "w{w}-{i} intact"
            );
        }
    }
    let hits = ctx.backend.query(&ns, &[1.0, 3.0, 20.0], 1, None).await?;
    ensure!(hits.len() == 1, "queryable after the storm");
    Ok(())
}

pub(crate) async fn same_key_writers_leave_one_written_value(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns().to_owned();
    ctx.put(&ns, "hot", vec![1.0, 0.0], meta(json!({"v": -1})))
        .await?;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let b = ctx.backend.clone();
        let ns = ns.clone();
        tasks.spawn(async move {
            for i in 0..25 {
                let v = w * 100 + i;
                b.upsert(&ns, "hot", vec![1.0, v as f32], meta(json!({"v": v})))
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(res) = tasks.join_next().await {
        res??;
    }
    let got = ctx.backend.get(&ns, "hot").await?;
    let Some(got) = got else {
        anyhow::bail!("hot key vanished")
    };
    let v = got.metadata["v"].as_i64().unwrap_or(-2);
    ensure!(
        v >= 0 && got.embedding == vec![1.0, v as f32],
        "embedding and metadata come from the same write: {got:?}"
    );
    ensure!(ctx.backend.count(&ns, None).await? == 1, "one record");
    Ok(())
}
