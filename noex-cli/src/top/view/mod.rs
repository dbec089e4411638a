//! Drawing: the dashboard as a function of its state.
//!
//! [`render`] reads the [`App`] and draws one frame. The only state it writes is view
//! bookkeeping that ratatui's stateful widgets keep (how far a list is scrolled, and
//! the tree widget's items, rebuilt after a snapshot), so the same state always draws
//! the same frame, which is what the snapshot tests rely on.

pub mod confirm;
pub mod details;
pub mod events;
pub mod gauge;
pub mod help;
pub mod picker;
pub mod replay;
pub mod styles;
pub mod table;
pub mod tree;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::state::{App, Connection, CrashLoop, Overlay, Tone};
use crate::cli::Layout;
use crate::render::format;
use styles::Styles;

/// What an empty panel says until the first snapshot is in.
pub const WAITING: &str = " waiting for the first snapshot…";

/// The dashboard's look for this state.
pub fn styles(app: &App) -> Styles {
    let mut styles = Styles::new(app.theme, app.colour);
    if app.ascii {
        styles.symbols = styles::Symbols::ASCII;
    }
    styles
}

/// Draw the whole dashboard.
pub fn render(frame: &mut Frame, app: &mut App) {
    let styles = styles(app);
    let loops = app.crash_loops();
    let [header, banner, body, footer] = Split::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(!loops.is_empty())),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app, &styles);
    draw_crash_loops(frame, banner, &loops, &styles);
    match app.layout {
        Layout::Full => {
            let [main, memory, log] = Split::vertical([
                Constraint::Fill(3),
                Constraint::Length(3),
                Constraint::Fill(2),
            ])
            .areas(body);
            draw_tree_and_table(frame, main, app, &styles);
            gauge::draw(frame, memory, app, &styles);
            events::draw(frame, log, app, &styles);
        }
        Layout::Compact => draw_tree_and_table(frame, body, app, &styles),
        Layout::Minimal => table::draw(frame, body, app, &styles),
    }
    draw_footer(frame, footer, app, &styles);
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => help::draw(frame, body, app, &styles),
        Overlay::Details => details::draw(frame, body, app, &styles),
        Overlay::Confirm(pending) => confirm::draw(frame, body, pending, &styles),
        Overlay::Apps => picker::draw(frame, body, app, &styles),
    }
}

fn draw_tree_and_table(frame: &mut Frame, area: Rect, app: &mut App, styles: &Styles) {
    // The tree needs room for names and nesting; the table takes the rest.
    let tree_width = (area.width * 35 / 100).clamp(26.min(area.width), 60);
    let [tree_area, table_area] =
        Split::horizontal([Constraint::Length(tree_width), Constraint::Fill(1)]).areas(area);
    tree::draw(frame, tree_area, app, styles);
    table::draw(frame, table_area, app, styles);
}

