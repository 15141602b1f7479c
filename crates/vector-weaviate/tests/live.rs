//! Tests beyond the conformance suite, against the in-process emulator configured in ways the
//! suite cannot ask for: a small `QUERY_MAXIMUM_RESULTS` (so the paging, narrowing and
//! brute-force paths that a default server only reaches above 10000 records run on a few
//! hundred), a server that requires an API key, and auto-schema on and off (a stale write must
//! never bring a dropped class back).

use std::collections::BTreeSet;

use serde_json::json;
use vector_backend::{
    ErrorKind, FieldType, Filter, Metadata, Metric, NamespaceConfig, OpenBackend, QueryRequest,
    Record, ScanRequest, VectorBackend, VectorBackendExt as _, score,
};
use vector_weaviate::WeaviateBackend;
use weaviate_emulator::{Emulator, EmulatorOptions};

const LIMIT: usize = 40;
const N: usize = 300;

fn records() -> Vec<Record> {
    (0..N)
        .map(|i| {
            let mut m = json!({"i": i, "price": (i % 17) as f64 - 3.5});
            // Mostly "c0", so "not c0" is sparse; some arrays, some missing.
            match i % 10 {
                0 => {}
                1 => m["color"] = json!(["c1", "c0"]),
                2 => m["color"] = json!("c2"),
                _ => m["color"] = json!("c0"),
            }
            let e = vec![
                ((i * 7) % 13) as f32 - 6.0,
                ((i * 5) % 11) as f32 - 5.0,
                1.0 + (i % 3) as f32,
            ];
            // Byte order differs from numeric order.
            Record::new(
                format!("{}-{i}", ["b", "A", "ü", "a b"][i % 4]),
                e,
                m.as_object().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

async fn small_server() -> anyhow::Result<(Emulator, WeaviateBackend)> {
    let mut options = EmulatorOptions::default();
    options.query_maximum_results = Some(LIMIT);
    let emulator = Emulator::start_with(options).await?;
    let backend = WeaviateBackend::open(&format!(
        "{}?max_results={LIMIT}&batch_size=64",
        emulator.url()
    ))
    .await?;
    Ok((emulator, backend))
}

async fn scan_all(
    b: &WeaviateBackend,
    ns: &str,
    page: usize,
    filter: Option<Filter>,
) -> anyhow::Result<Vec<String>> {
    let mut req = ScanRequest::new(page);
    req.filter = filter;
    let mut keys = Vec::new();
    for _ in 0..1000 {
        let p = b.scan_page(ns, &req).await?;
        anyhow::ensure!(
            p.records.len() <= page,
            "page of {} > {page}",
            p.records.len()
        );
        keys.extend(p.records.into_iter().map(|r| r.key));
        match p.next_cursor {
            Some(c) => req = req.with_cursor(Some(c)),
            None => return Ok(keys),
        }
    }
    anyhow::bail!("scan does not end")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_beyond_the_server_result_limit_match_the_oracle() -> anyhow::Result<()> {
    let (emulator, b) = small_server().await?;
    let ns = "live_small_limit";
    let config = NamespaceConfig::new(3)
        .with_field("color", FieldType::Keyword)
        .with_field("price", FieldType::Number);
    b.create_namespace(ns, &config).await?;
    let data = records();
    b.upsert_batch(ns, data.clone()).await?;
    anyhow::ensure!(b.count(ns, None).await? == N as u64, "count");

    let sorted = |f: Option<&Filter>| -> Vec<String> {
        let mut k: Vec<String> = data
            .iter()
            .filter(|r| f.is_none_or(|f| f.matches(&r.metadata)))
            .map(|r| r.key.clone())
            .collect();
        k.sort();
        k
    };
    // Pages below, at and above the server's limit (above: the page is read by id).
    for page in [7, LIMIT, 64] {
        let got = scan_all(&b, ns, page, None).await?;
        let want = sorted(None);
        let first_difference = got.iter().zip(&want).position(|(a, b)| a != b);
        anyhow::ensure!(
            got == want,
            "unfiltered scan, page {page}: {} of {} keys, first difference at {first_difference:?}",
            got.len(),
            want.len()
        );
    }
    let exact = Filter::eq("color", "c2");
    let widened = Filter::ne("color", "c0");
    let ranged = Filter::not(Filter::gt("price", 2));
    for f in [exact, widened.clone(), ranged] {
        let want = sorted(Some(&f));
        anyhow::ensure!(!want.is_empty() && want.len() < N, "fixture for {f}");
        anyhow::ensure!(
            scan_all(&b, ns, 9, Some(f.clone())).await? == want,
            "scan with {f}"
        );
        anyhow::ensure!(
            b.count(ns, Some(&f)).await? == want.len() as u64,
            "count with {f}"
        );
    }

    // Sparse matches of a widened filter, far beyond the first LIMIT candidates: exact top-k.
    let q = vec![1.0, -2.0, 0.5];
    for k in [3, 25] {
        let hits = b
            .search(
                ns,
                &QueryRequest::new(q.clone(), k).with_filter(widened.clone()),
            )
            .await?;
        let mut want: Vec<(f64, &str)> = data
            .iter()
            .filter(|r| widened.matches(&r.metadata))
            .map(|r| {
                (
                    score::reference(Metric::Cosine, &q, &r.embedding).score,
                    r.key.as_str(),
                )
            })
            .collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let want: Vec<&str> = want.iter().take(k).map(|(_, k)| *k).collect();
        let got: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
        anyhow::ensure!(
            got == want,
            "top-{k} with {widened}\n got {got:?}\nwant {want:?}"
        );
    }
    // Exact ties beyond the first over-fetch: fetching grows until the k-th place is settled.
    let tie_ns = "live_ties";
    let ties: Vec<Record> = (0..35)
        .map(|i| Record::new(format!("t{:02}", 34 - i), vec![1.0, 1.0], Metadata::new()))
        .collect();
    b.upsert_batch(tie_ns, ties).await?;
    let hits = b.query(tie_ns, &[1.0, 1.0], 3, None).await?;
    let got: Vec<String> = hits.into_iter().map(|h| h.key).collect();
    anyhow::ensure!(got == ["t00", "t01", "t02"], "ties broken by key: {got:?}");

    // Deletes beyond the per-call cap of batch deletes.
    let doomed: BTreeSet<String> = sorted(Some(&widened)).into_iter().collect();
    anyhow::ensure!(
        b.delete_by_filter(ns, &widened).await? == doomed.len() as u64,
        "delete_by_filter"
    );
    anyhow::ensure!(
        b.count(ns, None).await? == (N - doomed.len()) as u64,
        "the rest remain"
    );
    let n = b.delete_by_filter(ns, &Filter::gt("price", -100)).await?;
    anyhow::ensure!(
        n == (N - doomed.len()) as u64,
        "exact delete_by_filter past the cap: {n}"
    );
    b.upsert_batch(ns, data.clone()).await?;
    anyhow::ensure!(
        b.clear_namespace(ns).await? == N as u64,
        "clear past the cap"
    );
    anyhow::ensure!(
        b.namespace_info(ns)
            .await?
            .is_some_and(|i| i.count == 0 && i.config == config),
        "config kept"
    );
    anyhow::ensure!(
        emulator.spec_violations().is_empty(),
        "{:?}",
        emulator.spec_violations()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_is_sent_and_never_leaks() -> anyhow::Result<()> {
    let key = "sekret-key-0815";
    let mut options = EmulatorOptions::default();
    options.api_key = Some(key.to_owned());
    let emulator = Emulator::start_with(options).await?;
    let url = emulator.url();

    let b = WeaviateBackend::open(&format!("{url}?api_key={key}")).await?;
    anyhow::ensure!(b.health_check().await, "healthy with the key");
    b.upsert("auth_ns", "k", vec![1.0, 0.0], Metadata::new())
        .await?;
    anyhow::ensure!(b.get("auth_ns", "k").await?.is_some(), "read with the key");
    anyhow::ensure!(!format!("{b:?}").contains(key), "Debug hides the key");

    let wrong = "wrong-key-4242";
    for (u, secret) in [
        (format!("{url}?api_key={wrong}"), wrong),
        (url.clone(), key),
    ] {
        let e = match WeaviateBackend::open(&u).await {
            Ok(_) => anyhow::bail!("opened {u} without the right key"),
            Err(e) => e,
        };
        anyhow::ensure!(e.kind() == ErrorKind::Backend, "{e}");
        anyhow::ensure!(e.to_string().contains("API key"), "the error says why: {e}");
        anyhow::ensure!(
            !e.to_string().contains(secret) && !format!("{e:?}").contains(secret),
            "{e:?}"
        );
    }
    Ok(())
}

/// The classes on the server, by name.
async fn class_names(url: &str) -> anyhow::Result<BTreeSet<String>> {
    let v: serde_json::Value = reqwest::get(format!("{url}/v1/schema"))
        .await?
        .json()
        .await?;
    Ok(v["classes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["class"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_write_never_resurrects_a_dropped_class() -> anyhow::Result<()> {
    // With auto-schema on (Weaviate's default) a batch into a dropped class creates it again;
    // with it off the batch fails. Either way the stale writer must leave nothing behind and
    // land its write in the namespace as it is now.
    for auto_schema in [true, false] {
        let mut options = EmulatorOptions::default();
        options.auto_schema = Some(auto_schema);
        let emulator = Emulator::start_with(options).await?;
        let url = emulator.url();
        let a = WeaviateBackend::open(&url).await?;
        let b = WeaviateBackend::open(&url).await?;
        let ns = "stale";
        a.upsert(ns, "k1", vec![1.0, 2.0, 3.0], Metadata::new())
            .await?;
        let first = class_names(&url).await?;
        anyhow::ensure!(first.len() == 2, "catalogue and one class: {first:?}");
        anyhow::ensure!(b.drop_namespace(ns).await?, "b drops");
        anyhow::ensure!(
            class_names(&url).await?.len() == 1,
            "the class went with the namespace"
        );
        // a's cached entry names the dropped class: its write goes there first.
        a.upsert(ns, "k2", vec![4.0, 5.0, 6.0], Metadata::new())
            .await?;
        let now = class_names(&url).await?;
        anyhow::ensure!(
            now.len() == 2,
            "auto-schema {auto_schema}: catalogue and one new class: {now:?}"
        );
        anyhow::ensure!(
            first
                .iter()
                .filter(|c| c.starts_with("Vt_"))
                .all(|c| !now.contains(c)),
            "auto-schema {auto_schema}: the dropped class stays dropped: {now:?}"
        );
        anyhow::ensure!(b.get(ns, "k2").await?.is_some(), "b reads a's write");
        anyhow::ensure!(b.count(ns, None).await? == 1, "only a's new write");
        // Dropped and re-created with another dimension: a's old-dimension write is refused
        // and leaves nothing.
        b.drop_namespace(ns).await?;
        b.create_namespace(ns, &NamespaceConfig::new(2)).await?;
        let recreated = class_names(&url).await?;
        let e = a
            .upsert(ns, "k3", vec![1.0, 2.0, 3.0], Metadata::new())
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("a wrote the old dimension"))?;
        anyhow::ensure!(
            matches!(e.kind(), ErrorKind::DimensionMismatch { .. }),
            "{e}"
        );
        anyhow::ensure!(
            class_names(&url).await? == recreated,
            "auto-schema {auto_schema}: no class left behind"
        );
        anyhow::ensure!(b.count(ns, None).await? == 0, "nothing written");
        anyhow::ensure!(emulator.spec_violations().is_empty(), "spec");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_through_the_catalogue_past_the_server_limit() -> anyhow::Result<()> {
    let (_emulator, b) = small_server().await?;
    let mut want: Vec<String> = (0..LIMIT + 5).map(|i| format!("list-{i:02}")).collect();
    for ns in &want {
        b.create_namespace(ns, &NamespaceConfig::new(2)).await?;
    }
    want.sort();
    anyhow::ensure!(b.list_namespaces().await? == want, "every namespace, once");
    Ok(())
}
