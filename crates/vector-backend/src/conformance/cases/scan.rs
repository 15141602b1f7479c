//! Count and scan: every record exactly once across pages, in key order, filters applied.

use std::collections::BTreeSet;

use anyhow::ensure;
use futures_util::TryStreamExt as _;

use super::super::fixture::filter_records;
use super::{Ctx, expect_kind, oracle_keys, tag};
use crate::VectorBackendExt as _;
use crate::{ErrorKind, FieldType, Filter, NamespaceConfig, Record, ScanRequest};

pub(crate) async fn pages_cover_every_record_once(ctx: Ctx) -> anyhow::Result<()> {
    let b = &ctx.backend;
    let ns = ctx.ns();
    let n = 1234;
    // Keys whose byte order differs from their numeric order, plus unicode and punctuation.
    let keys: Vec<String> = (0..n)
        .map(|i| match i % 4 {
            0 => format!("{i}"),
            1 => format!("k:{i}"),
            2 => format!("ü/{i}"),
            _ => format!("Z {i}"),
        })
        .collect();
    let records = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Record::new(k.clone(), vec![1.0, i as f32], tag(i)))
        .collect();
    ctx.put_all(ns, records).await?;
    let mut seen = Vec::new();
    let mut request = ScanRequest::new(100);
    let mut pages = 0;
    loop {
        let page = b.scan_page(ns, &request).await?;
        pages += 1;
        ensure!(page.records.len() <= 100, "page size respected");
        for r in &page.records {
            let i: usize = r.metadata["i"].as_u64().unwrap_or(u64::MAX) as usize;
            ensure!(
                keys.get(i) == Some(&r.key) && r.embedding == vec![1.0, i as f32],
                "record {} intact",
                r.key
            );
        }
        seen.extend(page.records.into_iter().map(|r| r.key));
        match page.next_cursor {
            Some(c) => request = request.with_cursor(Some(c)),
            None => break,
        }
        ensure!(pages < 100, "scan does not terminate");
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    ensure!(unique.len() == seen.len(), "no duplicates across pages");
    ensure!(seen.len() == n, "no omissions: {} of {n}", seen.len());
    let mut sorted = seen.clone();
    sorted.sort();
    ensure!(seen == sorted, "pages come in ascending key order");
    Ok(())
}

pub(crate) async fn load_filter_set(ctx: &Ctx, ns: &str) -> anyhow::Result<Vec<Record>> {
    let c = NamespaceConfig::new(4)
        .with_field("color", FieldType::Keyword)
        .with_field("tags", FieldType::Keyword)
        .with_field("price", FieldType::Number)
        .with_field("in_stock", FieldType::Bool)
        .with_field("name", FieldType::Keyword);
    ctx.backend.create_namespace(ns, &c).await?;
    let records: Vec<Record> = filter_records()
        .into_iter()
        .map(|(k, e, m)| Record::new(k, e, m))
        .collect();
    ctx.put_all(ns, records.clone()).await?;
    Ok(records)
}

pub(crate) async fn filtered_scan_matches_oracle(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let records = load_filter_set(&ctx, ns).await?;
    let f = Filter::or([Filter::eq("color", "red"), Filter::gt("price", 10)]);
    let want = oracle_keys(&records, &f)?;
    let mut got = Vec::new();
    let mut req = ScanRequest::new(7).with_filter(f.clone());
    loop {
        let page = ctx.backend.scan_page(ns, &req).await?;
        got.extend(page.records.into_iter().map(|r| r.key));
        match page.next_cursor {
            Some(c) => req = req.with_cursor(Some(c)),
            None => break,
        }
    }
    ensure!(got == want, "filtered scan\n got {got:?}\nwant {want:?}");
    Ok(())
}

pub(crate) async fn stream_helper_follows_cursors(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    ctx.put_all(
        ns,
        (0..250)
            .map(|i| Record::new(format!("k{i:03}"), vec![1.0, i as f32], tag(i)))
            .collect(),
    )
    .await?;
    let pages: Vec<Vec<Record>> = ctx
        .backend
        .scan(ns, ScanRequest::new(60))
        .try_collect()
        .await?;
    ensure!(
        pages.iter().all(|p| !p.is_empty() && p.len() <= 60),
        "pages of at most 60, none empty"
    );
    let keys: Vec<String> = pages.into_iter().flatten().map(|r| r.key).collect();
    let want: Vec<String> = (0..250).map(|i| format!("k{i:03}")).collect();
    ensure!(
        keys == want,
        "the stream yields every record once, in order"
    );
    let empty: Vec<Vec<Record>> = ctx
        .backend
        .scan("vt_absent_ns", ScanRequest::default())
        .try_collect()
        .await?;
    ensure!(empty.is_empty(), "an absent namespace streams nothing");
    Ok(())
}

pub(crate) async fn rejects_oversized_page(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    ctx.put_all(ns, vec![Record::new("a", vec![1.0], tag(0))])
        .await?;
    let r = ctx
        .backend
        .scan_page(ns, &ScanRequest::new(crate::validate::MAX_PAGE_SIZE + 1))
        .await;
    expect_kind(r, ErrorKind::InvalidArgument, "page size above the maximum")
}

pub(crate) async fn count_with_filter_matches_oracle(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let records = load_filter_set(&ctx, ns).await?;
    for f in [
        Filter::eq("color", "red"),
        Filter::ne("color", "red"),
        Filter::lte("price", 0),
        Filter::not(Filter::exists("in_stock")),
    ] {
        let want = oracle_keys(&records, &f)?.len() as u64;
        let got = ctx.backend.count(ns, Some(&f)).await?;
        ensure!(got == want, "count({f}) = {got}, oracle {want}");
    }
    ensure!(
        ctx.backend.count(ns, None).await? == records.len() as u64,
        "unfiltered count"
    );
    Ok(())
}
