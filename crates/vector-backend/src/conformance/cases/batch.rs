//! Batches: validated whole before anything is written; native bulk paths round-trip.

use anyhow::ensure;
use serde_json::json;

use super::{Ctx, expect_kind, meta, no_meta, tag};
use crate::VectorBackendExt as _;
use crate::{ErrorKind, FieldType, Filter, NamespaceConfig, QueryRequest, Record};

pub(crate) async fn one_bad_record_writes_nothing(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "existing", vec![1.0, 0.0], tag(0)).await?;
    let bad_records = [
        Record::new("bad", vec![f32::NAN, 0.0], no_meta()),
        Record::new("bad", vec![1.0, 0.0, 0.0], no_meta()),
        Record::new("", vec![1.0, 0.0], no_meta()),
        Record::new("bad", vec![1.0, 0.0], meta(json!({"x": "\u{0}"}))),
    ];
    for bad in bad_records {
        let mut batch: Vec<Record> = (0..50)
            .map(|i| Record::new(format!("new{i}"), vec![1.0, i as f32], tag(i)))
            .collect();
        batch.push(Record::new("existing", vec![0.0, 1.0], tag(99)));
        batch.insert(25, bad);
        let r = b.upsert_batch(ns, batch).await;
        ensure!(r.is_err(), "a batch with a bad record fails");
        ensure!(
            b.count(ns, None).await? == 1,
            "nothing of the batch was written"
        );
        let got = b.get(ns, "existing").await?;
        ensure!(
            got.is_some_and(|g| g.embedding == vec![1.0, 0.0] && g.metadata == tag(0)),
            "existing record unchanged"
        );
    }
    Ok(())
}

pub(crate) async fn bad_batch_creates_no_namespace(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let batch = vec![
        Record::new("a", vec![1.0, 2.0], no_meta()),
        Record::new("b", vec![1.0, 2.0, 3.0], no_meta()),
    ];
    expect_kind(
        b.upsert_batch(ns, batch).await,
        ErrorKind::DimensionMismatch {
            expected: 2,
            got: 3,
        },
        "mixed dimensions",
    )?;
    ensure!(
        b.namespace_info(ns).await?.is_none(),
        "the implicit namespace was not created"
    );
    ensure!(
        !b.list_namespaces().await?.iter().any(|n| n == ns),
        "not listed"
    );
    b.upsert_batch(ns, Vec::new()).await?;
    ensure!(
        b.namespace_info(ns).await?.is_none(),
        "an empty batch creates nothing"
    );
    Ok(())
}

pub(crate) async fn duplicate_keys_last_wins(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let batch = vec![
        Record::new("dup", vec![1.0, 0.0], tag(1)),
        Record::new("other", vec![0.0, 1.0], tag(2)),
        Record::new("dup", vec![0.5, 0.5], tag(3)),
    ];
    ctx.put_all(ns, batch).await?;
    let got = ctx.backend.get(ns, "dup").await?;
    ensure!(
        got.is_some_and(|g| g.embedding == vec![0.5, 0.5] && g.metadata == tag(3)),
        "the last duplicate wins"
    );
    ensure!(ctx.backend.count(ns, None).await? == 2, "two distinct keys");
    Ok(())
}

