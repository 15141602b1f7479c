//! `vtier export`, `import` and `migrate`: the built binary against the Weaviate emulator and
//! the live servers named by the environment, and the library functions in-process (a
//! `memory://` backend lives only inside one process).
//!
//! Live servers: `REDIS_URL`, `PG_CONNECTION_STRING` (and `WEAVIATE_URL`, else the in-process
//! emulator). When one is unset its tests print "not run: ... unset" and return, unless
//! `VTIER_REQUIRE` names the backend (`redis`, `pgvector`, `weaviate`) or `all`.

#![allow(clippy::print_stdout)] // "not run: ..." lines say which live tests were skipped.

use std::path::Path;
use std::process::{Command, Output};

use futures_util::StreamExt as _;
use serde_json::json;
use vector_tier::VectorBackendExt as _;
use vector_tier::{
    DynBackend, FieldType, IndexKind, Metadata, Metric, NamespaceConfig, Record, ScanRequest,
};
use vtier::import::{ImportOptions, import_file};
use vtier::migrate::{MigrateOptions, migrate};
use vtier::{Error, OnExisting, Progress};

fn vtier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtier"))
        .args(args)
        .output()
        .expect("run vtier")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The URL of a live backend from the environment, or None after printing "not run"
/// (a panic when VTIER_REQUIRE asks for it).
fn live(var: &str, name: &str) -> Option<String> {
    vector_backend::conformance::live_url(module_path!(), var, name)
}

/// WEAVIATE_URL as a facade URL, or a fresh in-process emulator (kept alive by the guard).
fn weaviate() -> (String, Option<weaviate_emulator::Emulator>) {
    if let Some(url) = std::env::var("WEAVIATE_URL").ok().filter(|v| !v.is_empty()) {
        let url = if url.starts_with("weaviate+") {
            url
        } else {
            format!("weaviate+{url}")
        };
        return (url, None);
    }
    let emulator =
        weaviate_emulator::Emulator::start_in_thread(weaviate_emulator::EmulatorOptions::default())
            .expect("start the Weaviate emulator");
    (format!("weaviate+{}", emulator.url()), Some(emulator))
}

/// A namespace name no other test run uses (the live servers are shared).
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}_{:x}_{}",
        nanos & 0xffff_ffff_ffff,
        std::process::id()
    )
}

fn meta(v: serde_json::Value) -> Metadata {
    v.as_object().unwrap().clone()
}

/// Records whose embeddings and metadata are easy to damage in transit: values that need all
/// 9 significant digits, negative zero, tiny and huge magnitudes; unicode, nested JSON,
/// floats, large integers, arrays.
fn tricky_records(n: usize, dim: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let mut e: Vec<f32> = (0..dim)
                .map(|j| ((i * 31 + j * 7) % 97) as f32 / 97.0 - 0.5)
                .collect();
            e[0] = 0.1 + i as f32 * 1e-3;
            if dim > 3 {
                e[1] = -0.0;
                e[2] = 1.000_000_1e-30;
                e[3] = 3.402_823e38 / 1e10;
            }
            let metadata = meta(json!({
                "lang": if i % 2 == 0 { "en" } else { "fr" },
                "score": i as f64 * 0.1,
                "big": 9_007_199_254_740_993u64,
                "neg": -17,
                "ok": i % 3 == 0,
                "tags": ["a", "b\"quoted\"", "ü∑"],
                "nested": {"x": [1, 2.5, null], "title": format!("Dokument №{i} — «vecteur»")},
            }));
            Record::new(format!("key-{i:04}/ü"), e, metadata)
        })
        .collect()
}

fn config(dim: usize) -> NamespaceConfig {
    NamespaceConfig::new(dim)
        .with_metric(Metric::Euclidean)
        .with_index(IndexKind::Flat)
        .with_field("lang", FieldType::Keyword)
        .with_field("score", FieldType::Number)
        .with_field("ok", FieldType::Bool)
}

