//! `vtier`: the vector-tier command line. Each subcommand lives in its own module.

mod serve;

use clap::{Parser, Subcommand};

/// The vector-tier command line.
#[derive(Debug, Parser)]
#[command(name = "vtier", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (REST API, /health, /ready, /metrics, /openapi.json).
    Serve(vector_server::ServeArgs),
    /// Benchmark backends: load rate, query latency p50/p95/p99, QPS with concurrent clients, recall@k.
    Bench(vtier::bench::BenchArgs),
    /// Write a namespace (configuration, keys, embeddings, metadata) to a portable file.
    Export(vtier::export::ExportArgs),
    /// Read a file written by `vtier export` into a backend (verified before anything is written).
    Import(vtier::import::ImportArgs),
    /// Copy namespaces between two backends, then verify counts, sampled records and queries.
    Migrate(vtier::migrate::MigrateArgs),
    /// Back up every namespace of a backend: one export file per namespace plus a manifest.
    Backup(vtier::backup::BackupArgs),
    /// Restore a backup made by `vtier backup`, then verify counts, sampled records and queries.
    Restore(vtier::backup::RestoreArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(args) => serve::run(args).await,
        Command::Bench(args) => Ok(vtier::bench::run(args, &mut std::io::stdout()).await?),
        Command::Export(args) => Ok(vtier::export::run(args, &mut std::io::stdout()).await?),
        Command::Import(args) => Ok(vtier::import::run(args, &mut std::io::stdout()).await?),
        Command::Migrate(args) => Ok(vtier::migrate::run(args, &mut std::io::stdout()).await?),
        Command::Backup(args) => Ok(vtier::backup::run_backup(args, &mut std::io::stdout()).await?),
        Command::Restore(args) => {
            Ok(vtier::backup::run_restore(args, &mut std::io::stdout()).await?)
        }
    }
}
