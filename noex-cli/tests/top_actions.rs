//! `noex top` against a real noex application: the dashboard's own connection and
//! action path (keys → confirm → kill/restart request → outcome on screen), with a
//! supervision tree running in this process and its agent on a private socket. Only
//! the terminal is left out: frames are drawn into ratatui's `TestBackend`.
//!
//! It runs without the test harness (`harness = false` in Cargo.toml): `main` builds
//! the multi-thread runtime itself, and drops it at the end like an application does.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use noex::agent::{self, AgentOptions};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex_agent::types::{EventKind, Pid};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use noex_cli::cli::{Layout, TargetArgs, Theme};
use noex_cli::top;
use support::Tally;
use top::conn::{Conn, Update};
use top::input::{self, Command};
use top::state::{App, Connection, Focus, LogEntry, Tone};
use top::{Session, view};

const WAIT: Duration = Duration::from_secs(20);

const NAME: &str = "dashboard_kills_and_restarts_through_a_real_agent";

fn main() {
    support::run_alone(
        NAME,
        Duration::from_secs(120),
        dashboard_kills_and_restarts_through_a_real_agent,
    );
}

async fn dashboard_kills_and_restarts_through_a_real_agent(socket: PathBuf) {
    agent::start(AgentOptions::new("top-e2e").socket_path(&socket)).expect("agent starts");
    let _app_sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("app_sup")
            .child(ChildSpec::worker("worker-1", Tally::default))
            .child(ChildSpec::worker("worker-2", Tally::default)),
    )
    .await
    .expect("supervisor starts");

    // Attach as `noex top --socket PATH` does.
    let target = TargetArgs {
        socket: Some(socket.clone()),
        ..TargetArgs::default()
    };
    let (conn, hello, history) = Conn::attach(&target).await.expect("attach");
    assert_eq!(hello.app, "top-e2e");
    assert!(!hello.read_only);
    let mut app = App::new(Layout::Full, Theme::Dark, false);
    app.connected(hello, history);
    let mut session = Session::new(conn, &target, &mut app);
    refresh(&mut session, &mut app).await;

    let worker_1 = pid_of(&app, "worker-1");
    app.focus = Focus::Table;
    assert!(app.select_table_pid(worker_1));

    // K, then y: the dashboard sends the kill of the selection.
    assert_eq!(key(&mut app, 'K'), None);
    let screen = frame(&mut app);
    assert!(
        screen.contains(&format!("Kill worker-1 {worker_1}?")),
        "{screen}"
    );
    let command = key(&mut app, 'y').expect("a command");
    assert_eq!(
        command,
        Command::Kill {
            pid: worker_1,
            force: false
        }
    );
    assert!(session.command(&mut app, command));
    let outcome = action_result(&mut session, &mut app).await;
    let expected_prefix = format!("worker-1 {worker_1} killed; restarted by app_sup as <0.");
    assert!(outcome.starts_with(&expected_prefix), "{outcome}");
    assert!(
        frame(&mut app).contains(&outcome),
        "the outcome is on screen"
    );

    // The kill asks for a snapshot: the cursor follows worker-1 to its new pid.
    wait_for(&mut session, &mut app, |app| {
        app.table_pid().is_some_and(|pid| pid != worker_1)
    })
    .await;
    let new_worker_1 = pid_of(&app, "worker-1");
    assert_ne!(new_worker_1, worker_1);
    assert_eq!(app.table_pid(), Some(new_worker_1));
    assert_eq!(app.row(new_worker_1).unwrap().process.restarts, 1);
    // The kill and the restart came in on the event stream.
    wait_for(&mut session, &mut app, |app| {
        logged(app, |kind| matches!(kind, EventKind::Restarted { .. }))
    })
    .await;
    assert!(
        logged(
            &app,
            |kind| matches!(kind, EventKind::Terminated { reason } if reason.contains("kill"))
        ),
        "{:#?}",
        app.log
    );

    // R, then y: a restart of the new instance, through its supervisor.
    key(&mut app, 'R');
    let command = key(&mut app, 'y').expect("a command");
    assert_eq!(command, Command::Restart(new_worker_1));
    assert!(session.command(&mut app, command));
    let outcome = action_result(&mut session, &mut app).await;
    let expected_prefix = format!("worker-1 {new_worker_1} restarted by app_sup as <0.");
    assert!(outcome.starts_with(&expected_prefix), "{outcome}");

    // A refused request is shown too: a process with no supervisor.
    let lone = noex::gen_server::start(Tally::default(), noex::gen_server::StartOptions::new())
        .await
        .expect("a lone server");
    // A snapshot already in flight may predate `lone`: wait for one that shows it.
    let lone_pid = lone.pid();
    session.request_snapshot(&mut app);
    wait_for(&mut session, &mut app, |app| {
        app.rows().iter().any(|row| row.pid() == lone_pid)
    })
    .await;
    assert!(app.select_table_pid(lone_pid));
    key(&mut app, 'R');
    let command = key(&mut app, 'y').expect("a command");
    session.command(&mut app, command);
    let outcome = action_result(&mut session, &mut app).await;
    assert!(outcome.starts_with("restart failed:"), "{outcome}");
    assert_eq!(app.message.as_ref().unwrap().tone, Tone::Bad);

    // The app's agent goes away: the dashboard says so and keeps the picture.
    agent::shutdown();
    wait_for(&mut session, &mut app, |app| {
        matches!(app.connection, Connection::Disconnected { .. })
    })
    .await;
    assert!(app.model.is_some());
    app.message = None;
    let screen = frame(&mut app);
    assert!(screen.contains("disconnected"), "{screen}");
    assert!(
        screen.contains("worker-1"),
        "the last picture stays: {screen}"
    );

    // r reconnects once the agent is back.
    agent::start(AgentOptions::new("top-e2e").socket_path(&socket)).expect("agent restarts");
    let command = key(&mut app, 'r').expect("a command");
    assert_eq!(command, Command::Reconnect);
    session.command(&mut app, command);
    wait_for(&mut session, &mut app, |app| app.is_connected()).await;

    // Gone again, and back: this time the dashboard reattaches by itself, as the
    // refresh timer's tick tries again (the target is a socket, not a pid).
    agent::shutdown();
    wait_for(&mut session, &mut app, |app| {
        matches!(app.connection, Connection::Disconnected { .. })
    })
    .await;
    assert!(!session.has_connection());
    let now = std::time::Instant::now();
    session.tick(&mut app, now);
    assert!(app.retrying);
    assert!(session.has_connection(), "the first tick tries at once");
    // Nobody there yet: the attempt fails quietly, and the next waits its turn.
    wait_for(&mut session, &mut app, |app| {
        matches!(&app.connection, Connection::Disconnected { reason } if reason != top::conn::CLOSED)
    })
    .await;
    assert!(app.message.is_none(), "{:?}", app.message);
    assert!(!session.has_connection());
    let reconnects = |app: &App| {
        app.log
            .iter()
            .filter(|entry| matches!(entry, LogEntry::Note(note) if note == "reconnected"))
            .count()
    };
    let before = reconnects(&app);
    // Another application on the socket: not reattached to by itself.
    agent::start(AgentOptions::new("someone-else").socket_path(&socket)).expect("agent starts");
    session.tick(&mut app, now + Duration::from_millis(100));
    assert!(!session.has_connection(), "no retry before its time");
    assert!(!app.is_connected());
    session.tick(&mut app, now + top::RETRY_EVERY);
    assert!(session.has_connection(), "a retry once its time has come");
    wait_for(&mut session, &mut app, |app| {
        matches!(&app.connection, Connection::Disconnected { reason } if reason.contains("someone-else"))
    })
    .await;
    assert_eq!(app.hello.as_ref().unwrap().app, "top-e2e");
    agent::shutdown();
    agent::start(AgentOptions::new("top-e2e").socket_path(&socket)).expect("agent restarts");
    session.tick(&mut app, now + top::RETRY_EVERY * 2);
    wait_for(&mut session, &mut app, |app| app.is_connected()).await;
    assert_eq!(reconnects(&app), before + 1, "{:#?}", app.log);
}

