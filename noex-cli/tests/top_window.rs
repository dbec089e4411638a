//! `noex top` against a real noex application too large for whole snapshots: the
//! dashboard asks the agent for windows of the table (sorted, filtered and cut in the
//! application) and moves through them. Frames are drawn into ratatui's `TestBackend`.
//!
//! It runs without the test harness (`harness = false` in Cargo.toml), as
//! `top_actions` does: the agent is one per process.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use noex::agent::{self, AgentOptions};
use noex::gen_server::{self, StartOptions};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex_cli::cli::{Layout, TargetArgs, Theme};
use noex_cli::demo::Idle;
use noex_cli::top;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::Tally;
use top::conn::{Conn, Update};
use top::input;
use top::state::{App, Focus, WINDOW_ABOVE, WINDOW_ROWS};
use top::{Session, view};

const WAIT: Duration = Duration::from_secs(30);
const NAME: &str = "dashboard_of_a_large_app_asks_the_agent_for_windows";
/// Idle children of `idle`: enough for windows.
const CHILDREN: u64 = WINDOW_ABOVE + 50;

fn main() {
    support::run_alone(
        NAME,
        Duration::from_secs(180),
        dashboard_of_a_large_app_asks_the_agent_for_windows,
    );
}

async fn dashboard_of_a_large_app_asks_the_agent_for_windows(socket: PathBuf) {
    agent::start(AgentOptions::new("top-window").socket_path(&socket)).expect("agent starts");
    let idle = supervisor::start(
        SupervisorSpec::simple_one_for_one(ChildSpec::worker_with("idle", |(): &()| Idle))
            .name("idle"),
    )
    .await
    .expect("supervisor starts");
    for _ in 0..CHILDREN {
        idle.start_child_with(()).await.expect("an idle child");
    }
    let hot = gen_server::start(Tally::default(), StartOptions::new().name("hot"))
        .await
        .expect("hot starts");
    // A steady stream of casts, so `hot` has a rate at every refresh.
    let feeder = {
        let hot = hot.clone();
        tokio::spawn(async move {
            loop {
                for _ in 0..100 {
                    let _ = hot.cast(1);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let target = TargetArgs {
        socket: Some(socket.clone()),
        ..TargetArgs::default()
    };
    let (conn, hello, history) = Conn::attach(&target).await.expect("attach");
    let mut app = App::new(Layout::Full, Theme::Dark, false);
    app.connected(hello, history);
    let mut session = Session::new(conn, &target, &mut app);
    assert!(app.asks_for_window(), "the first refresh asks for a window");
    session.request_snapshot(&mut app);
    wait_for(&mut session, &mut app, |app| app.window.is_some()).await;

    // The agent sent a window, not every process: the rows held are a few screens;
    // the counts are over the whole table.
    let all = CHILDREN + 2; // the children, `idle` and `hot`
    assert_eq!(app.table_len(), all);
    assert_eq!(app.totals.processes as u64, all);
    assert_eq!(app.visible.len(), WINDOW_ROWS as usize);
    assert!(app.rows().len() < 2 * WINDOW_ROWS as usize);
    assert!(app.asks_for_window(), "it stays windowed");
    let screen = frame(&mut app);
    assert!(
        screen.contains(&format!(" Processes {all} · row 1 · by PID")),
        "{screen}"
    );
    assert!(screen.contains(&format!(" of {CHILDREN}]")), "{screen}");

    // Past the last row held: the next window is asked for, and the cursor lands on
    // the table's next row.
    app.focus = Focus::Table;
    let first_window: Vec<_> = app.visible.iter().map(|&i| app.rows()[i].pid()).collect();
    for _ in 0..WINDOW_ROWS {
        key(&mut app, KeyCode::Down);
    }
    assert!(
        app.windowing.stale,
        "moving past the window asks for the next"
    );
    session.request_window_if_stale(&mut app);
    wait_for(&mut session, &mut app, |app| {
        app.table_position() == u64::from(WINDOW_ROWS)
    })
    .await;
    let selected = app.table_pid().expect("a selected row");
    assert!(!first_window.contains(&selected));
    assert!(
        selected > *first_window.last().unwrap(),
        "pid order continues"
    );
    assert!(frame(&mut app).contains(&format!("· row {}", WINDOW_ROWS + 1)));

    // Sorted by MSG/S in the application, the cursor stays on its process...
    key(&mut app, KeyCode::Char('M'));
    assert!(app.windowing.stale, "a new sort asks at once");
    session.request_window_if_stale(&mut app);
    wait_for(&mut session, &mut app, |app| {
        app.table_pid() == Some(selected) && app.table_position() > 0
    })
    .await;
    // ...and at the top of the table is `hot`, the only busy server.
    key(&mut app, KeyCode::Home);
    session.request_window_if_stale(&mut app);
    wait_for(&mut session, &mut app, |app| {
        app.table_position() == 0
            && app.table_pid() == Some(hot.pid())
            && app.row(hot.pid()).is_some_and(|row| row.rate > Some(0.0))
    })
    .await;

    // Filtered in the application.
    for c in "/hot".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    session.request_window_if_stale(&mut app);
    wait_for(&mut session, &mut app, |app| app.table_len() == 1).await;
    assert_eq!(app.table_pid(), Some(hot.pid()));
    feeder.abort();
}

/// Feed updates to the app until `done` holds, asking again after every answer.
async fn wait_for(session: &mut Session<'_>, app: &mut App, done: impl Fn(&App) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(app) {
        let update = tokio::time::timeout_at(deadline, session.next_update())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no update in time; at row {} of {}, window {:?}, {:?}",
                    app.table_position(),
                    app.table_len(),
                    app.window.as_ref().map(|w| w.offset),
                    app.windowing
                )
            });
        let answered = matches!(update, Some(Update::Snapshot(_) | Update::Table(_)));
        session.update(app, update);
        if answered {
            session.request_snapshot(app);
        }
    }
}

fn key(app: &mut App, code: KeyCode) {
    input::handle_key(app, KeyEvent::new(code, KeyModifiers::NONE));
}

fn frame(app: &mut App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|frame| view::render(frame, app)).unwrap();
    terminal.backend().to_string()
}
