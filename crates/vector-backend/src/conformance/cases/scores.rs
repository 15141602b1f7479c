//! Scores and distances per metric against the f64 reference; order, ties, k and thresholds.

use anyhow::{Context as _, ensure};

use super::{Ctx, expect_kind, no_meta, tag};
use crate::VectorBackendExt as _;
use crate::synth::random_unit;
use crate::{ErrorKind, IndexKind, Metric, NamespaceConfig, SearchResult, score};

fn check_scores(
    metric: Metric,
    query: &[f32],
    hits: &[SearchResult],
    stored: &dyn Fn(&str) -> Vec<f32>,
) -> anyhow::Result<()> {
    for h in hits {
        let r = score::reference(metric, query, &stored(&h.key));
        ensure!(
            score::close(h.score, r.score),
            "{metric} score of {}: {} vs reference {}",
            h.key,
            h.score,
            r.score
        );
        ensure!(
            score::close(h.distance, r.distance),
            "{metric} distance of {}: {} vs reference {}",
            h.key,
            h.distance,
            r.distance
        );
    }
    Ok(())
}

async fn fixed(ctx: &Ctx, metric: Metric, expect: &[(&str, f64, f64)]) -> anyhow::Result<()> {
    let ns = ctx.ns();
    if !ctx
        .create_if_supported(ns, &NamespaceConfig::new(3).with_metric(metric))
        .await?
    {
        return Ok(());
    }
    let vectors = [
        ("identical", vec![1.0, 2.0, 2.0]),
        ("opposite", vec![-1.0, -2.0, -2.0]),
        ("orthogonal", vec![2.0, -1.0, 0.0]),
        ("scaled", vec![2.0, 4.0, 4.0]),
    ];
    for (k, v) in &vectors {
        ctx.put(ns, k, v.clone(), no_meta()).await?;
    }
    let hits = ctx.backend.query(ns, &[1.0, 2.0, 2.0], 4, None).await?;
    ensure!(hits.len() == 4, "all four returned: {hits:?}");
    for (key, s, d) in expect {
        let h = hits
            .iter()
            .find(|h| h.key == *key)
            .with_context(|| format!("{key} missing"))?;
        ensure!(
            score::close(h.score, *s),
            "{metric} {key}: score {} expected {s}",
            h.score
        );
        ensure!(
            score::close(h.distance, *d),
            "{metric} {key}: distance {} expected {d}",
            h.distance
        );
    }
    let stored = |k: &str| {
        vectors
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    check_scores(metric, &[1.0, 2.0, 2.0], &hits, &stored)
}

pub(crate) async fn cosine_fixed_vectors(ctx: Ctx) -> anyhow::Result<()> {
    fixed(
        &ctx,
        Metric::Cosine,
        &[
            ("identical", 1.0, 0.0),
            ("scaled", 1.0, 0.0),
            ("opposite", -1.0, 2.0),
            ("orthogonal", 0.0, 1.0),
        ],
    )
    .await
}

pub(crate) async fn dot_product_fixed_vectors(ctx: Ctx) -> anyhow::Result<()> {
    fixed(
        &ctx,
        Metric::DotProduct,
        &[
            ("identical", 9.0, -9.0),
            ("scaled", 18.0, -18.0),
            ("opposite", -9.0, 9.0),
            ("orthogonal", 0.0, 0.0),
        ],
    )
    .await
}

pub(crate) async fn euclidean_fixed_vectors(ctx: Ctx) -> anyhow::Result<()> {
    fixed(
        &ctx,
        Metric::Euclidean,
        &[
            ("identical", 0.0, 0.0),
            ("scaled", -3.0, 3.0),
            ("opposite", -6.0, 6.0),
            ("orthogonal", -(14.0f64).sqrt(), (14.0f64).sqrt()),
        ],
    )
    .await
}

async fn random(ctx: &Ctx, metric: Metric) -> anyhow::Result<()> {
    let ns = ctx.ns();
    // An exact index where there is one, so the order can be compared too.
    let index = if ctx.caps.supports_index(IndexKind::Flat) {
        IndexKind::Flat
    } else {
        IndexKind::Auto
    };
    let exact = index == IndexKind::Flat || ctx.caps.auto_index_is_exact;
    if !ctx
        .create_if_supported(
            ns,
            &NamespaceConfig::new(24)
                .with_metric(metric)
                .with_index(index),
        )
        .await?
    {
        return Ok(());
    }
    let mut rng = ctx.rng();
    let data = random_unit(&mut rng, 200, 24);
    let records = data
        .iter()
        .enumerate()
        .map(|(i, v)| crate::Record::new(format!("k{i:03}"), v.clone(), tag(i)))
        .collect();
    ctx.put_all(ns, records).await?;
    let stored = |k: &str| {
        k[1..]
            .parse::<usize>()
            .ok()
            .and_then(|i| data.get(i).cloned())
            .unwrap_or_default()
    };
    for q in random_unit(&mut rng, 10, 24) {
        let hits = ctx.backend.query(ns, &q, 20, None).await?;
        ensure!(hits.len() == 20, "20 results of 200");
        check_scores(metric, &q, &hits, &stored)?;
        if exact {
            let mut all: Vec<(f64, String)> = (0..data.len())
                .map(|i| {
                    (
                        score::reference(metric, &q, &data[i]).score,
                        format!("k{i:03}"),
                    )
                })
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            let want: Vec<&str> = all.iter().take(20).map(|(_, k)| k.as_str()).collect();
            let got: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
            ensure!(
                got == want,
                "{metric}: exact top-20 differs from the reference\n got {got:?}\nwant {want:?}"
            );
        }
    }
    Ok(())
}

pub(crate) async fn cosine_random_matches_reference(ctx: Ctx) -> anyhow::Result<()> {
    random(&ctx, Metric::Cosine).await
}

pub(crate) async fn dot_product_random_matches_reference(ctx: Ctx) -> anyhow::Result<()> {
    random(&ctx, Metric::DotProduct).await
}

pub(crate) async fn euclidean_random_matches_reference(ctx: Ctx) -> anyhow::Result<()> {
    random(&ctx, Metric::Euclidean).await
}

pub(crate) async fn order_is_score_desc_then_key(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let mut rng = ctx.rng();
    let data = random_unit(&mut rng, 60, 8);
    for (i, v) in data.iter().enumerate() {
        ctx.put(ns, &format!("k{i}"), v.clone(), no_meta()).await?;
    }
    // Duplicates of one vector under other keys: exact ties.
    for key in ["tie-b", "tie-a", "tie-c"] {
        ctx.put(ns, key, data[5].clone(), no_meta()).await?;
    }
    let hits = ctx.backend.query(ns, &data[5], 63, None).await?;
    ensure!(hits.len() == 63, "all returned");
    for w in hits.windows(2) {
        let ok = w[0].score > w[1].score || (w[0].score == w[1].score && w[0].key < w[1].key);
        ensure!(
            ok,
            "order broken between {:?} ({}) and {:?} ({})",
            w[0].key,
            w[0].score,
            w[1].key,
            w[1].score
        );
    }
    let top: Vec<&str> = hits.iter().take(4).map(|h| h.key.as_str()).collect();
    ensure!(
        top == ["k5", "tie-a", "tie-b", "tie-c"],
        "identical vectors tie, broken by key: {top:?}"
    );
    Ok(())
}

pub(crate) async fn ties_at_k_broken_by_key(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    // Ten identical vectors: k = 3 must return the three smallest keys, whatever order the
    // server found them in.
    let keys = ["j", "c", "h", "a", "f", "i", "b", "e", "g", "d"];
    for k in keys {
        ctx.put(ns, k, vec![0.5, 0.5, 0.5], no_meta()).await?;
    }
    ctx.put(ns, "far", vec![-0.5, 0.5, -0.5], no_meta()).await?;
    let hits = ctx.backend.query(ns, &[0.5, 0.5, 0.5], 3, None).await?;
    let got: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
    ensure!(
        got == ["a", "b", "c"],
        "ties at the k-th place go to the smallest keys: {got:?}"
    );
    Ok(())
}

pub(crate) async fn forty_equal_vectors_tie_by_key(ctx: Ctx) -> anyhow::Result<()> {
    // A tie group far larger than k: a server that returns an arbitrary k of them must be
    // asked for the whole group before ties are broken by key. Exact index where there is one.
    let ns = ctx.ns();
    let index = if ctx.caps.supports_index(IndexKind::Flat) {
        IndexKind::Flat
    } else {
        IndexKind::Auto
    };
    ctx.backend
        .create_namespace(ns, &NamespaceConfig::new(3).with_index(index))
        .await?;
    let mut keys: Vec<String> = (0..40).map(|i| format!("t{i:02}")).collect();
    // Written in a scrambled order, so insertion order cannot stand in for key order.
    keys.sort_by_key(|k| crate::conformance::fixture::seed_of(k));
    let records = keys
        .iter()
        .map(|k| crate::Record::new(k.clone(), vec![0.25, 0.5, 1.0], no_meta()))
        .collect();
    ctx.put_all(ns, records).await?;
    ctx.put(ns, "u", vec![-1.0, 0.5, 0.25], no_meta()).await?;
    for k in [1, 3, 10, 39, 40] {
        let hits = ctx.backend.query(ns, &[0.25, 0.5, 1.0], k, None).await?;
        let got: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
        let want: Vec<String> = (0..k).map(|i| format!("t{i:02}")).collect();
        ensure!(got == want, "k = {k}: {got:?}");
    }
    let hits = ctx.backend.query(ns, &[0.25, 0.5, 1.0], 41, None).await?;
    ensure!(
        hits.len() == 41 && hits[40].key == "u",
        "the odd one out comes last"
    );
    Ok(())
}

pub(crate) async fn k_bounds_results(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    for i in 0..5usize {
        ctx.put(ns, &format!("k{i}"), vec![1.0, i as f32], no_meta())
            .await?;
    }
    ensure!(
        ctx.backend.query(ns, &[1.0, 0.0], 1, None).await?.len() == 1,
        "k = 1"
    );
    ensure!(
        ctx.backend.query(ns, &[1.0, 0.0], 3, None).await?.len() == 3,
        "k = 3"
    );
    ensure!(
        ctx.backend.query(ns, &[1.0, 0.0], 50, None).await?.len() == 5,
        "k above count returns all"
    );
    Ok(())
}

pub(crate) async fn threshold_is_inclusive_on_reported_score(ctx: Ctx) -> anyhow::Result<()> {
    for metric in super::metrics() {
        let ns = ctx.extra_ns(metric.as_str());
        if !ctx
            .create_if_supported(&ns, &NamespaceConfig::new(6).with_metric(metric))
            .await?
        {
            continue;
        }
        let mut rng = ctx.rng();
        let data = random_unit(&mut rng, 30, 6);
        for (i, v) in data.iter().enumerate() {
            ctx.put(&ns, &format!("k{i:02}"), v.clone(), no_meta())
                .await?;
        }
        let q = &random_unit(&mut rng, 1, 6)[0];
        let all = ctx.backend.query(&ns, q, 30, None).await?;
        for pivot in [3, 10, 20] {
            let t = all[pivot].score;
            let hits = ctx.backend.query(&ns, q, 30, Some(t)).await?;
            ensure!(
                hits.iter().any(|h| h.key == all[pivot].key),
                "{metric}: result with score == threshold {t} is returned"
            );
            ensure!(
                hits.iter().all(|h| h.score >= t),
                "{metric}: all scores >= {t}"
            );
            let expected = all.iter().filter(|h| h.score >= t).count();
            ensure!(
                hits.len() == expected,
                "{metric}: {} results above {t}, expected {expected}",
                hits.len()
            );
        }
    }
    Ok(())
}

pub(crate) async fn threshold_is_inclusive_on_exact_integer_score(ctx: Ctx) -> anyhow::Result<()> {
    // Small integers make every metric's score exact in f32 and f64 alike.
    for (metric, threshold, want) in [
        (Metric::DotProduct, 11.0, vec!["a"]),
        (Metric::Euclidean, -2.0, vec!["b"]),
        (Metric::Cosine, 0.0, vec!["c", "d"]),
    ] {
        let ns = ctx.extra_ns(metric.as_str());
        if !ctx
            .create_if_supported(&ns, &NamespaceConfig::new(2).with_metric(metric))
            .await?
        {
            continue;
        }
        // Query [3, 4]: dot(a) = 11; ‖q - b‖ = 2; cos(c) = 0 and cos(d) = 0 exactly.
        let recs: [(&str, [f32; 2]); 4] = [
            ("a", [1.0, 2.0]),
            ("b", [3.0, 2.0]),
            ("c", [4.0, -3.0]),
            ("d", [-4.0, 3.0]),
        ];
        for (k, v) in recs {
            ctx.put(&ns, k, v.to_vec(), no_meta()).await?;
        }
        let hits = ctx
            .backend
            .query(&ns, &[3.0, 4.0], 10, Some(threshold))
            .await?;
        let got: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
        for w in &want {
            ensure!(
                got.contains(w),
                "{metric}: {w} scores exactly {threshold} and must be returned: {hits:?}"
            );
        }
    }
    Ok(())
}

pub(crate) async fn threshold_excludes_lower_scores(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    ctx.put(ns, "same", vec![1.0, 0.0], no_meta()).await?;
    ctx.put(ns, "diag", vec![1.0, 1.0], no_meta()).await?;
    ctx.put(ns, "ortho", vec![0.0, 1.0], no_meta()).await?;
    ctx.put(ns, "opposite", vec![-1.0, 0.0], no_meta()).await?;
    let hits = ctx.backend.query(ns, &[1.0, 0.0], 10, Some(0.5)).await?;
    let got: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
    ensure!(got == ["same", "diag"], "only scores >= 0.5: {got:?}");
    ensure!(
        ctx.backend
            .query(ns, &[1.0, 0.0], 10, Some(1.5))
            .await?
            .is_empty(),
        "nothing above 1.5"
    );
    let all = ctx.backend.query(ns, &[1.0, 0.0], 10, Some(-1.0)).await?;
    ensure!(
        all.len() == 4,
        "threshold -1 keeps the opposite vector (score -1): {all:?}"
    );
    Ok(())
}

pub(crate) async fn unsupported_metrics_and_indexes_are_reported(ctx: Ctx) -> anyhow::Result<()> {
    // Every metric and index kind either works end to end or is refused with Unsupported;
    // nothing is silently ignored.
    for metric in super::metrics() {
        for index in [IndexKind::Auto, IndexKind::Flat, IndexKind::Hnsw] {
            let ns = ctx.extra_ns(&format!("{}_{}", metric.as_str(), index.as_str()));
            let c = NamespaceConfig::new(3)
                .with_metric(metric)
                .with_index(index);
            if ctx.create_if_supported(&ns, &c).await? {
                ctx.put(&ns, "k", vec![1.0, 2.0, 3.0], no_meta()).await?;
                let hits = ctx.backend.query(&ns, &[1.0, 2.0, 3.0], 1, None).await?;
                ensure!(hits.len() == 1, "{metric}/{index:?} works");
                let info = ctx.backend.namespace_info(&ns).await?;
                ensure!(
                    info.is_some_and(|i| i.config == c),
                    "{metric}/{index:?} reported as created"
                );
            } else {
                ensure!(
                    ctx.backend.namespace_info(&ns).await?.is_none(),
                    "refused config creates nothing"
                );
            }
        }
    }
    let too_big = NamespaceConfig::new(ctx.caps.max_dimension + 1);
    let kind = if ctx.caps.max_dimension >= crate::validate::MAX_DIMENSION {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Unsupported
    };
    expect_kind(
        ctx.backend.create_namespace(ctx.ns(), &too_big).await,
        kind,
        "dimension above the advertised maximum",
    )?;
    Ok(())
}

pub(crate) async fn health_check_is_true(ctx: Ctx) -> anyhow::Result<()> {
    ensure!(
        ctx.backend.health_check().await,
        "health_check on a live backend"
    );
    ensure!(
        !ctx.backend.backend_type().is_empty(),
        "backend_type names the backend"
    );
    Ok(())
}