async fn open(url: &str) -> DynBackend {
    vector_tier::open(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

async fn seed(backend: &DynBackend, ns: &str, config: &NamespaceConfig, records: Vec<Record>) {
    backend.create_namespace(ns, config).await.unwrap();
    for chunk in records.chunks(100) {
        backend.upsert_batch(ns, chunk.to_vec()).await.unwrap();
    }
}

/// Config and every record in key order.
async fn snapshot(backend: &DynBackend, ns: &str) -> (NamespaceConfig, Vec<Record>) {
    let info = backend
        .namespace_info(ns)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{ns} missing"));
    let mut records = Vec::new();
    let mut pages = backend.scan(ns, ScanRequest::new(100));
    while let Some(page) = pages.next().await {
        records.extend(page.unwrap());
    }
    (info.config, records)
}

/// Exact equality, embeddings compared bit by bit (so -0.0 differs from 0.0).
fn assert_same(a: &(NamespaceConfig, Vec<Record>), b: &(NamespaceConfig, Vec<Record>), what: &str) {
    assert_eq!(a.0, b.0, "{what}: config");
    assert_eq!(a.1.len(), b.1.len(), "{what}: record count");
    for (x, y) in a.1.iter().zip(&b.1) {
        assert_eq!(x.key, y.key, "{what}: keys");
        let bits = |e: &[f32]| e.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
        assert_eq!(
            bits(&x.embedding),
            bits(&y.embedding),
            "{what}: embedding of {:?}",
            x.key
        );
        assert_eq!(x.metadata, y.metadata, "{what}: metadata of {:?}", x.key);
    }
}

#[test]
fn help_describes_every_command() {
    let top = vtier(&["--help"]);
    assert!(top.status.success());
    let top = text(&top.stdout);
    for cmd in ["serve", "bench", "export", "import", "migrate"] {
        assert!(top.contains(cmd), "vtier --help lacks {cmd}:\n{top}");
    }
    let cases: [(&str, &[&str]); 4] = [
        (
            "export",
            &[
                "--url",
                "--namespace",
                "--output",
                "--force",
                "--page-size",
                "--quiet",
                "Example",
            ],
        ),
        (
            "import",
            &[
                "--url",
                "--input",
                "--namespace",
                "--on-existing",
                "fail",
                "merge",
                "replace",
                "--batch-size",
                "--concurrency",
            ],
        ),
        (
            "migrate",
            &[
                "--from",
                "--to",
                "--namespace",
                "--on-existing",
                "--verify-records",
                "--verify-queries",
                "-k",
            ],
        ),
        (
            "bench",
            &[
                "--url",
                "--all-configured",
                "--dataset",
                "--base",
                "--query-file",
                "--ground-truth",
                "--json",
                "--concurrency",
                "--metric",
                "--index",
                "--quiet",
            ],
        ),
    ];
    for (cmd, flags) in cases {
        let out = vtier(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd} --help failed");
        let help = text(&out.stdout);
        for flag in flags {
            assert!(
                help.contains(flag),
                "vtier {cmd} --help lacks {flag}:\n{help}"
            );
        }
    }
}

#[tokio::test]
async fn export_then_import_in_memory_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ns.jsonl");
    let a = open("memory://").await;
    seed(&a, "docs", &config(16), tricky_records(250, 16)).await;
    let report = vtier::export::export_namespace(&*a, "docs", &file, 64, Progress::hidden())
        .await
        .unwrap();
    assert_eq!(report.trailer.count, 250);
    let header = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let header: serde_json::Value = serde_json::from_str(&header).unwrap();
    assert_eq!(header["format"], "vtier-namespace");
    assert_eq!(header["version"], 1);
    assert_eq!(header["dimension"], 16);
    assert_eq!(header["metric"], "euclidean");
    assert_eq!(header["index"], "flat");
    assert_eq!(header["filterable"]["lang"], "keyword");
    assert_eq!(header["count"], 250);

    let b = open("memory://").await;
    let options = ImportOptions::default();
    let imported = import_file(&*b, &file, Some("restored"), options)
        .await
        .unwrap();
    assert_eq!((imported.written, imported.count_after), (250, 250));
    let (ca, ra) = snapshot(&a, "docs").await;
    let (cb, rb) = snapshot(&b, "restored").await;
    assert_same(&(ca, ra), &(cb, rb), "memory -> file -> memory");
    // The same file again: refused by default, merged or replaced on request.
    let again = import_file(&*b, &file, Some("restored"), options)
        .await
        .unwrap_err();
    assert!(
        matches!(again, Error::NotEmpty { count: 250, .. }),
        "{again}"
    );
    let merged = import_file(
        &*b,
        &file,
        Some("restored"),
        options.with_on_existing(OnExisting::Merge),
    )
    .await
    .unwrap();
    assert_eq!((merged.existing, merged.count_after), (250, 250));
    b.delete("restored", "key-0000/ü").await.unwrap();
    b.upsert("restored", "extra", vec![1.0; 16], Metadata::new())
        .await
        .unwrap();
    let replaced = import_file(
        &*b,
        &file,
        Some("restored"),
        options.with_on_existing(OnExisting::Replace),
    )
    .await
    .unwrap();
    assert_eq!(replaced.count_after, 250);
    assert_same(
        &snapshot(&a, "docs").await,
        &snapshot(&b, "restored").await,
        "after replace",
    );
}

/// A change to a file's lines.
type Edit = Box<dyn FnOnce(&mut Vec<String>)>;

/// Rewrites the file at `path` with `edit` applied to its lines.
fn edit_lines(path: &Path, to: &Path, edit: impl FnOnce(&mut Vec<String>)) {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    edit(&mut lines);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(to, text).unwrap();
}

#[tokio::test]
async fn corrupt_or_truncated_files_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    let a = open("memory://").await;
    seed(&a, "docs", &config(8), tricky_records(40, 8)).await;
    vtier::export::export_namespace(&*a, "docs", &good, 1000, Progress::hidden())
        .await
        .unwrap();

    let cases: Vec<(&str, Edit, &str)> = vec![
        // One base64 character of an embedding changed: still valid base64 of the right
        // length, so only the checksum catches it.
        (
            "flipped",
            Box::new(|l: &mut Vec<String>| {
                let line = &mut l[5];
                let at = line.find("\"embedding\":\"").unwrap() + 14;
                let c = if &line[at..=at] == "A" { "B" } else { "A" };
                line.replace_range(at..=at, c);
            }),
            "checksum mismatch",
        ),
        (
            "metadata",
            Box::new(|l: &mut Vec<String>| {
                l[7] = l[7].replace("\"en\"", "\"de\"").replace("\"fr\"", "\"de\"");
            }),
            "checksum mismatch",
        ),
        (
            "truncated",
            Box::new(|l: &mut Vec<String>| {
                l.truncate(20);
            }),
            "truncated",
        ),
        (
            "no trailer",
            Box::new(|l: &mut Vec<String>| {
                l.pop();
            }),
            "truncated",
        ),
        (
            "dropped line",
            Box::new(|l: &mut Vec<String>| {
                l.remove(3);
            }),
            "trailer says 40 records but the file holds 39",
        ),
        (
            "bad json",
            Box::new(|l: &mut Vec<String>| {
                l[2] = "{\"key\":".to_owned();
            }),
            "line 3",
        ),
        (
            "short embedding",
            Box::new(|l: &mut Vec<String>| {
                let v: serde_json::Value = serde_json::from_str(&l[4]).unwrap();
                l[4] = serde_json::to_string(
                    &json!({"key": v["key"], "embedding": "AAAAAA==", "metadata": {}}),
                )
                .unwrap();
            }),
            "expected 32",
        ),
        (
            "foreign",
            Box::new(|l: &mut Vec<String>| {
                l[0] = "{\"hello\":1}".to_owned();
            }),
            "not a vtier namespace file",
        ),
        (
            "future version",
            Box::new(|l: &mut Vec<String>| {
                l[0] = l[0].replace("\"version\":1", "\"version\":99");
            }),
            "version 99 is not supported",
        ),
    ];
    let b = open("memory://").await;
    for (name, edit, expected) in cases {
        let bad = dir.path().join(format!("{}.jsonl", name.replace(' ', "_")));
        edit_lines(&good, &bad, edit);
        let err = import_file(&*b, &bad, Some("target"), ImportOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(expected), "{name}: {err}");
        assert!(
            b.namespace_info("target").await.unwrap().is_none(),
            "{name}: something was written"
        );

        // The binary says the same and fails.
        let out = vtier(&[
            "import",
            "--url",
            "memory://",
            "--input",
            bad.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(!out.status.success(), "{name}: vtier import succeeded");
        assert!(
            text(&out.stderr).contains(expected),
            "{name}: {}",
            text(&out.stderr)
        );
    }
    // And the untouched file imports.
    let out = vtier(&[
        "import",
        "--url",
        "memory://",
        "--input",
        good.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("verified 40 records"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn import_refuses_a_conflicting_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ns.jsonl");
    let a = open("memory://").await;
    seed(&a, "docs", &config(8), tricky_records(10, 8)).await;
    vtier::export::export_namespace(&*a, "docs", &file, 1000, Progress::hidden())
        .await
        .unwrap();

    let b = open("memory://").await;
    let other = [
        NamespaceConfig::new(8),                           // metric and fields differ
        config(8).with_metric(Metric::Cosine),             // metric differs
        config(8).with_index(IndexKind::Auto),             // index differs
        config(8).with_field("extra", FieldType::Keyword), // fields differ
        NamespaceConfig::new(4).with_metric(Metric::Euclidean), // dimension differs
    ];
    for (i, cfg) in other.iter().enumerate() {
        let ns = format!("existing{i}");
        b.create_namespace(&ns, cfg).await.unwrap();
        b.upsert(&ns, "keep", vec![0.5; cfg.dimension], Metadata::new())
            .await
            .unwrap();
        for on_existing in [OnExisting::Fail, OnExisting::Merge, OnExisting::Replace] {
            let options = ImportOptions::default().with_on_existing(on_existing);
            let err = import_file(&*b, &file, Some(&ns), options)
                .await
                .unwrap_err();
            assert!(matches!(err, Error::ConfigConflict { .. }), "{ns}: {err:?}");
            assert!(err.to_string().contains("different configuration"), "{err}");
        }
        assert_eq!(b.count(&ns, None).await.unwrap(), 1, "{ns} was changed");
    }
}

#[tokio::test]
async fn export_of_a_missing_namespace_fails_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("none.jsonl");
    let a = open("memory://").await;
    let err = vtier::export::export_namespace(&*a, "absent", &file, 1000, Progress::hidden())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchNamespace { .. }), "{err:?}");
    assert!(!file.exists());
    let out = vtier(&[
        "export",
        "--url",
        "memory://",
        "--namespace",
        "absent",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
}

/// The binary's export and import against a server: the Weaviate emulator (always) and the
/// live servers of the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_export_import_against_servers() {
    let (weaviate_url, _guard) = weaviate();
    let mut urls = vec![weaviate_url];
    urls.extend(live("REDIS_URL", "redis"));
    urls.extend(live("PG_CONNECTION_STRING", "pgvector"));
    let dir = tempfile::tempdir().unwrap();
    for url in urls {
        let backend = open(&url).await;
        let (src, dst) = (unique("vtier_cli_src"), unique("vtier_cli_dst"));
        seed(&backend, &src, &config(8), tricky_records(120, 8)).await;
        let file = dir.path().join(format!("{}.jsonl", backend.backend_type()));
        let f = file.to_str().unwrap();
        let export = vtier(&[
            "export",
            "--url",
            &url,
            "--namespace",
            &src,
            "--output",
            f,
            "--quiet",
        ]);
        let export_again = vtier(&["export", "--url", &url, "--namespace", &src, "--output", f]);
        let import = vtier(&[
            "import",
            "--url",
            &url,
            "--input",
            f,
            "--namespace",
            &dst,
            "--quiet",
        ]);
        let import_over_source = vtier(&["import", "--url", &url, "--input", f, "--quiet"]);
        let same = (
            snapshot(&backend, &src).await,
            snapshot(&backend, &dst).await,
        );
        backend.drop_namespace(&src).await.unwrap();
        backend.drop_namespace(&dst).await.unwrap();
        assert!(
            export.status.success(),
            "{url}: export: {}",
            text(&export.stderr)
        );
        assert!(
            text(&export.stdout).contains("exported 120 records"),
            "{}",
            text(&export.stdout)
        );
        // Not over an existing file without --force.
        assert!(!export_again.status.success() && text(&export_again.stderr).contains("--force"));
        assert!(
            import.status.success(),
            "{url}: import: {}",
            text(&import.stderr)
        );
        // Into the source itself: it exists and holds records.
        let stderr = text(&import_over_source.stderr);
        assert!(
            !import_over_source.status.success() && stderr.contains("already holds 120 records"),
            "{stderr}"
        );
        assert_same(&same.0, &same.1, &format!("{url}: export -> import"));
    }
}

/// `vtier migrate` between two servers (two Weaviate emulators, or the live servers), with
/// the verification it prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_migrate_between_servers_verifies() {
    let (from_url, _g1) = weaviate();
    let (to_url, _g2) = match (
        live("REDIS_URL", "redis"),
        std::env::var("WEAVIATE_URL").ok().filter(|v| !v.is_empty()),
    ) {
        (Some(redis), _) => (redis, None),
        (None, None) => weaviate(),
        (None, Some(_)) => {
            println!("not run: REDIS_URL unset and WEAVIATE_URL is the only server");
            return;
        }
    };
    let from = open(&from_url).await;
    let to = open(&to_url).await;
    let (a, b) = (unique("vtier_mig_a"), unique("vtier_mig_b"));
    seed(&from, &a, &config(8), tricky_records(300, 8)).await;
    seed(
        &from,
        &b,
        &NamespaceConfig::new(4),
        (0..30)
            .map(|i| {
                Record::new(
                    format!("{i}"),
                    vec![1.0, i as f32, 0.5, -2.0],
                    Metadata::new(),
                )
            })
            .collect(),
    )
    .await;
    let out = vtier(&[
        "migrate",
        "--from",
        &from_url,
        "--to",
        &to_url,
        "--namespace",
        &a,
        "--namespace",
        &b,
        "--quiet",
    ]);
    let stdout = text(&out.stdout);
    let again = vtier(&[
        "migrate",
        "--from",
        &from_url,
        "--to",
        &to_url,
        "--namespace",
        &a,
        "--quiet",
    ]);
    let snaps = [
        snapshot(&from, &a).await,
        snapshot(&to, &a).await,
        snapshot(&from, &b).await,
        snapshot(&to, &b).await,
    ];
    for ns in [&a, &b] {
        from.drop_namespace(ns).await.unwrap();
        to.drop_namespace(ns).await.unwrap();
    }
    assert!(
        out.status.success(),
        "migrate failed: {stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("copied 300 records") && stdout.contains("copied 30 records"),
        "{stdout}"
    );
    assert!(
        stdout.contains("source 300, target 300 (equal)"),
        "{stdout}"
    );
    assert!(stdout.contains("100 sampled keys compared"), "{stdout}");
    assert!(stdout.contains("5 sampled queries"), "{stdout}");
    assert_eq!(stdout.matches("verified: OK").count(), 2, "{stdout}");
    assert!(
        !again.status.success() && text(&again.stderr).contains("already holds 300 records"),
        "{}",
        text(&again.stderr)
    );
    assert_same(&snaps[0], &snaps[1], "migrated a");
    assert_same(&snaps[2], &snaps[3], "migrated b");
}

#[tokio::test]
async fn migrate_refuses_conflicts_before_copying_anything() {
    let from = open("memory://").await;
    let to = open("memory://").await;
    seed(&from, "a", &config(8), tricky_records(20, 8)).await;
    seed(&from, "b", &config(8), tricky_records(20, 8)).await;
    to.create_namespace("b", &NamespaceConfig::new(8))
        .await
        .unwrap();
    let err = migrate(&*from, &*to, &[], MigrateOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ConfigConflict { ref namespace, .. } if namespace == "b"),
        "{err:?}"
    );
    assert!(
        to.namespace_info("a").await.unwrap().is_none(),
        "a was copied before the conflict was found"
    );
    // Without the conflict everything is copied and verified.
    to.drop_namespace("b").await.unwrap();
    let reports = migrate(&*from, &*to, &[], MigrateOptions::default())
        .await
        .unwrap();
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(r.failures.is_empty(), "{r}");
        assert!(
            r.both_exact && r.queries_checked == 5 && r.records_checked == 20,
            "{r}"
        );
    }
    // A target changed after the copy: merging the source again restores it, verified.
    to.upsert("a", "key-0003/ü", vec![0.25; 8], Metadata::new())
        .await
        .unwrap();
    let options = MigrateOptions::default().with_on_existing(OnExisting::Merge);
    let reports = migrate(&*from, &*to, &["a".to_owned()], options)
        .await
        .unwrap();
    assert!(reports[0].failures.is_empty(), "{}", reports[0]);
    assert_same(
        &snapshot(&from, "a").await,
        &snapshot(&to, "a").await,
        "after merge",
    );
}

