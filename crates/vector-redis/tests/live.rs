//! Tests beyond the conformance suite, against live Redis Stack servers.
//!
//! - `unreachable_server_is_unavailable_and_redacted` needs no server.
//! - `bulk_load_100k_x_384` loads 100,000 seeded 384-dimensional vectors into the server
//!   `REDIS_URL` names.
//! - Every other test runs a private instance of its own (`appendonly yes`,
//!   `appendfsync always`) through the control script that `cargo xtask` writes and names in
//!   `VTIER_REDIS_CONTROL`, to kill, pause or restart it: only the xtask starts servers.
//!
//! Without their variable these tests print "not run: ..." and return, unless `VTIER_REQUIRE`
//! names `redis` or `all` (as `cargo xtask` sets it): then they fail.

#![allow(clippy::print_stderr)] // The kill test reports what it saw.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use vector_backend::synth::SplitMix64;
use vector_backend::{
    Error, ErrorKind, Filter, IndexKind, Metadata, NamespaceConfig, OpenBackend, QueryRequest,
    Record, ScanRequest, VectorBackend, VectorBackendExt as _,
};
use vector_redis::{RedisBackend, RedisConfig};

const CONTROL_ENV: &str = "VTIER_REDIS_CONTROL";

fn meta(v: serde_json::Value) -> Metadata {
    v.as_object().cloned().unwrap_or_default()
}

/// A private Redis Stack instance, run by the xtask's control script; stopped on drop.
struct Instance {
    control: PathBuf,
    name: String,
    url: String,
}

impl Instance {
    /// Starts an instance for `test`, or `None` after reporting the test as not run (panics
    /// when the backend is required).
    fn start(test: &str) -> Option<Self> {
        let control = vector_backend::conformance::live_url(test, CONTROL_ENV, "redis")?;
        let name = format!("{test}-{}", std::process::id());
        let url = control_script(&PathBuf::from(&control), "start", &name);
        Some(Self {
            control: PathBuf::from(control),
            name,
            url,
        })
    }

    /// The instance's URL with query parameters (`?timeout_ms=...`).
    fn url(&self, params: &str) -> String {
        format!("{}{params}", self.url)
    }

    /// Runs `control.sh ACTION NAME` off the async workers; returns when it has.
    async fn act(&self, action: &'static str) {
        let (control, name) = (self.control.clone(), self.name.clone());
        tokio::task::spawn_blocking(move || control_script(&control, action, &name))
            .await
            .expect("control script task");
    }

    /// A raw redis-rs connection, for what the backend does not do (CONFIG SET, EVAL).
    async fn raw(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url.as_str()).expect("raw client");
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("raw connection")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Command::new(&self.control)
            .args(["stop", &self.name])
            .status();
    }
}

