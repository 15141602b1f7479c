//! Keyword and hybrid search: the core's tokenisation reaches every server unchanged, keyword
//! hits are the records sharing a token with the query ranked by BM25, hostile text is never
//! syntax, and a hybrid answer is exactly the core's fusion of the two legs.
//!
//! Corpora here are written once and never updated before a scored assertion: RediSearch's
//! statistics drift after updates (see `docs/contract.md`).

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context as _, ensure};
use serde_json::json;

use super::{Ctx, expect_kind, meta};
use crate::conformance::fixture::HOSTILE;
use crate::synth::clustered;
use crate::text::{query_tokens, tokens};
use crate::{
    ErrorKind, FieldType, Filter, Fusion, NamespaceConfig, QueryRequest, Record, SearchResult,
    fusion,
};

/// Creates `ns` with a text field `body` (and a keyword field `lang`), or asserts
/// `Unsupported` and returns false when the backend has no keyword search.
async fn text_namespace(ctx: &Ctx, ns: &str, dim: usize) -> anyhow::Result<bool> {
    let config = NamespaceConfig::new(dim)
        .with_field("body", FieldType::Text)
        .with_field("lang", FieldType::Keyword);
    let r = ctx.backend.create_namespace(ns, &config).await;
    if ctx.caps.text_search {
        r.with_context(|| format!("create {ns} with a text field"))?;
        Ok(true)
    } else {
        expect_kind(
            r,
            ErrorKind::Unsupported,
            "a text field without text_search",
        )?;
        Ok(false)
    }
}

fn doc(key: &str, body: &str, v: Vec<f32>) -> Record {
    Record::new(key, v, meta(json!({ "body": body, "lang": "en" })))
}

async fn keyword_keys(ctx: &Ctx, ns: &str, text: &str, k: usize) -> anyhow::Result<Vec<String>> {
    let hits = ctx
        .backend
        .search(ns, &QueryRequest::keyword(text, k))
        .await
        .with_context(|| format!("keyword query {text:?}"))?;
    Ok(hits.into_iter().map(|h| h.key).collect())
}

/// BM25 of every record sharing a token with `text`, by the contract's definition, sorted by
/// score then key.
fn oracle(docs: &[(String, String)], text: &str) -> Vec<(String, f64)> {
    crate::text::reference_ranking(docs, text)
}

pub(crate) async fn tokenisation_basics_agree(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    if !text_namespace(&ctx, ns, 2).await? {
        return Ok(());
    }
    let docs = [
        ("a", "Hello, World!"),
        ("b", "foo-bar_baz"),
        ("c", "UPPER lower MiXeD"),
        ("d", "naïve café"),
        ("e", "user@example.com 3.14"),
    ];
    ctx.put_all(
        ns,
        docs.iter()
            .map(|(k, t)| doc(k, t, vec![1.0, 0.5]))
            .collect(),
    )
    .await?;
    for (query, want) in [
        ("hello", "a"),
        ("WORLD", "a"),
        ("world!!", "a"),
        ("bar", "b"),
        ("baz", "b"),
        ("FOO", "b"),
        ("upper", "c"),
        ("mixed", "c"),
        ("na", "d"),
        ("ve", "d"),
        ("caf", "d"),
        ("example", "e"),
        ("14", "e"),
    ] {
        let got = keyword_keys(&ctx, ns, query, 10).await?;
        ensure!(got == [want], "query {query:?}: {got:?}, expected [{want}]");
    }
    for nothing in ["naïve", "é", "_", "---", ""] {
        let got = keyword_keys(&ctx, ns, nothing, 10).await?;
        let expected: Vec<&str> = if nothing == "naïve" {
            vec!["d"]
        } else {
            vec![]
        };
        ensure!(got == expected, "query {nothing:?}: {got:?}");
    }
    // The text is still returned as written.
    let got = crate::VectorBackendExt::get(&*ctx.backend, ns, "b").await?;
    ensure!(
        got.is_some_and(|g| g.metadata["body"] == "foo-bar_baz"),
        "metadata keeps the original text"
    );
    Ok(())
}

/// A corpus of 40 short documents over a small vocabulary, written once.
fn corpus() -> Vec<(String, String)> {
    const WORDS: [&str; 12] = [
        "alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "ember", "quartz", "lumen",
        "north", "vale",
    ];
    let mut rng = crate::synth::SplitMix64::new(42);
    (0..40)
        .map(|i| {
            let n = 3 + rng.below(6);
            // Zipf-ish: low word indexes are common, high ones rare.
            let words: Vec<&str> = (0..n)
                .map(|_| {
                    let spread = 1 + rng.below(WORDS.len());
                    WORDS[rng.below(spread)]
                })
                .collect();
            (format!("d{i:02}"), words.join(" "))
        })
        .collect()
}

