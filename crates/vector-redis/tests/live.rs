//! Tests beyond the conformance suite, against live Redis Stack servers.
//!
//! - `unreachable_server_is_unavailable_and_redacted` needs no server.
//! - `server_restart_gives_unavailable_then_recovers` and `acknowledged_writes_survive_restart`
//!   start, kill and restart a private `redis-server` of their own (with `appendonly yes`),
//!   found through `VTIER_REDIS_SERVER` = `<redis-server>|<LD_LIBRARY_PATH>|<redisearch.so>`,
//!   which `cargo xtask` sets when it runs the local Redis Stack.
//! - `bulk_load_100k_x_384` loads 100,000 seeded 384-dimensional vectors into the server
//!   `REDIS_URL` names.
//!
//! Without their variable these tests print "not run: ..." and return, unless `VTIER_REQUIRE`
//! names `redis` or `all` (as `cargo xtask` sets it): then they fail.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use vector_backend::synth::SplitMix64;
use vector_backend::{
    ErrorKind, IndexKind, Metadata, NamespaceConfig, OpenBackend, Record, VectorBackend,
};
use vector_redis::RedisBackend;

const SERVER_ENV: &str = "VTIER_REDIS_SERVER";

/// The variable's value, or `None` after reporting the test as not run (panics when required).
fn var_or_not_run(test: &str, var: &str) -> Option<String> {
    vector_backend::conformance::live_url(test, var, "redis")
}

fn meta(v: serde_json::Value) -> Metadata {
    v.as_object().cloned().unwrap_or_default()
}

/// A private redis-server with RediSearch and an append-only file, killed on drop.
struct Private {
    bin: PathBuf,
    lib_dir: String,
    module: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Private {
    fn new(spec: &str, name: &str) -> Self {
        let parts: Vec<&str> = spec.split('|').collect();
        assert_eq!(
            parts.len(),
            3,
            "{SERVER_ENV} must be <redis-server>|<lib dir>|<redisearch.so>"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = std::env::temp_dir().join(format!(
            "vtier-redis-live-{name}-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("data dir");
        Self {
            bin: PathBuf::from(parts[0]),
            lib_dir: parts[1].to_owned(),
            module: PathBuf::from(parts[2]),
            dir,
            port,
            child: None,
        }
    }

    fn url(&self, params: &str) -> String {
        format!("redis://127.0.0.1:{}{params}", self.port)
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("redis.log"))
            .expect("log file");
        let child = Command::new(&self.bin)
            .env("LD_LIBRARY_PATH", &self.lib_dir)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--loadmodule")
            .arg(&self.module)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "redis-server did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server without letting it shut down cleanly.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until the backend is healthy again (the server also loads its AOF first).
async fn until_healthy(b: &RedisBackend, within: Duration) {
    let start = Instant::now();
    while !b.health_check().await {
        assert!(
            start.elapsed() < within,
            "backend not healthy within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn unreachable_server_is_unavailable_and_redacted() {
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let url = format!("redis://:s3cr3t-pw@127.0.0.1:{port}?connect_timeout=1&response_timeout=2");
    let b = RedisBackend::open(&url).await.expect("opening is lazy");
    assert!(
        !format!("{b:?}").contains("s3cr3t"),
        "Debug leaks the password: {b:?}"
    );
    let start = Instant::now();
    let e = b.count("ns", None).await.expect_err("no server");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        e.to_string().starts_with("Redis client not available: "),
        "{e}"
    );
    assert!(
        !e.to_string().contains("s3cr3t") && !format!("{e:?}").contains("s3cr3t"),
        "{e:?}"
    );
    assert!(
        !b.health_check().await,
        "health_check is false without a server"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "failed within the timeouts: {:?}",
        start.elapsed()
    );
    let bad = RedisBackend::open("redis://:s3cr3t-pw@127.0.0.1:1?response_timeout=nope")
        .await
        .expect_err("bad timeout");
    assert!(!bad.to_string().contains("s3cr3t"), "{bad}");
}

#[tokio::test]
async fn server_restart_gives_unavailable_then_recovers() {
    let test = "server_restart_gives_unavailable_then_recovers";
    let Some(spec) = var_or_not_run(test, SERVER_ENV) else {
        return;
    };
    let mut server = Private::new(&spec, "restart");
    server.start();
    let b = RedisBackend::open(&server.url("?connect_timeout=1&response_timeout=2"))
        .await
        .expect("open");
    until_healthy(&b, Duration::from_secs(20)).await;
    let ns = "restart";
    b.upsert(ns, "a", vec![1.0, 0.0, 0.5], meta(json!({"v": 1})))
        .await
        .expect("upsert");

    server.kill();
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

    server.start();
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
    let test = "acknowledged_writes_survive_restart";
    let Some(spec) = var_or_not_run(test, SERVER_ENV) else {
        return;
    };
    let mut server = Private::new(&spec, "aof");
    server.start();
    let url = server.url("?connect_timeout=1&response_timeout=5");
    let b = RedisBackend::open(&url).await.expect("open");
    until_healthy(&b, Duration::from_secs(20)).await;
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
    server.kill();
    server.start();
    let fresh = RedisBackend::open(&url).await.expect("open after restart");
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
    let f = vector_backend::Filter::eq("color", "green");
    assert_eq!(fresh.count(ns, Some(&f)).await.expect("count"), 1);
    let hits = fresh
        .query(ns, &[0.0, 0.0, 1.0, 0.0], 1, None)
        .await
        .expect("query");
    assert_eq!(
        hits.first().map(|h| h.key.as_str()),
        Some("last"),
        "{}",
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_load_100k_x_384() {
    let test = "bulk_load_100k_x_384";
    let Some(url) = var_or_not_run(test, "REDIS_URL") else {
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
