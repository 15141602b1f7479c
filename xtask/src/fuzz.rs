//! `cargo xtask fuzz` and the fuzzing step of `cargo xtask ci`: Schemathesis, installed from
//! PyPI into a private virtual environment under the target directory, generates requests from
//! `/openapi.json` of a running `vtier serve` (memory backend, and one live server backend) and
//! checks every answer: no server error, the status code is documented for the route, the body
//! matches the documented schema and content type. The run fails below [`MIN_REQUESTS`]
//! requests or on any 5xx other than a documented 503/507, and prints its counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::util;

/// The Schemathesis release the run is pinned to.
pub(crate) const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// Fewest requests a run must send.
pub(crate) const MIN_REQUESTS: usize = 2000;
/// Generated cases per operation and phase (19 operations; the coverage phase adds its own).
const MAX_EXAMPLES: &str = "60";
/// The checks: answers that are not server errors, with documented status codes, bodies and
/// content types.
const CHECKS: &str = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance";
/// The bearer token of the fuzzed service (a throwaway: the service lives for one run).
const TOKEN: &str = "fuzz-run-token-not-a-secret";

/// The backends a fuzz run can target: the memory backend and the live server backends.
pub(crate) const TARGETS: &[&str] = &["memory", "pgvector", "redis"];

fn work_dir() -> PathBuf {
    util::target_dir().join("schemathesis")
}

/// How to run Schemathesis, and the Python that has it.
struct Schemathesis {
    python: PathBuf,
    /// Where the package was installed with `pip --target` (no `venv` module, as on Debian
    /// without `python3-venv`); `None` for the virtual environment.
    pythonpath: Option<PathBuf>,
}

impl Schemathesis {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.args(["-m", "schemathesis.cli"]);
        if let Some(path) = &self.pythonpath {
            cmd.env("PYTHONPATH", path);
        }
        cmd
    }
}

/// Schemathesis in a private virtual environment under the target directory, installed on
/// first use (or, where Python has no `venv`, installed with `pip --target` beside it).
fn schemathesis() -> anyhow::Result<Schemathesis> {
    let venv = work_dir().join("venv");
    let python = venv.join("bin").join("python");
    let marker = |dir: &Path| dir.join(format!(".{SCHEMATHESIS}"));
    if marker(&venv).exists() {
        return Ok(Schemathesis {
            python,
            pythonpath: None,
        });
    }
    let target = work_dir().join("lib");
    if marker(&target).exists() {
        return Ok(Schemathesis {
            python: "python3".into(),
            pythonpath: Some(target),
        });
    }
    std::fs::create_dir_all(work_dir())?;
    let made = python.exists()
        || util::run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "creating the Schemathesis virtual environment",
        )
        .is_ok();
    if made {
        util::run(
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SCHEMATHESIS,
            ]),
            &format!("pip install {SCHEMATHESIS} (into {})", venv.display()),
        )?;
        std::fs::write(marker(&venv), b"")?;
        return Ok(Schemathesis {
            python,
            pythonpath: None,
        });
    }
    util::run(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&target)
            .arg(SCHEMATHESIS),
        &format!("pip install --target {} {SCHEMATHESIS}", target.display()),
    )?;
    std::fs::write(marker(&target), b"")?;
    Ok(Schemathesis {
        python: "python3".into(),
        pythonpath: Some(target),
    })
}

/// A `vtier serve` this run started; stopped (SIGTERM, then kill) when dropped.
struct Service {
    child: Child,
    port: u16,
}

impl Drop for Service {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_service(backend: &str, env: &[(String, String)], log: &Path) -> anyhow::Result<Service> {
    let port = util::free_port()?;
    let bin = util::target_dir().join("debug").join("vtier");
    let log = std::fs::File::create(log)?;
    let mut cmd = Command::new(&bin);
    cmd.args(["serve", "--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--log-format", "json", "--log", "warn"])
        .env("BACKEND_TYPE", backend)
        .env("VTIER_API_TOKENS", format!("fuzz:{TOKEN}"))
        .env_remove("VTIER_API_TOKENS_FILE")
        .env_remove("MEMORY_MAX_VECTORS")
        .env_remove("MEMORY_MAX_BYTES")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(log);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let service = Service { child, port };
    util::wait_for_port(port, Duration::from_secs(60))
        .with_context(|| format!("vtier serve ({backend}) did not start"))?;
    Ok(service)
}

/// Counts of one run, read from its HAR report.
#[derive(Debug, Default)]
struct Counts {
    requests: usize,
    by_status: BTreeMap<u16, usize>,
}

impl Counts {
    fn class(&self, c: u16) -> usize {
        self.by_status
            .iter()
            .filter(|(s, _)| **s / 100 == c)
            .map(|(_, n)| n)
            .sum()
    }

