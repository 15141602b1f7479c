//! The live checks: `vtier serve` on the memory backend and on a private Redis Stack,
//! scraped by a real Prometheus while traffic runs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::Summary;
use super::dashboard::Dashboard;
use super::deploycheck::{alert_test_series, expected_labels, parse_series};
use super::http;
use super::prom::{self, Prom};
use super::tools::{self, Prometheus};
use super::traffic;
use crate::servers::{self, Server};
use crate::util;

/// A `vtier serve` this tool started; stopped on drop.
pub(crate) struct Service {
    pub(crate) port: u16,
    pub(crate) backend: &'static str,
    pub(crate) pid: u32,
    _server: Server,
}

impl Service {
    pub(crate) fn start(
        vtier: &Path,
        backend: &'static str,
        env: &[(&str, &str)],
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let port = util::free_port()?;
        let log = std::fs::File::create(dir.join(format!("vtier-{backend}.log")))?;
        let child = Command::new(vtier)
            .args(["serve", "--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--backend", backend, "--metrics-refresh-secs", "1"])
            .envs(env.iter().copied())
            .env_remove("VTIER_API_TOKENS")
            .env_remove("VTIER_API_TOKENS_FILE")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", vtier.display()))?;
        let pid = child.id();
        let child = Arc::new(Mutex::new(Some(child)));
        let stop = {
            let child = child.clone();
            move || {
                if let Some(mut c) = child.lock().ok().and_then(|mut g| g.take()) {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        };
        let server = Server::started(
            format!("http://127.0.0.1:{port}"),
            format!("vtier serve ({backend} backend) on port {port}"),
            stop,
        );
        let started = Instant::now();
        while !http::request(port, "GET", "/health", None).is_ok_and(|r| r.status == 200) {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("vtier serve ({backend}) did not answer /health within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self {
            port,
            backend,
            pid,
            _server: server,
        })
    }
}

pub(crate) fn run(tools_: &Prometheus, venv: &Path, summary: &mut Summary) -> anyhow::Result<()> {
    let vtier = util::build_vtier()?;
    let dir = tools::dir().join(format!("run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let redis = match std::env::var("VTIER_OPS_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(url) => Server::external(url, "the server VTIER_OPS_REDIS_URL names".into()),
        None => servers::redis::start()?,
    };
    eprintln!("xtask: ops: redis: {}", redis.description);
    let services = [
        Service::start(&vtier, "memory", &[], &dir)?,
        Service::start(&vtier, "redis", &[("REDIS_URL", redis.url.as_str())], &dir)?,
    ];
    let prom = Prom::start(
        tools_,
        &services.iter().map(|s| s.port).collect::<Vec<_>>(),
        &dir,
    )?;
    summary.check("Prometheus scrapes both services", || {
        prom.wait_targets(services.len())
    });
    let mut driven = Vec::new();
    for s in &services {
        let mut t = None;
        summary.check(&format!("traffic on the {} service", s.backend), || {
            let traffic = traffic::drive(s.port)?;
            let n: u64 = traffic.sent.values().sum();
            let ops = traffic.latencies.len();
            t = Some(traffic);
            Ok(format!("{n} requests, {ops} operations"))
        });
        summary.check(
            &format!("vector_count_per_namespace tracks writes ({})", s.backend),
            || traffic::count_tracking(s.port, &prom, s.backend),
        );
        if let Some(t) = t {
            driven.push((s, t));
        }
    }
    for (s, t) in &driven {
        summary.check(
            &format!(
                "design-document metrics arrive with their labels ({})",
                s.backend
            ),
            || prom::check_metrics(&prom, s.backend, t),
        );
        summary.check(
            &format!(
                "histogram buckets fit the measured latencies ({})",
                s.backend
            ),
            || prom::check_histogram(&prom, s.backend, t),
        );
    }
    summary.check("every dashboard query returns data", || {
        // Fresh probes on both services, so rates over the dashboard's window are not zero.
        for s in &services {
            traffic::probes(&mut traffic::Traffic::default(), s.port, 3)?;
        }
        Dashboard::load()?.evaluate(&prom)
    });
    summary.check("alerting rules load and evaluate in Prometheus", || {
        prom.check_rules()
    });
    summary.check(
        "alert unit tests use the real series' names and labels",
        || {
            let series = alert_test_series(venv)?;
            for s in &series {
                let (name, mut keys) = parse_series(s);
                keys.retain(|k| k != "job" && k != "instance");
                let want = expected_labels(&name)
                    .with_context(|| format!("{s}: {name} is not a metric of the service"))?;
                if keys != want {
                    bail!("{s}: labels {keys:?}, but the service exports {name} with {want:?}");
                }
                if !prom.series(&name)?.iter().any(|_| true) {
                    bail!("{name} is not among the live series");
                }
            }
            Ok(format!(
                "{} input series, each shaped like a live one",
                series.len()
            ))
        },
    );
    let redis_service = &services[1];
    summary.check("backup, wipe, restore of the whole Redis backend", || {
        super::backup::round_trip(&vtier, &redis.url, redis_service.port, &prom, &dir)
    });
    drop(prom);
    drop(services);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
