//! `noex top`: the live dashboard an operator keeps open.
//!
//! Laid out like tokio-console: [`state`] holds the data and where the user is,
//! [`input`] turns keys into state changes and commands, [`conn`] owns the socket, and
//! [`view`] draws the state. This module sets the terminal up (and always restores it,
//! also on a panic) and runs the event loop: keys, a refresh timer and the agent's
//! pushes in one `select!`, drawing only after something changed, so an idle dashboard
//! sleeps between refreshes.

pub mod agent_picker;
pub mod conn;
pub mod input;
pub mod pacing;
pub mod replay;
pub mod state;
pub mod view;

#[cfg(test)]
pub(crate) mod testing;

use std::borrow::Cow;
use std::io::{self, IsTerminal, Stdout};
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

use crossterm::event::EventStream;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute, terminal};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;

use crate::cli::{TargetArgs, TopArgs};
use crate::context::Context;
use crate::error::CliError;
use crate::render::action::Action;
use conn::{Conn, Request, Update};
use input::Command;
use pacing::Pacing;
use state::{App, Connection, Tone};

/// How long a status line message stays.
const MESSAGE_TTL: Duration = Duration::from_secs(8);
/// How often a disconnected dashboard tries again by itself.
pub const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Attach to the application `ctx.target` names and show the dashboard until the user
/// quits.
pub async fn run(ctx: &Context, args: TopArgs) -> Result<(), CliError> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(
            CliError::usage("`noex top` draws a live dashboard and needs a terminal")
                .with_hint("in a script, use `noex ps --json` or `noex events --follow --json`"),
        );
    }
    if let Some(file) = &args.replay {
        return replay::run(ctx, &args, file).await;
    }
    let (conn, hello, history) = Conn::attach(&ctx.target).await?;
    let mut app = App::new(args.layout, args.theme, ctx.stdout.is_coloured());
    app.ascii = view::styles::Styles::ascii_terminal();
    // This machine's memory is the gauge's scale only for an app on this machine.
    match (&ctx.target.host, &ctx.target.cluster.cluster) {
        (Some(host), _) => {
            app.host = Some(host.to_string().trim_start_matches("ssh://").to_owned())
        }
        (None, Some(_)) => {
            app.node = ctx.target.cluster.node.clone();
            app.host = Some(match &ctx.target.cluster.node {
                Some(node) => format!("node {node}"),
                None => "the cluster's only node".to_string(),
            })
        }
        (None, None) => app.system_memory = system_memory(),
    }
    app.connected(hello, history);

    let mut terminal = TerminalGuard::enter()?;
    let refresh = Duration::from_millis(args.refresh.max(1));
    let outcome = event_loop(&mut terminal.terminal, &mut app, conn, &ctx.target, refresh).await;
    drop(terminal);
    Ok(outcome?)
}

/// The event loop's side of the connection: carries out [`Command`]s and takes in
/// [`Update`]s. Apart from the terminal, this is the whole dashboard, so a test drives
/// it against a real agent.
pub struct Session<'a> {
    conn: Option<Conn>,
    /// Borrowed from the command line until the picker switches to another app.
    target: Cow<'a, TargetArgs>,
    /// Where the picker looks for applications (`NOEX_AGENT_DIR`'s default).
    pub agent_dir: PathBuf,
    /// The picker's list on its way.
    apps: Option<oneshot::Receiver<Result<Vec<state::AppChoice>, String>>>,
    snapshot_in_flight: bool,
    /// `r` while paused: take the next snapshot even so.
    forced: bool,
    /// The connection being made was started by [`Session::tick`], not by `r`.
    automatic: bool,
    /// When [`Session::tick`] may try again.
    next_retry: Option<Instant>,
    pacing: Pacing,
}

