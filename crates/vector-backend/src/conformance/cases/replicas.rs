//! Several clients of one server, as the replicas of a service are: a change made through one
//! backend object is honoured by the other's next operation, and no acknowledged write is lost.
//! `a` is the case's backend; `b` (and `c`) are further objects on the same server (for the
//! memory backend, on the same store), each with its own catalogue.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use futures_util::TryStreamExt as _;

use super::{Ctx, expect_kind, no_meta};
use crate::VectorBackendExt as _;
use crate::synth::SplitMix64;
use crate::{DynBackend, ErrorKind, Metric, NamespaceConfig, Record, ScanRequest};

pub(crate) async fn upsert_after_drop_elsewhere_creates_again(ctx: Ctx) -> anyhow::Result<()> {
    let (a, b) = (&ctx.backend, ctx.second().await?);
    let ns = ctx.ns();
    ctx.put(ns, "k1", vec![1.0, 2.0, 3.0], no_meta()).await?;
    ensure!(b.get(ns, "k1").await?.is_some(), "b sees a's write");
    ensure!(b.drop_namespace(ns).await?, "b drops the namespace");
    a.upsert(ns, "k2", vec![4.0, 5.0, 6.0], no_meta())
        .await
        .context("a's upsert after b's drop")?;
    let got = b.get(ns, "k2").await?;
    ensure!(
        got.is_some_and(|g| g.embedding == [4.0, 5.0, 6.0]),
        "a's acknowledged write is visible to b"
    );
    ensure!(
        b.get(ns, "k1").await?.is_none(),
        "the dropped record stays gone"
    );
    for (who, o) in [("a", a), ("b", &b)] {
        ensure!(o.count(ns, None).await? == 1, "{who} counts the one record");
    }
    let info = b.namespace_info(ns).await?.context("created again")?;
    ensure!(
        info.config == NamespaceConfig::new(3),
        "implicit config: {:?}",
        info.config
    );
    ensure!(
        b.list_namespaces().await?.iter().any(|n| n == ns),
        "listed again"
    );
    b.close().await;
    Ok(())
}

pub(crate) async fn stale_dimension_is_refused_after_recreate(ctx: Ctx) -> anyhow::Result<()> {
    let (a, b) = (&ctx.backend, ctx.second().await?);
    let ns = ctx.ns();
    ctx.put(ns, "k1", vec![1.0, 2.0, 3.0], no_meta()).await?;
    ensure!(a.query(ns, &[1.0, 2.0, 3.0], 1, None).await?.len() == 1);
    ensure!(b.drop_namespace(ns).await?, "b drops");
    b.create_namespace(ns, &NamespaceConfig::new(2)).await?;
    expect_kind(
        a.upsert(ns, "k2", vec![1.0, 2.0, 3.0], no_meta()).await,
        ErrorKind::DimensionMismatch {
            expected: 2,
            got: 3,
        },
        "a's upsert of the old dimension",
    )?;
    ensure!(b.count(ns, None).await? == 0, "nothing written");
    ensure!(b.get(ns, "k2").await?.is_none(), "k2 absent");
    expect_kind(
        a.query(ns, &[1.0, 2.0, 3.0], 1, None).await,
        ErrorKind::DimensionMismatch {
            expected: 2,
            got: 3,
        },
        "a's query of the old dimension",
    )?;
    a.upsert(ns, "k3", vec![1.0, 2.0], no_meta()).await?;
    let hits = a.query(ns, &[1.0, 2.0], 5, None).await?;
    ensure!(
        hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>() == ["k3"],
        "a queries the new namespace: {hits:?}"
    );
    let info = a.namespace_info(ns).await?.context("exists")?;
    ensure!(info.config.dimension == 2 && info.count == 1, "{info:?}");
    expect_kind(
        a.create_namespace(ns, &NamespaceConfig::new(3)).await,
        ErrorKind::ConfigMismatch,
        "a's create with the old config",
    )?;
    b.close().await;
    Ok(())
}

