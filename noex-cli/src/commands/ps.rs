//! `noex ps`: the processes of an application, as a table or JSON.

use crate::cli::PsArgs;
use crate::commands::{Context, write_out, write_out_with};
use crate::error::CliError;
use std::io::IsTerminal;

use crate::render::json_lines::write_process_json_lines;
use crate::render::table::{process_json, process_rows, process_table};
use crate::target;

pub async fn run(ctx: &Context, args: &PsArgs) -> Result<(), CliError> {
    if ctx.target.cluster.cluster.is_some() && ctx.target.cluster.node.is_none() {
        return crate::commands::cluster::ps::run(ctx, args).await;
    }
    if args.all_agents {
        return crate::commands::fleet::ps::run(ctx, args).await;
    }
    let mut client = target::connect(&ctx.target).await?;
    let snapshot = target::request("snapshot", client.snapshot()).await?;
    let rows = process_rows(&snapshot, args.all, args.sort);
    let text = if args.json && std::io::stdout().is_terminal() {
        process_json(&rows)
    } else if args.json {
        return write_out_with(|out| write_process_json_lines(&rows, out));
    } else {
        process_table(&rows, ctx.stdout)
    };
    write_out(&text)
}
