//! `noex top`'s application picker (`A`) against two real demo applications, each a
//! process of its own in one agent directory: the picker lists both, Esc leaves the
//! dashboard where it was, Enter moves it to the other one. Frames are drawn into
//! ratatui's `TestBackend`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use noex_cli::cli::{Layout, TargetArgs, Theme};
use noex_cli::top;
use top::conn::{Conn, Update};
use top::input::{self, Command};
use top::state::{App, Overlay};
use top::{Session, view};

const WAIT: Duration = Duration::from_secs(30);

/// `noex demo --no-ui --steady` in `agents`, killed when dropped.
struct Demo {
    child: Child,
    socket: PathBuf,
}

impl Demo {
    fn start(agents: &Path, out: &Path) -> Demo {
        let stdout = std::fs::File::create(out).unwrap();
        let child = Process::new(env!("CARGO_BIN_EXE_noex"))
            .args(["demo", "--no-ui", "--steady"])
            .env("NOEX_AGENT_DIR", agents)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let began = Instant::now();
        // It says so once its tree has started (only against a hang: well under 1 s).
        while !std::fs::read_to_string(out)
            .unwrap()
            .contains("noex demo is running")
        {
            assert!(began.elapsed() < WAIT, "the demo never said it was running");
            std::thread::sleep(Duration::from_millis(20));
        }
        let socket = agents.join(format!("{}.sock", child.id()));
        Demo { child, socket }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picker_lists_two_real_applications_esc_stays_and_enter_switches() {
    let dir = tempfile::tempdir().unwrap();
    let agents = dir.path().join("agents");
    let first = Demo::start(&agents, &dir.path().join("first.out"));
    let second = Demo::start(&agents, &dir.path().join("second.out"));

    let target = TargetArgs {
        pid: None,
        socket: Some(first.socket.clone()),
        ..TargetArgs::default()
    };
    let (conn, hello, history) = Conn::attach(&target).await.expect("attach");
    let mut app = App::new(Layout::Full, Theme::Dark, false);
    app.connected(hello, history);
    let mut session = Session::new(conn, &target, &mut app);
    session.agent_dir = agents.clone();
    session.request_snapshot(&mut app);
    wait_for(&mut session, &mut app, |app| app.model.is_some()).await;
    app.set_filter("worker".into());

    // A: the picker opens and lists both, the one shown marked.
    let command = key(&mut app, 'A').expect("a command");
    assert_eq!(command, Command::ListApps);
    session.command(&mut app, command);
    assert!(frame(&mut app).contains("looking for noex applications"));
    wait_for(&mut session, &mut app, |app| app.picker.choices.is_some()).await;
    let choices = app.picker.choices.clone().unwrap();
    let pids: Vec<u32> = choices.iter().map(|c| c.pid).collect();
    let mut both = vec![first.pid(), second.pid()];
    both.sort();
    assert_eq!(pids, both, "in pid order");
    for choice in &choices {
        assert_eq!(choice.app.as_deref(), Some("noex-demo"));
        assert_eq!(choice.processes, Some(29), "the demo's own processes");
    }
    assert_eq!(app.picked().unwrap().pid, first.pid(), "on the app shown");
    let screen = frame(&mut app);
    assert!(
        screen.contains(&format!("{}         29  (shown)", first.pid())),
        "{screen}"
    );
    assert!(screen.contains(&second.pid().to_string()), "{screen}");

    // Esc: nothing changes.
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(app.hello.as_ref().unwrap().pid, first.pid());
    assert_eq!(app.filter, "worker");

    // A again, to the other one, Enter: the dashboard shows the second app.
    let command = key(&mut app, 'A').expect("a command");
    session.command(&mut app, command);
    wait_for(&mut session, &mut app, |app| app.picker.choices.is_some()).await;
    let step = if second.pid() > first.pid() { 'j' } else { 'k' };
    key(&mut app, step);
    let command = press(&mut app, KeyCode::Enter).expect("a switch");
    assert!(matches!(&command, Command::SwitchApp(c) if c.pid == second.pid()));
    assert!(
        frame(&mut app).contains(&format!("switching to noex-demo (pid {})", second.pid())),
        "the status line says where it goes"
    );
    session.command(&mut app, command);
    wait_for(&mut session, &mut app, |app| {
        app.hello.as_ref().is_some_and(|h| h.pid == second.pid()) && app.model.is_some()
    })
    .await;
    assert_eq!(app.snapshot().unwrap().os_pid, second.pid());
    assert!(app.filter.is_empty(), "the filter was the other app's");
    let screen = frame(&mut app);
    let header = screen.lines().next().unwrap();
    assert!(
        header.contains(&format!("noex-demo pid {}", second.pid())),
        "{header}"
    );
    // The event log is the second app's alone, from its attach note on.
    assert_eq!(
        app.log.front(),
        Some(&top::state::LogEntry::Note(format!(
            "attached to noex-demo (pid {})",
            second.pid()
        )))
    );
}

/// Feed updates to the app until `done` holds.
async fn wait_for(session: &mut Session<'_>, app: &mut App, done: impl Fn(&App) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(app) {
        let update = tokio::time::timeout_at(deadline, session.next_update())
            .await
            .expect("the awaited update came in time");
        let answered = matches!(update, Some(Update::Snapshot(_) | Update::Table(_)));
        session.update(app, update);
        if answered {
            session.request_snapshot(app);
        }
    }
}

fn press(app: &mut App, code: KeyCode) -> Option<Command> {
    input::handle_key(app, KeyEvent::new(code, KeyModifiers::NONE))
}

fn key(app: &mut App, c: char) -> Option<Command> {
    press(app, KeyCode::Char(c))
}

fn frame(app: &mut App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|frame| view::render(frame, app)).unwrap();
    terminal.backend().to_string()
}
