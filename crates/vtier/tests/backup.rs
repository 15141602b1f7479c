//! `vtier backup` / `vtier restore`: back up a backend, wipe it, restore, and compare every
//! record (bit-exact embeddings, metadata, configurations); then a second backup must equal
//! the first (same count and SHA-256 per namespace). In-process on the memory backend (all of
//! its namespaces); on the Weaviate emulator; on the live Redis and PostgreSQL servers named
//! by `REDIS_URL` and `PG_CONNECTION_STRING` (namespaces of this run only, selected by prefix,
//! since those servers are shared with other tests), required when `VTIER_REQUIRE` says so.
//! Also the CLI, the refusal of a corrupt backup before anything is written, and `--keep`.

#![allow(clippy::print_stdout)] // "not run: ..." lines say which live tests were skipped.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::json;
use vector_tier::{DynBackend, FieldType, IndexKind, Metric, NamespaceConfig, Record};
use vtier::backup::{Manifest, RestoreOptions, backup, prune, read_manifest, restore};
use vtier::{Error, OnExisting, Progress};

fn live(var: &str, name: &str) -> Option<String> {
    vector_backend::conformance::live_url(module_path!(), var, name)
}

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

/// Records that are easy to damage in transit (see cli_transfer.rs).
fn records(n: usize, dim: usize, salt: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let mut e: Vec<f32> = (0..dim)
                .map(|j| ((i * 31 + j * 7 + salt * 13) % 97) as f32 / 97.0 - 0.5)
                .collect();
            e[0] = 0.1 + i as f32 * 1e-3;
            if dim > 3 {
                e[1] = -0.0;
                e[2] = 1.000_000_1e-30;
            }
            let metadata = json!({
                "lang": if i % 2 == 0 { "en" } else { "fr" },
                "score": i as f64 * 0.1,
                "big": 9_007_199_254_740_993u64,
                "tags": ["a", "b\"q\"", "ü∑"],
                "nested": {"x": [1, 2.5, null], "title": format!("Dokument №{i}")},
            });
            Record::new(
                format!("key-{i:04}/ü"),
                e,
                metadata.as_object().unwrap().clone(),
            )
        })
        .collect()
}

/// Three namespaces under `prefix`: flat euclidean with filterable fields, an empty cosine
/// one, and a dot-product one with the backend's default index.
fn fixture(prefix: &str) -> Vec<(String, NamespaceConfig, Vec<Record>)> {
    vec![
        (
            format!("{prefix}_flat"),
            NamespaceConfig::new(8)
                .with_metric(Metric::Euclidean)
                .with_index(IndexKind::Flat)
                .with_field("lang", FieldType::Keyword)
                .with_field("score", FieldType::Number),
            records(150, 8, 1),
        ),
        (
            format!("{prefix}_empty"),
            NamespaceConfig::new(4),
            Vec::new(),
        ),
        (
            format!("{prefix}_auto"),
            // The default index: HNSW on Redis and pgvector, exact in memory.
            NamespaceConfig::new(16).with_metric(Metric::DotProduct),
            records(300, 16, 2),
        ),
    ]
}

/// Every namespace's config and every record, by key.
type State = BTreeMap<
    String,
    (
        NamespaceConfig,
        BTreeMap<String, (Vec<u32>, serde_json::Value)>,
    ),
>;

async fn state(backend: &DynBackend, fixture: &[(String, NamespaceConfig, Vec<Record>)]) -> State {
    let mut out = State::new();
    for (ns, _, recs) in fixture {
        let info = backend
            .namespace_info(ns)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{ns} missing"));
        assert_eq!(info.count, recs.len() as u64, "{ns}: count");
        let keys: Vec<String> = recs.iter().map(|r| r.key.clone()).collect();
        let got = backend.get_batch(ns, &keys).await.unwrap();
        let mut by_key = BTreeMap::new();
        for (k, v) in keys.into_iter().zip(got) {
            let v = v.unwrap_or_else(|| panic!("{ns}: {k} missing"));
            let bits = v.embedding.iter().map(|x| x.to_bits()).collect();
            by_key.insert(k, (bits, serde_json::Value::Object(v.metadata)));
        }
        out.insert(ns.clone(), (info.config, by_key));
    }
    out
}

fn summary(m: &Manifest) -> Vec<(String, u64, String)> {
    m.namespaces
        .iter()
        .map(|e| (e.namespace.clone(), e.count, e.sha256.clone()))
        .collect()
}

