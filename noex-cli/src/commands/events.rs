//! `noex events`: recent lifecycle events, then (with `--follow`) live ones until
//! Ctrl-C or the application exits.

use noex_agent::client::{ClientError, Push};

use crate::cli::EventsArgs;
use crate::commands::{Context, write_err, write_out};
use crate::error::{CliError, from_client};
use crate::render::events::{
    EventFormat, event_json_line, event_line, lagged_json_line, lagged_line,
};
use crate::render::format::TimeZone;
use crate::target;

pub async fn run(ctx: &Context, args: &EventsArgs) -> Result<(), CliError> {
    if args.all_agents {
        return crate::commands::fleet::events::run(ctx, args).await;
    }
    let mut client = target::connect(&ctx.target).await?;
    let history = target::request("subscribe", client.subscribe(args.history)).await?;
    let printer = Printer {
        json: args.json,
        all: args.all,
        format: EventFormat {
            style: ctx.stdout,
            zone: if args.utc {
                TimeZone::Utc
            } else {
                TimeZone::Local
            },
        },
    };
    for event in &history {
        printer.push(Push::Event(event.clone()))?;
    }
    if !args.follow {
        return Ok(());
    }

    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            push = client.next_push() => match push {
                Ok(Some(push)) => printer.push(push)?,
                // The application exited: the natural end of a follow.
                Ok(None) | Err(ClientError::Closed) => {
                    write_err("the application closed the connection (it has probably exited)\n");
                    return Ok(());
                }
                Err(error) => return Err(from_client(error)),
            },
        }
    }
}

/// Prints pushes as text lines or JSON lines.
struct Printer {
    json: bool,
    /// Print system processes' events too.
    all: bool,
    format: EventFormat,
}

impl Printer {
    fn push(&self, push: Push) -> Result<(), CliError> {
        if let Push::Event(event) = &push
            && event.system
            && !self.all
        {
            return Ok(());
        }
        let line = match (&push, self.json) {
            (Push::Event(event), false) => event_line(event, self.format),
            (Push::Event(event), true) => event_json_line(event),
            (Push::Lagged { dropped }, false) => lagged_line(*dropped, self.format.style),
            (Push::Lagged { dropped }, true) => lagged_json_line(*dropped),
        };
        write_out(&(line + "\n"))
    }
}
