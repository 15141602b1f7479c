//! Live tests beyond the conformance suite, against `PG_CONNECTION_STRING`:
//!
//! - the HNSW index is really used for kNN (EXPLAIN of the backend's own SQL), and exact
//!   namespaces (flat, or more than 2000 dimensions) really scan;
//! - a bulk load of 100,000 × 384 vectors through the binary COPY path;
//! - a private server (started here from the binaries in `VTIER_PG_BIN_DIR`, which
//!   `cargo xtask` unpacks) stopped mid-test gives `Unavailable` quickly, and the same backend
//!   object works again after a restart with every acknowledged write still there.
//!
//! Without `PG_CONNECTION_STRING` (or, for the restart test, `VTIER_PG_BIN_DIR`) the tests are
//! listed as ignored with the reason, unless `VTIER_REQUIRE` names `pgvector` or `all`: then
//! the run fails.

#![allow(clippy::print_stderr)] // Reporting "not run" on the terminal is the point.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use vector_backend::synth::SplitMix64;
use vector_backend::{
    ErrorKind, FieldType, Filter, IndexKind, Metadata, Metric, NamespaceConfig, OpenBackend,
    QueryRequest, Record, VectorBackend,
};
use vector_pgvector::PgVectorBackend;

fn required() -> bool {
    vector_backend::conformance::required("pgvector")
}

fn server_url() -> Option<String> {
    std::env::var("PG_CONNECTION_STRING")
        .ok()
        .filter(|u| !u.is_empty())
}

fn bin_dir() -> Option<PathBuf> {
    std::env::var_os("VTIER_PG_BIN_DIR")
        .map(PathBuf::from)
        .filter(|p| Path::new(p).join("pg_ctl").exists())
}

fn unique_ns(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("vtlive_{prefix}_{}_{nanos}", std::process::id())
}

