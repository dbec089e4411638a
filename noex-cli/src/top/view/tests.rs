//! Every screen as text: each layout, the help, the details panel, the confirm prompt
//! and the disconnected state, at 80x24 and 160x48.

use noex_agent::types::Pid;

use crate::cli::Layout;
use crate::render::snapshot;
use crate::top::input::handle_key;
use crate::top::state::{Focus, Overlay};
use crate::top::testing::{self, WORKER_1, frame, styled_frame};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn check(name: &str, mut app: crate::top::state::App) {
    for (w, h) in SIZES {
        snapshot!(format!("top_{name}_{w}x{h}"), frame(&mut app, w, h));
    }
}

#[test]
fn full_layout() {
    check("full", testing::app(Layout::Full));
}

#[test]
fn compact_layout() {
    check("compact", testing::app(Layout::Compact));
}

#[test]
fn minimal_layout_sorted_by_rate() {
    let mut app = testing::app(Layout::Minimal);
    handle_key(&mut app, key('M'));
    check("minimal", app);
}

#[test]
fn help() {
    let mut app = testing::app(Layout::Full);
    handle_key(&mut app, key('?'));
    assert_eq!(app.overlay, Overlay::Help);
    check("help", app);
}

#[test]
fn details_of_a_crashing_worker() {
    let mut app = testing::app(Layout::Full);
    app.focus = Focus::Table;
    assert!(app.select_table_pid(WORKER_1));
    handle_key(&mut app, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.overlay, Overlay::Details);
    check("details", app);
}

#[test]
fn details_of_a_state_machine_show_its_state() {
    let mut app = testing::app(Layout::Full);
    app.focus = Focus::Table;
    assert!(app.select_table_pid(Pid(4)));
    handle_key(&mut app, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.overlay, Overlay::Details);
    check("details_state", app);
}

/// A store bucket's state lists figures: each on a line of its own where the
/// panel has the room, else as few lines as fit, broken between figures; its
/// pending timer on a line after them either way.
#[test]
fn details_of_a_bucket_show_its_figures_on_lines_of_their_own() {
    let mut app = testing::app_with(Layout::Full, |snapshot| {
        let limiter = snapshot
            .servers
            .iter_mut()
            .find(|s| s.pid == Pid(4))
            .unwrap();
        limiter.state = Some(
            "bucket orders: 1,234 records, 56.0 KiB, 12 ops/s, 2 subscribers; 1 timer, next in 640 ms"
                .into(),
        );
    });
    app.focus = Focus::Table;
    assert!(app.select_table_pid(Pid(4)));
    handle_key(&mut app, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.overlay, Overlay::Details);
    check("details_bucket", app);
}

