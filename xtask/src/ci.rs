//! `ci`, `conformance` and `bench`: start what is needed, run cargo, summarise per backend.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::backends::{self, Backend};
use crate::servers::Server;
use crate::util::{self, cargo};

/// Conformance outcome lines printed by the harness: `conformance[NAME]: ...`.
type Report = BTreeMap<String, Vec<String>>;

/// Variables handed to the tests: each server's URL variable and any extra ones it exports.
type TestEnv = Vec<(String, String)>;

/// Starts (in parallel) the servers of `selected` that need one and are not given by the
/// environment. Returns them with the variables to pass to the tests.
pub(crate) fn start_servers(selected: &[&Backend]) -> anyhow::Result<(Vec<Server>, TestEnv)> {
    let mut handles = Vec::new();
    for b in selected {
        let Some(start) = b.start else { continue };
        let env = b.url_env;
        handles.push((
            b.name,
            env,
            std::thread::spawn(move || -> anyhow::Result<Server> {
                match std::env::var(env).ok().filter(|v| !v.is_empty()) {
                    Some(url) => Ok(Server::external(url, format!("the server {env} names"))),
                    None => start(),
                }
            }),
        ));
    }
    let mut servers = Vec::new();
    let mut env = Vec::new();
    let mut errors = Vec::new();
    for (name, var, h) in handles {
        match h
            .join()
            .map_err(|_| anyhow::anyhow!("server thread panicked"))
            .and_then(|r| r)
        {
            Ok(s) => {
                eprintln!("xtask: {name}: using {}", s.description);
                env.push((var.to_owned(), s.url.clone()));
                env.extend(s.extra_env.iter().cloned());
                servers.push(s);
            }
            Err(e) => errors.push(format!("{name}: {e:#}")),
        }
    }
    if !errors.is_empty() {
        bail!(
            "could not start required servers:\n  {}",
            errors.join("\n  ")
        );
    }
    Ok((servers, env))
}

/// Runs a cargo command, echoing its output, and collects the harness's report lines.
fn run_reporting(
    mut cmd: Command,
    what: &str,
    report: &Arc<Mutex<Report>>,
) -> anyhow::Result<bool> {
    eprintln!("xtask: {what}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let mut threads = Vec::new();
    for (pipe, is_err) in [
        (
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            false,
        ),
        (
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            true,
        ),
    ] {
        let Some(pipe) = pipe else { continue };
        let report = report.clone();
        threads.push(std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if is_err {
                    let _ = writeln!(std::io::stderr(), "{line}");
                } else {
                    let _ = writeln!(std::io::stdout(), "{line}");
                }
                if let Some(rest) = line.strip_prefix("conformance[")
                    && let Some((name, msg)) = rest.split_once("]: ")
                    && let Ok(mut r) = report.lock()
                {
                    r.entry(name.to_owned()).or_default().push(msg.to_owned());
                }
            }
        }));
    }
    let status = child.wait()?;
    for t in threads {
        let _ = t.join();
    }
    Ok(status.success())
}

fn print_summary(selected: &[&Backend], report: &Report, extra: &[String]) {
    eprintln!("\n== conformance summary");
    for b in selected {
        match report.get(b.name) {
            Some(lines) => {
                for l in lines.iter().filter(|l| {
                    l.starts_with("against") || l.starts_with("NOT RUN") || l.starts_with("FAILED")
                }) {
                    eprintln!("  {:<9} {l}", b.name);
                }
            }
            None => eprintln!("  {:<9} no report (the test target did not run)", b.name),
        }
    }
    for e in extra {
        eprintln!("  {e}");
    }
}

/// Whether the report shows every selected backend ran with no failure and nothing not run.
fn all_ran(selected: &[&Backend], report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    for b in selected {
        let lines = report.get(b.name).cloned().unwrap_or_default();
        let finals: Vec<&String> = lines.iter().filter(|l| l.starts_with("against")).collect();
        if finals.is_empty() {
            problems.push(format!("{}: the conformance suite did not run", b.name));
        }
        for l in finals {
            if !l.contains(" 0 failed, 0 not run") {
                problems.push(format!("{}: {l}", b.name));
            }
        }
    }
    problems
}

