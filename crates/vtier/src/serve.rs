//! `vtier serve`: the HTTP service of `vector-server`.

/// Runs the service until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: vector_server::ServeArgs) -> anyhow::Result<()> {
    vector_server::serve(args).await?;
    Ok(())
}
