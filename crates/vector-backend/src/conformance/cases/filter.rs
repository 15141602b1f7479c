//! Every filter operator and the missing-field rules, checked against the in-memory oracle
//! ([`Filter::matches`]) over the shared record set, through `query`, `count`, `scan` and
//! `delete_by_filter`.

use std::collections::BTreeSet;

use anyhow::ensure;

use super::super::fixture::HOSTILE;
use super::scan::load_filter_set;
use super::{Ctx, expect_kind, oracle_keys};
use crate::VectorBackendExt as _;
use crate::{ErrorKind, Filter, FilterOp, QueryRequest, Record, ScanRequest};

/// Checks `filters` through query (k = all), count and scan against the oracle. Refuses a
/// predicate that matches none or all records: such a test could not tell a backend that
/// ignores the filter from one that applies it.
async fn check(ctx: &Ctx, filters: &[Filter]) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let records = load_filter_set(ctx, ns).await?;
    check_loaded(ctx, ns, &records, filters).await
}

async fn check_loaded(
    ctx: &Ctx,
    ns: &str,
    records: &[Record],
    filters: &[Filter],
) -> anyhow::Result<()> {
    for f in filters {
        let want: BTreeSet<&str> = oracle_keys(records, f)?.into_iter().collect();
        let hits = ctx
            .backend
            .search(
                ns,
                &QueryRequest::new(vec![0.1, 0.2, 0.3, 0.4], records.len()).with_filter(f.clone()),
            )
            .await?;
        let got: BTreeSet<&str> = hits.iter().map(|h| h.key.as_str()).collect();
        ensure!(got == want, "query with {f}\n got {got:?}\nwant {want:?}");
        let count = ctx.backend.count(ns, Some(f)).await?;
        ensure!(
            count == want.len() as u64,
            "count with {f}: {count}, want {}",
            want.len()
        );
        let page = ctx
            .backend
            .scan_page(ns, &ScanRequest::new(1000).with_filter(f.clone()))
            .await?;
        let scanned: BTreeSet<&str> = page.records.iter().map(|r| r.key.as_str()).collect();
        ensure!(
            scanned == want,
            "scan with {f}\n got {scanned:?}\nwant {want:?}"
        );
    }
    Ok(())
}

pub(crate) async fn eq_on_keyword(ctx: Ctx) -> anyhow::Result<()> {
    // Case-sensitive: "red" and "Red" are different values.
    check(
        &ctx,
        &[
            Filter::eq("color", "red"),
            Filter::eq("color", "Red"),
            Filter::eq("color", "blue"),
        ],
    )
    .await
}

pub(crate) async fn eq_on_keyword_array_means_contains(ctx: Ctx) -> anyhow::Result<()> {
    check(
        &ctx,
        &[
            Filter::eq("tags", "a"),
            Filter::eq("tags", "b"),
            Filter::eq("tags", "c"),
        ],
    )
    .await
}

pub(crate) async fn ne_matches_missing_fields(ctx: Ctx) -> anyhow::Result<()> {
    check(
        &ctx,
        &[
            Filter::ne("color", "red"),
            Filter::ne("tags", "a"),
            Filter::ne("price", 4),
            Filter::ne("in_stock", true),
        ],
    )
    .await
}

pub(crate) async fn range_operators(ctx: Ctx) -> anyhow::Result<()> {
    check(
        &ctx,
        &[
            Filter::gt("price", 10),
            Filter::gte("price", 10),
            Filter::lt("price", -4),
            Filter::lte("price", -4),
            Filter::gt("price", 2.5),
            Filter::lt("price", 0.5),
            Filter::and([Filter::gte("price", 0), Filter::lt("price", 12.5)]),
        ],
    )
    .await
}

pub(crate) async fn in_and_nin(ctx: Ctx) -> anyhow::Result<()> {
    check(
        &ctx,
        &[
            Filter::is_in("color", ["red", "blue"]),
            Filter::nin("color", ["red", "blue"]),
            Filter::is_in("tags", ["b", "c"]),
            Filter::nin("tags", ["a"]),
            Filter::is_in("price", [0.0, 4.0, 12.5, 20.0]),
            Filter::nin("price", [0, 4]),
            Filter::is_in("in_stock", [true]),
        ],
    )
    .await
}