#[test]
fn details_of_a_supervisor() {
    let mut app = testing::app(Layout::Compact);
    app.focus = Focus::Table;
    assert!(app.select_table_pid(Pid(3)));
    handle_key(&mut app, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    check("details_supervisor", app);
}

#[test]
fn confirm_kill() {
    let mut app = testing::app(Layout::Full);
    app.focus = Focus::Table;
    assert!(app.select_table_pid(WORKER_1));
    handle_key(&mut app, key('K'));
    assert!(matches!(app.overlay, Overlay::Confirm(_)));
    check("confirm_kill", app);
}

/// A root supervisor: the prompt says nothing will bring it back, and a yes kills it
/// with `force` (the agent refuses such a kill without it).
#[test]
fn confirm_kill_of_a_process_nothing_restarts() {
    let mut app = testing::app(Layout::Full);
    app.focus = Focus::Table;
    assert!(app.select_table_pid(Pid(1)));
    handle_key(&mut app, key('K'));
    let Overlay::Confirm(pending) = &app.overlay else {
        panic!("no prompt: {:?}", app.overlay)
    };
    assert_eq!(
        pending.nothing_restarts.as_deref(),
        Some("app_sup <0.1> is a root supervisor: nothing would restart it")
    );
    for (w, h) in SIZES {
        snapshot!(
            format!("top_confirm_kill_unrestarted_{w}x{h}"),
            frame(&mut app, w, h)
        );
    }
    assert_eq!(
        handle_key(&mut app, key('y')),
        Some(crate::top::input::Command::Kill {
            pid: Pid(1),
            force: true
        })
    );
}

#[test]
fn disconnected_keeps_the_last_picture() {
    let mut app = testing::app(Layout::Full);
    app.disconnected(crate::top::conn::CLOSED);
    check("disconnected", app);
}

#[test]
fn a_disconnected_dashboard_that_retries_says_so() {
    let mut app = testing::app(Layout::Full);
    app.disconnected(crate::top::conn::CLOSED);
    app.retrying = true;
    app.retry_failed("no agent at /run/noex/app.sock");
    check("disconnected_retrying", app);
}

#[test]
fn filtering_and_showing_system_processes() {
    let mut app = testing::app(Layout::Minimal);
    handle_key(&mut app, key('a'));
    handle_key(&mut app, key('/'));
    for c in "work".chars() {
        handle_key(&mut app, key(c));
    }
    check("filter_all", app);
}

#[test]
fn read_only_greys_out_kill_and_restart() {
    let mut app = testing::app(Layout::Compact);
    app.connected(testing::hello(true), Vec::new());
    check("read_only", app);
}

/// Read-only is said by style: the header's `read-only` stands out, and the footer's
/// `K kill` and `R restart` (and their line in the help) are greyed out and struck
/// through, where a read-write dashboard shows them as keys like the others.
#[test]
fn read_only_greys_out_kill_and_restart_styled() {
    let (w, h) = (160, 48);
    let header_and_footer = |app: &mut crate::top::state::App| {
        let styled = styled_frame(app, w, h);
        let lines: Vec<&str> = styled.lines().collect();
        format!("{}\n{}\n", lines[0], lines[usize::from(h) - 1])
    };
    let mut read_write = testing::app(Layout::Compact);
    let mut read_only = testing::app(Layout::Compact);
    read_only.connected(testing::hello(true), Vec::new());
    let mut text = String::from("read-write:\n");
    text.push_str(&header_and_footer(&mut read_write));
    text.push_str("read-only:\n");
    text.push_str(&header_and_footer(&mut read_only));
    handle_key(&mut read_only, key('?'));
    let help = styled_frame(&mut read_only, w, h);
    let actions = help.lines().find(|line| line.contains("K R")).unwrap();
    text.push_str("read-only help:\n");
    text.push_str(actions.trim_matches(['│', ' ']));
    text.push('\n');
    snapshot!("top_read_only_styled_160x48", text);
}

/// Where the style carries the meaning: the focused panel's border and selected row
/// (reversed), the unfocused panel's selected row (bold), the rows with a warning and
/// the header's warning count, crashes and restarts in the event log. Without colour
/// (`NO_COLOR`), as a modifier each; with colour, in the theme's colours.
#[test]
fn styles_show_the_focus_the_selection_and_the_warnings() {
    for (colour, name) in [
        (false, "top_full_styled_80x24"),
        (true, "top_full_colour_styled_80x24"),
    ] {
        let mut app = testing::app(Layout::Full);
        app.colour = colour;
        app.focus = Focus::Table;
        assert!(app.select_table_pid(WORKER_1));
        snapshot!(name, styled_frame(&mut app, 80, 24));
    }
}

#[test]
fn before_the_first_snapshot() {
    let mut app = crate::top::state::App::new(Layout::Full, crate::cli::Theme::Dark, false);
    app.connected(testing::hello(false), Vec::new());
    snapshot!("top_waiting_80x24", frame(&mut app, 80, 24));
}

#[test]
fn a_tiny_terminal_does_not_panic() {
    for layout in [Layout::Full, Layout::Compact, Layout::Minimal] {
        let mut app = testing::app(layout);
        for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10)] {
            frame(&mut app, w, h);
        }
        handle_key(&mut app, key('?'));
        frame(&mut app, 20, 5);
        app.overlay = Overlay::Details;
        frame(&mut app, 20, 5);
    }
}