impl<'a> Session<'a> {
    /// Also tells `app` whether it will retry by itself (see [`Session::tick`]).
    pub fn new(conn: Conn, target: &'a TargetArgs, app: &mut App) -> Session<'a> {
        app.retrying = target.pid.is_none();
        Session {
            conn: Some(conn),
            target: Cow::Borrowed(target),
            agent_dir: noex_agent::discovery::agent_dir(),
            apps: None,
            snapshot_in_flight: false,
            forced: false,
            automatic: false,
            next_retry: None,
            pacing: Pacing::default(),
        }
    }

    /// Called by the refresh timer: while disconnected, try again every
    /// [`RETRY_EVERY`]. Only a target that can come back is retried: an application
    /// restarted under a supervisor (systemd, a container) has a new pid, so a
    /// `--pid` never reappears, but `noex top` without one, or a `--socket`, finds it
    /// again. The dashboard reattaches by itself only to an application of the same
    /// name; `r` attaches to whatever the target names now.
    pub fn tick(&mut self, app: &mut App, now: Instant) {
        if !app.retrying
            || self.conn.is_some()
            || !matches!(app.connection, Connection::Disconnected { .. })
        {
            return;
        }
        if self.next_retry.is_some_and(|at| now < at) {
            return;
        }
        self.next_retry = Some(now + RETRY_EVERY);
        self.reconnect(true);
    }

    /// Whether a connection is open or being made: false from the moment one ends
    /// until `r` or [`Session::tick`] tries again.
    pub fn has_connection(&self) -> bool {
        self.conn.is_some()
    }

    /// Start connecting again; `automatic` when [`Session::tick`] asked, not `r`.
    fn reconnect(&mut self, automatic: bool) {
        self.automatic = automatic;
        self.snapshot_in_flight = false;
        self.conn = Some(Conn::reconnect(self.target.clone().into_owned()));
    }

    /// The connection's next update, or the picker's list; never resolves while
    /// there is neither a connection nor a list on its way.
    pub async fn next_update(&mut self) -> Option<Update> {
        let conn = async {
            match &mut self.conn {
                Some(conn) => conn.next().await,
                None => std::future::pending().await,
            }
        };
        let apps = async {
            match &mut self.apps {
                Some(apps) => apps.await.unwrap_or_else(|_| Ok(Vec::new())),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            update = conn => update,
            apps = apps => {
                self.apps = None;
                Some(Update::Apps(apps))
            }
        }
    }

    /// Ask for the next picture: a window of the table for a large application, else
    /// a whole snapshot. One at a time; a window wanted meanwhile is asked for when
    /// the answer comes.
    pub fn request_snapshot(&mut self, app: &mut App) {
        if self.snapshot_in_flight {
            return;
        }
        let Some(conn) = &self.conn else {
            return;
        };
        let request = if app.asks_for_window() {
            Request::Table(app.table_query())
        } else {
            app.windowing.stale = false;
            Request::Snapshot
        };
        if conn.request(request) {
            self.snapshot_in_flight = true;
            self.pacing.asked(Instant::now());
        }
    }

    /// The refresh timer's tick: ask for the next picture if it is due (later than
    /// `refresh` when the application is slow to answer; see [`pacing`]).
    pub fn refresh(&mut self, app: &mut App, refresh: Duration) {
        app.refresh_stretched = self.pacing.stretched(refresh);
        if self.pacing.due(Instant::now(), refresh) {
            self.request_snapshot(app);
        }
    }

    /// A key changed what the window must hold: ask now, not at the next refresh.
    pub fn request_window_if_stale(&mut self, app: &mut App) {
        if app.windowing.stale && app.is_connected() && !self.snapshot_in_flight {
            // Asked for by a key: shown even while paused.
            self.forced = true;
            self.request_snapshot(app);
        }
    }

    /// Carry out a command; `false` to quit.
    pub fn command(&mut self, app: &mut App, command: Command) -> bool {
        match command {
            Command::Quit => return false,
            Command::Refresh => {
                self.forced = true;
                self.request_snapshot(app);
            }
            Command::Reconnect => {
                app.reconnecting();
                self.reconnect(false);
            }
            Command::Kill { pid, force } => {
                self.action(app, Action::Kill, Request::Kill { pid, force })
            }
            Command::Restart(pid) => self.action(app, Action::Restart, Request::Restart(pid)),
            Command::ListApps => {
                let (tx, rx) = oneshot::channel();
                let dir = self.agent_dir.clone();
                let target = self.target.clone().into_owned();
                tokio::spawn(async move {
                    let listed = if target.cluster.cluster.is_some() {
                        agent_picker::list_cluster_nodes(&target).await
                    } else if let Some(host) = &target.host {
                        agent_picker::list_remote_apps(host, target.remote_noex()).await
                    } else {
                        Ok(agent_picker::list_apps(&dir).await)
                    };
                    let _ = tx.send(listed);
                });
                self.apps = Some(rx);
            }
            Command::SwitchApp(choice) => {
                // By its socket: the picker found it in `agent_dir`, which need not
                // be where `--pid` looks. Its pid never comes back once it exits, so
                // no retrying by itself, as for `--pid`.
                // Over `--host`, the socket is a path on that host; in a cluster, a
                // node is picked by its name.
                let mut target = self.target.as_ref().clone();
                match choice.node {
                    Some(node) => {
                        app.host = Some(format!("node {node}"));
                        app.node = Some(node.clone());
                        target.cluster.node = Some(node);
                    }
                    None => {
                        target.pid = None;
                        target.socket = Some(choice.socket);
                    }
                }
                self.target = Cow::Owned(target);
                app.retrying = false;
                self.next_retry = None;
                self.reconnect(false);
            }
        }
        true
    }

    fn action(&mut self, app: &mut App, action: Action, request: Request) {
        let sent = self.conn.as_ref().is_some_and(|c| c.request(request));
        if !sent {
            app.action_done(action, Err("not connected".into()));
        }
    }

    /// Take in what the connection said.
    pub fn update(&mut self, app: &mut App, update: Option<Update>) {
        // A task that ended without a word closed the connection all the same.
        let update = update.unwrap_or_else(|| Update::Closed("the connection ended".into()));
        match update {
            Update::Connected { hello, history } => {
                let other_app = app.hello.as_ref().is_some_and(|h| h.app != hello.app);
                if std::mem::take(&mut self.automatic) && other_app {
                    self.conn = None;
                    app.retry_failed(format!(
                        "{} (pid {}) is there now; r attaches to it",
                        hello.app, hello.pid
                    ));
                    return;
                }
                app.connected(hello, history);
                self.request_snapshot(app);
            }
            Update::ConnectFailed(reason) => {
                self.conn = None;
                if std::mem::take(&mut self.automatic) {
                    app.retry_failed(reason);
                } else {
                    app.reconnect_failed(reason);
                }
            }
            Update::Snapshot(snapshot) => {
                self.snapshot_in_flight = false;
                self.pacing.answered(Instant::now());
                if !app.paused || std::mem::take(&mut self.forced) {
                    app.ingest(snapshot);
                }
            }
            Update::Table(view) => {
                self.snapshot_in_flight = false;
                self.pacing.answered(Instant::now());
                // A window asked for by a key is taken in even while paused.
                if !app.paused || std::mem::take(&mut self.forced) {
                    app.ingest_table(*view);
                }
                self.request_window_if_stale(app);
            }
            Update::TableUnsupported => {
                self.snapshot_in_flight = false;
                app.window_unsupported();
                self.request_snapshot(app);
            }
            Update::SnapshotFailed(reason) => {
                self.snapshot_in_flight = false;
                self.pacing.answered(Instant::now());
                app.set_message(Tone::Bad, format!("snapshot failed: {reason}"));
            }
            Update::Push(push) => app.push(push),
            Update::Action { action, result } => {
                app.action_done(action, result);
                // Show the new instance now rather than at the next tick.
                self.request_snapshot(app);
            }
            Update::Closed(reason) => {
                self.conn = None;
                self.snapshot_in_flight = false;
                app.disconnected(reason);
            }
            Update::Apps(Ok(choices)) => app.apps_listed(choices),
            Update::Apps(Err(why)) => app.apps_not_listed(why),
        }
    }
}

async fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    conn: Conn,
    target: &TargetArgs,
    refresh: Duration,
) -> anyhow::Result<()> {
    let mut keys = EventStream::new();
    let mut ticker = tokio::time::interval(refresh);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stop = stop_signals();
    let mut session = Session::new(conn, target, app);
    let mut dirty = true;
    loop {
        if dirty {
            terminal.draw(|frame| view::render(frame, app))?;
            dirty = false;
        }
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(event)) => {
                    dirty = true;
                    if let Some(command) = input::handle_event(app, &event)
                        && !session.command(app, command)
                    {
                        return Ok(());
                    }
                    session.request_window_if_stale(app);
                }
                Some(Err(error)) => return Err(anyhow::Error::new(error).context("reading the terminal")),
                None => return Ok(()),
            },
            _ = ticker.tick() => {
                let had_message = app.message.is_some();
                app.expire_message(Instant::now(), MESSAGE_TTL);
                dirty |= had_message && app.message.is_none();
                if !app.paused && app.is_connected() {
                    session.refresh(app, refresh);
                }
                let was = app.connection.clone();
                session.tick(app, Instant::now());
                dirty |= app.connection != was;
            },
            update = session.next_update() => {
                dirty = true;
                session.update(app, update);
            },
            _ = stop.recv() => return Ok(()),
        }
    }
}

/// SIGTERM and SIGHUP (the terminal went away) end the dashboard like `q`, so the
/// terminal is restored.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

fn stop_signals() -> StopSignals {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        StopSignals {
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }
    #[cfg(not(unix))]
    StopSignals {}
}

impl StopSignals {
    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn one(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = one(&mut self.term) => {},
                _ = one(&mut self.hup) => {},
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}

/// The terminal in raw mode on the alternate screen, restored when dropped, and by
/// the panic hook before a panic message is printed.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        let entered = execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match entered {
            Ok(mut terminal) => {
                terminal.clear()?;
                Ok(TerminalGuard { terminal })
            }
            Err(error) => {
                restore_terminal();
                Err(error)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Leave raw mode and the alternate screen, and show the cursor. Safe to call twice.
fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

/// A panic restores the terminal first, so its message is readable and the shell
/// usable.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

/// This machine's total memory, the memory gauge's scale (Linux: `/proc/meminfo`).
fn system_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
