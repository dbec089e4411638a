//! A dashboard built from hand-made Observer data with fixed times, for the state,
//! input and rendering tests.
//!
//! Four snapshots one second apart of the `render::fixtures` app, in which `cache` is
//! busy and stuck in a handler, `worker-2`'s queue grows every refresh (a backlog), and
//! `worker-1` is restarted at every refresh (a crash loop, with a new pid each time).
//!
//! [`frame`] gives a frame as text; [`styled_frame`] gives it with its styles, for the
//! screens where the style is what the user is told (a greyed-out key, the selected
//! row, a warning).

use std::fmt::Write as _;

use noex_agent::protocol::{Hello, ProtocolVersion};
use noex_agent::types::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier};
use ratatui::text::Span;

use super::state::{App, Row};
use super::view;
use crate::cli::{Layout, Theme};
use crate::render::fixtures::{self, NOW_MS};
use crate::render::format::TimeZone;

/// `worker-1`'s pid in the last snapshot.
pub const WORKER_1: Pid = Pid(23);
pub const WORKER_2: Pid = Pid(6);
pub const CACHE: Pid = Pid(2);

pub fn hello(read_only: bool) -> Hello {
    Hello {
        protocol_version: ProtocolVersion::CURRENT,
        noex_version: "0.1.0".into(),
        app: "demo".into(),
        pid: 4242,
        started_at_ms: NOW_MS - 3_725_000,
        read_only,
    }
}

/// Snapshot `k` of 0..=3, taken at `NOW_MS - (3 - k) s`.
pub fn snapshot(k: u64) -> Snapshot {
    let back = 3 - k;
    let mut snapshot = fixtures::snapshot();
    snapshot.taken_at_ms = NOW_MS - back * 1_000;
    snapshot.uptime_ms -= back * 1_000;
    snapshot.memory_rss_bytes = Some(48_000_000 + k * 850_000);
    let worker_1 = Pid(20 + k);
    for server in &mut snapshot.servers {
        match server.pid.0 {
            2 => {
                server.messages -= back * 1_234;
                server.busy_ns -= back * 250_000_000;
                if k == 3 {
                    server.handler_running_ns = Some(2_100_000_000);
                }
            }
            4 => server.messages -= back * 45,
            6 => {
                server.messages -= back * 10;
                server.queue_len = 1_200 + k * 100;
            }
            23 => {
                server.pid = worker_1;
                server.restarts = k as u32;
                server.started_at_ms = snapshot.taken_at_ms - 300;
            }
            _ => {}
        }
    }
    for supervisor in &mut snapshot.supervisors {
        for child in &mut supervisor.children {
            if child.pid == Some(Pid(23)) {
                child.pid = Some(worker_1);
            }
        }
        if supervisor.pid == Pid(3) {
            supervisor.child_restarts = k as u32;
        }
    }
    snapshot
}

pub fn events() -> Vec<LifecycleEvent> {
    let event = |seq: u64, pid: u64, child_id: &str, parent: Option<u64>, kind| LifecycleEvent {
        seq,
        at_ms: NOW_MS - 5_000 + seq * 137,
        pid: Pid(pid),
        name: None,
        child_id: Some(child_id.to_string()),
        parent: parent.map(Pid),
        system: false,
        kind,
    };
    vec![
        event(1, 2, "cache", Some(1), EventKind::Started),
        event(2, 6, "worker-2", Some(3), EventKind::Started),
        event(
            3,
            22,
            "worker-1",
            Some(3),
            EventKind::Crashed {
                error: "panicked at src/worker.rs:42:9:\nattempt to divide by zero".into(),
            },
        ),
        event(
            4,
            23,
            "worker-1",
            Some(3),
            EventKind::Restarted { attempt: 3 },
        ),
        LifecycleEvent {
            system: true,
            ..event(5, 31, "connection", Some(9), EventKind::Started)
        },
        LifecycleEvent {
            name: Some("limiter".into()),
            ..event(
                6,
                4,
                "limiter",
                Some(1),
                EventKind::Registered {
                    registered_name: "limiter".into(),
                },
            )
        },
    ]
}

/// The dashboard after attaching, the four snapshots and a lag notice.
pub fn app(layout: Layout) -> App {
    app_with(layout, |_| {})
}

