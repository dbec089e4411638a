//! One module per command, each with one `run` function. They share a [`Context`] (the
//! target flags and the colour decisions, in `crate::context`, below the commands, the
//! demo and the dashboard alike) and write through [`write_out`], so a closed stdout
//! surfaces as an error `main` recognises.

pub mod cluster;
pub mod completions;
pub mod dial_stdio;
pub mod events;
pub mod exporter;
pub mod fleet;
pub mod kill;
pub mod list;
pub mod metrics;
pub mod ps;
pub mod record;
pub mod restart;
pub mod state;
pub mod tree;

use std::io::Write;

use crate::cli::Command;
pub use crate::context::Context;
use crate::error::CliError;

/// Run `command` to completion on a single-threaded runtime (a CLI has one thing to do).
pub fn run(command: Command, ctx: &Context) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let outcome = dispatch(command, ctx).await;
        // A node's agent reached with --node: tell the node the tunnel ended, so it
        // frees it now, not when it notices this process is gone.
        noex_cluster::close_observer_tunnels(TUNNELS_CLOSE_WITHIN).await;
        outcome
    })
}

/// How long `noex` waits at its end for its tunnels to say goodbye to their nodes.
const TUNNELS_CLOSE_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

async fn dispatch(command: Command, ctx: &Context) -> Result<(), CliError> {
    match command {
        Command::List(args) => list::run(ctx, &args).await,
        Command::Ps(args) => ps::run(ctx, &args).await,
        Command::Tree(args) => tree::run(ctx, &args).await,
        Command::Kill(args) => kill::run(ctx, &args).await,
        Command::Restart(args) => restart::run(ctx, &args).await,
        Command::State(args) => state::run(ctx, &args).await,
        Command::Events(args) => events::run(ctx, &args).await,
        Command::Top(args) => crate::top::run(ctx, args).await,
        Command::Record(args) => record::run(ctx, &args).await,
        Command::Demo(args) => crate::demo::run(ctx, args).await,
        Command::Metrics(args) => metrics::run(ctx, &args).await,
        Command::Exporter(args) => exporter::run(ctx, &args).await,
        Command::Completions(args) => completions::run(&args),
        Command::DialStdio => dial_stdio::run(ctx).await,
    }
}

/// Write `text` to stdout and flush it. A reader that went away (`| head -1`) ends the
/// command quietly, like ripgrep; any other failure is an error.
pub fn write_out(text: &str) -> Result<(), CliError> {
    write_out_with(|out| out.write_all(text.as_bytes()))
}

/// Write to stdout through a buffer with `write`, as [`write_out`] does.
pub fn write_out_with(
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CliError> {
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    write(&mut stdout)
        .and_then(|()| stdout.flush())
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::BrokenPipe => CliError::stdout_closed(),
            _ => CliError::from(anyhow::Error::new(error).context("writing to stdout")),
        })
}

/// Write `text` to stderr; a failure to write there has nowhere to be reported.
pub fn write_err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
