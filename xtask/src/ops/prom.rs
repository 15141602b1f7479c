//! A real Prometheus for the checks: started with the project's scrape config
//! (`deploy/prometheus/prometheus.yml`, only the targets and intervals replaced) and its
//! alerting rules; queried through its HTTP API.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::deploycheck::{METRICS, expected_labels, str_of};
use super::http;
use super::tools::Prometheus;
use super::traffic::{DOCS, FAQ, Traffic};
use crate::servers::Server;
use crate::util::{self, root};

pub(crate) struct Prom {
    pub(crate) port: u16,
    _server: Server,
}

/// The project's scrape config with the targets, intervals and rule path replaced.
fn config(targets: &[u16]) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(root().join("deploy/prometheus/prometheus.yml"))?;
    let list: Vec<String> = targets
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect();
    let rules = root().join("deploy/prometheus/alerts.yml");
    let mut out = text.clone();
    for (from, to) in [
        (
            r#"targets: ["vtier:8000"]"#.to_owned(),
            format!("targets: [{}]", list.join(", ")),
        ),
        (
            "scrape_interval: 15s".to_owned(),
            "scrape_interval: 1s".to_owned(),
        ),
        (
            "evaluation_interval: 15s".to_owned(),
            "evaluation_interval: 1s".to_owned(),
        ),
        ("- alerts.yml".to_owned(), format!("- {}", rules.display())),
    ] {
        if out.matches(&from).count() != 1 {
            bail!(
                "deploy/prometheus/prometheus.yml no longer has exactly one `{from}`; update xtask/src/ops/prom.rs"
            );
        }
        out = out.replace(&from, &to);
    }
    Ok(out)
}

