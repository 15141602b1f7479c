//! Side-by-side figures for the memory backend's search paths on a TEXMEX data folder
//! (`base.fvecs`, `query.fvecs`, `groundtruth.ivecs`), to run next to the FAISS / hnswlib
//! anchors (`shared/bench/anchors.py`). Prints one JSON object per measurement with wall-clock
//! and CPU-time rates (CPU time of the measuring threads survives a shared, loaded machine).
//!
//! ```text
//! cargo run --release -p vector-memory --example annbench -- MODE DIR [--queries N] [--reps R]
//!     [--ef 16,32,64,128,256] [--m 16] [--efc 200] [--threads T]
//! MODE: exact   one query at a time, one thread, exact (int8 pass + f64 re-score)
//!       batch   all queries in one batched exact search on T threads (qps_cpu: process CPU)
//!       hnsw    graph build (T threads), then an ef sweep one query at a time on one thread
//! ```
#![allow(clippy::print_stdout, missing_docs)]

use std::time::Instant;

use vector_backend::Metric;
use vector_memory::raw::{Exact, Graph, HnswParams};

fn read_vecs(path: &str, elem: usize) -> (Vec<u8>, usize) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let d = u32::from_le_bytes(bytes[..4].try_into().expect("header")) as usize;
    let rec = 4 + d * elem;
    let mut out = Vec::with_capacity(bytes.len() / rec * d * elem);
    for r in bytes.chunks_exact(rec) {
        out.extend_from_slice(&r[4..]);
    }
    (out, d)
}

fn fvecs(path: &str) -> (Vec<f32>, usize) {
    let (b, d) = read_vecs(path, 4);
    let v = b
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    (v, d)
}

fn ivecs(path: &str) -> (Vec<u32>, usize) {
    let (b, d) = read_vecs(path, 4);
    let v = b
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    (v, d)
}

/// CPU time of this process (all threads), in seconds, from /proc.
fn process_cpu() -> f64 {
    let mut total = 0u64;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                total += s
                    .split_whitespace()
                    .next()
                    .and_then(|x| x.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total as f64 * 1e-9
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 * 1e-9)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn recall(found: &[Vec<usize>], gt: &[u32], gt_d: usize, k: usize) -> f64 {
    let mut hit = 0;
    for (i, f) in found.iter().enumerate() {
        let want = &gt[i * gt_d..i * gt_d + k];
        hit += f
            .iter()
            .take(k)
            .filter(|&&r| want.contains(&(r as u32)))
            .count();
    }
    hit as f64 / (found.len() * k) as f64
}

/// Runs `pass` `reps` times; median (wall qps, cpu qps) and the last answers.
fn timed(
    reps: usize,
    nq: usize,
    cpu: fn() -> f64,
    mut pass: impl FnMut() -> Vec<Vec<usize>>,
) -> (f64, f64, Vec<Vec<usize>>) {
    let (mut w, mut c, mut last) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let (t, tc) = (Instant::now(), cpu());
        last = pass();
        c.push(nq as f64 / (cpu() - tc));
        w.push(nq as f64 / t.elapsed().as_secs_f64());
    }
    (median(w), median(c), last)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).expect("MODE").clone();
    let dir = args.get(2).expect("DIR").clone();
    let opt = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_owned())
    };
    let nq: usize = opt("--queries", "1000").parse().expect("--queries");
    let reps: usize = opt("--reps", "3").parse().expect("--reps");
    let threads: usize = opt("--threads", "1").parse().expect("--threads");
    let k = 10;
    let (base, d) = fvecs(&format!("{dir}/base.fvecs"));
    let (queries, _) = fvecs(&format!("{dir}/query.fvecs"));
    let (gt, gt_d) = ivecs(&format!("{dir}/groundtruth.ivecs"));
    let nq = nq.min(queries.len() / d);
    let qs: Vec<&[f32]> = queries.chunks_exact(d).take(nq).collect();
    let n = base.len() / d;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let head = format!(r#""mode":"{mode}","data":"{dir}","n":{n},"d":{d},"queries":{nq},"k":{k}"#);
    match mode.as_str() {
        "exact" => {
            let ix = Exact::new(d, Metric::Cosine, base);
            for q in qs.iter().take(50) {
                std::hint::black_box(ix.search(q, k));
            }
            let mut survivors = 0;
            let (w, c, found) = timed(reps, nq, thread_cpu, || {
                survivors = 0;
                qs.iter()
                    .map(|q| {
                        let (r, s) = ix.search_counted(q, k);
                        survivors += s;
                        r
                    })
                    .collect()
            });
            println!(
                r#"{{{head},"threads":1,"qps_wall":{w:.1},"qps_cpu":{c:.1},"recall@10":{:.4},"rescored_per_query":{:.1}}}"#,
                recall(&found, &gt, gt_d, k),
                survivors as f64 / nq as f64
            );
        }
        "hnsw" => {
            let params = HnswParams::new(
                opt("--m", "16").parse().expect("--m"),
                opt("--efc", "200").parse().expect("--efc"),
                16,
            );
            let (t, tc) = (Instant::now(), process_cpu());
            let g = pool.install(|| Graph::build(d, Metric::Cosine, params, base));
            let (bw, bc) = (t.elapsed().as_secs_f64(), process_cpu() - tc);
            println!(
                r#"{{{head},"threads":{threads},"build_wall_s":{bw:.2},"build_cpu_s":{bc:.2}}}"#
            );
            for ef in opt("--ef", "16,32,64,128,256").split(',') {
                let ef: usize = ef.parse().expect("--ef");
                for q in qs.iter().take(50) {
                    std::hint::black_box(g.search(q, k, ef));
                }
                let (w, c, found) = timed(reps, nq, thread_cpu, || {
                    qs.iter().map(|q| g.search(q, k, ef)).collect()
                });
                println!(
                    r#"{{{head},"threads":1,"ef":{ef},"qps_wall":{w:.1},"qps_cpu":{c:.1},"recall@10":{:.4}}}"#,
                    recall(&found, &gt, gt_d, k)
                );
            }
        }
        "batch" => {
            let ix = Exact::new(d, Metric::Cosine, base);
            let flat: Vec<f32> = qs.iter().flat_map(|q| q.iter().copied()).collect();
            pool.install(|| std::hint::black_box(ix.search_batch(&flat[..d * 128], k)));
            let (w, c, found) = timed(reps, nq, process_cpu, || {
                pool.install(|| ix.search_batch(&flat, k))
            });
            println!(
                r#"{{{head},"threads":{threads},"qps_wall":{w:.1},"qps_cpu":{c:.1},"recall@10":{:.4}}}"#,
                recall(&found, &gt, gt_d, k)
            );
        }
        other => panic!("unknown mode {other}"),
    }
}
