//! A server that cannot be reached, does not answer, or says "try again": `Unavailable` with
//! the design's wording and the cause, or `Timeout`, within the operation timeout; never a hang;
//! the same backend object works again once the server is back; the API key never in an error
//! or in `Debug` output. Needs no Weaviate: a closed port, a bare TCP listener, and the
//! in-process emulator paused (like a stopped process) or answering 502/503/504/429.

use std::time::{Duration, Instant};

use vector_backend::{
    ErrorKind, Filter, Metadata, NamespaceConfig, OpenBackend, QueryRequest, Record, ScanRequest,
    VectorBackend, VectorBackendExt as _,
};
use vector_weaviate::{WeaviateBackend, WeaviateConfig, WeaviateDriver};
use weaviate_emulator::Emulator;

const SECRET: &str = "sekret-api-key-4711";

/// The operation timeout of these tests, and what a call may take beyond it.
const TIMEOUT_MS: u64 = 500;
const MARGIN: Duration = Duration::from_millis(1500);

/// A port on which nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

/// A backend that has not contacted its server.
fn unchecked(config: WeaviateConfig) -> WeaviateBackend {
    WeaviateBackend::new(WeaviateDriver::unchecked(config).expect("no I/O yet"))
}

#[tokio::test]
async fn closed_port_is_unavailable_quickly_with_the_design_wording() {
    let url = format!(
        "weaviate+http://127.0.0.1:{}?api_key={SECRET}&timeout_ms=1000",
        closed_port()
    );
    let started = Instant::now();
    let e = WeaviateBackend::open(&url)
        .await
        .expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable());
    let text = e.to_string();
    assert!(
        text.starts_with("Weaviate client not available: "),
        "{text}"
    );
    assert!(
        text.len() > "Weaviate client not available: ".len() + 3,
        "the cause follows: {text}"
    );
    assert!(
        std::error::Error::source(&e).is_some(),
        "the cause is kept: {e:?}"
    );
    assert!(
        !text.contains(SECRET) && !format!("{e:?}").contains(SECRET),
        "{e:?}"
    );
}

