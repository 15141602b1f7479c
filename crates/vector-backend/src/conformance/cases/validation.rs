//! Bad input gets a typed error and changes nothing; edge-of-range input is accepted.

use anyhow::ensure;
use serde_json::json;

use super::super::fixture::HOSTILE;
use super::{Ctx, expect_kind, meta, no_meta};
use crate::VectorBackendExt as _;
use crate::validate::{MAX_DIMENSION, MAX_KEY_BYTES, MAX_METADATA_BYTES};
use crate::{ErrorKind, FieldType, Filter, NamespaceConfig, QueryRequest, ScanRequest};

const BAD_NAMESPACES: &[&str] = &[
    "",
    "has space",
    "semi;colon",
    "quote'",
    "dq\"",
    "slash/x",
    "dot.x",
    "colon:x",
    "star*",
    "ümlaut",
    "new\nline",
    "nul\0x",
    "{brace}",
    "@at",
];

pub(crate) async fn rejects_invalid_namespace_names(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let long = "n".repeat(65);
    let mut bad: Vec<&str> = BAD_NAMESPACES.to_vec();
    bad.push(&long);
    let before = b.list_namespaces().await?;
    for ns in bad {
        let k = ErrorKind::InvalidNamespace;
        expect_kind(
            b.upsert(ns, "k", vec![1.0, 2.0], no_meta()).await,
            k,
            "upsert",
        )?;
        expect_kind(b.get(ns, "k").await, k, "get")?;
        expect_kind(b.query(ns, &[1.0, 2.0], 3, None).await, k, "query")?;
        expect_kind(b.delete(ns, "k").await, k, "delete")?;
        expect_kind(b.clear_namespace(ns).await, k, "clear_namespace")?;
        expect_kind(b.count(ns, None).await, k, "count")?;
        expect_kind(
            b.create_namespace(ns, &NamespaceConfig::new(2)).await,
            k,
            "create",
        )?;
        expect_kind(b.namespace_info(ns).await, k, "namespace_info")?;
        expect_kind(b.drop_namespace(ns).await, k, "drop_namespace")?;
        expect_kind(
            b.scan_page(ns, &ScanRequest::default()).await,
            k,
            "scan_page",
        )?;
    }
    let after = b.list_namespaces().await?;
    ensure!(
        before.len() <= after.len() && after.iter().all(|n| !BAD_NAMESPACES.contains(&n.as_str())),
        "invalid names must create nothing: {after:?}"
    );
    Ok(())
}

pub(crate) async fn accepts_edge_namespace_names(ctx: Ctx) -> anyhow::Result<()> {
    // The longest legal name, and names of only digits, dashes or underscores.
    let base = ctx.ns();
    let long = format!("{base}{}", "Z".repeat(64 - base.len()));
    let names = [long.clone(), format!("{base}-9"), format!("{base}_-_")];
    for ns in &names {
        ctx.track(ns);
        ctx.put(ns, "k", vec![0.5, -0.5], meta(json!({"ns": ns})))
            .await?;
        let got = ctx.backend.get(ns, "k").await?;
        ensure!(
            got.is_some_and(|g| g.metadata["ns"] == json!(ns)),
            "round trip in {ns}"
        );
    }
    let listed = ctx.backend.list_namespaces().await?;
    for ns in &names {
        ensure!(
            listed.contains(ns),
            "list_namespaces must return {ns:?} verbatim"
        );
    }
    Ok(())
}

pub(crate) async fn rejects_invalid_keys(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "ok", vec![1.0, 0.0], no_meta()).await?;
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    // 171 three-byte characters = 513 bytes: the limit is in bytes, not characters.
    let long_unicode = "漢".repeat(171);
    for key in ["", "nul\0byte", &long, &long_unicode] {
        let k = ErrorKind::InvalidKey;
        expect_kind(
            b.upsert(ns, key, vec![1.0, 0.0], no_meta()).await,
            k,
            "upsert",
        )?;
        expect_kind(b.get(ns, key).await, k, "get")?;
        expect_kind(b.delete(ns, key).await, k, "delete")?;
    }
    ensure!(
        b.count(ns, None).await? == 1,
        "rejected keys must write nothing"
    );
    Ok(())
}

