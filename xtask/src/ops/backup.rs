//! Backups of a live backend with the `vtier` binary: back up every namespace, wipe the
//! backend through the service, restore (which verifies itself), back up again, and compare
//! the two manifests: equal counts and SHA-256 per namespace mean every record came back
//! bit for bit. Prometheus must then show the restored counts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::deploycheck::{output, str_of};
use super::http;
use super::prom::Prom;

/// Runs `vtier backup` into `parent`, returning the backup directory and its manifest.
fn backup(vtier: &Path, url: &str, parent: &Path) -> anyhow::Result<(PathBuf, Value)> {
    std::fs::create_dir_all(parent)?;
    let out = output(
        Command::new(vtier)
            .args(["backup", "--url", url, "--quiet", "--output-dir"])
            .arg(parent),
        "vtier backup",
    )?;
    eprintln!("{}", out.trim_end());
    let dirs: Vec<PathBuf> = std::fs::read_dir(parent)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").exists())
        .collect();
    let [dir] = dirs.as_slice() else {
        bail!(
            "expected one backup in {}, found {dirs:?}",
            parent.display()
        );
    };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json"))?)?;
    Ok((dir.clone(), manifest))
}

/// (namespace, count, sha256) of every namespace in a manifest, sorted.
fn entries(manifest: &Value) -> Vec<(String, u64, String)> {
    let mut v: Vec<(String, u64, String)> = manifest["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|n| {
            (
                str_of(n, "namespace").to_owned(),
                n["count"].as_u64().unwrap_or(u64::MAX),
                str_of(n, "sha256").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn namespaces(port: u16) -> anyhow::Result<Vec<String>> {
    let r = http::request(port, "GET", "/v1/namespaces", None)?.json()?;
    Ok(r["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect())
}

pub(crate) fn round_trip(
    vtier: &Path,
    url: &str,
    port: u16,
    prom: &Prom,
    dir: &Path,
) -> anyhow::Result<String> {
    let before = namespaces(port)?;
    if before.is_empty() {
        bail!("the backend has no namespaces to back up");
    }
    let (first_dir, first) = backup(vtier, url, &dir.join("backup-1"))?;
    let first_entries = entries(&first);
    let names: Vec<&String> = first_entries.iter().map(|e| &e.0).collect();
    if names.iter().map(|s| s.as_str()).collect::<Vec<_>>()
        != before.iter().map(String::as_str).collect::<Vec<_>>()
    {
        bail!("the manifest lists {names:?}, the backend has {before:?}");
    }
    let records: u64 = first_entries.iter().map(|e| e.1).sum();
    for ns in &before {
        let r = http::request(port, "DELETE", &format!("/v1/namespaces/{ns}"), None)?;
        if r.status != 200 {
            bail!("dropping {ns}: {} {}", r.status, r.body);
        }
    }
    let wiped = namespaces(port)?;
    if !wiped.is_empty() {
        bail!("namespaces left after the wipe: {wiped:?}");
    }
    let restored = output(
        Command::new(vtier)
            .args(["restore", "--url", url, "--quiet", "--input"])
            .arg(&first_dir),
        "vtier restore",
    )?;
    eprintln!("{}", restored.trim_end());
    let (_, second) = backup(vtier, url, &dir.join("backup-2"))?;
    let second_entries = entries(&second);
    if second_entries != first_entries {
        bail!(
            "the backup after the restore differs:\n before {first_entries:?}\n after  {second_entries:?}"
        );
    }
    for (ns, count, _) in &first_entries {
        prom.wait_value(
            &format!(r#"vector_count_per_namespace{{backend_type="redis",namespace="{ns}"}}"#),
            *count as f64,
            Duration::from_secs(30),
        )
        .context("Prometheus after the restore")?;
    }
    Ok(format!(
        "{} namespaces, {records} records backed up, wiped, restored (verified by vtier restore); a second backup is identical (count and SHA-256 of every namespace); Prometheus shows the restored counts",
        first_entries.len()
    ))
}