pub(crate) async fn keyword_hits_hold_query_terms_ranked_by_bm25(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    if !text_namespace(&ctx, ns, 2).await? {
        return Ok(());
    }
    let docs = corpus();
    ctx.put_all(
        ns,
        docs.iter()
            .map(|(k, t)| doc(k, t, vec![0.5, 1.0]))
            .collect(),
    )
    .await?;
    for query in [
        "alpha",
        "quartz lumen",
        "vale",
        "river stone north",
        "beta beta",
        "zzz",
    ] {
        let want = oracle(&docs, query);
        let hits = ctx
            .backend
            .search(ns, &QueryRequest::keyword(query, 40))
            .await?;
        let q: HashSet<String> = query_tokens(query).into_iter().collect();
        for h in &hits {
            let body = docs.iter().find(|(k, _)| *k == h.key).map(|(_, b)| b);
            ensure!(
                body.is_some_and(|b| tokens(b).iter().any(|t| q.contains(t))),
                "{query:?}: hit {} holds no query term",
                h.key
            );
            let legs = h.legs.as_ref().and_then(|l| l.keyword);
            ensure!(
                legs.is_some_and(|l| l.score == h.score) && h.distance == -h.score,
                "{query:?}: keyword hits carry their leg and distance = -score: {h:?}"
            );
        }
        let got: HashSet<&str> = hits.iter().map(|h| h.key.as_str()).collect();
        let expected: HashSet<&str> = want.iter().map(|(k, _)| k.as_str()).collect();
        ensure!(
            got == expected,
            "{query:?}: hits {got:?}, documents holding a query term {expected:?}"
        );
        // Order: wherever the reference scores differ clearly, the backend agrees.
        let rank: BTreeMap<&str, usize> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| (h.key.as_str(), i))
            .collect();
        for pair in want.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.1 - b.1 > 1e-4 * a.1.abs().max(1.0) {
                ensure!(
                    rank[a.0.as_str()] < rank[b.0.as_str()],
                    "{query:?}: {} (bm25 {}) must rank above {} (bm25 {})",
                    a.0,
                    a.1,
                    b.0,
                    b.1
                );
            }
        }
    }
    Ok(())
}

pub(crate) async fn more_occurrences_of_a_rare_term_rank_higher(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    if !text_namespace(&ctx, ns, 2).await? {
        return Ok(());
    }
    // Same length everywhere, so only term frequency and rarity decide.
    let docs = [
        ("once", "zebra plain plain plain"),
        ("thrice", "zebra zebra zebra plain"),
        ("twice", "plain zebra plain zebra"),
        ("none1", "plain plain plain plain"),
        ("none2", "plain other plain other"),
        ("common", "other other other other"),
    ];
    ctx.put_all(
        ns,
        docs.iter()
            .map(|(k, t)| doc(k, t, vec![1.0, 1.0]))
            .collect(),
    )
    .await?;
    let got = keyword_keys(&ctx, ns, "zebra", 10).await?;
    ensure!(
        got == ["thrice", "twice", "once"],
        "more occurrences rank higher: {got:?}"
    );
    // A rare term outweighs a common one.
    let got = keyword_keys(&ctx, ns, "zebra plain", 2).await?;
    ensure!(got[0] == "thrice", "the rare term decides: {got:?}");
    Ok(())
}

pub(crate) async fn hostile_text_matches_literally(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    if !text_namespace(&ctx, ns, 2).await? {
        return Ok(());
    }
    let extra = [
        "\"quoted phrase\"",
        "a:b & c | !d <-> e:*",
        "foo* bar~ %baz% -qux",
        "@body:(x|y) => [KNN]",
        "{ Get { Vs(where: {}) } }",
        "\\\\ \\\" \\u0000",
        "𝑎𝑏𝑐 푎푏푐 Ω≈ç",
        "AND OR NOT ismissing isempty inf nan null true",
    ];
    let docs: Vec<(String, String)> = HOSTILE
        .iter()
        .chain(extra.iter())
        .enumerate()
        .map(|(i, t)| (format!("h{i:02}"), (*t).to_owned()))
        .collect();
    ctx.put_all(
        ns,
        docs.iter()
            .map(|(k, t)| doc(k, t, vec![1.0, 0.0]))
            .collect(),
    )
    .await?;
    for (_, text) in &docs {
        let want: HashSet<String> = oracle(&docs, text).into_iter().map(|(k, _)| k).collect();
        let got: HashSet<String> = keyword_keys(&ctx, ns, text, 100)
            .await?
            .into_iter()
            .collect();
        ensure!(got == want, "query {text:?}: {got:?}, expected {want:?}");
    }
    Ok(())
}

/// A hybrid corpus: 300 clustered vectors with bodies drawn from a vocabulary tied loosely to
/// the clusters, and a `lang` field for filters.
async fn hybrid_corpus(ctx: &Ctx, ns: &str) -> anyhow::Result<bool> {
    let dim = 8;
    if !text_namespace(ctx, ns, dim).await? {
        return Ok(false);
    }
    let mut rng = ctx.rng();
    let vectors = clustered(&mut rng, 300, dim, 6, 0.25);
    const WORDS: [&str; 10] = [
        "amber", "birch", "cedar", "dune", "fjord", "grove", "heath", "inlet", "jade", "knoll",
    ];
    let records = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let words: Vec<&str> = (0..2 + rng.below(5))
                .map(|_| WORDS[(i + rng.below(4)) % WORDS.len()])
                .collect();
            let lang = if i % 3 == 0 { "de" } else { "en" };
            Record::new(
                format!("x{i:03}"),
                v,
                meta(json!({ "body": words.join(" "), "lang": lang })),
            )
        })
        .collect();
    ctx.put_all(ns, records).await?;
    Ok(true)
}