pub(crate) async fn hostile_keys_round_trip(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let longest = "é".repeat(MAX_KEY_BYTES / 2);
    let mut keys: Vec<String> = HOSTILE.iter().map(|s| (*s).to_owned()).collect();
    keys.push(longest);
    keys.push("k".repeat(MAX_KEY_BYTES));
    keys.push("PLAIN".into()); // differs from "plain" only in case
    for (i, key) in keys.iter().enumerate() {
        let e = vec![1.0 + i as f32, 1.0];
        ctx.put(ns, key, e, meta(json!({ "key": key }))).await?;
    }
    ensure!(
        b.count(ns, None).await? == keys.len() as u64,
        "every hostile key is its own record"
    );
    for (i, key) in keys.iter().enumerate() {
        let got = b.get(ns, key).await?;
        let Some(got) = got else {
            anyhow::bail!("key {key:?} not found after upsert")
        };
        ensure!(
            got.embedding == vec![1.0 + i as f32, 1.0],
            "embedding of {key:?}"
        );
        ensure!(got.metadata["key"] == json!(key), "metadata of {key:?}");
    }
    let hits = b.query(ns, &[1.0, 1.0], keys.len(), None).await?;
    let mut returned: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
    returned.sort_unstable();
    let mut expected: Vec<&str> = keys.iter().map(String::as_str).collect();
    expected.sort_unstable();
    ensure!(
        returned == expected,
        "query returns every hostile key verbatim"
    );
    for key in &keys {
        ensure!(b.delete(ns, key).await?, "delete {key:?}");
    }
    ensure!(b.count(ns, None).await? == 0, "all deleted");
    Ok(())
}

pub(crate) async fn rejects_non_finite_embeddings(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "ok", vec![1.0, 0.0, 0.0], no_meta()).await?;
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let e = vec![1.0, bad, 0.0];
        let k = ErrorKind::InvalidEmbedding;
        expect_kind(b.upsert(ns, "x", e.clone(), no_meta()).await, k, "upsert")?;
        expect_kind(b.query(ns, &e, 3, None).await, k, "query")?;
    }
    ensure!(
        b.count(ns, None).await? == 1 && b.get(ns, "x").await?.is_none(),
        "nothing written"
    );
    Ok(())
}

pub(crate) async fn rejects_empty_and_oversized_embeddings(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let k = ErrorKind::InvalidEmbedding;
    expect_kind(
        b.upsert(ns, "x", vec![], no_meta()).await,
        k,
        "empty upsert",
    )?;
    expect_kind(
        b.upsert(ns, "x", vec![0.5; MAX_DIMENSION + 1], no_meta())
            .await,
        k,
        "huge upsert",
    )?;
    ensure!(
        b.namespace_info(ns).await?.is_none(),
        "a rejected first upsert creates no namespace"
    );
    ctx.put(ns, "ok", vec![1.0, 2.0], no_meta()).await?;
    expect_kind(b.query(ns, &[], 1, None).await, k, "empty query")?;
    expect_kind(
        b.query(ns, &vec![0.5; MAX_DIMENSION + 1], 1, None).await,
        k,
        "huge query",
    )?;
    Ok(())
}

pub(crate) async fn zero_vector_is_invalid_only_for_cosine(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "ok", vec![1.0, 0.0], no_meta()).await?;
    expect_kind(
        b.upsert(ns, "z", vec![0.0, 0.0], no_meta()).await,
        ErrorKind::InvalidEmbedding,
        "cosine upsert",
    )?;
    expect_kind(
        b.query(ns, &[0.0, 0.0], 1, None).await,
        ErrorKind::InvalidEmbedding,
        "cosine query",
    )?;
    for metric in [crate::Metric::DotProduct, crate::Metric::Euclidean] {
        let other = ctx.extra_ns(metric.as_str());
        if ctx
            .create_if_supported(&other, &NamespaceConfig::new(2).with_metric(metric))
            .await?
        {
            ctx.put(&other, "z", vec![0.0, 0.0], no_meta()).await?;
            let hits = b.query(&other, &[0.0, 0.0], 1, None).await?;
            ensure!(
                hits.len() == 1 && hits[0].key == "z",
                "zero vectors are fine under {metric}"
            );
        }
    }
    Ok(())
}