/// `control.sh ACTION NAME`; its standard output. Panics when it fails.
fn control_script(control: &PathBuf, action: &str, name: &str) -> String {
    let out = Command::new(control)
        .args([action, name])
        .output()
        .unwrap_or_else(|e| panic!("{} {action} {name}: {e}", control.display()));
    assert!(
        out.status.success(),
        "{} {action} {name} failed: {}",
        control.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits until the backend is healthy again (the server also loads its AOF first).
async fn until_healthy(b: &RedisBackend, within: Duration) {
    let start = Instant::now();
    while !b.health_check().await {
        assert!(
            start.elapsed() < within,
            "backend not healthy within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The redis-rs error an error was made from.
fn redis_cause(e: &Error) -> Option<&redis::RedisError> {
    std::error::Error::source(e)?.downcast_ref()
}

/// The failures a server that is down, frozen or busy may give.
fn retryable(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout)
}

#[tokio::test]
async fn unreachable_server_is_unavailable_and_redacted() {
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let url = format!("redis://:s3cr3t-pw@127.0.0.1:{port}?timeout_ms=1000");
    let config = RedisConfig::from_url(&url).expect("config");
    assert!(
        !format!("{config:?}").contains("s3cr3t"),
        "Debug leaks the password: {config:?}"
    );
    let start = Instant::now();
    // Connecting is eager: the unreachable server is reported by open itself.
    let e = RedisBackend::open(&url).await.expect_err("no server");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        e.to_string().starts_with("Redis client not available: "),
        "{e}"
    );
    assert!(
        std::error::Error::source(&e).is_some(),
        "keeps the client's error as its cause: {e:?}"
    );
    assert!(
        !e.to_string().contains("s3cr3t") && !format!("{e:?}").contains("s3cr3t"),
        "{e:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "failed within the timeouts: {:?}",
        start.elapsed()
    );
    let bad = RedisBackend::open("redis://:s3cr3t-pw@127.0.0.1:1?timeout_ms=nope")
        .await
        .expect_err("bad timeout");
    assert!(!bad.to_string().contains("s3cr3t"), "{bad}");
}

#[tokio::test]
async fn server_restart_gives_unavailable_then_recovers() {
    let Some(server) = Instance::start("server_restart_gives_unavailable_then_recovers") else {
        return;
    };
    let b = RedisBackend::open(&server.url("?timeout_ms=2000"))
        .await
        .expect("open");
    let ns = "restart";
    b.upsert(ns, "a", vec![1.0, 0.0, 0.5], meta(json!({"v": 1})))
        .await
        .expect("upsert");

    server.act("kill").await;
    for op in 0..3 {
        let start = Instant::now();
        let e = b.get(ns, "a").await.expect_err("server is down");
        let took = start.elapsed();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "attempt {op}: {e}");
        assert!(
            e.to_string().starts_with("Redis client not available: "),
            "{e}"
        );
        // The configured deadline is 2 s; allow scheduling slack, never a hang.
        assert!(took < Duration::from_secs(4), "attempt {op} took {took:?}");
    }
    let start = Instant::now();
    assert!(!b.health_check().await, "unhealthy while down");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "health_check took {:?}",
        start.elapsed()
    );

    server.act("restart").await;
    // The same backend object reconnects by itself.
    until_healthy(&b, Duration::from_secs(30)).await;
    let got = b.get(ns, "a").await.expect("get after restart");
    assert_eq!(got.map(|g| g.metadata), Some(meta(json!({"v": 1}))));
    b.upsert(ns, "b", vec![0.0, 1.0, 0.5], Metadata::new())
        .await
        .expect("write after restart");
    let hits = b
        .query(ns, &[0.0, 1.0, 0.5], 1, None)
        .await
        .expect("query after restart");
    assert_eq!(hits.first().map(|h| h.key.as_str()), Some("b"));
}

#[tokio::test]
async fn acknowledged_writes_survive_restart() {
    let Some(server) = Instance::start("acknowledged_writes_survive_restart") else {
        return;
    };
    let url = server.url("?timeout_ms=5000");
    let b = RedisBackend::open(&url).await.expect("open");
    let ns = "durable";
    let config = NamespaceConfig::new(4).with_field("color", vector_backend::FieldType::Keyword);
    b.create_namespace(ns, &config).await.expect("create");
    let records: Vec<Record> = (0..500)
        .map(|i| {
            let color = if i % 2 == 0 { "red" } else { "blue" };
            Record::new(
                format!("k{i:03}"),
                vec![1.0, i as f32, 0.5, -1.0],
                meta(json!({"i": i, "color": color})),
            )
        })
        .collect();
    b.upsert_batch(ns, records)
        .await
        .expect("batch acknowledged");
    assert!(b.delete(ns, "k007").await.expect("delete acknowledged"));
    b.upsert(
        ns,
        "last",
        vec![0.0, 0.0, 1.0, 0.0],
        meta(json!({"color": "green"})),
    )
    .await
    .expect("last write");

    // SIGKILL: no shutdown hook runs; only what the AOF (fsync always) holds survives.
    server.act("kill").await;
    server.act("restart").await;
    let fresh = {
        let start = Instant::now();
        loop {
            match RedisBackend::open(&url).await {
                Ok(b) => break b,
                // Still loading its append-only file.
                Err(e) if retryable(&e) && start.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("open after restart: {e}"),
            }
        }
    };
    until_healthy(&fresh, Duration::from_secs(30)).await;
    let info = fresh
        .namespace_info(ns)
        .await
        .expect("info")
        .expect("namespace survives");
    assert_eq!(info.config, config);
    assert_eq!(info.count, 500, "499 of the batch plus the last write");
    assert!(
        fresh.get(ns, "k007").await.expect("get").is_none(),
        "the delete survived too"
    );
    let got = fresh
        .get(ns, "k123")
        .await
        .expect("get")
        .expect("k123 survives");
    assert_eq!(got.embedding, vec![1.0, 123.0, 0.5, -1.0]);
    // The index came back with the data: filters and KNN work.
    let f = Filter::eq("color", "green");
    assert_eq!(fresh.count(ns, Some(&f)).await.expect("count"), 1);
    let hits = fresh
        .query(ns, &[0.0, 0.0, 1.0, 0.0], 1, None)
        .await
        .expect("query");
    assert_eq!(hits.first().map(|h| h.key.as_str()), Some("last"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_server_times_out_then_recovers() {
    const LIMIT: Duration = Duration::from_millis(1000);
    // The deadline plus scheduling slack on a busy machine; never the 30 s of a hang.
    const WITHIN: Duration = Duration::from_millis(2500);
    let Some(server) = Instance::start("frozen_server_times_out_then_recovers") else {
        return;
    };
    let b = RedisBackend::open(&server.url(&format!("?timeout_ms={}", LIMIT.as_millis())))
        .await
        .expect("open");
    let (ns, scratch) = ("frozen", "frozen_scratch");
    let config = NamespaceConfig::new(2).with_field("n", vector_backend::FieldType::Number);
    for n in [ns, scratch] {
        b.create_namespace(n, &config).await.expect("create");
        b.upsert(n, "a", vec![1.0, 0.5], meta(json!({"n": 1})))
            .await
            .expect("upsert");
    }

    server.act("pause").await;
    let f = Filter::gte("n", 0);
    let q = QueryRequest::new(vec![1.0, 0.5], 3);
    macro_rules! bounded {
        ($what:literal, $call:expr) => {{
            let start = Instant::now();
            let r = $call.await;
            let took = start.elapsed();
            match r {
                Ok(_) => panic!("{}: succeeded on a frozen server", $what),
                Err(e) => assert!(retryable(&e), "{}: {:?}: {e}", $what, e.kind()),
            }
            assert!(took < WITHIN, "{} took {took:?}", $what);
        }};
    }
    // Every kind of operation; the destructive ones on a scratch namespace, since the server
    // runs what it received once it is resumed.
    bounded!("list_namespaces", b.list_namespaces());
    bounded!(
        "create_namespace",
        b.create_namespace("frozen_new", &config)
    );
    bounded!("namespace_info", b.namespace_info(ns));
    bounded!("upsert", b.upsert(ns, "b", vec![0.5, 1.0], Metadata::new()));
    bounded!(
        "upsert_batch",
        b.upsert_batch(ns, vec![Record::new("c", vec![0.5, 0.5], Metadata::new())])
    );
    bounded!("get", b.get(ns, "a"));
    bounded!(
        "get_batch",
        b.get_batch(ns, &["a".to_owned(), "z".to_owned()])
    );
    bounded!("query", b.query(ns, &[1.0, 0.5], 3, None));
    bounded!("search_batch", b.search_batch(ns, &[q.clone(), q.clone()]));
    bounded!("count", b.count(ns, None));
    bounded!("count filtered", b.count(ns, Some(&f)));
    bounded!("scan_page", b.scan_page(ns, &ScanRequest::new(10)));
    bounded!("delete", b.delete(scratch, "a"));
    bounded!("delete_batch", b.delete_batch(scratch, &["a".to_owned()]));
    bounded!("delete_by_filter", b.delete_by_filter(scratch, &f));
    bounded!("clear_namespace", b.clear_namespace(scratch));
    bounded!("drop_namespace", b.drop_namespace(scratch));
    let start = Instant::now();
    assert!(!b.health_check().await, "unhealthy while frozen");
    assert!(
        start.elapsed() < WITHIN,
        "health_check took {:?}",
        start.elapsed()
    );

    server.act("resume").await;
    // The same object works again at once.
    let start = Instant::now();
    assert!(b.health_check().await, "healthy after resume");
    b.upsert(ns, "d", vec![0.25, 1.0], meta(json!({"n": 4})))
        .await
        .expect("write after resume");
    assert_eq!(
        b.get(ns, "d").await.expect("get").map(|g| g.embedding),
        Some(vec![0.25, 1.0])
    );
    let hits = b.query(ns, &[0.25, 1.0], 1, None).await.expect("query");
    assert_eq!(hits.first().map(|h| h.key.as_str()), Some("d"));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "recovered in {:?}",
        start.elapsed()
    );
}

/// A backend on `server` (2 s timeout) with record `a` in `ns`, and a raw connection after
/// `CONFIG SET setting value`.
async fn with_record(
    server: &Instance,
    ns: &str,
    setting: &str,
    value: u64,
) -> (RedisBackend, redis::aio::MultiplexedConnection) {
    let b = RedisBackend::open(&server.url("?timeout_ms=2000"))
        .await
        .expect("open");
    b.upsert(ns, "a", vec![1.0, 0.5], Metadata::new())
        .await
        .expect("upsert");
    let mut raw = server.raw().await;
    redis::cmd("CONFIG")
        .arg("SET")
        .arg(setting)
        .arg(value)
        .exec_async(&mut raw)
        .await
        .expect("config set");
    (b, raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_server_is_unavailable() {
    let Some(server) = Instance::start("loading_server_is_unavailable") else {
        return;
    };
    let ns = "loading";
    // An append-only file long enough to take a while to load: 300,000 commands, kept as
    // commands (no rewrite into an RDB preamble, which would load much faster).
    let (b, mut raw) = with_record(&server, ns, "auto-aof-rewrite-percentage", 0).await;
    redis::cmd("EVAL")
        .arg("for i = 1, 300000 do redis.call('SET', 'fill:' .. i, 'x') end return 1")
        .arg(0)
        .exec_async(&mut raw)
        .await
        .expect("fill");

    // Returns once the server accepts connections, while it still loads.
    server.act("restart").await;
    let start = Instant::now();
    let mut loading = 0;
    loop {
        let write = b.upsert(ns, "b", vec![0.5, 1.0], Metadata::new()).await;
        let read = b.get(ns, "a").await;
        match (write, read) {
            (Ok(()), Ok(got)) => {
                assert!(got.is_some(), "the record survived");
                break;
            }
            (w, r) => {
                for e in [w.err(), r.err()].into_iter().flatten() {
                    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
                    if redis_cause(&e).is_some_and(|c| {
                        c.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
                    }) {
                        loading += 1;
                    }
                }
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the server never finished loading"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        loading > 0,
        "the server was never seen loading (it loaded in {:?})",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_server_is_unavailable() {
    let Some(server) = Instance::start("busy_server_is_unavailable") else {
        return;
    };
    let ns = "busy";
    let (b, mut raw) = with_record(&server, ns, "busy-reply-threshold", 100).await;
    // Another client runs a script for 3 s; past the threshold, Redis answers BUSY.
    let script = tokio::spawn(async move {
        redis::cmd("EVAL")
            .arg(
                "local s = tonumber(redis.call('TIME')[1]) \
                 while tonumber(redis.call('TIME')[1]) - s < 3 do end return 1",
            )
            .arg(0)
            .exec_async(&mut raw)
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    for op in 0..3 {
        let start = Instant::now();
        let errors = [
            b.upsert(ns, "b", vec![0.5, 1.0], Metadata::new())
                .await
                .err(),
            b.get(ns, "a").await.err(),
            b.query(ns, &[1.0, 0.5], 1, None).await.err(),
        ];
        for e in errors {
            let e = e.expect("a busy server refuses");
            assert_eq!(e.kind(), ErrorKind::Unavailable, "attempt {op}: {e}");
            assert_eq!(
                redis_cause(&e).and_then(redis::RedisError::code),
                Some("BUSY"),
                "{e}"
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "BUSY is answered at once, took {:?}",
            start.elapsed()
        );
    }
    script.await.expect("script task").expect("script ran");
    b.upsert(ns, "b", vec![0.5, 1.0], Metadata::new())
        .await
        .expect("write after the script");
    assert_eq!(b.count(ns, None).await.expect("count"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_write() {
    const WRITERS: usize = 4;
    let Some(server) = Instance::start("kill_9_under_load_loses_no_acknowledged_write") else {
        return;
    };
    let b = Arc::new(
        RedisBackend::open(&server.url("?timeout_ms=1000"))
            .await
            .expect("open"),
    );
    let ns = "kill9";
    b.create_namespace(ns, &NamespaceConfig::new(4))
        .await
        .expect("create");
    let stop = Arc::new(AtomicBool::new(false));
    // Acknowledged writes, and the failures seen (kind and message).
    let acked: Arc<Mutex<Vec<Record>>> = Arc::default();
    let failures: Arc<Mutex<Vec<(ErrorKind, String)>>> = Arc::default();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (b, stop, acked, failures) = (b.clone(), stop.clone(), acked.clone(), failures.clone());
        writers.spawn(async move {
            let mut rng = SplitMix64::new(w as u64 + 1);
            let mut seq = 0;
            while !stop.load(Ordering::Relaxed) {
                // Single upserts and small batches.
                let n = if seq % 3 == 0 { 5 } else { 1 };
                let batch: Vec<Record> = (0..n)
                    .map(|i| Record::new(format!("w{w}-{seq}-{i}"), rng.vector(4), Metadata::new()))
                    .collect();
                seq += 1;
                match b.upsert_batch(ns, batch.clone()).await {
                    Ok(()) => {
                        acked.lock().expect("acked").extend(batch);
                        // A steady load rather than as fast as possible: the restarted server
                        // replays every write from its append-only file before it serves
                        // again, and that time is not the client's to measure.
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err(e) => {
                        failures
                            .lock()
                            .expect("failures")
                            .push((e.kind(), e.to_string()));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = acked.lock().expect("acked").len();
    server.act("kill").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.act("restart").await;
    // The server accepts connections again: the same object must write within a second.
    let back = Instant::now();
    let mut probe = 0;
    let recovered = loop {
        match b
            .upsert(
                ns,
                &format!("probe-{probe}"),
                vec![1.0, 2.0, 3.0, 4.0],
                Metadata::new(),
            )
            .await
        {
            Ok(()) => break back.elapsed(),
            Err(e) => {
                assert!(retryable(&e), "probe: {:?}: {e}", e.kind());
                probe += 1;
                assert!(
                    back.elapsed() < Duration::from_secs(10),
                    "never recovered: {e}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    while let Some(r) = writers.join_next().await {
        r.expect("writer panicked");
    }
    assert!(
        recovered < Duration::from_secs(1),
        "the same object wrote again {recovered:?} after the server accepted connections"
    );
    let acked = std::mem::take(&mut *acked.lock().expect("acked"));
    let failures = std::mem::take(&mut *failures.lock().expect("failures"));
    assert!(
        before > 0 && acked.len() > before,
        "writes before ({before}) and after the kill"
    );
    assert!(!failures.is_empty(), "the kill was noticed");
    for (kind, msg) in &failures {
        assert!(
            matches!(kind, ErrorKind::Unavailable | ErrorKind::Timeout),
            "a failure during the outage: {kind:?}: {msg}"
        );
    }
    let keys: Vec<String> = acked.iter().map(|r| r.key.clone()).collect();
    let mut missing = Vec::new();
    for (chunk, records) in keys.chunks(1000).zip(acked.chunks(1000)) {
        let got = b.get_batch(ns, chunk).await.expect("read back");
        for (r, g) in records.iter().zip(got) {
            if g.is_none_or(|g| g.embedding != r.embedding) {
                missing.push(r.key.clone());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes missing: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)]
    );
    eprintln!(
        "kill -9 under load: {} acknowledged writes all present, {} failures during the outage \
         (all Unavailable/Timeout), writing again {recovered:?} after the restart",
        acked.len(),
        failures.len()
    );
}

/// Every Redis key whose name mentions namespace `ns` (`vtier:{kind}:{ns}` or `...:{ns}:...`).
async fn keys_of(raw: &mut redis::aio::MultiplexedConnection, ns: &str) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for pattern in [format!("vtier:*:{ns}"), format!("vtier:*:{ns}:*")] {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(raw)
            .await
            .expect("KEYS");
        all.extend(keys);
    }
    all.sort();
    all
}

async fn indexes(raw: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
    redis::cmd("FT._LIST")
        .query_async(raw)
        .await
        .expect("FT._LIST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_and_clear_leave_nothing_behind() {
    let Some(server) = Instance::start("drop_and_clear_leave_nothing_behind") else {
        return;
    };
    let b = RedisBackend::open(&server.url("")).await.expect("open");
    let mut raw = server.raw().await;
    let ns = "left";
    let config = NamespaceConfig::new(2).with_field("n", vector_backend::FieldType::Number);
    b.create_namespace(ns, &config).await.expect("create");
    // More records than one cleanup round trip removes.
    let records = |from: usize, n: usize| -> Vec<Record> {
        (from..from + n)
            .map(|i| Record::new(format!("k{i}"), vec![1.0, i as f32], meta(json!({"n": i}))))
            .collect()
    };
    b.upsert_batch(ns, records(0, 2500)).await.expect("write");
    assert_eq!(b.clear_namespace(ns).await.expect("clear"), 2500);
    assert_eq!(
        keys_of(&mut raw, ns).await,
        ["vtier:cfg:left"],
        "the cleared generation left nothing"
    );
    assert_eq!(
        indexes(&mut raw).await.len(),
        1,
        "one index: the new generation's"
    );
    b.upsert_batch(ns, records(0, 10))
        .await
        .expect("write again");
    assert_eq!(
        b.count(ns, Some(&Filter::lt("n", 5))).await.expect("count"),
        5
    );
    assert!(b.drop_namespace(ns).await.expect("drop"));
    assert!(
        keys_of(&mut raw, ns).await.is_empty(),
        "the drop left nothing"
    );
    assert!(indexes(&mut raw).await.is_empty(), "no index left");

    // A drop that crashed after removing the namespace (its script ran) but before removing
    // the data: the next drop or clear, by anyone, finishes it.
    let crashed = "crashed";
    b.upsert_batch(crashed, records(0, 50))
        .await
        .expect("write");
    redis::cmd("EVAL")
        .arg(
            "local g = redis.call('HGET', KEYS[1], 'gen') redis.call('DEL', KEYS[1]) \
             redis.call('SREM', 'vtier:namespaces', ARGV[1]) \
             redis.call('SADD', 'vtier:retired', g .. ':' .. ARGV[1])",
        )
        .arg(1)
        .arg("vtier:cfg:crashed")
        .arg(crashed)
        .exec_async(&mut raw)
        .await
        .expect("half a drop");
    assert!(
        b.get(crashed, "k1").await.expect("get").is_none(),
        "gone for readers"
    );
    assert!(
        !keys_of(&mut raw, crashed).await.is_empty(),
        "its data is still there"
    );
    b.upsert("other", "x", vec![1.0, 0.0], Metadata::new())
        .await
        .expect("write");
    assert!(b.drop_namespace("other").await.expect("drop other"));
    assert!(
        keys_of(&mut raw, crashed).await.is_empty(),
        "swept by the next drop"
    );
    assert!(indexes(&mut raw).await.is_empty(), "no index left");
    let retired: Vec<String> = redis::cmd("SMEMBERS")
        .arg("vtier:retired")
        .query_async(&mut raw)
        .await
        .expect("SMEMBERS");
    assert!(retired.is_empty(), "nothing left to clean up: {retired:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_of_the_layout_without_generations_are_served() {
    // A namespace written by earlier versions (no generation in its config hash or names) is
    // generation 0: read, written, cleared and dropped like any other.
    let Some(server) = Instance::start("namespaces_of_the_layout_without_generations_are_served")
    else {
        return;
    };
    let mut raw = server.raw().await;
    let config = NamespaceConfig::new(2);
    let blob = |v: [f32; 2]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let mut p = redis::pipe();
    p.cmd("HSET")
        .arg("vtier:cfg:old")
        .arg("config")
        .arg(serde_json::to_string(&config).expect("json"))
        .ignore()
        .cmd("SADD")
        .arg("vtier:namespaces")
        .arg("old")
        .ignore()
        .cmd("FT.CREATE")
        .arg("vtier:idx:old")
        .arg(
            "ON HASH PREFIX 1 vtier:ns:old: SCHEMA v VECTOR HNSW 10 TYPE FLOAT32 DIM 2 \
             DISTANCE_METRIC COSINE M 16 EF_CONSTRUCTION 200 p TAG SEPARATOR ,"
                .split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>(),
        )
        .ignore()
        .cmd("HSET")
        .arg("vtier:ns:old:k1")
        .arg("k")
        .arg("k1")
        .arg("v")
        .arg(blob([1.0, 0.0]))
        .arg("m")
        .arg("{\"x\":1}")
        .ignore()
        .cmd("ZADD")
        .arg("vtier:keys:old")
        .arg(0)
        .arg("k1")
        .ignore();
    p.exec_async(&mut raw).await.expect("the old layout");

    let b = RedisBackend::open(&server.url("")).await.expect("open");
    assert_eq!(b.list_namespaces().await.expect("list"), ["old"]);
    let info = b
        .namespace_info("old")
        .await
        .expect("info")
        .expect("exists");
    assert_eq!((info.config, info.count), (config, 1));
    let got = b.get("old", "k1").await.expect("get").expect("k1");
    assert_eq!(got.metadata, meta(json!({"x": 1})));
    b.upsert("old", "k2", vec![0.0, 1.0], Metadata::new())
        .await
        .expect("write");
    let hits = b.query("old", &[0.0, 1.0], 2, None).await.expect("query");
    assert_eq!(
        hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(),
        ["k2", "k1"]
    );
    let generation: Option<String> = redis::cmd("HGET")
        .arg("vtier:cfg:old")
        .arg("gen")
        .query_async(&mut raw)
        .await
        .expect("HGET");
    assert_eq!(generation.as_deref(), Some("0"), "marked as generation 0");
    assert_eq!(b.clear_namespace("old").await.expect("clear"), 2);
    b.upsert("old", "k3", vec![1.0, 1.0], Metadata::new())
        .await
        .expect("write after clear");
    assert!(b.drop_namespace("old").await.expect("drop"));
    assert!(
        keys_of(&mut raw, "old").await.is_empty(),
        "the drop left nothing"
    );
    assert!(indexes(&mut raw).await.is_empty(), "no index left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_load_100k_x_384() {
    let test = "bulk_load_100k_x_384";
    let Some(url) = vector_backend::conformance::live_url(test, "REDIS_URL", "redis") else {
        return;
    };
    const N: usize = 100_000;
    const DIM: usize = 384;
    let b = RedisBackend::open(&url).await.expect("open");
    let ns = format!("vt_live_bulk_{}", std::process::id());
    let _ = b.drop_namespace(&ns).await;
    b.create_namespace(&ns, &NamespaceConfig::new(DIM).with_index(IndexKind::Flat))
        .await
        .expect("create");
    let mut rng = SplitMix64::new(42);
    let vector = |rng: &mut SplitMix64| rng.vector(DIM);
    let mut kept = Vec::new();
    for batch in 0..(N / 10_000) {
        let records: Vec<Record> = (0..10_000)
            .map(|j| {
                let i = batch * 10_000 + j;
                Record::new(
                    format!("doc-{i:06}"),
                    vector(&mut rng),
                    meta(json!({"i": i})),
                )
            })
            .collect();
        // Keep every 9,973rd record to check afterwards.
        kept.extend(
            records
                .iter()
                .filter(|r| r.metadata["i"].as_u64().is_some_and(|i| i % 9973 == 0))
                .cloned(),
        );
        b.upsert_batch(&ns, records).await.expect("bulk batch");
    }
    assert_eq!(b.count(&ns, None).await.expect("count"), N as u64);
    let keys: Vec<String> = kept.iter().map(|r| r.key.clone()).collect();
    let got = b.get_batch(&ns, &keys).await.expect("get_batch");
    for (r, g) in kept.iter().zip(got) {
        let g = g.unwrap_or_else(|| panic!("{} missing", r.key));
        assert_eq!(g.embedding, r.embedding, "{} embedding", r.key);
        assert_eq!(g.metadata, r.metadata, "{} metadata", r.key);
    }
    let probe = &kept[kept.len() / 2];
    let hits = b
        .query(&ns, &probe.embedding, 10, None)
        .await
        .expect("query");
    assert_eq!(hits.len(), 10);
    assert_eq!(
        hits[0].key, probe.key,
        "a stored vector is its own nearest neighbour"
    );
    assert!((hits[0].score - 1.0).abs() < 1e-4, "{}", hits[0].score);
    assert!(b.drop_namespace(&ns).await.expect("drop"));
}

/// The contract's BM25 of every record holding a query token and passing `keep`, over the
/// statistics of all `docs` (records without text count, with length 0): `(key, score)`, best
/// first, ties by key.
fn bm25_oracle(
    docs: &[(String, Option<String>, Metadata)],
    text: &str,
    keep: impl Fn(&Metadata) -> bool,
) -> Vec<(String, f64)> {
    let bags: Vec<(&str, &str)> = docs
        .iter()
        .map(|(k, b, _)| (k.as_str(), b.as_deref().unwrap_or_default()))
        .collect();
    vector_backend::text::reference_ranking(&bags, text)
        .into_iter()
        .filter(|(key, _)| docs.iter().any(|(k, _, m)| k == key && keep(m)))
        .collect()
}

/// Keyword scores on a namespace written once are the contract's BM25 (the server prints 12
/// significant digits), under every filter shape too (the #4673 work-around), with ties in key
/// order even where the cut at `k` splits them, and embeddings bit-exact when asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_scores_are_the_contracts_bm25() {
    let test = "keyword_scores_are_the_contracts_bm25";
    let Some(url) = vector_backend::conformance::live_url(test, "REDIS_URL", "redis") else {
        return;
    };
    let b = RedisBackend::open(&url).await.expect("open");
    let ns = format!("vt_live_bm25_{}", std::process::id());
    let _ = b.drop_namespace(&ns).await;
    // Other keys on the server, so that an initial keyspace scan of FT.CREATE (which must be
    // skipped) would still run while the records are written and index them a second time.
    let client = redis::Client::open(url.split('?').next().unwrap_or(&url)).expect("raw client");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection");
    let junk = format!("vt_live_junk_{}", std::process::id());
    for chunk in 0..10 {
        let mut p = redis::pipe();
        for i in 0..10_000 {
            p.cmd("SET")
                .arg(format!("{junk}:{chunk}:{i}"))
                .arg(1)
                .ignore();
        }
        let () = p.query_async(&mut raw).await.expect("junk keys");
    }
    let config = NamespaceConfig::new(4)
        .with_field("body", vector_backend::FieldType::Text)
        .with_field("lang", vector_backend::FieldType::Keyword)
        .with_field("n", vector_backend::FieldType::Number)
        .with_field("title", vector_backend::FieldType::Text)
        .with_index(IndexKind::Flat);
    b.create_namespace(&ns, &config).await.expect("create");
    const WORDS: [&str; 14] = [
        "the", "a", "of", "river", "stone", "cloud", "ember", "quartz", "lumen", "north", "vale",
        "running", "run", "x",
    ];
    let mut rng = SplitMix64::new(7);
    let mut docs: Vec<(String, Option<String>, Metadata)> = Vec::new();
    let mut records = Vec::new();
    for i in 0..400 {
        let words: Vec<&str> = (0..1 + rng.below(12))
            .map(|_| {
                let spread = 1 + rng.below(WORDS.len());
                WORDS[rng.below(spread)]
            })
            .collect();
        // Every 9th record has no text, every 10th only a title; some share one body
        // exactly (ties), with keys that sort differently as bytes than as text would.
        let key = match i % 7 {
            0 => format!("T{i:03}"),
            1 => format!("t{i:03}é"),
            2 => format!("_{i:03}"),
            _ => format!("k{i:03}"),
        };
        let body = if i % 9 == 0 {
            None
        } else if i % 5 == 0 {
            Some("Quartz, quartz; VALE!".to_owned())
        } else {
            Some(words.join(" "))
        };
        let l = ["en", "de", "fr"][i % 3];
        let mut m = json!({"lang": l, "n": (i % 10) as f64});
        if let Some(body) = &body {
            if i % 10 == 3 {
                m["title"] = json!(body);
            } else {
                m["body"] = json!(body);
            }
        }
        let m = meta(m);
        docs.push((key.clone(), body, m.clone()));
        records.push(Record::new(key, rng.vector(4), m));
    }
    b.upsert_batch(&ns, records.clone()).await.expect("write");
    // Each record was indexed once: document ids are not used up by a second indexing (whose
    // stale postings would count in BM25's statistics).
    let generation: String = redis::cmd("HGET")
        .arg(format!("vtier:cfg:{ns}"))
        .arg("gen")
        .query_async(&mut raw)
        .await
        .expect("generation");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let info: redis::Value = redis::cmd("FT.INFO")
        .arg(format!("vtier:idx:{ns}:{generation}"))
        .query_async(&mut raw)
        .await
        .expect("FT.INFO");
    let mut p = redis::pipe();
    for chunk in 0..10 {
        let keys: Vec<String> = (0..10_000).map(|i| format!("{junk}:{chunk}:{i}")).collect();
        p.cmd("UNLINK").arg(keys).ignore();
    }
    let () = p.query_async(&mut raw).await.expect("junk removed");
    let field = |name: &str| -> Option<i64> {
        let redis::Value::Array(items) = &info else {
            return None;
        };
        let c = items.chunks(2).find(|c| match &c[0] {
            redis::Value::SimpleString(s) => s == name,
            redis::Value::BulkString(b) => b == name.as_bytes(),
            _ => false,
        })?;
        match &c[1] {
            redis::Value::Int(i) => Some(*i),
            redis::Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    };
    assert_eq!(
        (field("num_docs"), field("max_doc_id")),
        (Some(400), Some(400)),
        "every record indexed once"
    );
    let lang = |m: &Metadata, l: &str| m["lang"] == l;
    let n = |m: &Metadata| m["n"].as_f64().unwrap_or(f64::NAN);
    #[allow(clippy::type_complexity)]
    let filters: Vec<(Option<Filter>, Box<dyn Fn(&Metadata) -> bool>)> = vec![
        (None, Box::new(|_| true)),
        (
            Some(Filter::eq("lang", "en")),
            Box::new(move |m| lang(m, "en")),
        ),
        (
            Some(Filter::ne("lang", "en")),
            Box::new(move |m| !lang(m, "en")),
        ),
        (Some(Filter::gte("n", 4)), Box::new(move |m| n(m) >= 4.0)),
        (
            Some(Filter::not(Filter::lt("n", 7))),
            Box::new(move |m| n(m) >= 7.0),
        ),
        (
            Some(Filter::and([Filter::eq("lang", "de"), Filter::lt("n", 5)])),
            Box::new(move |m| lang(m, "de") && n(m) < 5.0),
        ),
        (
            Some(Filter::or([
                Filter::eq("lang", "fr"),
                Filter::not(Filter::gt("n", 2)),
            ])),
            Box::new(move |m| lang(m, "fr") || n(m) <= 2.0),
        ),
    ];
    let mut compared = 0;
    let mut worst: f64 = 0.0;
    for text in [
        "quartz",
        "quartz vale",
        "the river of stone",
        "RUNNING run",
        "lumen north ember cloud x a",
        "absent",
    ] {
        for (filter, keep) in &filters {
            for k in [1, 5, 17, 400] {
                let mut r = QueryRequest::keyword(text, k);
                if let Some(f) = filter {
                    r = r.with_filter(f.clone());
                }
                let got = b.search(&ns, &r).await.expect("keyword");
                let mut want = bm25_oracle(&docs, text, keep);
                want.truncate(k);
                let keys = |v: &[(String, f64)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
                let got_pairs: Vec<(String, f64)> =
                    got.iter().map(|h| (h.key.clone(), h.score)).collect();
                assert_eq!(
                    keys(&got_pairs),
                    keys(&want),
                    "{text:?} filter {filter:?} k {k}"
                );
                for ((_, g), (key, w)) in got_pairs.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-6 * w.abs(),
                        "{text:?} filter {filter:?}: {key} scores {g}, BM25 {w}"
                    );
                    compared += 1;
                    worst = worst.max((g - w).abs() / w.abs());
                }
            }
        }
    }
    assert!(compared > 1000, "{compared} scores compared");
    eprintln!("{test}: {compared} scores, largest relative difference from BM25 {worst:.1e}");
    // Embeddings come back bit-exact.
    let hits = b
        .search(&ns, &QueryRequest::keyword("quartz", 400).with_embeddings())
        .await
        .expect("keyword with embeddings");
    for h in &hits {
        let r = records.iter().find(|r| r.key == h.key).expect("a record");
        assert_eq!(h.embedding.as_ref(), Some(&r.embedding), "{}", h.key);
        assert_eq!(h.metadata, r.metadata);
    }
    assert!(b.drop_namespace(&ns).await.expect("drop"));
}

/// A hybrid query answers from the incarnation it was validated against: after another
/// client re-creates the namespace with another dimension, the stale object's hybrid query
/// fails with `DimensionMismatch`; after a drop elsewhere it is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_checks_the_incarnation() {
    let test = "hybrid_checks_the_incarnation";
    let Some(url) = vector_backend::conformance::live_url(test, "REDIS_URL", "redis") else {
        return;
    };
    let a = RedisBackend::open(&url).await.expect("open a");
    let b = RedisBackend::open(&url).await.expect("open b");
    let ns = format!("vt_live_hyb_{}", std::process::id());
    let _ = a.drop_namespace(&ns).await;
    let text = |dim| NamespaceConfig::new(dim).with_field("body", vector_backend::FieldType::Text);
    a.create_namespace(&ns, &text(2)).await.expect("create");
    a.upsert(&ns, "r", vec![1.0, 0.0], meta(json!({"body": "hello"})))
        .await
        .expect("upsert");
    let q = QueryRequest::new(vec![1.0, 0.0], 3).with_text("hello");
    let hits = a.search(&ns, &q).await.expect("hybrid");
    assert_eq!(hits.len(), 1);
    let legs = hits[0].legs.clone().expect("legs");
    assert!(legs.vector.is_some() && legs.keyword.is_some(), "{legs:?}");
    assert!(b.drop_namespace(&ns).await.expect("drop elsewhere"));
    assert!(a.search(&ns, &q).await.expect("after drop").is_empty());
    b.create_namespace(&ns, &text(3)).await.expect("re-create");
    b.upsert(
        &ns,
        "r",
        vec![1.0, 0.0, 0.0],
        meta(json!({"body": "hello"})),
    )
    .await
    .expect("upsert 3");
    let e = a.search(&ns, &q).await.expect_err("stale dimension");
    assert!(
        matches!(e.kind(), ErrorKind::DimensionMismatch { .. }),
        "{e}"
    );
    assert!(a.drop_namespace(&ns).await.expect("drop"));
}

/// After records are rewritten and deleted, which records match a keyword query stays exact,
/// but `BM25STD`'s statistics keep stale postings and lengths (see the README): the test
/// asserts the hit sets and reports how far the scores are from the contract's BM25.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_matches_stay_exact_after_updates_while_scores_drift() {
    let test = "keyword_matches_stay_exact_after_updates_while_scores_drift";
    let Some(url) = vector_backend::conformance::live_url(test, "REDIS_URL", "redis") else {
        return;
    };
    let b = RedisBackend::open(&url).await.expect("open");
    let ns = format!("vt_live_drift_{}", std::process::id());
    let _ = b.drop_namespace(&ns).await;
    let config = NamespaceConfig::new(2)
        .with_field("body", vector_backend::FieldType::Text)
        .with_index(IndexKind::Flat);
    b.create_namespace(&ns, &config).await.expect("create");
    const WORDS: [&str; 8] = [
        "amber", "birch", "cedar", "dune", "fjord", "grove", "heath", "x",
    ];
    let mut rng = SplitMix64::new(3);
    let body = |rng: &mut SplitMix64| {
        (0..2 + rng.below(10))
            .map(|_| {
                let spread = 1 + rng.below(WORDS.len());
                WORDS[rng.below(spread)]
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut docs: std::collections::BTreeMap<String, String> = (0..300)
        .map(|i| (format!("d{i:03}"), body(&mut rng)))
        .collect();
    let write = |docs: Vec<(String, String)>| {
        docs.into_iter()
            .map(|(k, t)| Record::new(k, vec![1.0, 0.5], meta(json!({ "body": t }))))
            .collect::<Vec<_>>()
    };
    let queries = ["amber", "heath x", "fjord grove dune", "cedar"];
    let drift = |docs: &std::collections::BTreeMap<String, String>,
                 hits: &[vector_backend::SearchResult],
                 text: &str| {
        let all: Vec<(String, Option<String>, Metadata)> = docs
            .iter()
            .map(|(k, t)| (k.clone(), Some(t.clone()), Metadata::new()))
            .collect();
        let want = bm25_oracle(&all, text, |_| true);
        let got: std::collections::BTreeSet<&str> = hits.iter().map(|h| h.key.as_str()).collect();
        let expected: std::collections::BTreeSet<&str> =
            want.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, expected, "{text:?}: the records holding a query token");
        hits.iter()
            .map(|h| {
                let w = want
                    .iter()
                    .find(|(k, _)| *k == h.key)
                    .map_or(f64::NAN, |x| x.1);
                (h.score - w).abs() / w
            })
            .fold(0.0_f64, f64::max)
    };
    b.upsert_batch(&ns, write(docs.clone().into_iter().collect()))
        .await
        .expect("write once");
    for text in queries {
        let hits = b
            .search(&ns, &QueryRequest::keyword(text, 300))
            .await
            .expect("q");
        assert!(
            drift(&docs, &hits, text) < 1e-6,
            "{text:?}: exact when written once"
        );
    }
    // Rewrite a third of the records three times (new bodies), delete 40.
    for _ in 0..3 {
        let changed: Vec<(String, String)> = docs
            .keys()
            .filter(|_| rng.below(3) == 0)
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
            .map(|k| (k, body(&mut rng)))
            .collect();
        for (k, t) in &changed {
            docs.insert(k.clone(), t.clone());
        }
        b.upsert_batch(&ns, write(changed)).await.expect("rewrite");
    }
    let gone: Vec<String> = docs.keys().step_by(7).take(40).cloned().collect();
    for k in &gone {
        docs.remove(k);
    }
    b.delete_batch(&ns, &gone).await.expect("delete");
    let mut worst: f64 = 0.0;
    for text in queries {
        let hits = b
            .search(&ns, &QueryRequest::keyword(text, 300))
            .await
            .expect("q");
        worst = worst.max(drift(&docs, &hits, text));
    }
    eprintln!(
        "{test}: after rewriting ~1/3 of 300 records 3 times and deleting 40, the largest relative difference of a score from the contract's BM25 is {worst:.3}"
    );
    assert!(b.drop_namespace(&ns).await.expect("drop"));
}
