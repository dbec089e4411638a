//! `?`: every key, and what the warnings mean.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::styles::Styles;
use super::{centered, panel};
use crate::top::state::{
    App, BACKLOG_STREAK, CRASH_LOOP_RESTARTS, CRASH_LOOP_WINDOW_MS, Column, LOOP_HITS,
    LOOP_REFRESHES, LOOP_WINDOW_MS,
};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, styles: &Styles) {
    // Two lines of column keys: `N I T M Q` and `X B U W`.
    let (first, second) = Column::ALL.split_at(5);
    let sort_line = |columns: &[Column]| {
        let keys = columns
            .iter()
            .map(|c| c.key().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let names = columns
            .iter()
            .map(|c| c.header().to_lowercase())
            .collect::<Vec<_>>()
            .join(", ");
        (keys, format!("sort by {names}"))
    };
    let actions = if app.read_only() {
        "kill / restart (off: this agent is read-only)"
    } else {
        "kill / restart the selection, after y/N"
    };
    let mut keys: Vec<(String, String)> = vec![
        (
            "q Esc".into(),
            "quit (Esc first closes a panel, clears a filter)".into(),
        ),
        ("Tab".into(), "next panel (Shift-Tab: previous)".into()),
        (
            "↑↓ j k".into(),
            "move; PgUp PgDn g G: page, top, bottom".into(),
        ),
        (
            "← → h l".into(),
            "tree: close or open a supervisor (Space toggles)".into(),
        ),
        ("Enter".into(), "details of the selected process".into()),
        (
            "/".into(),
            "filter the table (Enter keeps it, Esc clears it)".into(),
        ),
        (
            "s S".into(),
            "sort by the next column; reverse the order".into(),
        ),
        sort_line(first),
        {
            let (keys, what) = sort_line(second);
            (keys, format!("{what} (twice: reverse)"))
        },
        (
            "p".into(),
            "pause this view (the application keeps running)".into(),
        ),
        (
            "a".into(),
            "show or hide noex's own system processes".into(),
        ),
        (
            "e".into(),
            "problems only in the log (✖ crash ↻ restart ‼ max restarts)".into(),
        ),
        (
            "r".into(),
            "refresh now; reconnect at once after the app went away".into(),
        ),
        ("K R".into(), actions.into()),
        ("1 2 3".into(), "layout: full, compact, minimal".into()),
        (
            "A".into(),
            "switch to another running noex application".into(),
        ),
    ];
    if app.replay.is_some() {
        keys = super::replay::help_keys(keys);
    }
    let mut lines: Vec<Line> = Vec::new();
    for (key, what) in keys {
        let style = if key == "K R" && app.read_only() {
            styles.disabled()
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {key:<18}"), styles.key()),
            Span::styled(what, style),
        ]));
    }
    lines.push(Line::from(Span::styled(
        " Warnings: a ! on the row, counted in the header",
        styles.bold(),
    )));
    let window_s = LOOP_WINDOW_MS / 1_000;
    for (name, what) in [
        (
            "stuck",
            "one handler has been running for over 1s".to_string(),
        ),
        (
            "backlog",
            format!("the queue grew {BACKLOG_STREAK} refreshes in a row"),
        ),
        (
            "crash loop",
            format!(
                "{LOOP_HITS} restarts in {LOOP_REFRESHES} refreshes or {window_s}s; banner: {CRASH_LOOP_RESTARTS} in {}s",
                CRASH_LOOP_WINDOW_MS / 1_000
            ),
        ),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!(" {name:<18}"), styles.warn()),
            Span::raw(what),
        ]));
    }

    let height = lines.len() as u16 + 2;
    let popup = centered(area, 80, height);
    frame.render_widget(Clear, popup);
    let block = panel(
        Line::from(" Help · any of ? Esc Enter closes "),
        true,
        styles,
    );
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
