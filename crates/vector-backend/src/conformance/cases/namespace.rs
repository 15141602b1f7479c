//! Namespaces: implicit and explicit creation, config rules, isolation, listing, clear, drop.

use anyhow::{bail, ensure};
use serde_json::json;

use super::{Ctx, expect_kind, meta, no_meta, tag};
use crate::VectorBackendExt as _;
use crate::{ErrorKind, FieldType, IndexKind, Metric, NamespaceConfig, ScanRequest};

pub(crate) async fn implicit_creation_uses_first_upsert(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    ensure!(
        ctx.backend.namespace_info(ns).await?.is_none(),
        "absent at first"
    );
    ctx.put(ns, "k", vec![1.0, 2.0, 3.0], no_meta()).await?;
    let Some(info) = ctx.backend.namespace_info(ns).await? else {
        bail!("not created")
    };
    ensure!(info.name == ns && info.count == 1, "{info:?}");
    ensure!(
        info.config.dimension == 3 && info.config.metric == Metric::Cosine,
        "{info:?}"
    );
    ensure!(
        info.config.index == IndexKind::Auto && info.config.filterable.is_empty(),
        "{info:?}"
    );
    Ok(())
}

pub(crate) async fn create_same_config_is_noop(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let c = NamespaceConfig::new(4)
        .with_metric(Metric::Cosine)
        .with_field("color", FieldType::Keyword);
    ctx.backend.create_namespace(ns, &c).await?;
    ctx.put(
        ns,
        "k",
        vec![1.0, 0.0, 0.0, 0.0],
        meta(json!({"color": "red"})),
    )
    .await?;
    ctx.backend.create_namespace(ns, &c).await?;
    let Some(info) = ctx.backend.namespace_info(ns).await? else {
        bail!("missing")
    };
    ensure!(
        info.config == c && info.count == 1,
        "same config again keeps data: {info:?}"
    );
    Ok(())
}

pub(crate) async fn create_different_config_is_mismatch(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let c = NamespaceConfig::new(4).with_field("color", FieldType::Keyword);
    b.create_namespace(ns, &c).await?;
    let k = ErrorKind::ConfigMismatch;
    expect_kind(
        b.create_namespace(ns, &NamespaceConfig::new(5)).await,
        k,
        "other dimension",
    )?;
    let other_metric = if ctx.caps.supports_metric(Metric::Euclidean) {
        Metric::Euclidean
    } else {
        Metric::DotProduct
    };
    let c2 = NamespaceConfig::new(4)
        .with_metric(other_metric)
        .with_field("color", FieldType::Keyword);
    if ctx.caps.supports_metric(other_metric) {
        expect_kind(b.create_namespace(ns, &c2).await, k, "other metric")?;
    }
    expect_kind(
        b.create_namespace(ns, &NamespaceConfig::new(4)).await,
        k,
        "other fields",
    )?;
    let c3 = NamespaceConfig::new(4).with_field("color", FieldType::Number);
    expect_kind(b.create_namespace(ns, &c3).await, k, "other field type")?;
    ctx.put(ns, "implicit", vec![1.0, 2.0, 3.0, 4.0], no_meta())
        .await?;
    let Some(info) = b.namespace_info(ns).await? else {
        bail!("missing")
    };
    ensure!(info.config == c, "config unchanged: {info:?}");
    Ok(())
}

pub(crate) async fn dimension_mismatch_on_upsert_and_query(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "k", vec![1.0, 2.0, 3.0], no_meta()).await?;
    let e = b.upsert(ns, "x", vec![1.0, 2.0], no_meta()).await.err();
    ensure!(
        e.as_ref().map(crate::Error::kind)
            == Some(ErrorKind::DimensionMismatch {
                expected: 3,
                got: 2
            }),
        "upsert: {e:?}"
    );
    let e = b.query(ns, &[1.0, 2.0, 3.0, 4.0], 1, None).await.err();
    ensure!(
        e.as_ref().map(crate::Error::kind)
            == Some(ErrorKind::DimensionMismatch {
                expected: 3,
                got: 4
            }),
        "query: {e:?}"
    );
    ensure!(
        b.count(ns, None).await? == 1 && b.get(ns, "x").await?.is_none(),
        "nothing written"
    );
    Ok(())
}

pub(crate) async fn list_returns_sorted_original_names(ctx: Ctx) -> anyhow::Result<()> {
    // Names that sort differently under case folding, and with `-` (0x2D) before `_` (0x5F).
    let suffixes = ["b", "B", "a-z", "a_z", "A", "a0", "Zz"];
    let names: Vec<String> = suffixes.iter().map(|s| ctx.extra_ns(s)).collect();
    for ns in &names {
        ctx.put(ns, "k", vec![1.0], no_meta()).await?;
    }
    let listed = ctx.backend.list_namespaces().await?;
    let mut sorted = listed.clone();
    sorted.sort();
    ensure!(listed == sorted, "list_namespaces is sorted (byte order)");
    let ours: Vec<&String> = listed.iter().filter(|n| names.contains(n)).collect();
    let mut expected: Vec<&String> = names.iter().collect();
    expected.sort();
    ensure!(
        ours == expected,
        "every name returned verbatim: {ours:?} vs {expected:?}"
    );
    Ok(())
}

