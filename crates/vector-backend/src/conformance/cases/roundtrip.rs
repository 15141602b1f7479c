//! What is written is read back exactly: embeddings bit for bit, metadata value for value.

use anyhow::{bail, ensure};
use serde_json::json;

use super::{Ctx, meta, no_meta, tag};
use crate::VectorBackendExt as _;
use crate::{Metric, NamespaceConfig, QueryRequest};

pub(crate) async fn embeddings_round_trip_bit_exactly(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    // Dot product: under cosine, a vector whose f32 squared norm overflows (f32::MAX) is
    // refused, since its similarity cannot be computed (validation::cosine_norm_must_be_normal).
    ctx.backend
        .create_namespace(
            ns,
            &NamespaceConfig::new(10).with_metric(Metric::DotProduct),
        )
        .await?;
    let special = vec![
        1.0 / 3.0,
        std::f32::consts::PI,
        -2.5e-7,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45, // the smallest subnormal
        -1.0e-40,
        0.1,
        123_456.79,
        -0.0,
    ];
    ctx.put(ns, "special", special.clone(), no_meta()).await?;
    let mut rng = ctx.rng();
    let random: Vec<f32> = (0..special.len()).map(|_| rng.signed() * 1000.0).collect();
    ctx.put(ns, "random", random.clone(), no_meta()).await?;
    for (key, expected) in [("special", special), ("random", random)] {
        let Some(got) = ctx.backend.get(ns, key).await? else {
            bail!("{key} missing")
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        ensure!(
            bits(&got.embedding) == bits(&expected),
            "{key}: {:?} != {:?}",
            got.embedding,
            expected
        );
    }
    Ok(())
}

pub(crate) async fn metadata_round_trips_exactly(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let m = meta(json!({
        "int": 42,
        "negative": -7,
        "i64_max": i64::MAX,
        "u64_max": u64::MAX,
        "float": 0.1,
        "whole_float": 2.0,
        "tiny": 1.5e-300,
        "huge": 1.0e300,
        "bool": true,
        "null": null,
        "string": "ümlaut 漢字 🎉 \"quoted\" \\ back",
        "empty_string": "",
        "array": [1, "two", 3.5, null, false, [], {}],
        "nested": {"a": {"b": {"c": [1, {"d": "e"}]}}},
        "key with spaces.and.dots": "v",
        "'quote\"key": "v",
        "": "empty key",
    }));
    ctx.put(ns, "k", vec![1.0, 0.0], m.clone()).await?;
    let Some(got) = ctx.backend.get(ns, "k").await? else {
        bail!("missing")
    };
    ensure!(
        got.metadata == m,
        "metadata changed:\n got {}\nwant {}",
        json!(got.metadata),
        json!(m)
    );
    ensure!(
        got.metadata["int"].is_i64() && got.metadata["u64_max"].is_u64(),
        "integers stay integers"
    );
    ensure!(got.metadata["whole_float"].is_f64(), "2.0 stays a float");
    let hits = ctx.backend.query(ns, &[1.0, 0.0], 1, None).await?;
    ensure!(
        hits.len() == 1 && hits[0].metadata == m,
        "query returns the same metadata"
    );
    Ok(())
}

pub(crate) async fn upsert_replaces_metadata_whole(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    ctx.put(ns, "k", vec![1.0, 0.0], meta(json!({"a": 1, "b": 2})))
        .await?;
    ctx.put(ns, "k", vec![0.0, 1.0], meta(json!({"c": 3})))
        .await?;
    let Some(got) = ctx.backend.get(ns, "k").await? else {
        bail!("missing")
    };
    ensure!(
        got.metadata == meta(json!({"c": 3})),
        "metadata replaced, not merged: {:?}",
        got.metadata
    );
    ensure!(got.embedding == vec![0.0, 1.0], "embedding replaced");
    ensure!(ctx.backend.count(ns, None).await? == 1, "still one record");
    Ok(())
}

pub(crate) async fn get_absent_is_none(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    ensure!(
        ctx.backend.get(ns, "nope").await?.is_none(),
        "absent namespace"
    );
    ctx.put(ns, "yes", vec![1.0], no_meta()).await?;
    ensure!(ctx.backend.get(ns, "nope").await?.is_none(), "absent key");
    ensure!(
        ctx.backend.get(ns, "YES").await?.is_none(),
        "keys are case-sensitive"
    );
    Ok(())
}

pub(crate) async fn delete_reports_existence(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ensure!(!b.delete(ns, "k").await?, "absent namespace: false");
    ctx.put(ns, "k", vec![1.0], no_meta()).await?;
    ctx.put(ns, "other", vec![2.0], no_meta()).await?;
    ensure!(b.delete(ns, "k").await?, "existing key: true");
    ensure!(!b.delete(ns, "k").await?, "second delete: false");
    ensure!(b.get(ns, "k").await?.is_none(), "gone");
    let hits = b.query(ns, &[1.0], 10, None).await?;
    ensure!(
        hits.len() == 1 && hits[0].key == "other",
        "query no longer returns it: {hits:?}"
    );
    Ok(())
}

pub(crate) async fn results_include_embedding_when_asked(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let e = vec![0.25, -1.5, 3.0];
    ctx.put(ns, "k", e.clone(), tag(1)).await?;
    let plain = ctx.backend.query(ns, &e, 1, None).await?;
    ensure!(
        plain.len() == 1 && plain[0].embedding.is_none(),
        "no embedding unless asked"
    );
    let with = ctx
        .backend
        .search(ns, &QueryRequest::new(e.clone(), 1).with_embeddings())
        .await?;
    ensure!(
        with.len() == 1 && with[0].embedding.as_deref() == Some(&e[..]),
        "embedding when asked: {with:?}"
    );
    ensure!(with[0].metadata == tag(1), "metadata too");
    Ok(())
}

pub(crate) async fn read_your_writes(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    for i in 0..20usize {
        let e = vec![1.0, i as f32];
        ctx.put(ns, &format!("k{i}"), e.clone(), tag(i)).await?;
        ensure!(
            b.count(ns, None).await? == i as u64 + 1,
            "count sees write {i} at once"
        );
        ensure!(
            b.get(ns, &format!("k{i}")).await?.is_some(),
            "get sees write {i} at once"
        );
        let hits = b.query(ns, &e, 1, None).await?;
        ensure!(
            hits.first().is_some_and(|h| h.key == format!("k{i}")),
            "query sees write {i}: {hits:?}"
        );
    }
    ensure!(b.delete(ns, "k0").await?, "delete");
    ensure!(
        b.count(ns, None).await? == 19,
        "count sees the delete at once"
    );
    Ok(())
}

pub(crate) async fn large_dimension_round_trips(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let dim = 4096.min(ctx.caps.max_dimension);
    let mut rng = ctx.rng();
    let vs = crate::synth::random_unit(&mut rng, 3, dim);
    for (i, v) in vs.iter().enumerate() {
        ctx.put(ns, &format!("k{i}"), v.clone(), tag(i)).await?;
    }
    let Some(got) = ctx.backend.get(ns, "k1").await? else {
        bail!("missing")
    };
    ensure!(
        got.embedding == vs[1],
        "a {dim}-dimensional embedding round-trips"
    );
    let hits = ctx.backend.query(ns, &vs[2], 1, None).await?;
    ensure!(
        hits.first()
            .is_some_and(|h| h.key == "k2" && (h.score - 1.0).abs() < 1e-4),
        "nearest is itself: {hits:?}"
    );
    Ok(())
}