/// The Weaviate suite also runs against a real server when `WEAVIATE_URL` is set; otherwise
/// that run is reported as not run.
fn weaviate_real(
    selected: &[&Backend],
    env: &[(String, String)],
    report: &Arc<Mutex<Report>>,
) -> anyhow::Result<(String, bool)> {
    if !selected.iter().any(|b| b.name == "weaviate") {
        return Ok((String::new(), true));
    }
    match std::env::var("WEAVIATE_URL").ok().filter(|v| !v.is_empty()) {
        None => Ok(("weaviate  real server: NOT RUN (WEAVIATE_URL is not set; the suite ran against the emulator only)".to_owned(), true)),
        Some(_) => {
            let mut cmd = cargo();
            cmd.args(["test", "-p", "vector-weaviate", "--test", "conformance"]).envs(env.iter().map(|(k, v)| (k, v))).env(crate::REQUIRE_ENV, "weaviate");
            let mut own = Report::new();
            let scratch = Arc::new(Mutex::new(Report::new()));
            let ok = run_reporting(cmd, "conformance against the real Weaviate server (WEAVIATE_URL)", &scratch)?;
            if let Ok(s) = scratch.lock() {
                own.clone_from(&s);
            }
            let line = own.get("weaviate").and_then(|l| l.iter().rev().find(|l| l.starts_with("against") || l.starts_with("FAILED")).cloned()).unwrap_or_else(|| "no report".into());
            if let Ok(mut r) = report.lock() {
                r.entry("weaviate-real".into()).or_default().push(line.clone());
            }
            Ok((format!("weaviate  real server: {line}"), ok))
        }
    }
}

pub(crate) fn ci() -> anyhow::Result<()> {
    let started = Instant::now();
    util::run(
        cargo().args(["fmt", "--all", "--check"]),
        "cargo fmt --all --check",
    )?;
    util::run(
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy --workspace --all-targets --all-features -- -D warnings",
    )?;
    let selected = backends::select(&[])?;
    let (servers, env) = start_servers(&selected)?;
    let report = Arc::new(Mutex::new(Report::new()));
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--all-features", "--no-fail-fast"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        // The main run uses the Weaviate emulator; a real server gets its own run below.
        .env_remove("WEAVIATE_URL")
        .env(crate::REQUIRE_ENV, "all");
    let tests_ok = run_reporting(
        cmd,
        "cargo test --workspace --all-features (live servers, every backend required)",
        &report,
    )?;
    let (weaviate_line, weaviate_ok) = weaviate_real(&selected, &env, &report)?;
    let (fuzz_lines, fuzz_ok) = crate::fuzz::run(crate::fuzz::CI_TARGETS, &env)
        .unwrap_or_else(|e| (vec![format!("schemathesis: FAILED: {e:#}")], false));
    drop(servers);
    // The operators' kit: Prometheus, dashboard, alerts, deploy files, backups.
    let ops_ok = crate::ops::ops()
        .map_err(|e| eprintln!("xtask: {e:#}"))
        .is_ok();
    // Every library crate must stay publishable on its own: metadata, versions on path
    // dependencies, and a build from the packaged sources alone.
    forget_packaged_sources();
    let mut package = cargo();
    package.args(["package", "--workspace", "--allow-dirty"]);
    // Crates marked `publish = false` (the xtask, the cross-crate tests, the Weaviate
    // emulator) are never published: packaging them would only rebuild them.
    for name in unpublished_crates() {
        package.args(["--exclude", &name]);
    }
    let package_ok = util::run(
        package
            .env("CARGO_TARGET_DIR", package_target())
            // The verification only has to build; without debug info it builds sooner (a
            // packaged crate carries none of the workspace's profile settings).
            .env("CARGO_PROFILE_DEV_DEBUG", "0"),
        "cargo package --workspace (the published crates)",
    )
    .map_err(|e| eprintln!("xtask: {e:#}"))
    .is_ok();
    let report = report.lock().map(|r| r.clone()).unwrap_or_default();
    print_summary(
        &selected,
        &report,
        &[&[weaviate_line][..], &fuzz_lines].concat(),
    );
    let mut problems = all_ran(&selected, &report);
    if !tests_ok {
        problems.push("cargo test failed (see the failures above)".to_owned());
    }
    if !fuzz_ok {
        problems.push("schemathesis failed".to_owned());
    }
    if !package_ok {
        problems.push("cargo package --workspace failed".to_owned());
    }
    if !ops_ok {
        problems.push("cargo xtask ops failed (see its summary above)".to_owned());
    }
    eprintln!("xtask: ci took {:.0?}", started.elapsed());
    if !tests_ok || !weaviate_ok || !problems.is_empty() {
        bail!(
            "ci failed: {}",
            if problems.is_empty() {
                "tests failed".to_owned()
            } else {
                problems.join("; ")
            }
        );
    }
    eprintln!("xtask: ci passed");
    Ok(())
}