pub(crate) async fn case_sensitive_names_are_isolated(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let lower = ctx.extra_ns("docs");
    let upper = ctx.extra_ns("Docs");
    let caps = ctx.extra_ns("DOCS");
    ctx.put(&lower, "k", vec![1.0, 0.0], meta(json!({"ns": "lower"})))
        .await?;
    ctx.put(
        &upper,
        "k",
        vec![0.0, 1.0, 0.0],
        meta(json!({"ns": "upper"})),
    )
    .await?;
    ensure!(
        b.get(&caps, "k").await?.is_none(),
        "a third case variant is still absent"
    );
    let l = b.get(&lower, "k").await?.map(|g| g.metadata);
    let u = b.get(&upper, "k").await?.map(|g| g.metadata);
    ensure!(l == Some(meta(json!({"ns": "lower"}))), "lower: {l:?}");
    ensure!(u == Some(meta(json!({"ns": "upper"}))), "upper: {u:?}");
    ensure!(
        b.namespace_info(&upper)
            .await?
            .is_some_and(|i| i.config.dimension == 3),
        "own dimension"
    );
    ensure!(b.clear_namespace(&lower).await? == 1, "clear lower");
    ensure!(
        b.count(&upper, None).await? == 1,
        "clearing one leaves the other"
    );
    ensure!(b.drop_namespace(&upper).await?, "drop upper");
    ensure!(
        b.namespace_info(&lower).await?.is_some(),
        "dropping one leaves the other"
    );
    Ok(())
}

pub(crate) async fn similar_names_are_isolated(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let base = ctx.ns();
    // Differ only in `-` vs `_`, and only in the last character of a 64-character name
    // (a backend that truncates long names would merge these).
    let pad = "x".repeat(63 - base.len());
    let names = [
        format!("{base}-a"),
        format!("{base}_a"),
        format!("{base}{pad}1"),
        format!("{base}{pad}2"),
    ];
    for (i, ns) in names.iter().enumerate() {
        ctx.track(ns);
        ctx.put(ns, "k", vec![1.0, i as f32], tag(i)).await?;
    }
    for (i, ns) in names.iter().enumerate() {
        ensure!(b.count(ns, None).await? == 1, "{ns} holds one record");
        let got = b.get(ns, "k").await?.map(|g| g.metadata);
        ensure!(got == Some(tag(i)), "{ns} holds its own record: {got:?}");
        let hits = b.query(ns, &[1.0, i as f32], 5, None).await?;
        ensure!(
            hits.len() == 1 && hits[0].metadata == tag(i),
            "{ns} query isolated: {hits:?}"
        );
    }
    Ok(())
}

pub(crate) async fn clear_keeps_config_and_counts(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let c = NamespaceConfig::new(2).with_field("n", FieldType::Number);
    b.create_namespace(ns, &c).await?;
    for i in 0..25usize {
        ctx.put(
            ns,
            &format!("k{i}"),
            vec![1.0, i as f32],
            meta(json!({"n": i})),
        )
        .await?;
    }
    ensure!(
        b.clear_namespace(ns).await? == 25,
        "clear returns how many it deleted"
    );
    ensure!(b.count(ns, None).await? == 0, "empty after clear");
    ensure!(
        b.query(ns, &[1.0, 1.0], 5, None).await?.is_empty(),
        "query empty after clear"
    );
    let Some(info) = b.namespace_info(ns).await? else {
        bail!("namespace must survive clear")
    };
    ensure!(info.config == c && info.count == 0, "config kept: {info:?}");
    ensure!(
        b.list_namespaces().await?.iter().any(|n| n == ns),
        "still listed"
    );
    expect_kind(
        b.upsert(ns, "x", vec![1.0, 2.0, 3.0], no_meta()).await,
        ErrorKind::DimensionMismatch {
            expected: 2,
            got: 3,
        },
        "dimension kept",
    )?;
    ctx.put(ns, "again", vec![1.0, 2.0], meta(json!({"n": 1})))
        .await?;
    ensure!(b.clear_namespace(ns).await? == 1, "clear again");
    Ok(())
}

pub(crate) async fn clear_absent_returns_zero(ctx: Ctx) -> anyhow::Result<()> {
    ensure!(
        ctx.backend.clear_namespace(ctx.ns()).await? == 0,
        "0 for an absent namespace"
    );
    ensure!(
        ctx.backend.namespace_info(ctx.ns()).await?.is_none(),
        "clear creates nothing"
    );
    Ok(())
}

