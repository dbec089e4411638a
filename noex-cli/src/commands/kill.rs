//! `noex kill TARGET`: end a process abnormally, so its supervisor applies its policy.

use crate::cli::KillArgs;
use crate::commands::{Context, write_out};
use crate::error::CliError;
use crate::render::action::{Action, outcome_json, outcome_line};
use crate::target;

pub async fn run(ctx: &Context, args: &KillArgs) -> Result<(), CliError> {
    let mut client = target::connect(&ctx.target).await?;
    let kill = client.kill(&args.target, args.reason.as_deref(), args.force);
    let outcome = target::request("kill", kill).await?;
    let text = if args.json {
        outcome_json(Action::Kill, &outcome)
    } else {
        outcome_line(Action::Kill, &outcome, ctx.stdout) + "\n"
    };
    write_out(&text)
}