/// Where `cargo package` verifies the packaged crates.
fn package_target() -> std::path::PathBuf {
    util::target_dir().join("package-verify")
}

/// The package names of the workspace members whose manifest says `publish = false`.
fn unpublished_crates() -> Vec<String> {
    let root = util::root();
    let members = ["xtask", "tests"].into_iter().map(|d| root.join(d)).chain(
        std::fs::read_dir(root.join("crates"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path()),
    );
    members
        .filter_map(|dir| std::fs::read_to_string(dir.join("Cargo.toml")).ok())
        .filter(|toml| toml.lines().any(|l| l.trim() == "publish = false"))
        .filter_map(|toml| {
            let line = toml.lines().find(|l| l.starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_owned())
        })
        .collect()
}

/// `cargo package` verifies each crate against its workspace siblings published to a temporary
/// registry, and cargo treats registry crates as immutable: it neither re-extracts nor rebuilds
/// a name and version it has seen. Without a version bump a second run would verify against the
/// first run's build of our own crates, so forget those (third-party builds stay cached).
fn forget_packaged_sources() {
    let ours = |name: &str| {
        let name = name.strip_prefix("lib").unwrap_or(name);
        ["vector", "vtier", "weaviate", "xtask"]
            .iter()
            .any(|p| name.starts_with(p))
    };
    let _ = std::fs::remove_dir_all(util::target_dir().join("package"));
    for sub in ["debug/deps", "debug/.fingerprint", "debug/build"] {
        let Ok(entries) = std::fs::read_dir(package_target().join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            if ours(&e.file_name().to_string_lossy()) {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(p)
                } else {
                    std::fs::remove_file(p)
                };
            }
        }
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(&src) else {
        return;
    };
    for e in entries.flatten() {
        // The temporary registry has no name, so its directory is `-<hash>`.
        if e.file_name().to_string_lossy().starts_with('-') {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

pub(crate) fn conformance(names: &[String]) -> anyhow::Result<()> {
    let selected = backends::select(names)?;
    let (servers, env) = start_servers(&selected)?;
    let report = Arc::new(Mutex::new(Report::new()));
    let mut ok = true;
    for b in &selected {
        let mut cmd = cargo();
        cmd.args(["test", "-p", b.package, "--test", "conformance"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("WEAVIATE_URL")
            .env(crate::REQUIRE_ENV, b.name);
        ok &= run_reporting(
            cmd,
            &format!("conformance suite against {}", b.name),
            &report,
        )?;
    }
    let (weaviate_line, weaviate_ok) = weaviate_real(&selected, &env, &report)?;
    drop(servers);
    let report = report.lock().map(|r| r.clone()).unwrap_or_default();
    print_summary(&selected, &report, &[weaviate_line]);
    let problems = all_ran(&selected, &report);
    if !ok || !weaviate_ok || !problems.is_empty() {
        bail!("conformance failed: {}", problems.join("; "));
    }
    Ok(())
}

pub(crate) fn bench(packages: &[String], criterion_args: &[String]) -> anyhow::Result<()> {
    let wanted: Vec<&Backend> = backends::BACKENDS
        .iter()
        .filter(|b| b.exists() && (packages.is_empty() || packages.iter().any(|p| p == b.package)))
        .collect();
    let (servers, env) = start_servers(&wanted)?;
    let mut cmd = cargo();
    cmd.arg("bench");
    if packages.is_empty() {
        cmd.arg("--workspace");
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    if !criterion_args.is_empty() {
        cmd.arg("--").args(criterion_args);
    }
    let result = util::run(&mut cmd, "cargo bench");
    drop(servers);
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_unpublished_crates_are_the_three_tools() {
        let mut names = super::unpublished_crates();
        names.sort();
        assert_eq!(names, ["vector-tier-tests", "weaviate-emulator", "xtask"]);
    }
}
