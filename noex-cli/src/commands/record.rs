//! `noex record`: snapshots at an interval and every lifecycle event, into a file
//! that `noex top --replay` and `noex events --replay` play back.
//!
//! Each record is flushed as it is written (see [`crate::recording`]), so the file is
//! readable at any moment: after the app's crash, after this command's `kill -9`.
//! It ends on its own when the app exits, at Ctrl-C (or SIGTERM), or after
//! `--duration`, with an end record saying which.

use std::fs::{File, OpenOptions};
use std::time::Duration;

use noex_agent::client::{ClientError, Push};
use noex_agent::process_start::now_ms;
use tokio::time::{Instant, MissedTickBehavior};

use crate::cli::RecordArgs;
use crate::commands::{Context, write_err};
use crate::error::{CliError, from_client};
use crate::recording::{Header, Writer, Written};
use crate::render::format;
use crate::target;

/// Why a recording ended, as its end record and the closing line say.
pub const APP_EXITED: &str = "the application exited";
pub const INTERRUPTED: &str = "stopped by Ctrl-C";
pub const TERMINATED: &str = "stopped by SIGTERM";
pub const DURATION_REACHED: &str = "the duration was reached";

pub async fn run(ctx: &Context, args: &RecordArgs) -> Result<(), CliError> {
    let mut client = target::connect(&ctx.target).await?;
    // Only what happens from now on: a recording starts when it starts.
    target::request("subscribe", client.subscribe(0)).await?;
    let hello = client.hello().clone();
    let file = create(args)?;
    let started = now_ms();
    let header = Header::new(hello.clone(), started, args.interval.as_millis() as u64);
    let write_error = |error: std::io::Error| {
        CliError::from(
            anyhow::Error::new(error).context(format!("writing {}", args.output.display())),
        )
    };
    let mut writer = Writer::new(file, &header).map_err(write_error)?;
    write_err(&format!(
        "recording {} (pid {}) to {} every {}{}; Ctrl-C stops\n",
        hello.app,
        hello.pid,
        args.output.display(),
        format::duration_ms(args.interval.as_millis() as u64),
        args.duration
            .map(|d| format!(" for {}", format::duration_ms(d.as_millis() as u64)))
            .unwrap_or_default(),
    ));

    let mut ticker = tokio::time::interval(args.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep_until(
        args.duration
            .map_or_else(far_future, |duration| Instant::now() + duration),
    );
    tokio::pin!(deadline);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut term = terminate_signal();

    let reason = loop {
        tokio::select! {
            _ = &mut ctrl_c => break INTERRUPTED,
            _ = term.recv() => break TERMINATED,
            _ = &mut deadline => break DURATION_REACHED,
            _ = ticker.tick() => {
                // A stopped or very slow app must not keep Ctrl-C from ending the
                // recording: the signals are heard while the snapshot is awaited too.
                let snapshot = tokio::select! {
                    snapshot = client.snapshot() => snapshot,
                    _ = &mut ctrl_c => break INTERRUPTED,
                    _ = term.recv() => break TERMINATED,
                    _ = &mut deadline => break DURATION_REACHED,
                };
                match snapshot {
                    Ok(snapshot) => writer.snapshot(snapshot).map_err(write_error)?,
                    Err(error) if is_closed(&error) => break APP_EXITED,
                    // A snapshot the agent refused is skipped; the next tick tries again.
                    Err(error) => write_err(&format!(
                        "warning: a snapshot failed: {:#}\n",
                        from_client(error).error
                    )),
                }
            },
            push = client.next_push() => match push {
                Ok(Some(Push::Event(event))) => writer.event(event).map_err(write_error)?,
                Ok(Some(Push::Lagged { dropped })) => {
                    writer.lagged(now_ms(), dropped).map_err(write_error)?
                }
                Ok(None) => break APP_EXITED,
                Err(error) if is_closed(&error) => break APP_EXITED,
                Err(error) => return Err(from_client(error)),
            },
        }
    };
    let written = writer.written();
    writer.finish(now_ms(), reason).map_err(write_error)?;
    let bytes = std::fs::metadata(&args.output).map_or(written.bytes, |m| m.len());
    write_err(&closing_line(reason, written, bytes, args));
    Ok(())
}

/// `recording ended (the application exited): 61 snapshots, 4 events, 38.2 KiB in
/// demo.noexrec`.
fn closing_line(reason: &str, written: Written, bytes: u64, args: &RecordArgs) -> String {
    format!(
        "recording ended ({reason}): {} snapshot{}, {} event{}, {} in {}\n",
        written.snapshots,
        if written.snapshots == 1 { "" } else { "s" },
        written.events,
        if written.events == 1 { "" } else { "s" },
        format::bytes(bytes),
        args.output.display()
    )
}

fn create(args: &RecordArgs) -> Result<File, CliError> {
    let mut options = OpenOptions::new();
    options.write(true);
    if args.overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    options.open(&args.output).map_err(|error| {
        let exists = error.kind() == std::io::ErrorKind::AlreadyExists;
        let error = CliError::failed(format!("cannot create {}: {error}", args.output.display()));
        if exists {
            error.with_hint("choose another file, or add --overwrite to replace it")
        } else {
            error
        }
    })
}

/// Errors after which the connection is gone: the app exited (or was killed).
fn is_closed(error: &ClientError) -> bool {
    matches!(error, ClientError::Closed | ClientError::Io(_))
}

fn far_future() -> Instant {
    // About thirty years: never, for a recording.
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// SIGTERM ends a recording as Ctrl-C does (a service manager, `timeout`).
struct Terminate {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

fn terminate_signal() -> Terminate {
    Terminate {
        #[cfg(unix)]
        signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
    }
}

impl Terminate {
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal {
            signal.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}