/// As [`app`], with every snapshot changed by `edit` first.
pub fn app_with(layout: Layout, edit: impl Fn(&mut Snapshot)) -> App {
    let mut app = App::new(layout, Theme::Dark, false);
    app.zone = TimeZone::Utc;
    app.system_memory = Some(8 << 30);
    app.connected(hello(false), events());
    for k in 0..=3 {
        let mut snapshot = snapshot(k);
        edit(&mut snapshot);
        app.ingest(snapshot);
    }
    app.push(noex_agent::client::Push::Lagged { dropped: 12 });
    app
}

/// The table row of `pid`, which the test expects to be there.
pub fn row(app: &App, pid: Pid) -> &Row {
    app.row(pid).expect("row")
}

/// The frame `app` draws at `width` x `height`, as text.
pub fn frame(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::render(frame, app)).unwrap();
    terminal.backend().to_string()
}

/// The frame `app` draws at `width` x `height`, with its styles: see [`styled`].
pub fn styled_frame(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::render(frame, app)).unwrap();
    styled(terminal.backend().buffer())
}

/// A buffer as text with its styles: each run of cells that look alike is written
/// `[style]text[/]`, where the style lists the modifiers, then the foreground colour,
/// then `on-` the background (`[dim crossed]K kill[/]`, `[bold red]crashed[/]`);
/// unstyled text stays bare, and the spaces that end a line are left out.
pub fn styled(buffer: &Buffer) -> String {
    let mut out = String::new();
    for row in buffer.content.chunks(usize::from(buffer.area.width)) {
        let mut line = String::new();
        let mut run: Option<(String, String)> = None;
        let mut hidden = 0;
        for cell in row {
            // The cells a wide symbol covers.
            if hidden > 0 {
                hidden -= 1;
                continue;
            }
            let symbol = cell.symbol();
            hidden = Span::raw(symbol).width().saturating_sub(1);
            let style = markup(cell);
            match &mut run {
                Some((current, text)) if *current == style => text.push_str(symbol),
                _ => {
                    push_run(&mut line, run.take());
                    run = Some((style, symbol.to_string()));
                }
            }
        }
        push_run(&mut line, run);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn push_run(line: &mut String, run: Option<(String, String)>) {
    match run {
        Some((style, text)) if style.is_empty() => line.push_str(&text),
        Some((style, text)) => write!(line, "[{style}]{text}[/]").unwrap(),
        None => {}
    }
}

fn markup(cell: &Cell) -> String {
    const MODIFIERS: [(Modifier, &str); 8] = [
        (Modifier::BOLD, "bold"),
        (Modifier::DIM, "dim"),
        (Modifier::ITALIC, "italic"),
        (Modifier::UNDERLINED, "underlined"),
        (Modifier::SLOW_BLINK, "blink"),
        (Modifier::REVERSED, "reversed"),
        (Modifier::HIDDEN, "hidden"),
        (Modifier::CROSSED_OUT, "crossed"),
    ];
    let mut parts: Vec<String> = MODIFIERS
        .iter()
        .filter(|(modifier, _)| cell.modifier.contains(*modifier))
        .map(|(_, name)| name.to_string())
        .collect();
    let colour = |colour: Color| colour.to_string().to_lowercase();
    if cell.fg != Color::Reset {
        parts.push(colour(cell.fg));
    }
    if cell.bg != Color::Reset {
        parts.push(format!("on-{}", colour(cell.bg)));
    }
    parts.join(" ")
}

mod tests {
    use ratatui::layout::Rect;
    use ratatui::style::Style;
    use ratatui::text::Line;
    use ratatui::widgets::Widget;

    use super::*;

    #[test]
    fn styled_marks_each_run_of_alike_cells_and_skips_what_wide_symbols_cover() {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 24, 2));
        Line::from(vec![
            Span::raw(" "),
            Span::styled("K kill", Style::new().dim().crossed_out()),
            Span::styled(" 漢", Style::new().red().on_blue().bold()),
            Span::raw("x"),
        ])
        .render(buffer.area, &mut buffer);
        assert_eq!(
            styled(&buffer),
            " [dim crossed]K kill[/][bold red on-blue] 漢[/]x\n\n"
        );
    }
}
