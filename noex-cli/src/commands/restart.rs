//! `noex restart TARGET`: ask a process's supervisor to restart it.

use crate::cli::RestartArgs;
use crate::commands::{Context, write_out};
use crate::error::CliError;
use crate::render::action::{Action, outcome_json, outcome_line};
use crate::target;

pub async fn run(ctx: &Context, args: &RestartArgs) -> Result<(), CliError> {
    let mut client = target::connect(&ctx.target).await?;
    let outcome = target::request("restart", client.restart(&args.target)).await?;
    let text = if args.json {
        outcome_json(Action::Restart, &outcome)
    } else {
        outcome_line(Action::Restart, &outcome, ctx.stdout) + "\n"
    };
    write_out(&text)
}