/// memory → redis → pgvector → weaviate → memory ends identical to the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_memory_redis_pgvector_weaviate_memory() {
    let Some(redis) = live("REDIS_URL", "redis") else {
        return;
    };
    let Some(pg) = live("PG_CONNECTION_STRING", "pgvector") else {
        return;
    };
    let (weaviate_url, _guard) = weaviate();
    let ns = unique("vtier_round_trip");
    let start = open("memory://").await;
    seed(&start, &ns, &config(24), tricky_records(1500, 24)).await;
    let before = snapshot(&start, &ns).await;
    let hops = [
        open(&redis).await,
        open(&pg).await,
        open(&weaviate_url).await,
    ];
    let mut previous = start.clone();
    let mut failure = None;
    for hop in &hops {
        match migrate(
            &*previous,
            &**hop,
            std::slice::from_ref(&ns),
            MigrateOptions::default(),
        )
        .await
        {
            Ok(reports) if reports[0].failures.is_empty() => {}
            Ok(reports) => {
                failure = Some(format!(
                    "{} -> {}: {}",
                    previous.backend_type(),
                    hop.backend_type(),
                    reports[0]
                ))
            }
            Err(e) => {
                failure = Some(format!(
                    "{} -> {}: {e}",
                    previous.backend_type(),
                    hop.backend_type()
                ))
            }
        }
        if failure.is_some() {
            break;
        }
        previous = hop.clone();
    }
    // The last hop, weaviate -> memory, goes through a file: export and import.
    let end = open("memory://").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("round_trip.jsonl");
    if failure.is_none() {
        let copied = async {
            vtier::export::export_namespace(&*hops[2], &ns, &file, 500, Progress::hidden()).await?;
            import_file(&*end, &file, None, ImportOptions::default()).await
        };
        if let Err(e) = copied.await {
            failure = Some(format!("weaviate -> file -> memory: {e}"));
        }
    }
    let after = if failure.is_none() {
        Some(snapshot(&end, &ns).await)
    } else {
        None
    };
    for hop in &hops {
        let _ = hop.drop_namespace(&ns).await;
    }
    if let Some(f) = failure {
        panic!("round trip failed: {f}");
    }
    assert_same(
        &before,
        &after.unwrap(),
        "memory -> redis -> pgvector -> weaviate -> file -> memory",
    );
}