/// `noex top · demo pid 4242 · ● connected · up 1h 02m · 7 processes · 1.2k msg/s ·
/// ! 2 warnings: 1 stuck, 1 backlog`. On a narrow terminal the least important parts
/// go first; the app, the connection and the warning count stay.
fn draw_header(frame: &mut Frame, area: Rect, app: &App, styles: &Styles) {
    // (importance: lower stays longer, spans)
    let mut parts: Vec<(u8, Vec<Span<'static>>)> =
        vec![(6, vec![Span::styled("noex top", styles.bold())])];
    if let Some(hello) = &app.hello {
        parts.push((
            0,
            vec![
                Span::styled(hello.app.clone(), styles.bold()),
                Span::raw(format!(" pid {}", hello.pid)),
            ],
        ));
        if let Some(host) = &app.host {
            parts.push((
                0,
                vec![Span::raw("on "), Span::styled(host.clone(), styles.bold())],
            ));
        }
    }
    let mut connection = vec![match &app.connection {
        Connection::Connected => Span::styled("● connected", styles.good()),
        Connection::Connecting => Span::styled("… connecting", styles.warn()),
        Connection::Disconnected { .. } if app.retrying => {
            Span::styled("○ disconnected (retrying)", styles.bad())
        }
        Connection::Disconnected { .. } => {
            Span::styled("○ disconnected (r reconnects)", styles.bad())
        }
    }];
    if let Some(status) = &app.replay {
        connection = replay::badge(status, styles);
    }
    if app.read_only() {
        connection.push(Span::styled(" read-only", styles.warn()));
    }
    parts.push((0, connection));
    if app.paused {
        parts.push((
            0,
            vec![Span::styled(
                " PAUSED ",
                styles.warn().patch(styles.cursor()),
            )],
        ));
    }
    if let Some(snapshot) = app.snapshot() {
        let totals = app.totals;
        let warnings = totals.warnings();
        if warnings == 0 {
            // Not under a crash-loop banner, which is a warning too.
            if app.crash_loops().is_empty() {
                parts.push((4, vec![Span::styled("no warnings", styles.dim())]));
            }
        } else {
            let style = if totals.crash_loop + totals.stuck > 0 {
                styles.bad()
            } else {
                styles.warn()
            };
            let noun = if warnings == 1 { "warning" } else { "warnings" };
            parts.push((0, vec![Span::styled(format!("! {warnings} {noun}"), style)]));
            let mut kinds = Vec::new();
            for (count, what) in [
                (totals.crash_loop, "crash loop"),
                (totals.stuck, "stuck"),
                (totals.backlog, "backlog"),
            ] {
                if count > 0 {
                    kinds.push(format!("{count} {what}"));
                }
            }
            parts.push((3, vec![Span::styled(kinds.join(", "), style)]));
        }
        parts.push((
            2,
            vec![Span::raw(format!(
                "up {}",
                format::duration_ms(snapshot.uptime_ms)
            ))],
        ));
        let noun = if totals.processes == 1 {
            "process"
        } else {
            "processes"
        };
        parts.push((1, vec![Span::raw(format!("{} {noun}", totals.processes))]));
        if totals.hidden_system > 0 {
            parts.push((
                5,
                vec![Span::styled(
                    format!("+{} system hidden", totals.hidden_system),
                    styles.dim(),
                )],
            ));
        }
        parts.push((1, vec![Span::raw(format!("{} msg/s", app_rate_text(app)))]));
        if let Some(every) = app.refresh_stretched {
            // Slow answers (a very large app): refreshed less often, to spare it.
            parts.push((
                3,
                vec![Span::styled(
                    format!("refresh {}", format::duration_ms(every.as_millis() as u64)),
                    styles.warn(),
                )],
            ));
        }
    }
    let sep = styles.symbols.separator;
    let width = |parts: &[(u8, Vec<Span>)]| -> usize {
        parts
            .iter()
            .map(|(_, spans)| spans.iter().map(Span::width).sum::<usize>() + sep.chars().count())
            .sum::<usize>()
    };
    while width(&parts) > usize::from(area.width) {
        let Some(least) = parts.iter().map(|(p, _)| *p).max().filter(|p| *p > 0) else {
            break;
        };
        let index = parts.iter().rposition(|(p, _)| *p == least).expect("found");
        parts.remove(index);
    }
    let mut spans = vec![Span::raw(" ")];
    for (i, (_, part)) in parts.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(sep, styles.dim()));
        }
        spans.extend(part);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `⚠ crash loop: flaky restarted 4 times in the last minute`, while any process
/// is in one (see `state::crash_loop`); nothing, and no row, otherwise.
fn draw_crash_loops(frame: &mut Frame, area: Rect, loops: &[CrashLoop], styles: &Styles) {
    let Some((first, others)) = loops.split_first() else {
        return;
    };
    let mut text = format!(
        " {} crash loop: {} restarted {} times in the last minute",
        styles.symbols.warning, first.name, first.restarts
    );
    for other in others {
        text.push_str(&format!("; {} {} times", other.name, other.restarts));
    }
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(text, styles.bad()))),
        area,
    );
}

