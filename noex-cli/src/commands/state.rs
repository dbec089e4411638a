//! `noex state TARGET`: a process's state, as its server shows it (OTP's
//! `sys:get_state`, through the server's `format_status`).

use serde::Serialize;

use crate::cli::StateArgs;
use crate::commands::{Context, write_out};
use crate::error::{CliError, process_ref};
use crate::render::action::RefJson;
use crate::target;

#[derive(Serialize)]
struct StateJson {
    process: RefJson,
    state: String,
}

pub async fn run(ctx: &Context, args: &StateArgs) -> Result<(), CliError> {
    let mut client = target::connect(&ctx.target).await?;
    let (process, state) = target::request("state", client.state(&args.target)).await?;
    let text = if args.json {
        let json = StateJson {
            process: RefJson::from(&process),
            state,
        };
        serde_json::to_string_pretty(&json).expect("a state serialises") + "\n"
    } else {
        format!("{}\n{}\n", process_ref(&process), state.trim_end())
    };
    write_out(&text)
}