/// Backup, wipe, restore, compare; a second backup equals the first.
async fn round_trip(backend: &DynBackend, prefix: Option<&str>, tag: &str) {
    let p = prefix.map_or_else(|| "bk".to_owned(), str::to_owned);
    let fixture = fixture(&p);
    for (ns, config, recs) in &fixture {
        backend.create_namespace(ns, config).await.unwrap();
        for chunk in recs.chunks(100) {
            backend.upsert_batch(ns, chunk.to_vec()).await.unwrap();
        }
    }
    let before = state(backend, &fixture).await;
    let dir = tempfile::tempdir().unwrap();
    let first = backup(&**backend, dir.path(), &[], prefix, 64, Progress::hidden())
        .await
        .unwrap();
    assert_eq!(
        first.manifest.namespaces.len(),
        3,
        "{tag}: {:?}",
        first.manifest
    );
    assert_eq!(first.manifest.source_backend, backend.backend_type());
    assert_eq!(
        first
            .manifest
            .namespaces
            .iter()
            .map(|e| e.count)
            .collect::<Vec<_>>(),
        vec![300, 0, 150],
        "{tag}: sorted by name (auto, empty, flat)"
    );
    assert_eq!(read_manifest(&first.dir).unwrap(), first.manifest);
    for (ns, _, _) in &fixture {
        assert!(
            backend.drop_namespace(ns).await.unwrap(),
            "{tag}: wipe {ns}"
        );
    }
    let left = backend.list_namespaces().await.unwrap();
    assert!(
        !left.iter().any(|n| n.starts_with(&p)),
        "{tag}: wiped: {left:?}"
    );
    let reports = restore(&**backend, &first.dir, &[], RestoreOptions::default())
        .await
        .unwrap();
    assert_eq!(reports.len(), 3);
    for r in &reports {
        assert!(r.failures.is_empty(), "{tag}: {r}");
        assert_eq!(r.count_after, r.records, "{tag}: {r}");
        assert_eq!(r.records_checked as u64, r.records.min(100), "{tag}: {r}");
        assert_eq!(r.queries_checked as u64, r.records.min(5), "{tag}: {r}");
    }
    let after = state(backend, &fixture).await;
    assert_eq!(
        before, after,
        "{tag}: every record and configuration restored exactly"
    );
    let again = tempfile::tempdir().unwrap();
    let second = backup(
        &**backend,
        again.path(),
        &[],
        prefix,
        1000,
        Progress::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(
        summary(&first.manifest),
        summary(&second.manifest),
        "{tag}: second backup"
    );
    // A second restore into the populated backend is refused before writing ...
    let refused = restore(&**backend, &first.dir, &[], RestoreOptions::default()).await;
    assert!(
        matches!(refused, Err(Error::NotEmpty { .. })),
        "{tag}: {refused:?}"
    );
    // ... unless asked to replace.
    let replaced = restore(
        &**backend,
        &first.dir,
        &[],
        RestoreOptions::default().with_on_existing(OnExisting::Replace),
    )
    .await
    .unwrap();
    assert!(replaced.iter().all(|r| r.failures.is_empty()));
    assert_eq!(before, state(backend, &fixture).await);
    for (ns, _, _) in &fixture {
        backend.drop_namespace(ns).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend_round_trip_of_every_namespace() {
    let backend = vector_tier::open("memory://").await.unwrap();
    round_trip(&backend, None, "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weaviate_emulator_round_trip() {
    let emulator =
        weaviate_emulator::Emulator::start_in_thread(weaviate_emulator::EmulatorOptions::default())
            .unwrap();
    let backend = vector_tier::open(&format!("weaviate+{}", emulator.url()))
        .await
        .unwrap();
    round_trip(&backend, None, "weaviate emulator").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_redis_round_trip() {
    let Some(url) = live("REDIS_URL", "redis") else {
        return;
    };
    let backend = vector_tier::open(&url).await.unwrap();
    round_trip(&backend, Some(&unique("vtier_bk")), "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_pgvector_round_trip() {
    let Some(url) = live("PG_CONNECTION_STRING", "pgvector") else {
        return;
    };
    let backend = vector_tier::open(&url).await.unwrap();
    round_trip(&backend, Some(&unique("vtier_bk")), "pgvector").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_backup_is_refused_before_anything_is_written() {
    let backend = vector_tier::open("memory://").await.unwrap();
    let fixture = fixture("c");
    for (ns, config, recs) in &fixture {
        backend.create_namespace(ns, config).await.unwrap();
        if !recs.is_empty() {
            backend.upsert_batch(ns, recs.clone()).await.unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backup(&*backend, dir.path(), &[], None, 100, Progress::hidden())
        .await
        .unwrap();
    let target = vector_tier::open("memory://").await.unwrap();
    // One flipped digit in the last file: its checksum no longer matches.
    let last = b.dir.join(&b.manifest.namespaces[2].file); // c_flat
    let text = std::fs::read_to_string(&last).unwrap();
    let i = text.find("\"score\":1").unwrap() + 9;
    let mut bytes = text.into_bytes();
    bytes[i] = if bytes[i] == b'2' { b'3' } else { b'2' };
    std::fs::write(&last, bytes).unwrap();
    let err = restore(&*target, &b.dir, &[], RestoreOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");
    assert!(
        target.list_namespaces().await.unwrap().is_empty(),
        "nothing written"
    );
    // A manifest that disagrees with an intact file is refused too.
    let m = b.dir.join("manifest.json");
    let manifest = std::fs::read_to_string(&m)
        .unwrap()
        .replace("\"count\": 300", "\"count\": 299");
    std::fs::write(&m, manifest).unwrap();
    let err = restore(
        &*target,
        &b.dir,
        &["c_auto".to_owned()],
        RestoreOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("does not match the manifest"),
        "{err}"
    );
    assert!(target.list_namespaces().await.unwrap().is_empty());
}

fn vtier(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vtier"))
        .args(args)
        .output()
        .unwrap()
}

fn subdirs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_backup_restore_and_keep() {
    let emulator =
        weaviate_emulator::Emulator::start_in_thread(weaviate_emulator::EmulatorOptions::default())
            .unwrap();
    let url = format!("weaviate+{}", emulator.url());
    let backend = vector_tier::open(&url).await.unwrap();
    backend
        .create_namespace("cli_a", &NamespaceConfig::new(8))
        .await
        .unwrap();
    backend
        .upsert_batch("cli_a", records(40, 8, 3))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    for _ in 0..3 {
        let out = vtier(&[
            "backup",
            "--url",
            &url,
            "--output-dir",
            out_dir,
            "--keep",
            "2",
            "--quiet",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("backed up 1 namespaces (40 records) of the weaviate backend"),
            "{stdout}"
        );
    }
    let kept = subdirs(dir.path());
    assert_eq!(kept.len(), 2, "--keep 2: {kept:?}");
    let newest = dir.path().join(kept.last().unwrap());
    assert!(backend.drop_namespace("cli_a").await.unwrap());
    let out = vtier(&[
        "restore",
        "--url",
        &url,
        "--input",
        newest.to_str().unwrap(),
        "--quiet",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("count:   backup 40, target 40 (equal)"),
        "{stdout}"
    );
    assert!(stdout.contains("verified: OK"), "{stdout}");
    assert_eq!(backend.count("cli_a", None).await.unwrap(), 40);
    // Restoring again without --on-existing fails, naming the remedy.
    let out = vtier(&[
        "restore",
        "--url",
        &url,
        "--input",
        newest.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--on-existing"));
    // prune ignores directories that are not whole backups.
    std::fs::create_dir(dir.path().join("notes")).unwrap();
    assert_eq!(prune(dir.path(), 1).unwrap().len(), 1);
    assert_eq!(subdirs(dir.path()).len(), 2);
}

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `--flags` of a command line.
fn flags(line: &str) -> Vec<String> {
    line.split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn scheduled_backup_examples_use_real_flags() {
    let help = vtier(&["backup", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let cronjob = repo_file("deploy/k8s/backup-cronjob.yaml");
    let args = cronjob
        .lines()
        .find_map(|l| l.trim().strip_prefix("args: "))
        .expect("the CronJob's args");
    assert!(args.starts_with("[\"backup\""), "{args}");
    let used = flags(args);
    assert!(used.contains(&"--url".to_owned()) && used.contains(&"--output-dir".to_owned()));
    for f in &used {
        assert!(
            help.contains(f.as_str()),
            "the CronJob passes {f}, which `vtier backup --help` lacks"
        );
    }
    // $(VAR) references are variables the ConfigMap provides.
    let configmap = repo_file("deploy/k8s/configmap.yaml");
    for (i, _) in args.match_indices("$(") {
        let var = args[i + 2..].split(')').next().unwrap();
        assert!(
            configmap.contains(&format!("  {var}: ")),
            "$({var}) is not in the ConfigMap"
        );
    }
    let mount = cronjob
        .lines()
        .find_map(|l| l.trim().strip_prefix("mountPath: "))
        .unwrap();
    assert!(
        args.contains(&format!("\"{mount}\"")),
        "backups go to the mounted volume"
    );
    let stack = repo_file("compose/stack.yml");
    let line = stack
        .lines()
        .find(|l| l.trim().starts_with("vtier backup "))
        .expect("the compose backup service");
    for f in flags(line) {
        assert!(
            help.contains(f.as_str()),
            "compose passes {f}, which `vtier backup --help` lacks"
        );
    }
    let restore = vtier(&["restore", "--help"]);
    let restore = String::from_utf8_lossy(&restore.stdout).into_owned();
    let line = stack
        .lines()
        .find(|l| l.contains("'vtier restore "))
        .unwrap();
    for f in flags(line) {
        assert!(
            restore.contains(f.as_str()),
            "the compose restore example passes {f}"
        );
    }
}