pub(crate) async fn cosine_norm_must_be_a_normal_f32(ctx: Ctx) -> anyhow::Result<()> {
    // Servers compute cosine in f32: a vector whose squared norm underflows or overflows there
    // would be stored and never found (0/0) or found with a NaN score.
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "ok", vec![1.0, 1.0], no_meta()).await?;
    for (what, v) in [
        ("tiny", vec![1e-30, 1e-30]),
        ("subnormal", vec![1e-40, 0.0]),
        ("huge", vec![1e30, -1e30]),
    ] {
        expect_kind(
            b.upsert(ns, what, v.clone(), no_meta()).await,
            ErrorKind::InvalidEmbedding,
            &format!("cosine upsert of a {what} vector"),
        )?;
        expect_kind(
            b.query(ns, &v, 1, None).await,
            ErrorKind::InvalidEmbedding,
            &format!("cosine query with a {what} vector"),
        )?;
    }
    ensure!(b.count(ns, None).await? == 1, "nothing was written");
    let hits = b.query(ns, &[1.0, 1.0], 1, Some(0.9)).await?;
    ensure!(hits.len() == 1, "an ordinary vector is found");
    let dot = ctx.extra_ns("dot");
    if ctx
        .create_if_supported(
            &dot,
            &NamespaceConfig::new(2).with_metric(crate::Metric::DotProduct),
        )
        .await?
    {
        ctx.put(&dot, "tiny", vec![1e-30, 1e-30], no_meta()).await?;
        ensure!(
            b.query(&dot, &[1.0, 1.0], 1, None).await?.len() == 1,
            "tiny vectors are fine under dot product"
        );
    }
    Ok(())
}

pub(crate) async fn rejects_invalid_metadata(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "ok", vec![1.0, 0.0], no_meta()).await?;
    let too_big = meta(json!({ "blob": "x".repeat(MAX_METADATA_BYTES) }));
    let cases = [
        meta(json!({ "s": "nul\u{0}inside" })),
        meta(json!({ "nul\u{0}key": 1 })),
        meta(json!({ "deep": { "list": ["fine", "bad\u{0}"] } })),
        too_big,
    ];
    for m in cases {
        expect_kind(
            b.upsert(ns, "bad", vec![1.0, 0.0], m).await,
            ErrorKind::InvalidMetadata,
            "upsert",
        )?;
    }
    ensure!(b.get(ns, "bad").await?.is_none(), "nothing written");
    Ok(())
}

pub(crate) async fn accepts_metadata_near_size_limit(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    // {"blob":"xxx…"} is 11 bytes of JSON around the string.
    let m = meta(json!({ "blob": "y".repeat(MAX_METADATA_BYTES - 11) }));
    ensure!(
        crate::validate::serialized_len(&m) == MAX_METADATA_BYTES,
        "fixture size"
    );
    ctx.put(ns, "big", vec![1.0, 0.0], m.clone()).await?;
    let got = ctx.backend.get(ns, "big").await?;
    ensure!(
        got.is_some_and(|g| g.metadata == m),
        "64 KiB metadata round-trips"
    );
    Ok(())
}

pub(crate) async fn rejects_k_out_of_range(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "a", vec![1.0, 0.0], no_meta()).await?;
    for k in [0, crate::validate::MAX_K + 1] {
        expect_kind(
            b.query(ns, &[1.0, 0.0], k, None).await,
            ErrorKind::InvalidArgument,
            "query k",
        )?;
    }
    let hits = b
        .query(ns, &[1.0, 0.0], crate::validate::MAX_K, None)
        .await?;
    ensure!(hits.len() == 1, "k = 10000 is legal");
    Ok(())
}

pub(crate) async fn rejects_non_finite_threshold(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "a", vec![1.0, 0.0], no_meta()).await?;
    for t in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        expect_kind(
            b.query(ns, &[1.0, 0.0], 1, Some(t)).await,
            ErrorKind::InvalidArgument,
            "threshold",
        )?;
    }
    Ok(())
}