impl Prom {
    pub(crate) fn start(tools: &Prometheus, targets: &[u16], dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config(targets)?)?;
        let port = util::free_port()?;
        let log = std::fs::File::create(dir.join("prometheus.log"))?;
        let child = Command::new(&tools.prometheus)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", tools.prometheus.display()))?;
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
            format!("{} on port {port}", tools.version),
            stop,
        );
        let prom = Self {
            port,
            _server: server,
        };
        let started = Instant::now();
        loop {
            if http::request(port, "GET", "/-/ready", None).is_ok_and(|r| r.status == 200) {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
                bail!("Prometheus was not ready within 30 s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(prom)
    }

    fn api(&self, path: &str) -> anyhow::Result<Value> {
        let r = http::request(self.port, "GET", path, None)?;
        let v = r.json()?;
        if str_of(&v, "status") != "success" {
            bail!("Prometheus {path}: {} {}", r.status, r.body);
        }
        Ok(v["data"].clone())
    }

    /// An instant query's result vector.
    pub(crate) fn query(&self, q: &str) -> anyhow::Result<Vec<Value>> {
        let data = self.api(&format!("/api/v1/query?query={}", http::encode(q)))?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// Series matching a selector (their label sets).
    pub(crate) fn series(&self, selector: &str) -> anyhow::Result<Vec<Value>> {
        let data = self.api(&format!(
            "/api/v1/series?match[]={}",
            http::encode(selector)
        ))?;
        Ok(data.as_array().cloned().unwrap_or_default())
    }

    /// The value of a query that yields one series; None when it yields none.
    pub(crate) fn value(&self, q: &str) -> anyhow::Result<Option<f64>> {
        let r = self.query(q)?;
        if r.len() > 1 {
            bail!("{q} yields {} series, expected one", r.len());
        }
        Ok(r.first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse().ok()))
    }

    /// Waits until `q` yields `want`; returns it and how long that took.
    pub(crate) fn wait_value(
        &self,
        q: &str,
        want: f64,
        timeout: Duration,
    ) -> anyhow::Result<(f64, Duration)> {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < timeout {
            last = self.value(q)?;
            if last == Some(want) {
                return Ok((want, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        bail!("{q} is {last:?} after {timeout:?}, expected {want}")
    }

    /// Waits until `n` targets are up.
    pub(crate) fn wait_targets(&self, n: usize) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let data = self.api("/api/v1/targets")?;
            let active = data["activeTargets"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let up: Vec<String> = active
                .iter()
                .filter(|t| str_of(t, "health") == "up")
                .map(|t| format!("{} {}", str_of(&t["labels"], "job"), str_of(t, "scrapeUrl")))
                .collect();
            if up.len() >= n {
                return Ok(format!("{} targets up: {}", up.len(), up.join(", ")));
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("only {} of {n} targets up after 30 s: {data}", up.len());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Every rule of alerts.yml is loaded, evaluated, and healthy.
    pub(crate) fn check_rules(&self) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let data = self.api("/api/v1/rules")?;
            let rules: Vec<Value> = data["groups"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            let bad: Vec<String> = rules
                .iter()
                .filter(|r| str_of(r, "health") != "ok")
                .map(|r| {
                    format!(
                        "{} ({}: {})",
                        str_of(r, "name"),
                        str_of(r, "health"),
                        str_of(r, "lastError")
                    )
                })
                .collect();
            if bad.is_empty() && !rules.is_empty() {
                let states: BTreeMap<String, usize> =
                    rules.iter().fold(BTreeMap::new(), |mut m, r| {
                        *m.entry(str_of(r, "state").to_owned()).or_default() += 1;
                        m
                    });
                return Ok(format!(
                    "{} alerting rules loaded from deploy/prometheus/alerts.yml, all evaluated with health ok against the live series (states: {states:?})",
                    rules.len()
                ));
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("rules not healthy: {bad:?} ({} rules)", rules.len());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Every design-document metric arrives for `backend` with exactly its labels, and the
/// counters and gauges have the values the traffic implies.
pub(crate) fn check_metrics(
    prom: &Prom,
    backend: &str,
    traffic: &Traffic,
) -> anyhow::Result<String> {
    let mut series_total = 0;
    for metric in METRICS {
        let names: Vec<String> = if metric == "vector_query_duration_seconds" {
            ["_bucket", "_sum", "_count"]
                .iter()
                .map(|s| format!("{metric}{s}"))
                .collect()
        } else {
            vec![metric.to_owned()]
        };
        for name in names {
            let series = prom.series(&format!(
                r#"{{__name__="{name}",backend_type="{backend}"}}"#
            ))?;
            if series.is_empty() {
                bail!("{name}: no series for backend_type={backend}");
            }
            let want = expected_labels(&name).unwrap_or_default();
            for s in &series {
                let mut keys: Vec<&str> = s
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                keys.retain(|k| !["__name__", "job", "instance"].contains(k));
                // Operations on no namespace (health_check, list_namespaces) record
                // namespace="", and Prometheus stores an empty label as no label.
                let no_namespace =
                    ["health_check", "list_namespaces"].contains(&str_of(s, "operation"));
                if no_namespace && want.contains(&"namespace") && !keys.contains(&"namespace") {
                    keys.push("namespace");
                }
                keys.sort_unstable();
                if keys != want {
                    bail!("{name}: series {s} has labels {keys:?}, expected {want:?}");
                }
            }
            series_total += series.len();
        }
    }
    // The last scrape must include the last requests (the readiness probes came last).
    let probes = traffic
        .sent
        .get(&(String::new(), "health_check"))
        .copied()
        .unwrap_or(0);
    prom.wait_value(
        &format!(r#"vector_query_total{{backend_type="{backend}",operation="health_check"}}"#),
        probes as f64,
        Duration::from_secs(20),
    )?;
    let mut counters = 0;
    for ((ns, op), n) in &traffic.sent {
        let q = format!(
            r#"vector_query_total{{backend_type="{backend}",namespace="{ns}",operation="{op}"}}"#
        );
        let got = prom.value(&q)?;
        if got != Some(*n as f64) {
            bail!("{q} = {got:?}, but {n} requests were sent");
        }
        counters += 1;
    }
    for (kind, n) in [("dimension_mismatch", 10.0), ("config_mismatch", 5.0)] {
        let q = format!(
            r#"sum(vector_query_errors_total{{backend_type="{backend}",error_kind="{kind}"}})"#
        );
        let got = prom.value(&q)?;
        if got != Some(n) {
            bail!("{q} = {got:?}, expected {n}");
        }
    }
    let gauges = [
        (
            format!(r#"vector_backend_connections_active{{backend_type="{backend}"}}"#),
            1.0,
        ),
        (
            format!(r#"vector_namespaces_total{{backend_type="{backend}"}}"#),
            3.0,
        ),
        (
            format!(r#"vector_count_per_namespace{{backend_type="{backend}",namespace="{DOCS}"}}"#),
            1950.0,
        ),
        (
            format!(r#"vector_count_per_namespace{{backend_type="{backend}",namespace="{FAQ}"}}"#),
            80.0,
        ),
    ];
    for (q, want) in &gauges {
        prom.wait_value(q, *want, Duration::from_secs(20))?;
    }
    Ok(format!(
        "{backend}: all 6 metrics present ({series_total} series incl. _bucket/_sum/_count), label keys exact; \
         {counters} vector_query_total series equal the requests sent; errors dimension_mismatch=10, config_mismatch=5; \
         connections 1, namespaces 3, counts {DOCS}=1950 {FAQ}=80"
    ))
}

/// One operation's histogram: cumulative counts per finite upper bound, and the total.
struct Histogram {
    bounds: Vec<f64>,
    cumulative: Vec<f64>,
    count: f64,
}

impl Histogram {
    fn fetch(prom: &Prom, backend: &str, op: &str) -> anyhow::Result<Self> {
        let sel = format!(r#"backend_type="{backend}",operation="{op}""#);
        let rows = prom.query(&format!(
            "sum by (le) (vector_query_duration_seconds_bucket{{{sel}}})"
        ))?;
        let mut buckets: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| {
                let le = str_of(&r["metric"], "le");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                };
                let v = r["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                (le, v)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let count = prom
            .value(&format!(
                "sum(vector_query_duration_seconds_count{{{sel}}})"
            ))?
            .unwrap_or(0.0);
        let Some(&(last, inf)) = buckets.last() else {
            bail!("{backend} {op}: no buckets");
        };
        if last != f64::INFINITY || inf != count {
            bail!("{backend} {op}: the +Inf bucket ({last}: {inf}) is not the count ({count})");
        }
        if buckets
            .windows(2)
            .any(|w| w[1].1 < w[0].1 || w[1].0 <= w[0].0)
        {
            bail!("{backend} {op}: buckets not cumulative: {buckets:?}");
        }
        buckets.pop();
        Ok(Self {
            bounds: buckets.iter().map(|b| b.0).collect(),
            cumulative: buckets.iter().map(|b| b.1).collect(),
            count,
        })
    }

    /// Index of the bucket holding the median (`bounds.len()` = beyond the last finite bound).
    fn median_bucket(&self) -> usize {
        self.cumulative
            .iter()
            .position(|&c| c >= self.count / 2.0)
            .unwrap_or(self.bounds.len())
    }
}

fn ms(s: f64) -> String {
    if s.is_infinite() {
        "+Inf".into()
    } else {
        format!("{:.2}ms", s * 1000.0)
    }
}

/// The histogram's buckets fit the latencies: for every operation with at least 20 calls the
/// buckets are those of every other operation, nothing lies beyond the last finite bound, and
/// the median bucket's lower bound does not exceed the median client round trip (a backend
/// call happens inside its HTTP request); over all those calls of a server backend, at most
/// half lie in the first bucket (the buckets resolve the latencies instead of lumping them);
/// on the in-process memory backend the query's median lies beyond the first bucket.
pub(crate) fn check_histogram(
    prom: &Prom,
    backend: &str,
    traffic: &Traffic,
) -> anyhow::Result<String> {
    let mut report = Vec::new();
    let mut problems = Vec::new();
    let mut bounds_seen = None;
    let (mut total, mut in_first) = (0.0, 0.0);
    let mut query_median = None;
    for op in traffic.latencies.keys().copied() {
        let client = traffic.sorted(op);
        if client.len() < 20 {
            continue;
        }
        let h = Histogram::fetch(prom, backend, op)?;
        if h.bounds.len() < 10 || h.bounds[0] > 0.001 || *h.bounds.last().unwrap_or(&0.0) < 5.0 {
            bail!(
                "{backend} {op}: buckets {:?} do not span 1 ms .. 5 s",
                h.bounds
            );
        }
        if bounds_seen.get_or_insert_with(|| h.bounds.clone()) != &h.bounds {
            bail!("{backend} {op}: buckets differ between operations");
        }
        let m = h.median_bucket();
        if op == "query" {
            query_median = Some(m);
        }
        let beyond = h.count - h.cumulative.last().copied().unwrap_or(0.0);
        total += h.count;
        in_first += h.cumulative[0];
        let client_median = client[client.len() / 2].as_secs_f64();
        let lower = if m == 0 { 0.0 } else { h.bounds[m - 1] };
        let upper = h.bounds.get(m).copied().unwrap_or(f64::INFINITY);
        report.push(format!(
            "{op} n={} median in ({}, {}] (client {})",
            h.count,
            ms(lower),
            ms(upper),
            ms(client_median),
        ));
        if beyond > 0.0 {
            problems.push(format!(
                "{op}: {beyond} observations beyond the last bucket"
            ));
        }
        if lower > client_median {
            problems.push(format!(
                "{op}: the backend's median ({} .. {}) exceeds the client's median round trip {}",
                ms(lower),
                ms(upper),
                ms(client_median)
            ));
        }
    }
    let share = in_first / total.max(1.0);
    if backend == "memory" {
        // In process, single-key operations take microseconds (below any useful alerting
        // threshold); the scan-based query must still be resolved.
        if query_median == Some(0) {
            problems.push("the memory backend's query median lies in the first bucket".into());
        }
    } else if share > 0.5 {
        problems.push(format!(
            "{:.0}% of the calls lie in the first bucket (<= {}): the buckets do not resolve these latencies",
            share * 100.0,
            ms(bounds_seen.as_ref().map_or(0.0, |b| b[0]))
        ));
    }
    let text = format!(
        "{backend}: {:.0}% of {total} calls in the first bucket; {}",
        share * 100.0,
        report.join("; ")
    );
    if !problems.is_empty() {
        bail!("{}; {text}", problems.join("; "));
    }
    Ok(text)
}