pub(crate) async fn exists(ctx: Ctx) -> anyhow::Result<()> {
    check(
        &ctx,
        &[
            Filter::exists("color"),
            Filter::exists("price"),
            Filter::exists("in_stock"),
            Filter::exists("tags"),
            Filter::not(Filter::exists("color")),
        ],
    )
    .await
}

pub(crate) async fn and_or_not(ctx: Ctx) -> anyhow::Result<()> {
    check(
        &ctx,
        &[
            Filter::and([Filter::eq("color", "red"), Filter::eq("in_stock", true)]),
            Filter::or([Filter::eq("color", "green"), Filter::gt("price", 20)]),
            Filter::not(Filter::eq("color", "red")),
            Filter::not(Filter::gt("price", 5)),
            Filter::not(Filter::and([
                Filter::exists("price"),
                Filter::lt("price", 0),
            ])),
            Filter::and([
                Filter::not(Filter::eq("tags", "a")),
                Filter::or([
                    Filter::eq("in_stock", false),
                    Filter::not(Filter::exists("in_stock")),
                ]),
            ]),
            Filter::not(Filter::not(Filter::eq("color", "blue"))),
            Filter::or([
                Filter::and([Filter::eq("color", "red")]),
                Filter::nin("price", [1.5]),
            ]),
        ],
    )
    .await
}

pub(crate) async fn bool_fields(ctx: Ctx) -> anyhow::Result<()> {
    check(
        &ctx,
        &[
            Filter::eq("in_stock", true),
            Filter::eq("in_stock", false),
            Filter::ne("in_stock", false),
            Filter::nin("in_stock", [false]),
        ],
    )
    .await
}

pub(crate) async fn integer_and_float_compare_equal(ctx: Ctx) -> anyhow::Result<()> {
    // Records hold 10 as an integer and 10.5 as a float; 10 and 10.0 name the same number.
    check(
        &ctx,
        &[
            Filter::eq("price", 10),
            Filter::eq("price", 10.0),
            Filter::eq("price", 10.5),
            Filter::gte("price", 19.5),
        ],
    )
    .await
}

pub(crate) async fn hostile_values_match_literally(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let records = load_filter_set(&ctx, ns).await?;
    let mut filters: Vec<Filter> = HOSTILE.iter().map(|h| Filter::eq("name", *h)).collect();
    filters.extend(HOSTILE.iter().take(10).map(|h| Filter::ne("name", *h)));
    filters.push(Filter::is_in(
        "name",
        HOSTILE.iter().skip(3).take(6).copied(),
    ));
    filters.push(Filter::eq("tags", HOSTILE[3]));
    check_loaded(&ctx, ns, &records, &filters).await?;
    // A value that is syntax but matches nothing must return nothing, not everything.
    for probe in ["*", "@name:{*}", "' OR '1'='1", "x\" } } { Get { y"] {
        if HOSTILE.contains(&probe) {
            continue;
        }
        let n = ctx
            .backend
            .count(ns, Some(&Filter::eq("name", probe)))
            .await?;
        ensure!(
            n == 0,
            "{probe:?} matched {n} records; it must be taken literally"
        );
    }
    Ok(())
}

pub(crate) async fn undeclared_field_is_invalid_argument(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    load_filter_set(&ctx, ns).await?;
    let b = &ctx.backend;
    for field in ["note", "undeclared", "name'; --", "@x", "price OR 1=1", ""] {
        let f = Filter::eq(field, "x");
        let q = QueryRequest::new(vec![0.0, 0.0, 0.0, 1.0], 5).with_filter(f.clone());
        expect_kind(b.search(ns, &q).await, ErrorKind::InvalidArgument, "query")?;
        expect_kind(
            b.count(ns, Some(&f)).await,
            ErrorKind::InvalidArgument,
            "count",
        )?;
        expect_kind(
            b.scan_page(ns, &ScanRequest::new(5).with_filter(f.clone()))
                .await,
            ErrorKind::InvalidArgument,
            "scan",
        )?;
        expect_kind(
            b.delete_by_filter(ns, &f).await,
            ErrorKind::InvalidArgument,
            "delete_by_filter",
        )?;
    }
    ensure!(b.count(ns, None).await? == 60, "nothing deleted");
    Ok(())
}