pub(crate) async fn get_batch_keeps_order(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    ctx.put_all(
        ns,
        (0..5)
            .map(|i| Record::new(format!("k{i}"), vec![1.0, i as f32], tag(i)))
            .collect(),
    )
    .await?;
    let keys: Vec<String> = ["k3", "missing", "k0", "k3", "k4"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let got = ctx.backend.get_batch(ns, &keys).await?;
    ensure!(got.len() == 5, "one entry per key");
    let tags: Vec<Option<serde_json::Value>> = got
        .iter()
        .map(|g| g.as_ref().map(|g| g.metadata["i"].clone()))
        .collect();
    ensure!(
        tags == vec![
            Some(json!(3)),
            None,
            Some(json!(0)),
            Some(json!(3)),
            Some(json!(4))
        ],
        "{tags:?}"
    );
    expect_kind(
        ctx.backend
            .get_batch(ns, &["ok".into(), String::new()])
            .await,
        ErrorKind::InvalidKey,
        "bad key in get_batch",
    )?;
    Ok(())
}

pub(crate) async fn delete_batch_counts_existing(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put_all(
        ns,
        (0..10)
            .map(|i| Record::new(format!("k{i}"), vec![1.0, i as f32], tag(i)))
            .collect(),
    )
    .await?;
    let keys: Vec<String> = ["k1", "k2", "nope", "k9"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    ensure!(
        b.delete_batch(ns, &keys).await? == 3,
        "three of four existed"
    );
    ensure!(b.count(ns, None).await? == 7, "seven left");
    ensure!(b.delete_batch(ns, &keys).await? == 0, "none exist any more");
    expect_kind(
        b.delete_batch(ns, &["k0".into(), String::new()]).await,
        ErrorKind::InvalidKey,
        "bad key",
    )?;
    ensure!(
        b.get(ns, "k0").await?.is_some(),
        "a rejected delete_batch deletes nothing"
    );
    Ok(())
}

pub(crate) async fn large_batch_round_trips(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let mut rng = ctx.rng();
    let n = 3000;
    let data = crate::synth::random_unit(&mut rng, n, 32);
    let records: Vec<Record> = data
        .iter()
        .enumerate()
        .map(|(i, v)| Record::new(format!("key/{i:05}"), v.clone(), tag(i)))
        .collect();
    ctx.put_all(ns, records).await?;
    ensure!(b.count(ns, None).await? == n as u64, "all {n} counted");
    let keys: Vec<String> = (0..n).step_by(97).map(|i| format!("key/{i:05}")).collect();
    let got = b.get_batch(ns, &keys).await?;
    for (k, g) in keys.iter().zip(got) {
        let i: usize = k[4..].parse()?;
        ensure!(
            g.is_some_and(|g| g.embedding == data[i] && g.metadata == tag(i)),
            "{k} round-trips"
        );
    }
    let hits = b.query(ns, &data[1234], 1, None).await?;
    ensure!(
        hits.first().is_some_and(|h| h.key == "key/01234"),
        "nearest to itself: {hits:?}"
    );
    Ok(())
}

pub(crate) async fn search_batch_equals_single_queries(ctx: Ctx) -> anyhow::Result<()> {
    // Every answer of a batch is exactly the answer of the same query alone: same keys, same
    // scores, same order, whatever k, threshold, filter or index.
    let ns = ctx.ns();
    let mut rng = ctx.rng();
    let dim = 16;
    let config = NamespaceConfig::new(dim).with_field("group", FieldType::Number);
    ctx.backend.create_namespace(ns, &config).await?;
    let data = crate::synth::clustered(&mut rng, 600, dim, 8, 0.2);
    let records: Vec<Record> = data
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Record::new(
                format!("r{i:03}"),
                v.clone(),
                meta(json!({ "group": i % 5 })),
            )
        })
        .collect();
    ctx.put_all(ns, records).await?;
    let queries = crate::synth::clustered(&mut rng, 24, dim, 8, 0.3);
    let requests: Vec<QueryRequest> = queries
        .into_iter()
        .enumerate()
        .map(|(i, q)| {
            let mut r = QueryRequest::new(q, [1, 5, 10, 40][i % 4]);
            if i % 3 == 1 {
                r = r.with_filter(Filter::lt("group", 2.0));
            }
            if i % 5 == 2 {
                r = r.with_threshold(0.5);
            }
            if i % 7 == 3 {
                r = r.with_embeddings();
            }
            r
        })
        .collect();
    let batch = ctx.backend.search_batch(ns, &requests).await?;
    ensure!(
        batch.len() == requests.len(),
        "{} answers for {} queries",
        batch.len(),
        requests.len()
    );
    for (i, (r, answer)) in requests.iter().zip(&batch).enumerate() {
        let single = ctx.backend.search(ns, r).await?;
        let keys = |hits: &[crate::SearchResult]| {
            hits.iter()
                .map(|h| (h.key.clone(), h.score.to_bits(), h.embedding.is_some()))
                .collect::<Vec<_>>()
        };
        ensure!(
            keys(answer) == keys(&single),
            "query {i}: batch {:?} != single {:?}",
            keys(answer),
            keys(&single)
        );
    }
    ensure!(
        ctx.backend.search_batch(ns, &[]).await?.is_empty(),
        "an empty batch answers nothing"
    );
    let absent = ctx
        .backend
        .search_batch("vt_absent_batch_ns", &requests[..2])
        .await?;
    ensure!(
        absent.len() == 2 && absent.iter().all(Vec::is_empty),
        "an absent namespace answers each query empty: {absent:?}"
    );
    let mut bad = requests[..3].to_vec();
    bad[1].k = 0;
    expect_kind(
        ctx.backend.search_batch(ns, &bad).await,
        ErrorKind::InvalidArgument,
        "one bad request fails the batch",
    )?;
    let mut wrong_dim = requests[..2].to_vec();
    wrong_dim[0].embedding.push(1.0);
    expect_kind(
        ctx.backend.search_batch(ns, &wrong_dim).await,
        ErrorKind::DimensionMismatch {
            expected: dim,
            got: dim + 1,
        },
        "a wrong dimension fails the batch",
    )?;
    Ok(())
}
