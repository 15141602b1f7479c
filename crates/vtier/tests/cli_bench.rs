//! `vtier bench`: the built binary on small data, against the memory backend, the Weaviate
//! emulator and the live servers named by the environment (`REDIS_URL`,
//! `PG_CONNECTION_STRING`; unset ones print "not run", or fail when `VTIER_REQUIRE` names
//! them). Speed itself is not asserted: only that every figure is there and recall is right.

#![allow(clippy::print_stdout)] // "not run: ..." lines say which live tests were skipped.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn vtier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtier"))
        .args(args)
        .output()
        .expect("run vtier")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn live(var: &str, name: &str) -> Option<String> {
    vector_backend::conformance::live_url(module_path!(), var, name)
}

fn bench_json(args: &[&str]) -> Value {
    let mut all = vec!["bench", "--json", "--quiet"];
    all.extend_from_slice(args);
    let out = vtier(&all);
    assert!(
        out.status.success(),
        "vtier {all:?} failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&out.stdout)))
}

/// Every figure present and plausible; recall at least `min_recall`.
fn check_result(r: &Value, min_recall: f64) {
    assert!(r["error"].is_null(), "{r}");
    assert!(
        r["namespace"].as_str().unwrap().starts_with("vtier_bench_"),
        "{r}"
    );
    for field in ["load_vectors_per_second", "load_seconds", "qps"] {
        assert!(r[field].as_f64().unwrap() > 0.0, "{field}: {r}");
    }
    for lat in ["latency_ms", "loaded_latency_ms"] {
        let (p50, p95, p99) = (
            r[lat]["p50"].as_f64().unwrap(),
            r[lat]["p95"].as_f64().unwrap(),
            r[lat]["p99"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p95 && p95 <= p99, "{lat}: {r}");
    }
    let recall = r["recall_at_k"].as_f64().unwrap();
    assert!((min_recall..=1.0).contains(&recall), "recall {recall}: {r}");
}

#[test]
fn json_output_on_random_data_memory_is_exact() {
    let v = bench_json(&[
        "--url",
        "memory://",
        "-n",
        "1500",
        "--dim",
        "24",
        "--queries",
        "60",
        "-k",
        "7",
        "-c",
        "3",
        "--warmup",
        "5",
    ]);
    let s = &v["setup"];
    assert_eq!(
        (
            s["n"].as_u64(),
            s["dim"].as_u64(),
            s["queries"].as_u64(),
            s["k"].as_u64()
        ),
        (Some(1500), Some(24), Some(60), Some(7))
    );
    assert_eq!(s["metric"], "cosine");
    assert_eq!(s["concurrency"], 3);
    assert!(s["ground_truth"].as_str().unwrap().contains("brute force"));
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["backend"], "memory");
    // The memory backend is exact: recall is 1 against the tool's own f64 neighbours.
    check_result(&results[0], 1.0);
}

#[test]
fn table_output_and_failures() {
    let out = vtier(&[
        "bench",
        "--quiet",
        "--url",
        "memory://",
        "-n",
        "300",
        "--dim",
        "8",
        "--queries",
        "20",
        "--metric",
        "euclidean",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for col in [
        "backend",
        "load vec/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "QPS@8",
        "recall@10",
        "memory",
        "300 x 8",
    ] {
        assert!(table.contains(col), "{col} missing:\n{table}");
    }
    // A backend that cannot be opened is reported in its row and fails the run.
    let out = vtier(&[
        "bench",
        "--quiet",
        "--json",
        "--url",
        "memory://",
        "--url",
        "nope://x",
        "-n",
        "100",
        "--dim",
        "4",
        "--queries",
        "5",
    ]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["results"][0]["error"].is_null());
    assert!(
        v["results"][1]["error"]
            .as_str()
            .unwrap()
            .contains("no backend takes URLs like nope://"),
        "{v}"
    );
    // Nothing to benchmark.
    let out = vtier(&["bench", "--quiet"]);
    assert!(!out.status.success() && text(&out.stderr).contains("--all-configured"));
}

fn write_xvecs(path: &Path, rows: &[Vec<[u8; 4]>]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for row in rows {
        f.write_all(&(row.len() as i32).to_le_bytes()).unwrap();
        for v in row {
            f.write_all(v).unwrap();
        }
    }
}

/// A `.npy` file of float32, C order, with a version 1 or 2 header.
fn write_npy(path: &Path, rows: &[Vec<f32>], version: u8) {
    let dict = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        rows.len(),
        rows[0].len()
    );
    let prefix = if version == 1 { 10 } else { 12 };
    let mut header = dict.into_bytes();
    while (prefix + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header);
    for row in rows {
        for v in row {
            out.extend(v.to_le_bytes());
        }
    }
    std::fs::write(path, out).unwrap();
}

fn points(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            (0..dim)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
                })
                .collect()
        })
        .collect()
}

/// Exact Euclidean neighbours, best first, ties by row.
fn truth(base: &[Vec<f32>], queries: &[Vec<f32>], width: usize) -> Vec<Vec<i32>> {
    queries
        .iter()
        .map(|q| {
            let mut d: Vec<(f64, usize)> = base
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    (
                        q.iter()
                            .zip(b)
                            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
                            .sum(),
                        i,
                    )
                })
                .collect();
            d.sort_by(|a, b| a.partial_cmp(b).unwrap());
            d.iter().take(width).map(|(_, i)| *i as i32).collect()
        })
        .collect()
}

