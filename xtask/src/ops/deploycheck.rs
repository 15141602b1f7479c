//! The static checks: promtool on the scrape config, the alerting rules and their unit tests;
//! hadolint on the Dockerfile; kubernetes-validate on the manifests; the dashboard's metric
//! names; and that every alert has a firing and a quiet unit test.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::Summary;
use super::tools::{Prometheus, yaml};
use crate::util::root;

/// The Kubernetes version the manifests are validated against (the newest schema
/// kubernetes-validate ships).
pub(crate) const KUBERNETES_VERSION: &str = "1.37.0";

/// The design document's metric names (histogram series carry `_bucket`, `_sum`, `_count`).
pub(crate) const METRICS: [&str; 6] = [
    "vector_query_duration_seconds",
    "vector_query_total",
    "vector_query_errors_total",
    "vector_backend_connections_active",
    "vector_namespaces_total",
    "vector_count_per_namespace",
];

/// Runs a tool, returning its combined output; fails with it when the tool fails.
pub(crate) fn output(cmd: &mut Command, what: &str) -> anyhow::Result<String> {
    let out = cmd
        .current_dir(root())
        .output()
        .with_context(|| format!("starting {what}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{what} failed ({}):\n{}", out.status, text.trim_end());
    }
    Ok(text)
}

pub(crate) fn run(prom: &Prometheus, venv: &Path, summary: &mut Summary) {
    summary.check(
        "promtool check config deploy/prometheus/prometheus.yml",
        || {
            let out = output(
                Command::new(&prom.promtool).args([
                    "check",
                    "config",
                    "deploy/prometheus/prometheus.yml",
                ]),
                "promtool check config",
            )?;
            Ok(out
                .lines()
                .filter(|l| l.contains("SUCCESS"))
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("; "))
        },
    );
    summary.check("promtool check rules deploy/prometheus/alerts.yml", || {
        let out = output(
            Command::new(&prom.promtool).args(["check", "rules", "deploy/prometheus/alerts.yml"]),
            "promtool check rules",
        )?;
        Ok(out
            .lines()
            .filter(|l| l.contains("SUCCESS"))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; "))
    });
    summary.check(
        "promtool test rules deploy/prometheus/alerts.test.yml",
        || {
            let coverage = alert_test_coverage(venv)?;
            let out = output(
                Command::new(&prom.promtool).args([
                    "test",
                    "rules",
                    "deploy/prometheus/alerts.test.yml",
                ]),
                "promtool test rules",
            )?;
            if !out.contains("SUCCESS") {
                bail!("promtool printed no SUCCESS:\n{out}");
            }
            Ok(format!("SUCCESS; {coverage}"))
        },
    );
    summary.check("hadolint deploy/Dockerfile", || {
        let out = output(
            Command::new(venv.join("hadolint")).arg("deploy/Dockerfile"),
            "hadolint",
        )?;
        let version = output(
            Command::new(venv.join("hadolint")).arg("--version"),
            "hadolint --version",
        )?;
        Ok(format!(
            "no findings ({}); {} lines of output",
            version.trim(),
            out.lines().count()
        ))
    });
    summary.check(
        &format!("kubernetes-validate --strict -k {KUBERNETES_VERSION} deploy/k8s"),
        || kubernetes(venv),
    );
    summary.check("dashboard deploy/grafana/vector-tier.json (static)", || {
        let dash = super::dashboard::Dashboard::load()?;
        dash.check_static()
    });
}

/// Every alert of alerts.yml has a unit test where it fires and one where it must not.
fn alert_test_coverage(venv: &Path) -> anyhow::Result<String> {
    let rules = yaml(venv, &root().join("deploy/prometheus/alerts.yml"))?;
    let alerts: BTreeSet<String> = rules
        .iter()
        .flat_map(|d| d["groups"].as_array().cloned().unwrap_or_default())
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect();
    let tests = yaml(venv, &root().join("deploy/prometheus/alerts.test.yml"))?;
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    let mut cases = 0;
    for t in tests
        .iter()
        .flat_map(|d| d["tests"].as_array().cloned().unwrap_or_default())
    {
        for case in t["alert_rule_test"].as_array().cloned().unwrap_or_default() {
            cases += 1;
            let name = case["alertname"].as_str().unwrap_or_default().to_owned();
            if case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()) {
                firing.insert(name);
            } else {
                quiet.insert(name);
            }
        }
    }
    let untested: Vec<&String> = alerts
        .iter()
        .filter(|a| !firing.contains(*a) || !quiet.contains(*a))
        .collect();
    if !untested.is_empty() {
        bail!("alerts without both a firing and a quiet unit test: {untested:?}");
    }
    Ok(format!(
        "{} alerts, {cases} alert_rule_test cases, each alert fires in one and stays quiet in another",
        alerts.len()
    ))
}

