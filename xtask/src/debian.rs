//! Debian packages without touching the system: `apt-get download` through a private sources
//! list and state directory (the machine's apt configuration, lists and caches are untouched),
//! from the Debian mirror the machine's own apt sources use, then `dpkg -x` into a private
//! root. Used for OpenSSL 1.1 (the Redis Stack wheel links against it) and for Prometheus and
//! promtool (`cargo xtask ops`). Everything is cached under the given directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::util;

/// Downloads `package` from `suite` of the machine's Debian mirror and unpacks it into
/// `dir/root` (once; a later call with `marker` present under the root returns at once).
/// `marker` is a path relative to the root that the package must contain. Returns the root.
pub(crate) fn unpack(
    dir: &Path,
    suite: &str,
    package: &str,
    marker: &str,
) -> anyhow::Result<PathBuf> {
    let root = dir.join("root");
    if root.join(marker).exists() {
        return Ok(root);
    }
    let mirror = mirror().context("finding the Debian mirror of this machine's apt sources")?;
    let apt = dir.join("apt");
    for d in ["lists/partial", "cache/archives/partial", "debs"] {
        std::fs::create_dir_all(apt.join(d))?;
    }
    let sources = apt.join("sources.list");
    std::fs::write(&sources, format!("deb {} {suite} main\n", mirror.0))?;
    let opts = |c: &mut Command| {
        c.arg("-q")
            .arg("-o")
            .arg(format!("Dir::Etc::SourceList={}", sources.display()))
            .args(["-o", "Dir::Etc::SourceParts=/dev/null"])
            .arg("-o")
            .arg(format!("Dir::State::Lists={}", apt.join("lists").display()))
            .arg("-o")
            .arg(format!("Dir::Cache={}", apt.join("cache").display()))
            // Only the package lists are needed, not the AppStream metadata.
            .args([
                "-o",
                "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
            ])
            .args([
                "-o",
                "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
            ])
            .args([
                "-o",
                "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
            ]);
    };
    let mut update = Command::new("apt-get");
    opts(&mut update);
    update.arg("update");
    util::run(
        &mut update,
        &format!(
            "apt-get update (private lists: deb {} {suite} main)",
            mirror.0
        ),
    )?;
    let mut download = Command::new("apt-get");
    opts(&mut download);
    download
        .args(["download", package])
        .current_dir(apt.join("debs"));
    util::run(
        &mut download,
        &format!(
            "apt-get download {package} (Debian {suite}, into {})",
            apt.join("debs").display()
        ),
    )?;
    let prefix = format!("{package}_");
    let deb = std::fs::read_dir(apt.join("debs"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .with_context(|| format!("apt-get download left no {package} .deb"))?;
    util::run(
        Command::new("dpkg").arg("-x").arg(&deb).arg(&root),
        &format!("dpkg -x {}", deb.display()),
    )?;
    if !root.join(marker).exists() {
        bail!("{} holds no {marker}", deb.display());
    }
    Ok(root)
}

/// The suite (codename) of the machine's own Debian release, e.g. `bookworm`.
pub(crate) fn own_suite() -> anyhow::Result<String> {
    let (_, suites) = mirror()?;
    suites
        .iter()
        .find(|s| !s.contains('-'))
        .or(suites.first())
        .cloned()
        .context("the Debian archive in the apt sources names no suite")
}

/// The Debian archive URL the machine's apt sources use (not the security archive) and its
/// suites, from one-line `.list` files and deb822 `.sources` files alike.
fn mirror() -> anyhow::Result<(String, Vec<String>)> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    let mut candidates = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        match f.extension().and_then(|e| e.to_str()) {
            Some("sources") => candidates.extend(deb822_uris(&text)),
            Some("list") | None
                if f.file_name().is_some_and(|n| {
                    n == "sources.list" || n.to_string_lossy().ends_with(".list")
                }) =>
            {
                candidates.extend(one_line_uris(&text));
            }
            _ => {}
        }
    }
    // The main archive: a URI whose suites are Debian's (not -security, not a third party).
    candidates
        .into_iter()
        .find(|(uri, suites)| {
            !uri.contains("security")
                && suites.iter().any(|s| {
                    ["bookworm", "bullseye", "trixie", "stable", "oldstable"]
                        .contains(&s.split('-').next().unwrap_or(""))
                })
        })
        .map(|(uri, suites)| (uri.trim_end_matches('/').to_owned(), suites))
        .context("no Debian archive in /etc/apt/sources.list or /etc/apt/sources.list.d/*")
}

/// `deb [options] URI suite components...` lines.
fn one_line_uris(text: &str) -> Vec<(String, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next()?.trim();
            let rest = l.strip_prefix("deb ")?.trim();
            // Skip an `[arch=... signed-by=...]` option block.
            let rest = if rest.starts_with('[') {
                rest.split_once(']')?.1.trim()
            } else {
                rest
            };
            let mut words = rest.split_whitespace();
            let uri = words.next()?.to_owned();
            let suite = words.next()?.to_owned();
            Some((uri, vec![suite]))
        })
        .collect()
}

/// deb822 stanzas: `Types: deb`, `URIs:`, `Suites:` (stanzas separated by blank lines).
fn deb822_uris(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut types = Vec::new();
        let mut uris = Vec::new();
        let mut suites = Vec::new();
        let mut enabled = true;
        for line in stanza.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let words: Vec<String> = v.split_whitespace().map(str::to_owned).collect();
            match k.trim().to_ascii_lowercase().as_str() {
                "types" => types = words,
                "uris" => uris = words,
                "suites" => suites = words,
                "enabled" => enabled = !v.trim().eq_ignore_ascii_case("no"),
                _ => {}
            }
        }
        if enabled && types.iter().any(|t| t == "deb") {
            out.extend(uris.into_iter().map(|u| (u, suites.clone())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_apt_source_formats() {
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n";
        let got = deb822_uris(deb822);
        assert_eq!(got[0].0, "http://deb.debian.org/debian");
        assert_eq!(got[1].1, vec!["bookworm-security".to_owned()]);
        let list = "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\ndeb-src http://x/debian bookworm main\n";
        assert_eq!(
            one_line_uris(list),
            vec![(
                "http://mirror.example/debian".to_owned(),
                vec!["bookworm".to_owned()]
            )]
        );
    }
}
