//! The Grafana dashboard (`deploy/grafana/vector-tier.json`): statically, every panel has
//! queries and they name only the design document's metrics; live, every template variable
//! and every panel query is evaluated against the CI Prometheus and must return data.

use std::collections::BTreeSet;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::deploycheck::{METRICS, str_of};
use super::prom::Prom;
use crate::util::root;

/// The topics the dashboard must cover (panel titles contain these words).
const TOPICS: [&str; 6] = [
    "Request rate",
    "Error rate by kind",
    "Latency p50 / p95 / p99 by operation and backend",
    "Vectors per namespace",
    "Backend connections",
    "Readiness",
];

pub(crate) struct Dashboard {
    /// Template variables: name, query (`label_values(...)`), multi-valued with "All".
    variables: Vec<(String, String, bool)>,
    /// Panel title and PromQL expression of every target.
    targets: Vec<(String, String)>,
    panels: usize,
}

impl Dashboard {
    pub(crate) fn load() -> anyhow::Result<Self> {
        let path = root().join("deploy/grafana/vector-tier.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        let json: Value = serde_json::from_str(&text).context("the dashboard is not JSON")?;
        let mut variables = Vec::new();
        for v in json["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if str_of(&v, "type") != "query" {
                continue;
            }
            let query = v["query"]["query"]
                .as_str()
                .or_else(|| v["query"].as_str())
                .unwrap_or_default()
                .to_owned();
            variables.push((
                str_of(&v, "name").to_owned(),
                query,
                v["includeAll"].as_bool().unwrap_or(false),
            ));
        }
        let mut targets = Vec::new();
        let mut panels = 0;
        let mut stack: Vec<Value> = json["panels"].as_array().cloned().unwrap_or_default();
        while let Some(p) = stack.pop() {
            // Rows may nest panels.
            stack.extend(p["panels"].as_array().cloned().unwrap_or_default());
            if str_of(&p, "type") == "row" {
                continue;
            }
            panels += 1;
            let title = str_of(&p, "title").to_owned();
            let exprs: Vec<String> = p["targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t["expr"].as_str().map(str::to_owned))
                .collect();
            if exprs.is_empty() {
                bail!("panel {title:?} has no PromQL query");
            }
            targets.extend(exprs.into_iter().map(|e| (title.clone(), e)));
        }
        targets.sort();
        Ok(Self {
            variables,
            targets,
            panels,
        })
    }

    /// Every topic has a panel; every metric named is one of the design document's (or `up`).
    pub(crate) fn check_static(&self) -> anyhow::Result<String> {
        for topic in TOPICS {
            if !self.targets.iter().any(|(t, _)| t.contains(topic)) {
                bail!("no panel about {topic:?}");
            }
        }
        let mut names = BTreeSet::new();
        for (title, expr) in self
            .targets
            .iter()
            .map(|(t, e)| (t, e.clone()))
            .chain(self.variables.iter().map(|(n, q, _)| (n, q.clone())))
        {
            for word in metric_words(&expr) {
                let base = word
                    .strip_suffix("_bucket")
                    .filter(|b| *b == "vector_query_duration_seconds")
                    .unwrap_or(&word);
                if !METRICS.contains(&base) {
                    bail!("{title:?} names {word}, which the service does not export");
                }
                names.insert(word);
            }
        }
        Ok(format!(
            "{} panels, {} queries, {} variables; metrics used: {}",
            self.panels,
            self.targets.len(),
            self.variables.len(),
            names.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }

    /// Evaluates every variable and every panel query; each must return data.
    pub(crate) fn evaluate(&self, prom: &Prom) -> anyhow::Result<String> {
        let mut subst: Vec<(String, String)> = vec![("$__rate_interval".into(), "5m".into())];
        let mut var_report = Vec::new();
        for (name, query, all) in &self.variables {
            let q = substitute(query, &subst);
            let values = label_values(prom, &q)?;
            if values.is_empty() {
                bail!("variable ${name} ({q}) has no values");
            }
            var_report.push(format!("${name}: {}", values.len()));
            let value = if *all {
                ".*".to_owned()
            } else if values.iter().any(|v| v == "vector-tier") {
                "vector-tier".to_owned()
            } else {
                values[0].clone()
            };
            subst.push((format!("${name}"), value));
        }
        let mut series = 0;
        for (title, expr) in &self.targets {
            let q = substitute(expr, &subst);
            let result = prom
                .query(&q)
                .with_context(|| format!("panel {title:?}: {q}"))?;
            let finite = result
                .iter()
                .filter(|s| {
                    s["value"][1]
                        .as_str()
                        .and_then(|v| v.parse::<f64>().ok())
                        .is_some_and(f64::is_finite)
                })
                .count();
            if finite == 0 {
                bail!(
                    "panel {title:?}: no data ({} series, none with a finite value) for {q}",
                    result.len()
                );
            }
            series += finite;
        }
        Ok(format!(
            "{} panel queries all returned data ({series} series with finite values); variables {}",
            self.targets.len(),
            var_report.join(", ")
        ))
    }
}

/// Replaces the longest variable names first (`$namespace` before `$n`), also in `${name}` form.
fn substitute(expr: &str, subst: &[(String, String)]) -> String {
    let mut vars = subst.to_vec();
    vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    let mut out = expr.to_owned();
    for (k, v) in vars {
        out = out
            .replace(&format!("${{{}}}", &k[1..]), &v)
            .replace(&k, &v);
    }
    out
}

/// `label_values(selector, label)` through `/api/v1/series`.
fn label_values(prom: &Prom, query: &str) -> anyhow::Result<Vec<String>> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .with_context(|| format!("unsupported variable query {query:?}"))?;
    let (selector, label) = inner
        .rsplit_once(',')
        .with_context(|| format!("label_values without a label: {query:?}"))?;
    let mut values: Vec<String> = prom
        .series(selector.trim())?
        .iter()
        .filter_map(|s| s[label.trim()].as_str().map(str::to_owned))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    values.retain(|v| !v.is_empty() || label.trim() == "namespace");
    Ok(values)
}

/// Words of a PromQL expression that look like the project's metric names (`vector_...`).
fn metric_words(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("vector_"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_variables() {
        let s = vec![
            ("$job".to_owned(), "vector-tier".to_owned()),
            ("$backend".to_owned(), ".*".to_owned()),
            ("$__rate_interval".to_owned(), "5m".to_owned()),
        ];
        assert_eq!(
            substitute(
                r#"rate(x{job="$job",b=~"${backend}"}[$__rate_interval])"#,
                &s
            ),
            r#"rate(x{job="vector-tier",b=~".*"}[5m])"#
        );
        assert_eq!(
            metric_words("sum(rate(vector_query_total{a=\"vector_x\"}[1m]))"),
            vec!["vector_query_total", "vector_x"]
        );
    }

    #[test]
    fn the_dashboard_is_consistent() {
        let d = Dashboard::load().unwrap();
        d.check_static().unwrap();
    }
}