/// Ask for a snapshot and wait until it is in.
async fn refresh(session: &mut Session<'_>, app: &mut App) {
    let before = app.snapshot().map(|s| s.taken_at_ms);
    session.request_snapshot(app);
    wait_for(session, app, |app| {
        let taken_at = app.snapshot().map(|s| s.taken_at_ms);
        taken_at.is_some() && taken_at != before
    })
    .await;
}

/// Feed updates to the app until `done` holds.
async fn wait_for(session: &mut Session<'_>, app: &mut App, done: impl Fn(&App) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(app) {
        let update = tokio::time::timeout_at(deadline, session.next_update())
            .await
            .expect("the awaited update came in time");
        let answered = matches!(
            update,
            Some(Update::Snapshot(_) | Update::Table(_) | Update::Action { .. })
        );
        session.update(app, update);
        if answered {
            // Keep snapshots coming, as the refresh timer does.
            session.request_snapshot(app);
        }
    }
}

/// Wait for the kill or restart to answer; its outcome as the status line shows it.
async fn action_result(session: &mut Session<'_>, app: &mut App) -> String {
    wait_for(session, app, |app| !app.action_in_flight).await;
    app.message.as_ref().expect("a message").text.clone()
}

fn key(app: &mut App, c: char) -> Option<Command> {
    input::handle_key(app, KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn pid_of(app: &App, label: &str) -> Pid {
    app.rows()
        .iter()
        .find(|row| row.label == label)
        .unwrap_or_else(|| panic!("no {label} in the snapshot"))
        .pid()
}

fn logged(app: &App, kind: impl Fn(&EventKind) -> bool) -> bool {
    app.log.iter().any(|entry| {
        matches!(entry, LogEntry::Event(event)
            if event.child_id.as_deref() == Some("worker-1") && kind(&event.kind))
    })
}

fn frame(app: &mut App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|frame| view::render(frame, app)).unwrap();
    terminal.backend().to_string()
}