pub(crate) async fn recreated_metric_is_used_elsewhere(ctx: Ctx) -> anyhow::Result<()> {
    let (a, b) = (&ctx.backend, ctx.second().await?);
    let ns = ctx.ns();
    ctx.put(ns, "x", vec![1.0, 0.0], no_meta()).await?;
    ensure!(a.query(ns, &[1.0, 0.0], 1, None).await?.len() == 1);
    b.drop_namespace(ns).await?;
    b.create_namespace(ns, &NamespaceConfig::new(2).with_metric(Metric::Euclidean))
        .await?;
    b.upsert(ns, "p", vec![3.0, 4.0], no_meta()).await?;
    // A zero query is invalid under cosine only: a's stale config would refuse it.
    let hits = a.query(ns, &[0.0, 0.0], 1, None).await?;
    ensure!(
        hits.len() == 1 && hits[0].key == "p" && crate::score::close(hits[0].score, -5.0),
        "a scores with the new metric (euclidean): {hits:?}"
    );
    b.close().await;
    Ok(())
}

pub(crate) async fn recreated_dimension_is_accepted_elsewhere(ctx: Ctx) -> anyhow::Result<()> {
    // The other way round from `stale_dimension_is_refused_after_recreate`: what a's stale
    // config would refuse, the namespace now accepts. Checks against a cached config must not
    // stand in for the server's.
    let (a, b) = (&ctx.backend, ctx.second().await?);
    let ns = ctx.ns();
    ctx.put(ns, "k1", vec![1.0, 2.0], no_meta()).await?;
    ensure!(a.get(ns, "k1").await?.is_some(), "a knows the namespace");
    b.drop_namespace(ns).await?;
    b.create_namespace(ns, &NamespaceConfig::new(3)).await?;
    a.upsert(ns, "k2", vec![1.0, 2.0, 3.0], no_meta())
        .await
        .context("a's upsert of the new dimension")?;
    let batch = vec![Record::new("k3", vec![3.0, 2.0, 1.0], no_meta())];
    a.upsert_batch(ns, batch)
        .await
        .context("a's batch of the new dimension")?;
    let hits = a.query(ns, &[1.0, 2.0, 3.0], 5, None).await?;
    ensure!(
        hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>() == ["k2", "k3"],
        "a queries the new dimension: {hits:?}"
    );
    ensure!(b.count(ns, None).await? == 2, "b counts a's two writes");
    b.close().await;
    Ok(())
}

pub(crate) async fn clear_elsewhere_is_seen(ctx: Ctx) -> anyhow::Result<()> {
    let (a, b) = (&ctx.backend, ctx.second().await?);
    let ns = ctx.ns();
    let records: Vec<Record> = (0..5)
        .map(|i| Record::new(format!("k{i}"), vec![1.0, i as f32], no_meta()))
        .collect();
    ctx.put_all(ns, records).await?;
    ensure!(a.count(ns, None).await? == 5);
    ensure!(b.clear_namespace(ns).await? == 5, "b clears five");
    ensure!(a.count(ns, None).await? == 0, "a counts none");
    ensure!(a.get(ns, "k0").await?.is_none(), "a reads none");
    ensure!(
        a.query(ns, &[1.0, 0.0], 5, None).await?.is_empty(),
        "a finds none"
    );
    ensure!(
        a.scan_page(ns, &ScanRequest::default())
            .await?
            .records
            .is_empty(),
        "a scans none"
    );
    a.upsert(ns, "k9", vec![1.0, 9.0], no_meta()).await?;
    ensure!(
        b.get(ns, "k9").await?.is_some(),
        "a's write after the clear stays"
    );
    ensure!(b.count(ns, None).await? == 1);
    let info = b.namespace_info(ns).await?.context("kept")?;
    ensure!(info.config == NamespaceConfig::new(2), "config kept");
    b.close().await;
    Ok(())
}

pub(crate) async fn deletes_elsewhere_are_seen(ctx: Ctx) -> anyhow::Result<()> {
    let (a, b) = (&ctx.backend, ctx.second().await?);
    let ns = ctx.ns();
    for i in 0..3 {
        ctx.put(ns, &format!("k{i}"), vec![1.0, i as f32], no_meta())
            .await?;
    }
    ensure!(a.get(ns, "k1").await?.is_some());
    ensure!(b.delete(ns, "k1").await?, "b deletes k1");
    ensure!(a.get(ns, "k1").await?.is_none(), "a no longer reads k1");
    ensure!(!a.delete(ns, "k1").await?, "a's delete finds nothing");
    ensure!(
        a.delete_batch(ns, &["k0".to_owned(), "k1".to_owned()])
            .await?
            == 1,
        "a deletes k0 only"
    );
    ensure!(b.count(ns, None).await? == 1, "one left");
    b.close().await;
    Ok(())
}