fn meta(i: usize) -> Metadata {
    json!({"i": i, "half": i as f64 / 2.0, "tag": format!("t{}", i % 7)})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// The plan PostgreSQL chooses for the backend's own kNN SQL, with the backend's query-time
/// settings.
async fn explain(b: &PgVectorBackend, ns: &str, q: &[f32]) -> String {
    let sql = b
        .knn_sql(ns, false)
        .await
        .unwrap()
        .expect("namespace exists");
    let mut client = b.pool().get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    tx.batch_execute("SET LOCAL hnsw.ef_search = 400")
        .await
        .unwrap();
    let v = pgvector::Vector::from(q.to_vec());
    let rows = tx
        .query(&format!("EXPLAIN {sql}"), &[&v, &26_i64])
        .await
        .unwrap();
    let plan: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    tx.rollback().await.unwrap();
    plan.join("\n")
}

async fn hnsw_index_is_used_and_exact_namespaces_scan(url: String, _bin: Option<PathBuf>) {
    let b = PgVectorBackend::open(&url).await.unwrap();
    let mut rng = SplitMix64::new(42);
    let dim = 32;
    let hnsw = unique_ns("hnsw");
    let flat = unique_ns("flat");
    let wide = unique_ns("wide");
    let cfg = NamespaceConfig::new(dim).with_field("tag", FieldType::Keyword);
    b.create_namespace(&hnsw, &cfg).await.unwrap();
    b.create_namespace(
        &flat,
        &NamespaceConfig::new(dim).with_index(IndexKind::Flat),
    )
    .await
    .unwrap();
    // Big enough that the planner prefers the index at the backend's ef_search (400); on a few
    // thousand rows an exact scan is cheaper, and PostgreSQL rightly picks it.
    let records: Vec<Record> = (0..30_000)
        .map(|i| Record::new(format!("k{i:05}"), rng.vector(dim), meta(i)))
        .collect();
    b.upsert_batch(&hnsw, records.clone()).await.unwrap();
    b.upsert_batch(&flat, records.clone()).await.unwrap();
    let table = b.table_name(&hnsw).await.unwrap().unwrap();
    let client = b.pool().get().await.unwrap();
    client
        .batch_execute(&format!("ANALYZE {table}"))
        .await
        .unwrap();
    drop(client);

    let q = rng.vector(dim);
    let plan = explain(&b, &hnsw, &q).await;
    assert!(
        plan.contains("Index Scan using") && plan.contains("_hnsw"),
        "HNSW index not used:\n{plan}"
    );
    let plan = explain(&b, &flat, &q).await;
    assert!(
        !plan.contains("_hnsw") && plan.contains("Seq Scan"),
        "flat namespace must scan:\n{plan}"
    );

    // Above 2000 dimensions (pgvector's HNSW limit) the auto index is an exact scan, and an
    // explicit HNSW request is refused rather than silently downgraded.
    b.upsert(&wide, "w", rng.vector(2500), Metadata::new())
        .await
        .unwrap();
    let plan = explain(&b, &wide, &rng.vector(2500)).await;
    assert!(
        plan.contains("Seq Scan") && !plan.contains("_hnsw"),
        "{plan}"
    );
    let e = b
        .create_namespace(
            &unique_ns("toowide"),
            &NamespaceConfig::new(2500).with_index(IndexKind::Hnsw),
        )
        .await;
    assert_eq!(e.unwrap_err().kind(), ErrorKind::Unsupported);

    // The HNSW namespace answers like the exact one on an in-distribution query.
    let q = records[1234].embedding.clone();
    let a = b.query(&hnsw, &q, 10, None).await.unwrap();
    let e = b.query(&flat, &q, 10, None).await.unwrap();
    assert_eq!(a.first().map(|h| h.key.as_str()), Some("k01234"));
    let exact: Vec<&str> = e.iter().map(|h| h.key.as_str()).collect();
    let found = a.iter().filter(|h| exact.contains(&h.key.as_str())).count();
    assert!(found >= 9, "recall@10 {found}/10 on 30000 × 32");

    // A filtered HNSW query (iterative scan) returns exactly the filtered top-k of the exact scan.
    let f = Filter::eq("tag", "t3");
    let got = b
        .search(
            &hnsw,
            &QueryRequest::new(q.clone(), 10).with_filter(f.clone()),
        )
        .await
        .unwrap();
    let mut want: Vec<(f64, &str)> = records
        .iter()
        .filter(|r| f.matches(&r.metadata))
        .map(|r| {
            (
                vector_backend::score::reference(Metric::Cosine, &q, &r.embedding).score,
                r.key.as_str(),
            )
        })
        .collect();
    want.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let want: Vec<&str> = want.iter().take(10).map(|w| w.1).collect();
    let got_keys: Vec<&str> = got.iter().map(|h| h.key.as_str()).collect();
    let overlap = got_keys.iter().filter(|k| want.contains(k)).count();
    assert!(
        got.len() == 10 && overlap >= 9,
        "filtered HNSW top-10 {got_keys:?} vs exact {want:?}"
    );

    for ns in [&hnsw, &flat, &wide] {
        b.drop_namespace(ns).await.unwrap();
    }
}

async fn bulk_load_100k_x_384_through_copy(url: String, _bin: Option<PathBuf>) {
    let b = PgVectorBackend::open(&url).await.unwrap();
    let ns = unique_ns("bulk");
    // Flat: building an HNSW graph over 100k × 384 takes minutes on two cores; index use is
    // tested above on a smaller set. This test is about the COPY path.
    let dim = 384;
    let n = 100_000;
    b.create_namespace(&ns, &NamespaceConfig::new(dim).with_index(IndexKind::Flat))
        .await
        .unwrap();
    let mut rng = SplitMix64::new(7);
    let started = Instant::now();
    let mut spot = Vec::new();
    for chunk in 0..10 {
        let records: Vec<Record> = (chunk * 10_000..(chunk + 1) * 10_000)
            .map(|i| Record::new(format!("doc/{i:06}"), rng.vector(dim), meta(i)))
            .collect();
        spot.push(records[(chunk * 3_331) % 10_000].clone());
        b.upsert_batch(&ns, records).await.unwrap();
    }
    eprintln!("bulk load of {n} × {dim}: {:.1?}", started.elapsed());
    assert_eq!(b.count(&ns, None).await.unwrap(), n as u64);
    let keys: Vec<String> = spot.iter().map(|r| r.key.clone()).collect();
    let got = b.get_batch(&ns, &keys).await.unwrap();
    for (r, g) in spot.iter().zip(got) {
        let g = g.unwrap_or_else(|| panic!("{} missing", r.key));
        assert_eq!(g.embedding, r.embedding, "{}", r.key);
        assert_eq!(g.metadata, r.metadata, "{}", r.key);
    }
    let hits = b.query(&ns, &spot[4].embedding, 3, None).await.unwrap();
    assert_eq!(hits[0].key, spot[4].key);
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    // Re-loading a chunk replaces records instead of duplicating them.
    let again: Vec<Record> = (0..1000)
        .map(|i| Record::new(format!("doc/{i:06}"), vec![0.5; dim], meta(i + 1)))
        .collect();
    b.upsert_batch(&ns, again).await.unwrap();
    assert_eq!(b.count(&ns, None).await.unwrap(), n as u64);
    assert_eq!(
        b.get(&ns, "doc/000999").await.unwrap().unwrap().metadata,
        meta(1000)
    );
    b.drop_namespace(&ns).await.unwrap();
}

/// A private PostgreSQL from the binaries the xtask unpacked, stopped and deleted on drop.
struct PrivateServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivateServer {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn init(bin: PathBuf) -> Self {
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("vtier-pg-live-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if as_postgres {
            assert!(
                Command::new("chown")
                    .args(["postgres"])
                    .arg(&dir)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let s = Self {
            bin,
            dir,
            port,
            as_postgres,
        };
        let ok = s
            .command("initdb")
            .arg("-D")
            .arg(s.data())
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "initdb failed");
        s
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=50",
            self.port,
            self.dir.display()
        );
        let ok = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-o")
            .arg(opts)
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(
            ok.success(),
            "pg_ctl start failed: {}",
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    /// An immediate stop is a crash as far as the server is concerned: what survives it was
    /// really committed.
    fn stop(&self, mode: &str) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["stop", "-m", mode, "-w", "-t", "60"])
            .stdout(std::process::Stdio::null())
            .status();
    }

    fn url(&self) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/postgres?connect_timeout=2&pool_size=4",
            self.port
        )
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn server_down_is_unavailable_and_backend_recovers(_url: String, bin: Option<PathBuf>) {
    let bin = bin.expect("the harness runs this test only with VTIER_PG_BIN_DIR");
    let server = PrivateServer::init(bin);
    server.start();
    let b = PgVectorBackend::open(&server.url()).await.unwrap();
    assert!(b.health_check().await);
    let ns = "recover";
    let mut rng = SplitMix64::new(3);
    let mut acknowledged: Vec<Record> = (0..400)
        .map(|i| Record::new(format!("a{i:03}"), rng.vector(8), meta(i)))
        .collect();
    b.upsert_batch(ns, acknowledged.clone()).await.unwrap(); // COPY path
    for i in 0..5 {
        let r = Record::new(format!("single{i}"), rng.vector(8), meta(i));
        b.upsert(ns, &r.key, r.embedding.clone(), r.metadata.clone())
            .await
            .unwrap();
        acknowledged.push(r);
    }

    server.stop("immediate");
    let q = rng.vector(8);
    for attempt in 0..3 {
        let started = Instant::now();
        let errors = [
            b.get(ns, "a001").await.err(),
            b.query(ns, &q, 5, None).await.err(),
            b.upsert(ns, "lost", rng.vector(8), Metadata::new())
                .await
                .err(),
            b.count(ns, None).await.err(),
            b.list_namespaces().await.err(),
        ];
        for e in errors {
            let e = e.unwrap_or_else(|| {
                panic!("attempt {attempt}: an operation succeeded with the server down")
            });
            assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
            assert!(
                e.to_string().starts_with("PostgreSQL pool not available"),
                "{e}"
            );
        }
        assert!(!b.health_check().await);
        // Not a benchmark: a hang check. Five operations and a health check against a dead
        // port with connect_timeout=2 must not take anywhere near a minute.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
    }

    server.start();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !b.health_check().await {
        assert!(
            Instant::now() < deadline,
            "backend did not recover after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(b.count(ns, None).await.unwrap(), acknowledged.len() as u64);
    let keys: Vec<String> = acknowledged.iter().map(|r| r.key.clone()).collect();
    let got = b.get_batch(ns, &keys).await.unwrap();
    for (r, g) in acknowledged.iter().zip(got) {
        let g = g.unwrap_or_else(|| panic!("acknowledged write {} lost", r.key));
        assert_eq!(
            (g.embedding, g.metadata),
            (r.embedding.clone(), r.metadata.clone())
        );
    }
    assert!(b.get(ns, "lost").await.unwrap().is_none());
    b.upsert(ns, "after", rng.vector(8), Metadata::new())
        .await
        .unwrap();
    assert_eq!(b.query(ns, &q, 3, None).await.unwrap().len(), 3);
    b.close().await;
}

type LiveTest = fn(String, Option<PathBuf>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let url = server_url();
    let bin = bin_dir();
    let tests: [(&str, bool, LiveTest); 3] = [
        (
            "hnsw_index_is_used_and_exact_namespaces_scan",
            false,
            |u, b| Box::pin(hnsw_index_is_used_and_exact_namespaces_scan(u, b)),
        ),
        ("bulk_load_100k_x_384_through_copy", false, |u, b| {
            Box::pin(bulk_load_100k_x_384_through_copy(u, b))
        }),
        (
            "server_down_is_unavailable_and_backend_recovers",
            true,
            |u, b| Box::pin(server_down_is_unavailable_and_backend_recovers(u, b)),
        ),
    ];
    let mut missing = Vec::new();
    let trials = tests
        .into_iter()
        .map(|(name, needs_bin, test)| {
            let reason = match (&url, needs_bin && bin.is_none()) {
                (None, _) => Some("PG_CONNECTION_STRING unset"),
                (Some(_), true) => Some("VTIER_PG_BIN_DIR unset (cargo xtask sets it)"),
                _ => None,
            };
            if let Some(r) = reason {
                eprintln!("live[pgvector]: {name}: not run: {r}");
                missing.push(format!("{name}: {r}"));
            }
            let (url, bin) = (url.clone().unwrap_or_default(), bin.clone());
            Trial::test(name, move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| Failed::from(format!("runtime: {e}")))?;
                rt.block_on(test(url, bin));
                Ok(())
            })
            .with_ignored_flag(reason.is_some())
        })
        .collect();
    if required() && !missing.is_empty() {
        eprintln!(
            "live[pgvector]: FAILED: required by VTIER_REQUIRE but {}",
            missing.join("; ")
        );
        return ExitCode::FAILURE;
    }
    libtest_mimic::run(&args, trials).exit_code()
}