pub(crate) async fn type_mismatch_is_invalid_argument(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    load_filter_set(&ctx, ns).await?;
    for f in [
        Filter::eq("price", "10"),
        Filter::eq("color", 1),
        Filter::eq("in_stock", "true"),
        Filter::gt("color", 1),
        Filter::gt("in_stock", 1),
        Filter::is_in("price", Vec::<i64>::new()),
        Filter::and([]),
        Filter::or([]),
    ] {
        expect_kind(
            ctx.backend.count(ns, Some(&f)).await,
            ErrorKind::InvalidArgument,
            &f.to_string(),
        )?;
    }
    Ok(())
}

pub(crate) async fn query_with_filter_matches_oracle(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let records = load_filter_set(&ctx, ns).await?;
    let q = vec![0.3, -0.2, 0.9, 0.1];
    for f in [
        Filter::eq("color", "green"),
        Filter::not(Filter::eq("tags", "b")),
        Filter::lt("price", 5),
    ] {
        let mut want: Vec<(f64, &str)> = records
            .iter()
            .filter(|r| f.matches(&r.metadata))
            .map(|r| {
                (
                    crate::score::reference(crate::Metric::Cosine, &q, &r.embedding).score,
                    r.key.as_str(),
                )
            })
            .collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let want: Vec<&str> = want.iter().take(5).map(|(_, k)| *k).collect();
        let hits = ctx
            .backend
            .search(ns, &QueryRequest::new(q.clone(), 5).with_filter(f.clone()))
            .await?;
        let got: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
        ensure!(got == want, "top-5 with {f}: got {got:?}, want {want:?}");
    }
    Ok(())
}

pub(crate) async fn delete_by_filter_matches_oracle(ctx: Ctx) -> anyhow::Result<()> {
    let ns = ctx.ns();
    let records = load_filter_set(&ctx, ns).await?;
    let f = Filter::or([
        Filter::eq("color", "blue"),
        Filter::not(Filter::exists("price")),
    ]);
    let doomed: BTreeSet<&str> = oracle_keys(&records, &f)?.into_iter().collect();
    let n = ctx.backend.delete_by_filter(ns, &f).await?;
    ensure!(
        n == doomed.len() as u64,
        "deleted {n}, oracle {}",
        doomed.len()
    );
    ensure!(
        ctx.backend.count(ns, None).await? == (records.len() - doomed.len()) as u64,
        "the rest remain"
    );
    for r in &records {
        let present = ctx.backend.get(ns, &r.key).await?.is_some();
        ensure!(
            present != doomed.contains(r.key.as_str()),
            "{} present = {present}",
            r.key
        );
    }
    ensure!(
        ctx.backend.delete_by_filter(ns, &f).await? == 0,
        "nothing left to delete"
    );
    Ok(())
}

pub(crate) async fn supported_operators_are_advertised(ctx: Ctx) -> anyhow::Result<()> {
    // Every operator works or is refused with Unsupported, as capabilities() says.
    let ns = ctx.ns();
    let records = load_filter_set(&ctx, ns).await?;
    let samples = [
        Filter::eq("color", "red"),
        Filter::ne("color", "red"),
        Filter::gt("price", 1),
        Filter::gte("price", 1),
        Filter::lt("price", 1),
        Filter::lte("price", 1),
        Filter::is_in("color", ["red"]),
        Filter::nin("color", ["red"]),
        Filter::exists("color"),
        Filter::and([Filter::eq("color", "red")]),
        Filter::or([Filter::eq("color", "red")]),
        Filter::not(Filter::eq("color", "red")),
    ];
    for f in samples {
        let advertised = ctx.caps.filter_ops.contains(&f.op());
        let r = ctx.backend.count(ns, Some(&f)).await;
        if advertised {
            let want = records.iter().filter(|r| f.matches(&r.metadata)).count() as u64;
            ensure!(r.as_ref().ok() == Some(&want), "{f}: {r:?}, want {want}");
        } else {
            expect_kind(r, ErrorKind::Unsupported, &f.to_string())?;
        }
    }
    ensure!(FilterOp::ALL.len() == 12, "every operator sampled");
    Ok(())
}