#[tokio::test]
async fn every_operation_on_a_lazy_backend_is_unavailable() {
    let config = WeaviateConfig::from_url(&format!(
        "http://127.0.0.1:{}?timeout_ms=2000",
        closed_port()
    ))
    .expect("config")
    .with_api_key(SECRET);
    let b = unchecked(config);
    assert!(!format!("{b:?}").contains(SECRET), "{b:?}");
    let started = Instant::now();
    assert!(!b.health_check().await);
    let results = [
        b.upsert("ns", "k", vec![1.0, 2.0], Metadata::new())
            .await
            .err(),
        b.query("ns", &[1.0, 2.0], 3, None).await.err(),
        b.get("ns", "k").await.err(),
        b.count("ns", None).await.err(),
        b.list_namespaces().await.err(),
        b.namespace_info("ns").await.err(),
    ];
    for e in results {
        let e = e.expect("an error");
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(
            e.to_string().starts_with("Weaviate client not available: "),
            "{e}"
        );
        assert!(!e.to_string().contains(SECRET));
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_timeout() {
    // Accepts connections (the kernel completes the handshake) but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let config = WeaviateConfig::from_url(&format!("http://127.0.0.1:{port}?timeout_ms=400"))
        .expect("config");
    let b = unchecked(config);
    let started = Instant::now();
    assert!(!b.health_check().await, "a silent server is not healthy");
    let e = b.count("ns", None).await.expect_err("no answer");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let e = WeaviateBackend::open(&format!("weaviate+http://127.0.0.1:{port}?timeout_ms=400"))
        .await
        .expect_err("no answer");
    assert!(
        matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Unavailable),
        "{e}"
    );
    drop(listener);
}

#[tokio::test]
async fn bad_input_fails_before_any_io() {
    // Validation comes first: a dead server does not turn bad input into Unavailable.
    let b = unchecked(WeaviateConfig::new(format!(
        "http://127.0.0.1:{}",
        closed_port()
    )));
    let e = b
        .upsert("bad ns", "k", vec![1.0], Metadata::new())
        .await
        .expect_err("invalid");
    assert_eq!(e.kind(), ErrorKind::InvalidNamespace);
    let e = b.get("ns", "").await.expect_err("invalid");
    assert_eq!(e.kind(), ErrorKind::InvalidKey);
    let e = b.query("ns", &[1.0], 0, None).await.expect_err("invalid");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

/// One call of every operation kind on `ns` (which exists, dimension 2) and a fresh name;
/// each outcome with how long it took.
async fn every_operation(
    b: &WeaviateBackend,
    ns: &str,
) -> Vec<(&'static str, Duration, Result<(), vector_backend::Error>)> {
    let mut out = Vec::new();
    macro_rules! run {
        ($name:literal, $call:expr) => {{
            let started = Instant::now();
            let r = $call.await.map(|_| ());
            out.push(($name, started.elapsed(), r));
        }};
    }
    run!(
        "upsert",
        b.upsert(ns, "k9", vec![1.0, 9.0], Metadata::new())
    );
    run!(
        "upsert_batch",
        b.upsert_batch(ns, vec![Record::new("k8", vec![1.0, 8.0], Metadata::new())])
    );
    run!("get", b.get(ns, "k1"));
    run!(
        "get_batch",
        b.get_batch(ns, &["k1".to_owned(), "k2".to_owned()])
    );
    run!("query", b.query(ns, &[1.0, 0.5], 3, None));
    run!(
        "search_batch",
        b.search_batch(
            ns,
            &[
                QueryRequest::new(vec![1.0, 0.5], 2),
                QueryRequest::new(vec![0.5, 1.0], 2),
            ]
        )
    );
    run!("count", b.count(ns, None));
    run!("scan_page", b.scan_page(ns, &ScanRequest::new(10)));
    run!("namespace_info", b.namespace_info(ns));
    run!("delete", b.delete(ns, "k2"));
    run!(
        "delete_by_filter",
        b.delete_by_filter(ns, &Filter::not(Filter::exists("nothing")))
    );
    run!("list_namespaces", b.list_namespaces());
    run!(
        "create_namespace",
        b.create_namespace("frozen_other", &NamespaceConfig::new(2))
    );
    run!("drop_namespace", b.drop_namespace("frozen_other"));
    run!("clear_namespace", b.clear_namespace(ns));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_times_out_and_the_same_object_works_after_it_resumes() -> anyhow::Result<()>
{
    let emulator = Emulator::start().await?;
    let b = WeaviateBackend::open(&format!("{}?timeout_ms={TIMEOUT_MS}", emulator.url())).await?;
    let ns = "frozen";
    b.create_namespace(
        ns,
        &NamespaceConfig::new(2).with_field("nothing", vector_backend::FieldType::Bool),
    )
    .await?;
    b.upsert_batch(
        ns,
        (1..=3)
            .map(|i| Record::new(format!("k{i}"), vec![1.0, i as f32], Metadata::new()))
            .collect(),
    )
    .await?;

    emulator.pause();
    let limit = Duration::from_millis(TIMEOUT_MS) + MARGIN;
    let started = Instant::now();
    anyhow::ensure!(!b.health_check().await, "a frozen server is not healthy");
    anyhow::ensure!(
        started.elapsed() < limit,
        "health_check took {:?}",
        started.elapsed()
    );
    for (name, took, r) in every_operation(&b, ns).await {
        let e = match r {
            Ok(()) => anyhow::bail!("{name} succeeded against a frozen server"),
            Err(e) => e,
        };
        anyhow::ensure!(
            matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Unavailable),
            "{name}: {:?}: {e}",
            e.kind()
        );
        anyhow::ensure!(took < limit, "{name} took {took:?} (limit {limit:?})");
    }

    emulator.resume();
    // The requests the server held are answered now (to nobody): let them finish first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    anyhow::ensure!(b.health_check().await, "healthy again");
    for (name, _, r) in every_operation(&b, ns).await {
        r.map_err(|e| anyhow::anyhow!("{name} after resume: {e}"))?;
    }
    anyhow::ensure!(b.get(ns, "k9").await?.is_none(), "cleared last");
    b.upsert(ns, "k10", vec![1.0, 10.0], Metadata::new())
        .await?;
    anyhow::ensure!(
        b.count(ns, None).await? == 1,
        "the same object writes again"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_again_statuses_are_unavailable_and_usage_limits_are_capacity() -> anyhow::Result<()> {
    let emulator = Emulator::start().await?;
    let b = WeaviateBackend::open(&format!("{}?timeout_ms=2000", emulator.url())).await?;
    b.upsert("statuses", "k", vec![1.0, 0.0], Metadata::new())
        .await?;
    let cases: [(u16, Option<&str>, ErrorKind); 5] = [
        (502, None, ErrorKind::Unavailable),
        (503, None, ErrorKind::Unavailable),
        (
            504,
            Some(r#"{"message":"gateway timeout"}"#),
            ErrorKind::Unavailable,
        ),
        (429, None, ErrorKind::Unavailable),
        (
            429,
            Some(
                r#"{"errorCode":"USAGE_LIMIT_EXCEEDED","limit":"objects","value":10,"message":"usage limit reached"}"#,
            ),
            ErrorKind::CapacityExceeded,
        ),
    ];
    for (status, body, kind) in cases {
        emulator.fail_with(status, body)?;
        for (op, r) in [
            (
                "upsert",
                b.upsert("statuses", "k2", vec![0.0, 1.0], Metadata::new())
                    .await
                    .err(),
            ),
            ("get", b.get("statuses", "k").await.err()),
            (
                "query",
                b.query("statuses", &[1.0, 0.0], 1, None).await.err(),
            ),
            ("list", b.list_namespaces().await.err()),
        ] {
            let e = r.ok_or_else(|| anyhow::anyhow!("{op} succeeded during HTTP {status}"))?;
            anyhow::ensure!(e.kind() == kind, "{op}, HTTP {status}: {:?}: {e}", e.kind());
            anyhow::ensure!(
                std::error::Error::source(&e)
                    .is_some_and(|s| s.to_string().contains(&status.to_string())),
                "{op}: the cause names the status: {e}"
            );
        }
        anyhow::ensure!(!b.health_check().await, "not healthy during HTTP {status}");
        emulator.heal();
        anyhow::ensure!(
            b.get("statuses", "k").await?.is_some(),
            "the same object reads again after HTTP {status}"
        );
    }
    Ok(())
}
