//! `cargo run --release -p noex-bench --bin chaos -- --secs N`: the chaos soak (see
//! `noex_bench::chaos`). Prints one line on stdout, the rest on stderr, and exits 1
//! if a call was lost or hung, something was left outside the tree, or the tree did
//! not come back to its shape.

use std::process::ExitCode;
use std::time::Duration;

use noex_bench::chaos::{self, Config};

const USAGE: &str = "usage: chaos [--secs N] [--seed N] [--clients N] [--mids N] \
[--leaves-per-mid N] [--workers-per-leaf N] [--period-ms N] [--agent-percent N] [--progress]";

fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("chaos: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "chaos: seed={} (rerun with --seed {} for the same kills and calls)",
        config.seed, config.seed
    );
    let report = chaos::run(config);
    eprint!("{}", report.details());
    println!("{}", report.line());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The configuration, or `None` for `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config::new(10);
    config.seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--progress" => {
                config.progress = true;
                continue;
            }
            _ => {}
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {value:?}"))
        };
        match flag.as_str() {
            "--secs" => config.secs = number()?,
            "--seed" => config.seed = number()?,
            "--clients" => config.clients = number()? as usize,
            "--mids" => config.mids = number()? as usize,
            "--leaves-per-mid" => config.leaves_per_mid = number()? as usize,
            "--workers-per-leaf" => config.workers_per_leaf = number()?.max(1) as usize,
            "--period-ms" => config.period = Duration::from_millis(number()?),
            "--agent-percent" => config.agent_share = number()?.min(100) as f64 / 100.0,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Some(config))
}