#[test]
fn reads_fvecs_ivecs_and_npy() {
    let dir = tempfile::tempdir().unwrap();
    let base = points(800, 12, 1);
    let queries = points(30, 12, 2);
    let gt = truth(&base, &queries, 20);
    let p = |name: &str| dir.path().join(name);
    write_xvecs(
        &p("base.fvecs"),
        &base
            .iter()
            .map(|r| r.iter().map(|v| v.to_le_bytes()).collect())
            .collect::<Vec<_>>(),
    );
    write_xvecs(
        &p("query.fvecs"),
        &queries
            .iter()
            .map(|r| r.iter().map(|v| v.to_le_bytes()).collect())
            .collect::<Vec<_>>(),
    );
    write_xvecs(
        &p("groundtruth.ivecs"),
        &gt.iter()
            .map(|r| r.iter().map(|v| v.to_le_bytes()).collect())
            .collect::<Vec<_>>(),
    );
    write_npy(&p("base.npy"), &base, 1);
    write_npy(&p("query.npy"), &queries, 2);
    std::fs::write(p("meta.json"), r#"{"metric": "l2"}"#).unwrap();
    let s = |name: &str| p(name).to_str().unwrap().to_owned();

    // The dataset folder layout of ../shared/data, metric from meta.json, ground truth used.
    let v = bench_json(&["--url", "memory://", "--dataset", &s(""), "-k", "10"]);
    assert_eq!(v["setup"]["metric"], "euclidean");
    assert_eq!(
        (
            v["setup"]["n"].as_u64(),
            v["setup"]["dim"].as_u64(),
            v["setup"]["queries"].as_u64()
        ),
        (Some(800), Some(12), Some(30))
    );
    assert!(
        v["setup"]["ground_truth"]
            .as_str()
            .unwrap()
            .ends_with("groundtruth.ivecs")
    );
    check_result(&v["results"][0], 1.0);

    // .npy (v1 and v2 headers) with computed ground truth.
    let v = bench_json(&[
        "--url",
        "memory://",
        "--base",
        &s("base.npy"),
        "--query-file",
        &s("query.npy"),
        "--metric",
        "euclidean",
        "-k",
        "5",
    ]);
    assert_eq!(v["setup"]["n"], 800);
    assert!(
        v["setup"]["ground_truth"]
            .as_str()
            .unwrap()
            .contains("brute force")
    );
    check_result(&v["results"][0], 1.0);

    // Mixed formats, explicit ground truth, a prefix of the base: the ground truth no longer
    // applies and is recomputed.
    let v = bench_json(&[
        "--url",
        "memory://",
        "--base",
        &s("base.fvecs"),
        "--query-file",
        &s("query.npy"),
        "--ground-truth",
        &s("groundtruth.ivecs"),
        "--metric",
        "euclidean",
        "-n",
        "500",
    ]);
    assert_eq!(v["setup"]["n"], 500);
    assert!(
        v["setup"]["ground_truth"]
            .as_str()
            .unwrap()
            .contains("ignored"),
        "{}",
        v["setup"]
    );
    check_result(&v["results"][0], 1.0);

    // Wrong ground truth is detected through recall: shift every id by one.
    let wrong: Vec<Vec<i32>> = gt
        .iter()
        .map(|r| r.iter().map(|i| (i + 1) % 800).collect())
        .collect();
    write_xvecs(
        &p("wrong.ivecs"),
        &wrong
            .iter()
            .map(|r| r.iter().map(|v| v.to_le_bytes()).collect())
            .collect::<Vec<_>>(),
    );
    let v = bench_json(&[
        "--url",
        "memory://",
        "--base",
        &s("base.fvecs"),
        "--query-file",
        &s("query.fvecs"),
        "--ground-truth",
        &s("wrong.ivecs"),
        "--metric",
        "euclidean",
    ]);
    assert!(
        v["results"][0]["recall_at_k"].as_f64().unwrap() < 0.2,
        "{}",
        v["results"][0]
    );

    // A truncated file is refused with a clear message.
    let bytes = std::fs::read(p("base.fvecs")).unwrap();
    std::fs::write(p("cut.fvecs"), &bytes[..bytes.len() - 3]).unwrap();
    let out = vtier(&[
        "bench",
        "--quiet",
        "--url",
        "memory://",
        "--base",
        &s("cut.fvecs"),
        "--query-file",
        &s("query.fvecs"),
    ]);
    assert!(
        !out.status.success() && text(&out.stderr).contains("truncated"),
        "{}",
        text(&out.stderr)
    );
}

/// The emulator and every live server: figures present, recall high on small clustered data,
/// and the bench namespace dropped afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_servers() {
    let emulator =
        weaviate_emulator::Emulator::start_in_thread(weaviate_emulator::EmulatorOptions::default())
            .unwrap();
    let mut urls = vec![format!("weaviate+{}", emulator.url())];
    urls.extend(live("REDIS_URL", "redis"));
    urls.extend(live("PG_CONNECTION_STRING", "pgvector"));
    for url in urls {
        let before = vector_tier::open(&url)
            .await
            .unwrap()
            .list_namespaces()
            .await
            .unwrap();
        let v = bench_json(&[
            "--url",
            &url,
            "-n",
            "1000",
            "--dim",
            "16",
            "--queries",
            "40",
            "-c",
            "4",
            "--clusters",
            "8",
        ]);
        check_result(&v["results"][0], 0.9);
        let after = vector_tier::open(&url)
            .await
            .unwrap()
            .list_namespaces()
            .await
            .unwrap();
        let ns = v["results"][0]["namespace"].as_str().unwrap();
        assert!(
            !after.iter().any(|n| n == ns),
            "{url}: {ns} was not dropped"
        );
        assert!(after.len() <= before.len() + 5, "{url}: namespaces pile up");
    }
}