pub(crate) async fn rejected_write_changes_nothing(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let original = meta(json!({"v": 1}));
    ctx.put(ns, "k", vec![1.0, 2.0], original.clone()).await?;
    let bad = [
        b.upsert(ns, "k", vec![f32::NAN, 2.0], meta(json!({"v": 2})))
            .await,
        b.upsert(ns, "k", vec![1.0, 2.0, 3.0], meta(json!({"v": 3})))
            .await,
        b.upsert(ns, "k", vec![1.0, 2.0], meta(json!({"v": "bad\u{0}"})))
            .await,
    ];
    ensure!(
        bad.iter().all(Result::is_err),
        "all three writes must fail: {bad:?}"
    );
    let got = b
        .get(ns, "k")
        .await?
        .ok_or_else(|| anyhow::anyhow!("record vanished"))?;
    ensure!(
        got.embedding == vec![1.0, 2.0] && got.metadata == original,
        "record unchanged: {got:?}"
    );
    Ok(())
}

pub(crate) async fn rejects_bad_namespace_configs(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let k = ErrorKind::InvalidArgument;
    expect_kind(
        b.create_namespace(ns, &NamespaceConfig::new(0)).await,
        k,
        "dimension 0",
    )?;
    expect_kind(
        b.create_namespace(ns, &NamespaceConfig::new(MAX_DIMENSION + 1))
            .await,
        k,
        "dimension 16001",
    )?;
    for field in [
        "",
        "1starts_with_digit",
        "has space",
        "dash-ed",
        "quote'",
        "ü",
        &"f".repeat(65),
    ] {
        let c = NamespaceConfig::new(2).with_field(field, FieldType::Keyword);
        expect_kind(b.create_namespace(ns, &c).await, k, "bad field name")?;
    }
    ensure!(
        b.namespace_info(ns).await?.is_none(),
        "no namespace was created"
    );
    Ok(())
}

pub(crate) async fn rejects_declared_field_with_wrong_type(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let c = NamespaceConfig::new(2)
        .with_field("kw", FieldType::Keyword)
        .with_field("num", FieldType::Number)
        .with_field("flag", FieldType::Bool);
    b.create_namespace(ns, &c).await?;
    let wrong = [
        json!({"kw": 1}),
        json!({"kw": ["a", 2]}),
        json!({"kw": null}),
        json!({"num": "1"}),
        json!({"num": true}),
        json!({"flag": "true"}),
        json!({"flag": 0}),
    ];
    for m in wrong {
        expect_kind(
            b.upsert(ns, "k", vec![1.0, 0.0], meta(m.clone())).await,
            ErrorKind::InvalidMetadata,
            &m.to_string(),
        )?;
    }
    ctx.put(
        ns,
        "k",
        vec![1.0, 0.0],
        meta(json!({"kw": ["a", "b"], "num": -1.5, "flag": false, "other": null})),
    )
    .await?;
    ensure!(
        b.count(ns, None).await? == 1,
        "only the valid record was written"
    );
    Ok(())
}

pub(crate) async fn bad_input_on_absent_namespace_still_errors(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    expect_kind(
        b.query(ns, &[f32::NAN], 1, None).await,
        ErrorKind::InvalidEmbedding,
        "query NaN",
    )?;
    expect_kind(
        b.query(ns, &[1.0], 0, None).await,
        ErrorKind::InvalidArgument,
        "query k=0",
    )?;
    expect_kind(b.get(ns, "").await, ErrorKind::InvalidKey, "get empty key")?;
    let r = b
        .search(
            ns,
            &QueryRequest::new(vec![1.0], 1).with_filter(Filter::eq("x", "y")),
        )
        .await;
    ensure!(
        matches!(&r, Ok(v) if v.is_empty()) || r.is_err(),
        "filter on absent namespace: empty or error"
    );
    ensure!(
        b.namespace_info(ns).await?.is_none(),
        "reads create nothing"
    );
    Ok(())
}