fn kubernetes(venv: &Path) -> anyhow::Result<String> {
    let dir = root().join("deploy/k8s");
    let mut files: Vec<String> = std::fs::read_dir(&dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .collect();
    files.sort();
    // kustomization.yaml is kustomize's, not an API object: check it lists every manifest.
    let kustomization = yaml(venv, &dir.join("kustomization.yaml"))?;
    let listed: BTreeSet<String> = kustomization
        .first()
        .and_then(|k| k["resources"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let manifests: Vec<String> = files
        .into_iter()
        .filter(|f| f != "kustomization.yaml")
        .collect();
    let unlisted: Vec<&String> = manifests.iter().filter(|f| !listed.contains(*f)).collect();
    let missing: Vec<&String> = listed.iter().filter(|f| !manifests.contains(*f)).collect();
    if !unlisted.is_empty() || !missing.is_empty() {
        bail!("kustomization.yaml: not listed {unlisted:?}, listed but absent {missing:?}");
    }
    let out = output(
        Command::new(venv.join("kubernetes-validate"))
            .args(["--strict", "-k", KUBERNETES_VERSION])
            .args(manifests.iter().map(|f| format!("deploy/k8s/{f}"))),
        "kubernetes-validate",
    )?;
    let passed: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" passed for resource "))
        .collect();
    let other: Vec<&str> = out
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains(" passed for resource "))
        .collect();
    if !other.is_empty() {
        bail!("kubernetes-validate reported:\n{}", other.join("\n"));
    }
    let kinds: Vec<String> = passed
        .iter()
        .filter_map(|l| l.split(" passed for resource ").nth(1))
        .filter_map(|r| r.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    Ok(format!(
        "{} resources in {} files valid against Kubernetes {KUBERNETES_VERSION} (strict: no unknown fields): {}; kustomization.yaml lists every file",
        kinds.len(),
        manifests.len(),
        kinds.join(", ")
    ))
}

/// The label keys of `metric` (without `__name__`, `job`, `instance`), as the service exports
/// them: the reference for the live checks and for the alert tests' input series.
pub(crate) fn expected_labels(metric: &str) -> Option<&'static [&'static str]> {
    let base = metric
        .strip_suffix("_bucket")
        .or_else(|| metric.strip_suffix("_sum"))
        .or_else(|| metric.strip_suffix("_count"))
        .filter(|b| *b == "vector_query_duration_seconds")
        .unwrap_or(metric);
    Some(
        match (base, metric.ends_with("_bucket") && base != metric) {
            ("vector_query_duration_seconds", true) => {
                &["backend_type", "le", "namespace", "operation"]
            }
            ("vector_query_duration_seconds" | "vector_query_total", false) => {
                &["backend_type", "namespace", "operation"]
            }
            ("vector_query_errors_total", _) => {
                &["backend_type", "error_kind", "namespace", "operation"]
            }
            ("vector_backend_connections_active" | "vector_namespaces_total", _) => {
                &["backend_type"]
            }
            ("vector_count_per_namespace", _) => &["backend_type", "namespace"],
            ("up", _) => &[],
            _ => return None,
        },
    )
}

/// Parses `name{a="x",b="y"}` into the name and its label keys (sorted).
pub(crate) fn parse_series(s: &str) -> (String, Vec<String>) {
    let (name, rest) = s.split_once('{').unwrap_or((s, ""));
    let mut keys = Vec::new();
    let mut in_quotes = false;
    let mut key = String::new();
    let mut escaped = false;
    for c in rest.trim_end_matches('}').chars() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '=' => keys.push(std::mem::take(&mut key).trim().to_owned()),
            ',' => key.clear(),
            c => key.push(c),
        }
    }
    keys.sort();
    (name.trim().to_owned(), keys)
}

/// The input series of the alert unit tests: each must have the name and label keys of a
/// series the service really exports, so the tests exercise the real shapes.
pub(crate) fn alert_test_series(venv: &Path) -> anyhow::Result<Vec<String>> {
    let tests = yaml(venv, &root().join("deploy/prometheus/alerts.test.yml"))?;
    Ok(tests
        .iter()
        .flat_map(|d| d["tests"].as_array().cloned().unwrap_or_default())
        .flat_map(|t| t["input_series"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s["series"].as_str().map(str::to_owned))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

/// `Value` helper: a string field or "".
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_series_selectors() {
        assert_eq!(
            parse_series(
                r#"vector_query_total{job="vector-tier",instance="a:8000",namespace="x,y=\"z\""}"#
            ),
            (
                "vector_query_total".to_owned(),
                vec![
                    "instance".to_owned(),
                    "job".to_owned(),
                    "namespace".to_owned()
                ]
            )
        );
        assert_eq!(parse_series("up").0, "up");
        assert_eq!(
            expected_labels("vector_query_duration_seconds_bucket").unwrap(),
            &["backend_type", "le", "namespace", "operation"]
        );
        assert_eq!(
            expected_labels("vector_query_duration_seconds_count").unwrap(),
            &["backend_type", "namespace", "operation"]
        );
    }
}