    /// 5xx answers that are not the documented 503 (backend down, timeout) or 507 (capacity).
    fn undocumented_5xx(&self) -> Vec<(u16, usize)> {
        self.by_status
            .iter()
            .filter(|(s, _)| **s >= 500 && **s != 503 && **s != 507)
            .map(|(s, n)| (*s, *n))
            .collect()
    }
}

/// Reads the status of every entry of a HAR file (with the environment's Python: the xtask
/// stays free of a JSON dependency).
fn count_har(python: &Path, har: &Path) -> anyhow::Result<Counts> {
    let script = r#"
import collections, json, sys
entries = json.load(open(sys.argv[1]))["log"]["entries"]
c = collections.Counter(e["response"]["status"] for e in entries)
for status, n in sorted(c.items()):
    print(status, n)
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(har)
        .output()
        .context("reading the HAR report")?;
    if !out.status.success() {
        bail!(
            "cannot read {}: {}",
            har.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut counts = Counts::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((s, n)) = line.split_once(' ') else {
            continue;
        };
        let (s, n): (u16, usize) = (s.parse()?, n.parse()?);
        counts.requests += n;
        *counts.by_status.entry(s).or_default() += n;
    }
    Ok(counts)
}

/// Runs Schemathesis against `vtier serve` on `backend`; returns the summary line and whether
/// the run passed.
pub(crate) fn run_one(backend: &str, env: &[(String, String)]) -> anyhow::Result<(String, bool)> {
    let st = schemathesis()?;
    let dir = work_dir().join(format!("report-{backend}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let service = start_service(backend, env, &dir.join("vtier.log"))?;
    let har = dir.join("requests.har");
    let url = format!("http://127.0.0.1:{}/openapi.json", service.port);
    let mut cmd = st.command();
    cmd.args(["run", &url])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "12"])
        // One worker: with two, Schemathesis's threads build Python ASTs at once, and
        // CPython 3.11 keeps the AST constructor's recursion depth in state the threads share
        // (cpython#106905): now and then a run dies of "AST constructor recursion depth
        // mismatch" inside the tool, which is no finding about the service.
        .args(["--workers", "1"])
        .args(["--request-timeout", "30"])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--report", "har", "--report-har-path"])
        .arg(&har)
        .args(["--report-dir"])
        .arg(&dir)
        .arg("--continue-on-failure")
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "");
    let what = format!("schemathesis against vtier serve on {backend} ({url})");
    eprintln!("xtask: {what}");
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    drop(service);
    let counts = count_har(&st.python, &har)?;
    let bad = counts.undocumented_5xx();
    let mut problems = Vec::new();
    if !status.success() {
        problems.push("checks failed (see above)".to_owned());
    }
    if counts.requests < MIN_REQUESTS {
        problems.push(format!(
            "only {} requests (< {MIN_REQUESTS})",
            counts.requests
        ));
    }
    if !bad.is_empty() {
        problems.push(format!("undocumented server errors {bad:?}"));
    }
    let statuses: Vec<String> = counts
        .by_status
        .iter()
        .map(|(s, n)| format!("{s}x{n}"))
        .collect();
    let line = format!(
        "schemathesis[{backend}]: {} requests: 2xx {}, 4xx {}, 5xx {} (503/507 allowed; others {}) [{}]: {}",
        counts.requests,
        counts.class(2),
        counts.class(4),
        counts.class(5),
        bad.iter().map(|(_, n)| n).sum::<usize>(),
        statuses.join(" "),
        if problems.is_empty() {
            "passed".to_owned()
        } else {
            format!("FAILED: {}", problems.join("; "))
        }
    );
    eprintln!("xtask: {line}");
    Ok((line, problems.is_empty()))
}

/// Builds `vtier` and fuzzes it on each of `backends`; returns the summary lines and whether
/// all passed.
pub(crate) fn run(
    backends: &[&str],
    env: &[(String, String)],
) -> anyhow::Result<(Vec<String>, bool)> {
    util::build_vtier()?;
    let mut lines = Vec::new();
    let mut ok = true;
    for b in backends {
        match run_one(b, env) {
            Ok((line, passed)) => {
                ok &= passed;
                lines.push(line);
            }
            Err(e) => {
                ok = false;
                lines.push(format!("schemathesis[{b}]: FAILED: {e:#}"));
            }
        }
    }
    Ok((lines, ok))
}

/// `cargo xtask fuzz [--backend NAME]...`: starts the live servers the named backends need
/// (default: memory and pgvector, as in `ci`) and fuzzes the service on each.
pub(crate) fn fuzz(names: &[String]) -> anyhow::Result<()> {
    let names: Vec<&str> = if names.is_empty() {
        CI_TARGETS.to_vec()
    } else {
        names.iter().map(String::as_str).collect()
    };
    for n in &names {
        anyhow::ensure!(TARGETS.contains(n), "cannot fuzz {n:?}; known: {TARGETS:?}");
    }
    let live: Vec<String> = names
        .iter()
        .filter(|n| **n != "memory")
        .map(|n| (*n).to_owned())
        .collect();
    let selected = if live.is_empty() {
        Vec::new()
    } else {
        crate::backends::select(&live)?
    };
    let (servers, env) = crate::ci::start_servers(&selected)?;
    let result = run(&names, &env);
    drop(servers);
    let (lines, ok) = result?;
    for l in &lines {
        eprintln!("  {l}");
    }
    anyhow::ensure!(ok, "fuzzing failed");
    Ok(())
}

/// What `cargo xtask ci` fuzzes: the memory backend and one live server backend.
pub(crate) const CI_TARGETS: &[&str] = &["memory", "pgvector"];