pub(crate) async fn reads_after_drop_elsewhere_are_empty(ctx: Ctx) -> anyhow::Result<()> {
    let (a, b) = (&ctx.backend, ctx.second().await?);
    let ns = ctx.ns();
    ctx.put(ns, "k", vec![1.0, 2.0], no_meta()).await?;
    ensure!(a.query(ns, &[1.0, 2.0], 1, None).await?.len() == 1);
    ensure!(b.drop_namespace(ns).await?);
    ensure!(a.get(ns, "k").await?.is_none(), "get");
    ensure!(a.query(ns, &[1.0, 2.0], 1, None).await?.is_empty(), "query");
    ensure!(a.count(ns, None).await? == 0, "count");
    ensure!(a.namespace_info(ns).await?.is_none(), "info");
    ensure!(
        a.scan_page(ns, &ScanRequest::default())
            .await?
            .records
            .is_empty(),
        "scan"
    );
    ensure!(!a.delete(ns, "k").await?, "delete");
    ensure!(a.clear_namespace(ns).await? == 0, "clear");
    ensure!(!a.drop_namespace(ns).await?, "drop");
    for (who, o) in [("a", a), ("b", &b)] {
        ensure!(
            !o.list_namespaces().await?.iter().any(|n| n == ns),
            "{who}: reads created nothing"
        );
    }
    b.close().await;
    Ok(())
}

/// What the stress tasks did, with the time each call started and returned.
#[derive(Default)]
struct Log {
    /// Acknowledged writes: namespace, key, embedding, started, returned.
    writes: Vec<(usize, String, Vec<f32>, Instant, Instant)>,
    /// Keys whose delete was attempted (acknowledged or not).
    deleted: Vec<(usize, String)>,
    /// Drops: namespace, started, returned (attempted, acknowledged or not).
    drops: Vec<(usize, Instant, Instant)>,
}

/// Kinds a stress operation may fail with: the namespace changed shape or kept changing.
fn tolerated(e: &crate::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::DimensionMismatch { .. } | ErrorKind::ConfigMismatch
    ) || e.is_namespace_changed()
}

