//! `noex events`: recent lifecycle events, then (with `--follow`) live ones until
//! Ctrl-C or the application exits.

use std::path::Path;

use noex_agent::client::{ClientError, Push};

use crate::cli::EventsArgs;
use crate::commands::{Context, write_err, write_out};
use crate::error::{CliError, from_client};
use crate::recording::{Ending, Record, Recording, read_file};
use crate::render::events::{
    EventFormat, app_event_json_line, app_event_line, app_lagged_json_line, app_lagged_line,
    event_json_line, event_line, lagged_json_line, lagged_line,
};
use crate::render::format::{TimeZone, time_of_day};
use crate::target;

pub async fn run(ctx: &Context, args: &EventsArgs) -> Result<(), CliError> {
    if let Some(file) = &args.replay {
        return replay(ctx, args, file);
    }
    if args.all_agents {
        return crate::commands::fleet::events::run(ctx, args).await;
    }
    let mut client = target::connect(&ctx.target).await?;
    let history = target::request("subscribe", client.subscribe(args.history)).await?;
    let printer = Printer::new(ctx, args);
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

/// `--replay FILE`: every event of a recording, printed as live ones are, then what
/// was read on stderr. A recording cut short (its recorder or its app was killed) is
/// read to its last whole record and is no failure; a damaged one is, after the
/// events before the damage.
fn replay(ctx: &Context, args: &EventsArgs, file: &Path) -> Result<(), CliError> {
    let recording = open_recording(file)?;
    let printer = Printer::new(ctx, args);
    for record in &recording.records {
        match record {
            Record::Event { event } => printer.push(Push::Event(event.clone()))?,
            Record::Lagged { dropped, .. } => printer.push(Push::Lagged { dropped: *dropped })?,
            _ => {}
        }
    }
    let summary = recording_summary(&recording, printer.format.zone);
    if let Ending::Corrupt { record, why } = &recording.ending {
        return Err(CliError::failed(format!(
            "{} is damaged at record {}: {why}",
            file.display(),
            record + 1
        ))
        .with_details(summary.trim_end().to_string()));
    }
    write_err(&summary);
    Ok(())
}

/// Read a recording, or say why it cannot be read (exit 1).
pub fn open_recording(file: &Path) -> Result<Recording, CliError> {
    match read_file(file) {
        Ok(Ok(recording)) => Ok(recording),
        Ok(Err(error)) => Err(CliError::failed(format!("{}: {error}", file.display()))),
        Err(error) => Err(CliError::failed(format!(
            "cannot read {}: {error}",
            file.display()
        ))),
    }
}

/// `replayed a recording of demo (pid 4242), 12:00:01 to 12:01:01: 61 snapshots,
/// 7 events; it ended: the application exited`, or how it was cut.
pub fn recording_summary(recording: &Recording, zone: TimeZone) -> String {
    let snapshots = recording
        .records
        .iter()
        .filter(|r| matches!(r, Record::Keyframe { .. } | Record::Delta { .. }))
        .count();
    let events = recording
        .records
        .iter()
        .filter(|r| matches!(r, Record::Event { .. }))
        .count();
    let hello = &recording.header.hello;
    let last = match &recording.ending {
        Ending::Finished { at_ms, .. } => *at_ms,
        _ => recording
            .records
            .iter()
            .rev()
            .find_map(Record::at_ms)
            .unwrap_or(recording.header.started_at_ms),
    };
    let ending = match &recording.ending {
        Ending::Finished { reason, .. } => format!("it ended: {reason}"),
        Ending::Cut { partial } => format!(
            "it stops without an end (its recorder was killed, or is still writing){}; \
             everything before that was read ({} bytes in the file)",
            if *partial {
                ", in the middle of a record"
            } else {
                ""
            },
            recording.file_bytes
        ),
        Ending::Corrupt { record, .. } => {
            format!("read the {record} records before the damage")
        }
    };
    format!(
        "a recording of {} (pid {}), {} to {}: {} snapshot{}, {} event{}; {ending}\n",
        hello.app,
        hello.pid,
        time_of_day(recording.header.started_at_ms, zone),
        time_of_day(last, zone),
        snapshots,
        if snapshots == 1 { "" } else { "s" },
        events,
        if events == 1 { "" } else { "s" },
    )
}

/// Prints pushes as text lines or JSON lines; with `--all-agents`, each with the
/// application it came from.
pub(super) struct Printer {
    json: bool,
    /// Print system processes' events too.
    all: bool,
    pub(super) format: EventFormat,
}

impl Printer {
    pub(super) fn new(ctx: &Context, args: &EventsArgs) -> Printer {
        Printer {
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
        }
    }

    fn push(&self, push: Push) -> Result<(), CliError> {
        self.print(None, push)
    }

    /// `from`: the application's label (`noex-demo:4242`) and OS pid, with
    /// `--all-agents`.
    pub(super) fn print(&self, from: Option<(&str, u32)>, push: Push) -> Result<(), CliError> {
        if let Push::Event(event) = &push
            && event.system
            && !self.all
        {
            return Ok(());
        }
        let line = match from {
            None => match (&push, self.json) {
                (Push::Event(event), false) => event_line(event, self.format),
                (Push::Event(event), true) => event_json_line(event),
                (Push::Lagged { dropped }, false) => lagged_line(*dropped, self.format.style),
                (Push::Lagged { dropped }, true) => lagged_json_line(*dropped),
            },
            Some((label, os_pid)) => {
                let app = label.rsplit_once(':').map_or(label, |(name, _)| name);
                match (&push, self.json) {
                    (Push::Event(event), false) => app_event_line(label, event, self.format),
                    (Push::Event(event), true) => app_event_json_line(app, os_pid, event),
                    (Push::Lagged { dropped }, false) => {
                        app_lagged_line(label, *dropped, self.format.style)
                    }
                    (Push::Lagged { dropped }, true) => app_lagged_json_line(app, os_pid, *dropped),
                }
            }
        };
        write_out(&(line + "\n"))
    }
}
