//! `cargo xtask ops`: the operators' kit checked the way operators' tools read it (see
//! `docs/operations.md`, which describes each check):
//!
//! - static: `promtool check config` / `check rules` / `test rules` (a unit test per alert),
//!   hadolint on the Dockerfile, kubernetes-validate (strict) on the manifests, and the
//!   dashboard's and the alert tests' consistency with the alert file;
//! - live: a real Prometheus (Debian's package) scraping `vtier serve` on the memory backend
//!   and on a private Redis Stack, with the project's scrape config and alerting rules, while
//!   this tool drives traffic; then every design-document metric, its labels, the histogram
//!   buckets, `vector_count_per_namespace` after writes, every dashboard query, and the rules'
//!   health are checked through Prometheus's HTTP API;
//! - backup: `vtier backup` of the whole Redis backend, wipe, `vtier restore`, and a second
//!   backup that must be identical record for record (same counts and SHA-256 per namespace).
//!
//! Everything it needs is installed privately under the target dir (see [`tools`]).

mod backup;
mod dashboard;
mod deploycheck;
mod http;
mod live;
mod prom;
mod sizing;
mod tools;
mod traffic;

use std::time::Instant;

pub(crate) use sizing::sizing;

/// What ran and what it verified, printed at the end.
#[derive(Default)]
pub(crate) struct Summary {
    lines: Vec<(String, Result<String, String>)>,
}

impl Summary {
    /// Runs one check, recording its outcome (a failure does not stop the others).
    pub(crate) fn check(&mut self, name: &str, f: impl FnOnce() -> anyhow::Result<String>) {
        eprintln!("xtask: ops: {name}");
        let started = Instant::now();
        let outcome = f().map_err(|e| format!("{e:#}"));
        match &outcome {
            Ok(detail) => eprintln!(
                "xtask: ops: {name}: ok ({:.1?}): {detail}",
                started.elapsed()
            ),
            Err(e) => eprintln!("xtask: ops: {name}: FAILED: {e}"),
        }
        self.lines.push((name.to_owned(), outcome));
    }

    fn failures(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|(n, o)| o.as_ref().err().map(|e| format!("{n}: {e}")))
            .collect()
    }

    fn print(&self) {
        eprintln!("\n== ops summary");
        for (name, outcome) in &self.lines {
            match outcome {
                Ok(detail) => eprintln!("  ok      {name}: {detail}"),
                Err(e) => eprintln!("  FAILED  {name}: {e}"),
            }
        }
        let failed = self.failures().len();
        eprintln!("ops: {} passed, {failed} failed", self.lines.len() - failed);
    }
}

/// Runs every check; fails when one failed.
pub(crate) fn ops() -> anyhow::Result<()> {
    let started = Instant::now();
    let mut summary = Summary::default();
    let prometheus = tools::prometheus()?;
    let venv = tools::venv()?;
    eprintln!("xtask: ops: {}", prometheus.version);
    deploycheck::run(&prometheus, &venv, &mut summary);
    if let Err(e) = live::run(&prometheus, &venv, &mut summary) {
        summary
            .lines
            .push(("live checks".into(), Err(format!("{e:#}"))));
    }
    summary.print();
    eprintln!("xtask: ops took {:.0?}", started.elapsed());
    let failures = summary.failures();
    anyhow::ensure!(
        failures.is_empty(),
        "ops checks failed:\n  {}",
        failures.join("\n  ")
    );
    Ok(())
}