pub(crate) async fn drop_removes_everything(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ctx.put(ns, "k", vec![1.0, 2.0], no_meta()).await?;
    ensure!(b.drop_namespace(ns).await?, "drop existing: true");
    ensure!(!b.drop_namespace(ns).await?, "drop again: false");
    ensure!(b.namespace_info(ns).await?.is_none(), "info gone");
    ensure!(
        !b.list_namespaces().await?.iter().any(|n| n == ns),
        "not listed"
    );
    ensure!(b.get(ns, "k").await?.is_none(), "records gone");
    // The name is free again, with a new dimension.
    ctx.put(ns, "k2", vec![1.0, 2.0, 3.0], no_meta()).await?;
    ensure!(
        b.namespace_info(ns)
            .await?
            .is_some_and(|i| i.config.dimension == 3 && i.count == 1),
        "recreated"
    );
    Ok(())
}

pub(crate) async fn info_reports_config_and_count(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    for metric in super::metrics() {
        let ns = ctx.extra_ns(metric.as_str());
        let c = NamespaceConfig::new(3)
            .with_metric(metric)
            .with_field("color", FieldType::Keyword)
            .with_field("price", FieldType::Number)
            .with_field("ok", FieldType::Bool);
        if !ctx.create_if_supported(&ns, &c).await? {
            continue;
        }
        for i in 0..7usize {
            ctx.put(&ns, &format!("k{i}"), vec![1.0, i as f32, 0.5], no_meta())
                .await?;
        }
        let Some(info) = b.namespace_info(&ns).await? else {
            bail!("missing {ns}")
        };
        ensure!(
            info.config == c && info.count == 7 && info.name == ns,
            "{info:?}"
        );
    }
    Ok(())
}

pub(crate) async fn absent_namespace_reads_are_empty(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    ensure!(b.query(ns, &[1.0, 2.0], 5, None).await?.is_empty(), "query");
    ensure!(b.get(ns, "k").await?.is_none(), "get");
    ensure!(!b.delete(ns, "k").await?, "delete");
    ensure!(b.count(ns, None).await? == 0, "count");
    ensure!(
        b.scan_page(ns, &ScanRequest::default())
            .await?
            .records
            .is_empty(),
        "scan"
    );
    ensure!(
        b.get_batch(ns, &["a".into(), "b".into()]).await? == vec![None, None],
        "get_batch"
    );
    ensure!(
        b.delete_batch(ns, &["a".into()]).await? == 0,
        "delete_batch"
    );
    ensure!(b.namespace_info(ns).await?.is_none(), "info");
    ensure!(
        !b.list_namespaces().await?.iter().any(|n| n == ns),
        "reads create nothing"
    );
    Ok(())
}

pub(crate) async fn config_survives_reopen_through_server(ctx: Ctx) -> anyhow::Result<()> {
    // A second backend object opened from the same URL knows nothing this process cached: it
    // must learn the config from the server (or, for a non-persistent backend, see nothing).
    let b = &ctx.backend;
    let ns = ctx.ns();
    let metric = if ctx.caps.supports_metric(Metric::DotProduct) {
        Metric::DotProduct
    } else {
        Metric::Cosine
    };
    let index = if ctx.caps.supports_index(IndexKind::Flat) {
        IndexKind::Flat
    } else {
        IndexKind::Auto
    };
    let c = NamespaceConfig::new(5)
        .with_metric(metric)
        .with_index(index)
        .with_field("tag", FieldType::Keyword);
    b.create_namespace(ns, &c).await?;
    ctx.put(
        ns,
        "k",
        vec![1.0, 0.5, 0.25, 0.0, -1.0],
        meta(json!({"tag": "x"})),
    )
    .await?;
    let fresh = ctx.reopen().await?;
    let info = fresh.namespace_info(ns).await?;
    if ctx.caps.persistent {
        ensure!(
            info.as_ref().is_some_and(|i| i.config == c && i.count == 1),
            "reopened backend sees {info:?}"
        );
        ensure!(
            fresh.list_namespaces().await?.iter().any(|n| n == ns),
            "reopened backend lists it"
        );
        expect_kind(
            fresh.upsert(ns, "k2", vec![1.0; 4], no_meta()).await,
            ErrorKind::DimensionMismatch {
                expected: 5,
                got: 4,
            },
            "dimension enforced after reopen",
        )?;
        let hits = fresh
            .query(ns, &[1.0, 0.5, 0.25, 0.0, -1.0], 1, None)
            .await?;
        ensure!(
            hits.len() == 1 && hits[0].key == "k",
            "reopened backend queries it: {hits:?}"
        );
    } else {
        ensure!(
            info.is_none(),
            "a non-persistent backend's new instance starts empty: {info:?}"
        );
    }
    fresh.close().await;
    Ok(())
}