/// A kill is an abnormal exit (OTP's `kill`; only `normal` and `shutdown` are normal):
/// the event log shows it as `killed`, styled as a crash, not as a clean `terminated`.
#[test]
fn the_event_log_shows_a_kill_as_an_abnormal_exit() {
    use noex_agent::types::{EventKind, LifecycleEvent};

    let exit = |seq: u64, pid: u64, child_id: &str, reason: &str| LifecycleEvent {
        seq,
        at_ms: crate::render::fixtures::NOW_MS - 900 + seq,
        pid: Pid(pid),
        name: None,
        child_id: Some(child_id.into()),
        parent: Some(Pid(3)),
        system: false,
        kind: EventKind::Terminated {
            reason: reason.to_string().into(),
        },
    };
    let mut text = String::new();
    for colour in [false, true] {
        let mut app = testing::app(Layout::Full);
        app.colour = colour;
        app.push_event(exit(7, 23, "worker-1", "killed"));
        app.push_event(exit(8, 6, "worker-2", "shutdown"));
        let styled = styled_frame(&mut app, 80, 24);
        let log: Vec<&str> = styled
            .lines()
            .skip_while(|line| !line.contains(" Events "))
            .skip(1)
            .take_while(|line| !line.contains('└'))
            .collect();
        text.push_str(if colour { "colour:\n" } else { "no colour:\n" });
        for line in log.iter().rev().take(3).rev() {
            text.push_str(line);
            text.push('\n');
        }
    }
    snapshot!("top_event_log_kill_styled_80x24", text);
}

/// `A` lists the running applications, the one shown marked and the cursor on it;
/// one that does not answer is listed with the reason.
#[test]
fn the_application_picker() {
    use crate::top::state::AppChoice;

    let mut app = testing::app(Layout::Full);
    handle_key(&mut app, key('A'));
    assert_eq!(app.overlay, Overlay::Apps);
    snapshot!("top_picker_looking_80x24", frame(&mut app, 80, 24));
    let choice = |pid: u32, app: Option<&str>, processes| AppChoice {
        pid,
        socket: format!("/run/noex/{pid}.sock").into(),
        app: app.map(str::to_string),
        processes,
        error: app
            .is_none()
            .then(|| "the agent closed the connection".into()),
        node: None,
        host: None,
    };
    app.apps_listed(vec![
        choice(1000, Some("billing"), Some(12_045)),
        choice(4242, Some("demo"), Some(7)),
        choice(5150, None, None),
    ]);
    check("picker", app);
}

/// Over `--cluster`, `A` lists the nodes with the machine each runs on; the node shown
/// is marked by its name, since nodes on two machines may share an OS pid.
#[test]
fn the_node_picker_marks_the_node_shown_by_name() {
    use crate::top::state::AppChoice;

    let mut app = testing::app(Layout::Full);
    app.host = Some("node api-2".into());
    app.node = Some("api-2".into());
    handle_key(&mut app, key('A'));
    let node = |name: &str, host: &str| AppChoice {
        pid: 4242,
        socket: Default::default(),
        app: Some(format!("{name} · shop")),
        processes: None,
        error: None,
        node: Some(name.into()),
        host: Some(host.into()),
    };
    app.apps_listed(vec![
        node("api-1", "10.0.0.1"),
        node("api-2", "shop-eu-west-2.internal.example"),
    ]);
    snapshot!("top_node_picker_100x20", frame(&mut app, 100, 20));
}

/// A lifecycle event of the fixture app for the event log tests, `seq` after the
/// fixture's own.
fn log_event(
    seq: u64,
    at_ms: u64,
    pid: u64,
    child_id: &str,
    kind: noex_agent::types::EventKind,
) -> noex_agent::types::LifecycleEvent {
    noex_agent::types::LifecycleEvent {
        seq,
        at_ms,
        pid: Pid(pid),
        name: None,
        child_id: Some(child_id.into()),
        parent: Some(Pid(3)),
        system: false,
        kind,
    }
}

