//! `noex`: attach to a running noex application by pid, and list, inspect, kill,
//! restart and watch its processes.
//!
//! Parse, run, map the outcome to an exit code; everything else lives in the modules.

use std::process::ExitCode;

use clap::Parser;
use noex_cli::{cli, commands};

fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2; --help and --version exit 0.
    let cli = cli::Cli::parse();
    let ctx = commands::Context::new(&cli);
    match commands::run(cli.command, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        // `noex ps | head -1`: the reader is gone, nothing failed.
        Err(error) if error.is_stdout_closed() => ExitCode::SUCCESS,
        Err(error) => {
            commands::write_err(&error.render(ctx.stderr));
            ExitCode::from(error.code)
        }
    }
}
