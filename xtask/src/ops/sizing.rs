//! `cargo xtask ops-sizing`: the measurements behind docs/operations.md's sizing and the
//! Deployment's resources. Loads N vectors of dimension D (small metadata) through a
//! `vtier serve` on each backend and reports:
//! - memory backend: the service's RSS before and after (the vectors live in the process);
//! - Redis: `used_memory` of the server before and after (INFO memory), and the service's RSS;
//! - pgvector: `pg_total_relation_size` of the namespace's tables and indexes, and the
//!   service's RSS;
//! - the service's peak RSS (VmHWM) under concurrent batch upserts and queries.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

use super::http;
use super::live::Service;
use super::traffic::vector;
use crate::{servers, util};

/// VmRSS and VmHWM of a process, in MiB.
fn rss(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

/// Loads `n` vectors of `dim` into namespace `ns` in batches of 500, from `clients` threads.
fn load(port: u16, ns: &str, n: usize, dim: usize, clients: usize) -> anyhow::Result<f64> {
    let r = http::request(
        port,
        "PUT",
        &format!("/v1/namespaces/{ns}"),
        Some(&json!({"dimension": dim, "metric": "cosine"}).to_string()),
    )?;
    anyhow::ensure!(r.status == 200, "create {ns}: {}", r.body);
    let started = Instant::now();
    let batches: Vec<std::ops::Range<usize>> =
        (0..n).step_by(500).map(|s| s..(s + 500).min(n)).collect();
    let chunks: Vec<Vec<std::ops::Range<usize>>> = (0..clients)
        .map(|c| batches.iter().skip(c).step_by(clients).cloned().collect())
        .collect();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|mine| {
                s.spawn(move || -> anyhow::Result<()> {
                    for b in mine {
                        let records: Vec<serde_json::Value> = b
                            .map(|i| json!({"key": format!("v{i:09}"), "embedding": vector(i as u64, dim), "metadata": {"i": i, "lang": "en"}}))
                            .collect();
                        let body = json!({"records": records}).to_string();
                        let r = http::request(port, "POST", &format!("/v1/namespaces/{ns}/vectors:upsert"), Some(&body))?;
                        anyhow::ensure!(r.status == 200, "upsert: {} {:.200}", r.status, r.body);
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("loader panicked"))??;
        }
        Ok(())
    })?;
    Ok(started.elapsed().as_secs_f64())
}

/// `clients` threads each sending `per_client` queries.
fn query_load(
    port: u16,
    ns: &str,
    dim: usize,
    clients: usize,
    per_client: usize,
) -> anyhow::Result<()> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                s.spawn(move || -> anyhow::Result<()> {
                    for i in 0..per_client {
                        let body = json!({"embedding": vector((1_000_000 + c * per_client + i) as u64, dim), "k": 10}).to_string();
                        let r = http::request(port, "POST", &format!("/v1/namespaces/{ns}/query"), Some(&body))?;
                        anyhow::ensure!(r.status == 200, "query: {}", r.status);
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("client panicked"))??;
        }
        Ok(())
    })
}

fn pg_size(psql: &Path, url: &str) -> anyhow::Result<f64> {
    let sql = "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','m') AND n.nspname NOT IN ('pg_catalog','information_schema','pg_toast')";
    let out = Command::new(psql).args([url, "-tAc", sql]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let bytes: f64 = text
        .trim()
        .parse()
        .with_context(|| format!("psql said {text} {}", String::from_utf8_lossy(&out.stderr)))?;
    Ok(bytes / 1024.0 / 1024.0)
}

pub(crate) fn sizing(n: usize, dim: usize) -> anyhow::Result<()> {
    let vtier = util::build_vtier()?;
    let dir = super::tools::dir().join(format!("sizing-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let per_million = |mib: f64| mib * 1_000_000.0 / n as f64 / 1024.0;
    println!(
        "sizing: {n} vectors of dimension {dim} (cosine, auto index, metadata {{\"i\":N,\"lang\":\"en\"}}), debug build of vtier"
    );
    // Memory backend.
    {
        let s = Service::start(&vtier, "memory", &[], &dir)?;
        let (idle, _) = rss(s.pid)?;
        let secs = load(s.port, "sizing", n, dim, 2)?;
        let (after, _) = rss(s.pid)?;
        println!(
            "memory:   service RSS idle {idle:.1} MiB, after load {after:.1} MiB: {:.1} MiB for the vectors = {:.2} GiB per million (loaded in {secs:.0} s)",
            after - idle,
            per_million(after - idle)
        );
    }
    // Redis.
    {
        let redis = servers::redis::start()?;
        let spec = redis
            .extra_env
            .iter()
            .find(|(k, _)| k == "VTIER_REDIS_SERVER")
            .map(|(_, v)| v.clone())
            .context("no local redis-server")?;
        let server = spec.split('|').next().unwrap_or_default();
        let libs = spec.split('|').nth(1).unwrap_or_default().to_owned();
        let cli = Path::new(server).with_file_name("redis-cli");
        let used = || -> anyhow::Result<f64> {
            let out = Command::new(&cli)
                .env("LD_LIBRARY_PATH", &libs)
                .args(["-u", &redis.url, "INFO", "memory"])
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let bytes: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("used_memory:"))
                .and_then(|v| v.trim().parse().ok())
                .with_context(|| format!("no used_memory: {text}"))?;
            Ok(bytes / 1024.0 / 1024.0)
        };
        let s = Service::start(&vtier, "redis", &[("REDIS_URL", redis.url.as_str())], &dir)?;
        let (idle, _) = rss(s.pid)?;
        let before = used()?;
        let secs = load(s.port, "sizing", n, dim, 2)?;
        let after = used()?;
        let (svc, _) = rss(s.pid)?;
        println!(
            "redis:    used_memory {before:.1} -> {after:.1} MiB: {:.1} MiB = {:.2} GiB per million (HNSW index included; loaded in {secs:.0} s)",
            after - before,
            per_million(after - before)
        );
        let started = Instant::now();
        query_load(s.port, "sizing", dim, 8, 100)?;
        let (rss_now, hwm) = rss(s.pid)?;
        println!(
            "service (redis backend): RSS idle {idle:.1} MiB, after the load {svc:.1} MiB; after 800 queries from 8 clients ({:.0} s) {rss_now:.1} MiB; peak (VmHWM, 2 loaders x 500-vector batches) {hwm:.1} MiB",
            started.elapsed().as_secs_f64()
        );
    }
    // PostgreSQL + pgvector.
    {
        let pg = servers::postgres::start()?;
        let bin = pg
            .extra_env
            .iter()
            .find(|(k, _)| k == "VTIER_PG_BIN_DIR")
            .map(|(_, v)| v.clone())
            .context("no local PostgreSQL binaries")?;
        let psql = Path::new(&bin).join("psql");
        let s = Service::start(
            &vtier,
            "pgvector",
            &[("PG_CONNECTION_STRING", pg.url.as_str())],
            &dir,
        )?;
        let before = pg_size(&psql, &pg.url)?;
        let secs = load(s.port, "sizing", n, dim, 2)?;
        let after = pg_size(&psql, &pg.url)?;
        let (svc, hwm) = rss(s.pid)?;
        println!(
            "pgvector: tables + indexes {before:.1} -> {after:.1} MiB: {:.1} MiB = {:.2} GiB per million (HNSW index included; loaded in {secs:.0} s); service RSS {svc:.1} MiB, peak {hwm:.1} MiB",
            after - before,
            per_million(after - before)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
