//! `cargo xtask`: the project's automation, in Rust so it needs nothing but cargo
//! (see <https://github.com/matklad/cargo-xtask>).
//!
//! - `cargo xtask ci`: format check, clippy with warnings denied, every test (with live Redis
//!   Stack and PostgreSQL + pgvector servers this tool starts, and the Weaviate emulator), and
//!   the conformance suite against every backend, each required to run; then
//!   `cargo package --workspace`, so every library crate stays publishable on its own.
//! - `cargo xtask conformance [--backend NAME]...`: the conformance suite against backends.
//! - `cargo xtask ops`: Prometheus, dashboard, alerts, deploy files, backups (see
//!   `docs/operations.md`); `ci` runs it too.
//! - `cargo xtask fuzz [--backend NAME]...`: Schemathesis against `vtier serve` (part of `ci`).
//! - `cargo xtask servers`: starts the live servers and prints their URLs until Ctrl-C.
//! - `cargo xtask bench`: the benchmarks.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A command-line tool reports on the terminal.

mod backends;
mod ci;
mod debian;
mod fuzz;
mod ops;
mod servers;
mod tidy;
mod util;

/// The variable that makes an absent live backend fail the conformance run (see the harness).
pub(crate) const REQUIRE_ENV: &str = "VTIER_REQUIRE";

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "vector-tier project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Format check, clippy, every test, conformance against every backend, cargo package.
    Ci,
    /// Run the conformance suite against one or more backends (default: all).
    Conformance {
        /// Backend name (memory, redis, pgvector, weaviate); repeatable.
        #[arg(long = "backend")]
        backends: Vec<String>,
    },
    /// Fuzz `vtier serve` with Schemathesis (default: memory and pgvector backends).
    Fuzz {
        /// Backend name (memory, pgvector, redis); repeatable.
        #[arg(long = "backend")]
        backends: Vec<String>,
    },
    /// Start the live servers (Redis Stack, PostgreSQL + pgvector) and wait for Ctrl-C.
    Servers,
    /// The operators' kit: Prometheus scraping the service, dashboard, alerts, deploy files,
    /// backups (also part of `ci`; see docs/operations.md).
    Ops,
    /// Measure memory per vector on every backend and the service's RSS under load (the
    /// numbers of docs/operations.md's sizing section).
    OpsSizing {
        /// Vectors to load.
        #[arg(long, default_value_t = 100_000)]
        vectors: usize,
        /// Their dimension.
        #[arg(long, default_value_t = 384)]
        dim: usize,
    },
    /// Run the criterion benchmarks (against live servers where a benchmark needs one).
    Bench {
        /// Only benchmarks of these packages (e.g. vector-memory); default all.
        #[arg(long = "package", short = 'p')]
        packages: Vec<String>,
        /// Extra arguments for criterion (after `--`).
        #[arg(last = true)]
        criterion_args: Vec<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    servers::stop_all_on_signal();
    let result = match cli.command {
        Command::Ci => ci::ci(),
        Command::Conformance { backends } => ci::conformance(&backends),
        Command::Fuzz { backends } => fuzz::fuzz(&backends),
        Command::Servers => servers::serve_forever(),
        Command::Ops => ops::ops(),
        Command::OpsSizing { vectors, dim } => ops::sizing(vectors, dim),
        Command::Bench {
            packages,
            criterion_args,
        } => ci::bench(&packages, &criterion_args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