pub(crate) async fn random_operations_keep_acknowledged_writes(ctx: Ctx) -> anyhow::Result<()> {
    const TASKS: usize = 6;
    const RUN_FOR: Duration = Duration::from_secs(3);
    /// Per task: in-process backends do thousands of operations a second, and the check
    /// afterwards grows with them.
    const MAX_OPERATIONS: usize = 3000;
    let objects: Vec<DynBackend> = vec![
        ctx.backend.clone(),
        ctx.second().await?,
        ctx.second().await?,
    ];
    let names: Vec<String> = (0..3).map(|i| ctx.extra_ns(&format!("s{i}"))).collect();
    let log = Arc::new(Mutex::new(Log::default()));
    let deadline = Instant::now() + RUN_FOR;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let o = objects[t % objects.len()].clone();
        let names = names.clone();
        let log = log.clone();
        let mut rng = SplitMix64::new(ctx.seed() ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9));
        tasks.spawn(async move {
            let mut seq = 0u64;
            let mut mine: Vec<(usize, String)> = Vec::new();
            for _ in 0..MAX_OPERATIONS {
                if Instant::now() >= deadline {
                    break;
                }
                let n = rng.below(names.len());
                let ns = names[n].as_str();
                // Namespace n mostly holds dimension 2 + n % 2; the other keeps writers honest.
                let dim = if rng.below(10) < 8 {
                    2 + n % 2
                } else {
                    3 - n % 2
                };
                let vector = |rng: &mut SplitMix64| -> Vec<f32> {
                    (0..dim).map(|_| rng.signed() + 2.0).collect()
                };
                let roll = rng.below(100);
                let started = Instant::now();
                let outcome: crate::Result<()> = match roll {
                    0..40 => {
                        seq += 1;
                        let key = format!("t{t}-{seq}");
                        let e = vector(&mut rng);
                        let r = o.upsert(ns, &key, e.clone(), no_meta()).await;
                        if r.is_ok() {
                            let done = Instant::now();
                            if let Ok(mut l) = log.lock() {
                                l.writes.push((n, key.clone(), e, started, done));
                            }
                            mine.push((n, key));
                        }
                        r
                    }
                    40..55 => {
                        let batch: Vec<Record> = (0..1 + rng.below(8))
                            .map(|_| {
                                seq += 1;
                                Record::new(format!("t{t}-{seq}"), vector(&mut rng), no_meta())
                            })
                            .collect();
                        let r = o.upsert_batch(ns, batch.clone()).await;
                        if r.is_ok() {
                            let done = Instant::now();
                            if let Ok(mut l) = log.lock() {
                                for rec in &batch {
                                    l.writes.push((
                                        n,
                                        rec.key.clone(),
                                        rec.embedding.clone(),
                                        started,
                                        done,
                                    ));
                                }
                            }
                            mine.extend(batch.into_iter().map(|r| (n, r.key)));
                        }
                        r
                    }
                    55..65 if !mine.is_empty() => {
                        let (dn, key) = mine.swap_remove(rng.below(mine.len()));
                        if let Ok(mut l) = log.lock() {
                            l.deleted.push((dn, key.clone()));
                        }
                        o.delete(&names[dn], &key).await.map(|_| ())
                    }
                    65..77 => o.query(ns, &vector(&mut rng), 5, None).await.map(|_| ()),
                    77..87 => o.count(ns, None).await.map(|_| ()),
                    87..93 => o.create_namespace(ns, &NamespaceConfig::new(dim)).await,
                    93..97 => {
                        let r = o.drop_namespace(ns).await.map(|_| ());
                        if let Ok(mut l) = log.lock() {
                            l.drops.push((n, started, Instant::now()));
                        }
                        r
                    }
                    _ => o.get(ns, &format!("t{t}-{}", seq.max(1))).await.map(|_| ()),
                };
                if let Err(e) = outcome
                    && !tolerated(&e)
                {
                    bail!("task {t}, operation {roll} on {ns}: {:?}: {e}", e.kind());
                }
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("stress task panicked")??;
    }
    let log = std::mem::take(&mut *log.lock().map_err(|_| anyhow::anyhow!("log poisoned"))?);
    let a = &ctx.backend;
    // What each namespace holds now, read once (a scan, checked against the namespace's
    // dimension and count).
    let mut stored: Vec<HashMap<String, Vec<f32>>> = Vec::new();
    for ns in &names {
        let mut held = HashMap::new();
        if let Some(info) = a.namespace_info(ns).await? {
            let records: Vec<Record> = a
                .scan(ns, ScanRequest::new(1000))
                .try_collect::<Vec<_>>()
                .await?
                .into_iter()
                .flatten()
                .collect();
            for r in &records {
                ensure!(
                    r.embedding.len() == info.config.dimension,
                    "{} in {ns} has {} dimensions; the namespace has {}",
                    r.key,
                    r.embedding.len(),
                    info.config.dimension
                );
            }
            let counted = a.count(ns, None).await?;
            ensure!(
                counted == records.len() as u64,
                "{ns}: count says {counted}, scan returns {}",
                records.len()
            );
            held.extend(records.into_iter().map(|r| (r.key, r.embedding)));
        }
        stored.push(held);
    }
    let mut last_drop_start: Vec<Option<Instant>> = vec![None; names.len()];
    let mut last_drop_end: Vec<Option<Instant>> = vec![None; names.len()];
    for (n, started, done) in &log.drops {
        last_drop_start[*n] = last_drop_start[*n].max(Some(*started));
        last_drop_end[*n] = last_drop_end[*n].max(Some(*done));
    }
    let deleted: HashSet<(usize, &str)> =
        log.deleted.iter().map(|(n, k)| (*n, k.as_str())).collect();
    for (n, key, embedding, started, done) in &log.writes {
        if deleted.contains(&(*n, key.as_str())) {
            continue;
        }
        let got = stored[*n].get(key);
        if last_drop_end[*n].is_none_or(|end| end < *started) {
            ensure!(
                got == Some(embedding),
                "{key} in {} was acknowledged after the namespace's last drop but reads {got:?}",
                names[*n]
            );
            // Spot-check the point read too (the scan above read in bulk).
            if key.ends_with('7') {
                let point = a.get(&names[*n], key).await?;
                ensure!(
                    point.is_some_and(|p| p.embedding == *embedding),
                    "{key}: get disagrees with scan"
                );
            }
        } else if last_drop_start[*n].is_some_and(|start| start > *done) {
            ensure!(
                got.is_none(),
                "{key} in {} was acknowledged before a drop but survived it",
                names[*n]
            );
        }
    }
    ensure!(
        !log.writes.is_empty() && !log.drops.is_empty(),
        "the run did writes ({}) and drops ({})",
        log.writes.len(),
        log.drops.len()
    );
    for o in &objects[1..] {
        o.close().await;
    }
    Ok(())
}