/// The status line: the filter being typed, a message, the connection's loss, or the
/// keys.
fn draw_footer(frame: &mut Frame, area: Rect, app: &App, styles: &Styles) {
    let line = if app.editing_filter {
        Line::from(vec![
            Span::styled(" filter /", styles.key()),
            Span::raw(app.filter.clone()),
            Span::styled("█", styles.dim()),
            Span::styled("   Enter keep · Esc clear", styles.dim()),
        ])
    } else if let Some(status) = &app.replay {
        replay::footer(app, status, styles)
    } else if let Some(message) = &app.message {
        let style = match message.tone {
            Tone::Info => Style::new(),
            Tone::Good => styles.good(),
            Tone::Bad => styles.bad(),
        };
        Line::from(Span::styled(format!(" {}", message.text), style))
    } else if let Connection::Disconnected { reason } = &app.connection {
        let last = app
            .snapshot()
            .map(|s| {
                format!(
                    "; showing the picture of {}",
                    format::time_of_day(s.taken_at_ms, app.zone)
                )
            })
            .unwrap_or_default();
        let retrying = if app.retrying {
            format!("; retrying every {}s", super::RETRY_EVERY.as_secs())
        } else {
            String::new()
        };
        Line::from(vec![
            Span::raw(" "),
            Span::styled("r", styles.key()),
            Span::raw(if app.retrying {
                " retry now  "
            } else {
                " reconnect  "
            }),
            Span::styled("q", styles.key()),
            Span::raw(" quit  "),
            Span::styled(
                format!("disconnected: {reason}{retrying}{last}"),
                styles.bad(),
            ),
        ])
    } else {
        key_hints(app, styles)
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn key_hints(app: &App, styles: &Styles) -> Line<'static> {
    let actions_style = if app.read_only() {
        styles.disabled()
    } else {
        Style::new()
    };
    let keys: [(&str, &str, Style); 14] = [
        ("q", "quit", Style::new()),
        ("?", "help", Style::new()),
        ("Tab", "focus", Style::new()),
        ("Enter", "details", Style::new()),
        ("/", "filter", Style::new()),
        ("s", "sort", Style::new()),
        (
            "p",
            if app.paused { "resume" } else { "pause" },
            Style::new(),
        ),
        ("a", "system", Style::new()),
        (
            "e",
            if app.problems_only {
                "all events"
            } else {
                "problems"
            },
            Style::new(),
        ),
        ("r", "refresh", Style::new()),
        ("K", "kill", actions_style),
        ("R", "restart", actions_style),
        ("1-3", "layout", Style::new()),
        ("A", "apps", Style::new()),
    ];
    let mut spans = vec![Span::raw(" ")];
    for (key, what, style) in keys {
        let key_style = if style == Style::new() {
            styles.key()
        } else {
            style
        };
        spans.push(Span::styled(key, key_style));
        spans.push(Span::styled(format!(" {what}  "), style));
    }
    Line::from(spans)
}

/// A bordered panel with a title, highlighted when it has the focus.
pub fn panel<'a>(title: Line<'a>, focused: bool, styles: &Styles) -> Block<'a> {
    Block::bordered()
        .border_style(styles.border(focused))
        .title(title.style(styles.title(focused)))
}

/// A box of at most `width` x `height` in the middle of `area`. One that would leave a
/// single row (or column) of `area` uncovered takes that too: the strip would show only
/// a border of the panel beneath, which reads as a second border of the box, as if the
/// box had lost a row.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let fit = |wanted: u16, room: u16| {
        if wanted.saturating_add(1) >= room {
            room
        } else {
            wanted
        }
    };
    let width = fit(width, area.width);
    let height = fit(height, area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// The app's messages per second now, `-` before there are two snapshots.
pub fn app_rate_text(app: &App) -> String {
    app.model
        .as_ref()
        .and_then(|m| m.app_rate)
        .map_or_else(|| "-".to_string(), rate_text)
}

/// Messages per second: `0`, `2.5`, `87`, `1.2k`.
pub fn rate_text(rate: f64) -> String {
    if rate <= 0.0 {
        "0".to_string()
    } else if rate < 10.0 {
        let tenths = (rate * 10.0).floor() / 10.0;
        format!("{tenths:.1}")
    } else {
        format::count(rate as u64)
    }
}

/// A share of time: `0%`, `<1%`, `42%`, `100%`.
pub fn percent_text(pct: f64) -> String {
    if pct <= 0.0 {
        "0%".to_string()
    } else if pct < 1.0 {
        "<1%".to_string()
    } else {
        format!("{}%", pct.floor() as u64)
    }
}

/// Rates below this fill only part of a sparkline, so a steady trickle does not look
/// like a flood.
const SPARK_FLOOR: u64 = 10;

/// The last `width` values as sparkline bars, scaled to their own maximum (at least
/// [`SPARK_FLOOR`]).
pub fn spark_text(
    values: impl DoubleEndedIterator<Item = u64> + Clone,
    width: usize,
    styles: &Styles,
) -> String {
    let recent: Vec<u64> = values.rev().take(width).collect();
    let max = recent.iter().copied().max().unwrap_or(0).max(SPARK_FLOOR);
    let bars = styles.symbols.bars;
    recent
        .iter()
        .rev()
        .map(|&v| bars[((v * 7).div_ceil(max) as usize).min(7)])
        .collect()
}

#[cfg(test)]
mod tests;