fn exact(hits: &[SearchResult]) -> Vec<(String, u64)> {
    hits.iter()
        .map(|h| (h.key.clone(), h.score.to_bits()))
        .collect()
}

pub(crate) async fn hybrid_is_the_fusion_of_its_legs(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    if !hybrid_corpus(&ctx, ns).await? {
        return Ok(());
    }
    let mut rng = ctx.rng();
    let queries = clustered(&mut rng, 6, 8, 6, 0.3);
    let filters = [None, Some(Filter::eq("lang", "en"))];
    for (i, q) in queries.into_iter().enumerate() {
        let text = [
            "amber cedar",
            "fjord",
            "knoll jade heath",
            "birch",
            "dune grove",
            "inlet",
        ][i];
        for fusion_kind in [Fusion::RRF, Fusion::Weighted { alpha: 0.3 }] {
            for filter in &filters {
                let k = [3, 10][i % 2];
                let m = fusion::leg_depth(k);
                let with_filter = |mut r: QueryRequest| {
                    if let Some(f) = filter {
                        r = r.with_filter(f.clone());
                    }
                    r
                };
                let hybrid = ctx
                    .backend
                    .search(
                        ns,
                        &with_filter(
                            QueryRequest::new(q.clone(), k)
                                .with_text(text)
                                .with_fusion(fusion_kind),
                        ),
                    )
                    .await?;
                let vector = ctx
                    .backend
                    .search(ns, &with_filter(QueryRequest::new(q.clone(), m)))
                    .await?;
                let keyword = ctx
                    .backend
                    .search(ns, &with_filter(QueryRequest::keyword(text, m)))
                    .await?;
                let fused = fusion::fuse(&vector, &keyword, fusion_kind, k);
                ensure!(
                    exact(&hybrid) == exact(&fused),
                    "query {i} {fusion_kind:?} filter {filter:?}: hybrid {:?} != fusion of legs {:?}",
                    exact(&hybrid),
                    exact(&fused)
                );
                ensure!(
                    hybrid.iter().zip(&fused).all(|(a, b)| a.legs == b.legs),
                    "legs differ"
                );
                if filter.is_some() {
                    ensure!(
                        hybrid.iter().all(|h| h.metadata["lang"] == "en"),
                        "the filter applies to both legs"
                    );
                }
            }
        }
    }
    Ok(())
}

pub(crate) async fn keyword_rules_are_checked(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let b = &ctx.backend;
    if !text_namespace(&ctx, ns, 2).await? {
        return Ok(());
    }
    ctx.put_all(ns, vec![doc("a", "hello world", vec![1.0, 0.0])])
        .await?;
    expect_kind(
        b.upsert_batch(
            ns,
            vec![Record::new("n", vec![1.0, 1.0], meta(json!({"body": 7})))],
        )
        .await,
        ErrorKind::InvalidMetadata,
        "a text field holding a number",
    )?;
    expect_kind(
        b.search(
            ns,
            &QueryRequest::new(vec![1.0, 0.0], 1).with_filter(Filter::eq("body", "hello")),
        )
        .await,
        ErrorKind::InvalidArgument,
        "a filter on a text field",
    )?;
    let mut no_text = QueryRequest::new(vec![1.0, 0.0], 1);
    no_text.hybrid = Some(Fusion::RRF);
    expect_kind(
        b.search(ns, &no_text).await,
        ErrorKind::InvalidArgument,
        "hybrid without text",
    )?;
    expect_kind(
        b.search(
            ns,
            &QueryRequest::new(vec![1.0, 0.0], 1)
                .with_text("hello")
                .with_fusion(Fusion::Weighted { alpha: 1.5 }),
        )
        .await,
        ErrorKind::InvalidArgument,
        "alpha outside [0, 1]",
    )?;
    expect_kind(
        b.search(ns, &QueryRequest::keyword("x".repeat(20_000), 1))
            .await,
        ErrorKind::InvalidArgument,
        "an oversized query text",
    )?;
    let plain = ctx.extra_ns("plain");
    b.create_namespace(&plain, &NamespaceConfig::new(2)).await?;
    expect_kind(
        b.search(&plain, &QueryRequest::keyword("hello", 1)).await,
        ErrorKind::InvalidArgument,
        "keyword search without text fields",
    )?;
    // Inclusive threshold on the BM25 score of a keyword query.
    let hits = b.search(ns, &QueryRequest::keyword("hello", 1)).await?;
    let s = hits.first().map(|h| h.score).context("a hit")?;
    let at = b
        .search(ns, &QueryRequest::keyword("hello", 1).with_threshold(s))
        .await?;
    ensure!(at.len() == 1, "threshold equal to the score keeps the hit");
    Ok(())
}