/// Routine session churn buries a crash, a restart and a supervisor giving up;
/// each problem has a marker (✖ crash or abnormal exit, ↻ restart, ‼ max restarts
/// exceeded) that reads without colour, and `e` keeps only the problems, saying so
/// in the log's title.
#[test]
fn problems_only_keeps_crashes_restarts_and_max_restarts_with_their_markers() {
    use noex_agent::types::EventKind;

    let now = crate::render::fixtures::NOW_MS;
    let mut app = testing::app(Layout::Full);
    let mut seq = 100;
    let mut push = |app: &mut crate::top::state::App, pid, child_id: &str, kind| {
        seq += 1;
        app.push_event(log_event(seq, now - 2_000 + seq, pid, child_id, kind));
    };
    for session in 0..4 {
        let id = format!("session-{session}");
        push(&mut app, 40 + session, &id, EventKind::ChildAdded);
        push(&mut app, 40 + session, &id, EventKind::Started);
    }
    push(
        &mut app,
        6,
        "worker-2",
        EventKind::Terminated {
            reason: "killed".to_string().into(),
        },
    );
    push(
        &mut app,
        50,
        "worker-2",
        EventKind::Restarted { attempt: 1 },
    );
    for session in 0..4 {
        let id = format!("session-{session}");
        let normal = EventKind::Terminated {
            reason: "normal".to_string().into(),
        };
        push(&mut app, 40 + session, &id, normal);
        push(&mut app, 40 + session, &id, EventKind::ChildRemoved);
    }
    push(
        &mut app,
        3,
        "workers",
        EventKind::MaxRestartsExceeded {
            max_restarts: 3,
            within_ms: 5_000,
        },
    );
    snapshot!("top_events_all_160x48", frame(&mut app, 160, 48));
    handle_key(&mut app, key('e'));
    assert!(app.problems_only);
    for (w, h) in SIZES {
        snapshot!(
            format!("top_events_problems_only_{w}x{h}"),
            frame(&mut app, w, h)
        );
    }
    handle_key(&mut app, key('e'));
    assert!(!app.problems_only, "e again shows every event");
}

/// A process restarted three times within a minute (by the events' own times) puts
/// a banner over the panels naming it and the count; a snapshot taken over a minute
/// after its restarts, with none since, takes it away.
#[test]
fn a_crash_loop_banner_names_the_process_and_goes_once_it_calms_down() {
    use noex_agent::types::EventKind;

    let now = crate::render::fixtures::NOW_MS;
    let mut app = testing::app(Layout::Full);
    for (i, back) in [400, 300, 200, 100].into_iter().enumerate() {
        let i = i as u64;
        let crash = EventKind::Crashed {
            error: "flaky by design".into(),
        };
        app.push_event(log_event(100 + 2 * i, now - back, 60 + i, "flaky", crash));
        let restart = EventKind::Restarted {
            attempt: i as u32 + 1,
        };
        app.push_event(log_event(101 + 2 * i, now - back, 61 + i, "flaky", restart));
    }
    let screen = frame(&mut app, 80, 24);
    assert!(
        screen.contains("⚠ crash loop: flaky restarted 4 times in the last minute"),
        "{screen}"
    );
    snapshot!("top_crash_loop_80x24", screen);
    let mut calm = testing::snapshot(3);
    calm.taken_at_ms = now + 60_000;
    app.ingest(calm);
    let screen = frame(&mut app, 80, 24);
    assert!(!screen.contains("crash loop:"), "{screen}");
}

/// Over `--host` the header names the machine, so a pid is never taken for one on
/// this machine; the memory gauge then has no system scale (this machine's is not the
/// app's).
#[test]
fn the_header_names_the_remote_host() {
    let mut app = testing::app(Layout::Full);
    app.host = Some("ana@box:2222".into());
    app.system_memory = None;
    let screen = frame(&mut app, 160, 48);
    let header = screen.lines().next().unwrap();
    assert!(
        header.contains(" pid 4242 · on ana@box:2222 · "),
        "{header}"
    );
    assert!(!screen.contains("of 8.0G system"), "{screen}");
}
