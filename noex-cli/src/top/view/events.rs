//! The event log: the app's lifecycle stream, newest at the bottom, with the recent
//! history the agent sent on attach. Crashes stand out in the `Bad` colour and
//! restarts in `Warn`, as in `noex events`, and a marker in front of each problem
//! (✖ crash or abnormal exit, ↻ restart, ‼ max restarts exceeded) says it without
//! colour too; a lag notice says how many were skipped. `e` shows only problems.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::panel;
use super::styles::Styles;
use crate::render::events::{EventFormat, event_line, lagged_line};
use crate::render::style::{Role, Style as TextStyle, event_role};
use crate::top::state::{App, Focus, LogEntry, Problem};

/// `14:03:27.512`: the time at the start of every event line.
const TIME_WIDTH: usize = 12;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, styles: &Styles) {
    let focused = app.focus == Focus::Events;
    let mut title = if app.problems_only {
        " Events · problems only (e: all) ".to_string()
    } else {
        " Events ".to_string()
    };
    if app.log_scroll > 0 {
        title.push_str(&format!("(scrolled back {}) ", app.log_scroll));
    }
    let block = panel(Line::from(title), focused, styles);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let mut lines: Vec<Line> = app
        .log_shown()
        .rev()
        .skip(app.log_scroll)
        .take(height)
        .map(|entry| line(entry, app, styles))
        .collect();
    lines.reverse();
    if lines.is_empty() {
        let none = if app.problems_only {
            " no problems: no crash, restart or abnormal exit (e shows every event)"
        } else {
            " no events yet"
        };
        lines.push(Line::from(Span::styled(none, styles.dim())));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn line(entry: &LogEntry, app: &App, styles: &Styles) -> Line<'static> {
    match entry {
        LogEntry::Event(event) => {
            let format = EventFormat {
                style: TextStyle::PLAIN,
                zone: app.zone,
            };
            let text = event_line(event, format);
            let (time, rest) = text.split_at(TIME_WIDTH.min(text.len()));
            // Crashes and restarts colour the whole line; quieter events only their
            // time is dimmed.
            let style = match event_role(&event.kind) {
                Some(role @ (Role::Bad | Role::Warn)) => styles.role(role),
                _ => Style::new(),
            };
            let marker = match Problem::of(&event.kind) {
                Some(Problem::Crash) => styles.symbols.crash,
                Some(Problem::Restart) => styles.symbols.restart,
                Some(Problem::MaxRestarts) => styles.symbols.max_restarts,
                None => " ",
            };
            Line::from(vec![
                Span::styled(format!("{marker} "), style),
                Span::styled(time.to_string(), styles.dim()),
                Span::styled(rest.to_string(), style),
            ])
        }
        LogEntry::Lagged(dropped) => Line::from(Span::styled(
            format!(" {}", lagged_line(*dropped, TextStyle::PLAIN)),
            styles.warn(),
        )),
        LogEntry::Note(text) => Line::from(Span::styled(format!(" — {text} —"), styles.dim())),
    }
}
