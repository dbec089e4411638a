//! Enter: everything the agent knows about the selected process, its last error in
//! full, and its recent message rate.

use noex_agent::types::{Pid, ServerInfo, SupervisorInfo, TreeNode};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::styles::Styles;
use super::table::{restarts_style, warning_text};
use super::{centered, panel, percent_text, rate_text, spark_text};
use crate::render::format;
use crate::top::state::{App, Focus, LOOP_WINDOW_MS, Row, describe};

/// Width of the key column.
const KEY: usize = 15;
/// The panel's width, where the screen has it.
const WIDTH: u16 = 96;
/// Children of a supervisor listed by name before "and N more".
const CHILDREN_LISTED: usize = 8;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, styles: &Styles) {
    // The room for a value: the panel's width (which does not depend on its height)
    // less the borders and the key column.
    let value_width =
        usize::from(centered(area, WIDTH, 1).width.saturating_sub(2)).saturating_sub(KEY + 1);
    // The lines, a spare one for a long error that wraps, the trend, the borders.
    let height = |(_, lines, history): &Content| {
        let trend_height = if history.is_some() { 2 } else { 0 };
        lines.len() as u16 + 1 + trend_height + 2
    };
    // A state's figures each on a line of their own where the panel has the room.
    let mut shown = content(app, styles, Spread::Figures, value_width);
    if height(&shown) > area.height {
        shown = content(app, styles, Spread::Wrapped, value_width);
    }
    let height = height(&shown);
    let (title, lines, history) = shown;
    let trend_height = if history.is_some() { 2 } else { 0 };
    let popup = centered(area, WIDTH, height);
    frame.render_widget(Clear, popup);
    let block = panel(Line::from(title), true, styles);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let [text_area, spark_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(trend_height)]).areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text_area);
    if let Some(history) = history {
        let width = usize::from(spark_area.width).saturating_sub(KEY + 2);
        let trend = if history.is_empty() {
            Span::styled("no samples yet (a new instance)", styles.dim())
        } else {
            Span::styled(
                spark_text(history.into_iter(), width, styles),
                styles.sparkline(),
            )
        };
        let line = Line::from(vec![
            Span::styled(format!(" {:<KEY$}", "msg/s trend"), styles.dim()),
            trend,
        ]);
        let [_, bottom] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(spark_area);
        frame.render_widget(Paragraph::new(line), bottom);
    }
}

type Content = (String, Vec<Line<'static>>, Option<Vec<u64>>);

fn content(app: &App, styles: &Styles, spread: Spread, value_width: usize) -> Content {
    let closing = " · Enter or Esc closes ";
    // A child spec with no process: the tree can select one.
    if app.focus == Focus::Tree
        && let Some((
            TreeNode::Stopped {
                child_id,
                restart,
                kind,
            },
            parent,
        )) = app.tree_node()
    {
        let mut lines = Vec::new();
        kv(
            &mut lines,
            "child id",
            child_id.clone(),
            Style::new(),
            styles,
        );
        kv(
            &mut lines,
            "status",
            "not running".into(),
            styles.dim(),
            styles,
        );
        kv(
            &mut lines,
            "kind",
            format!("{kind:?}").to_lowercase(),
            Style::new(),
            styles,
        );
        kv(
            &mut lines,
            "restart",
            restart.to_string(),
            Style::new(),
            styles,
        );
        if let Some(parent) = parent {
            let label = app
                .row(parent.pid)
                .map_or_else(|| parent.pid.to_string(), describe);
            kv(&mut lines, "supervisor", label, Style::new(), styles);
        }
        return (format!(" {child_id} (stopped){closing}"), lines, None);
    }
    let Some(row) = app.selected_pid().and_then(|pid| app.row(pid)) else {
        let lines = vec![Line::from(Span::styled(
            " no process selected",
            styles.dim(),
        ))];
        return (format!(" Details{closing}"), lines, None);
    };
    let snapshot = app.snapshot().expect("a row comes from a snapshot");
    let pid = row.pid();
    let mut lines = Vec::new();
    kv(&mut lines, "pid", pid.to_string(), Style::new(), styles);
    let dash = || "-".to_string();
    kv(
        &mut lines,
        "name",
        row.process
            .name
            .as_deref()
            .map_or_else(dash, str::to_string),
        styles.bold(),
        styles,
    );
    kv(
        &mut lines,
        "child id",
        row.process
            .child_id
            .as_deref()
            .map_or_else(dash, str::to_string),
        Style::new(),
        styles,
    );
    let parent = row.process.parent.map(Pid);
    let supervisor = parent.map(|p| {
        let label = app.row(p).map_or_else(|| p.to_string(), describe);
        let restart = snapshot
            .supervisors
            .iter()
            .find(|s| s.pid == p)
            .and_then(|s| s.children.iter().find(|c| c.pid == Some(pid)))
            .map(|c| format!(", restart {}", c.restart))
            .unwrap_or_default();
        format!("{label}{restart}")
    });
    kv(
        &mut lines,
        "supervisor",
        supervisor.unwrap_or_else(|| "none".into()),
        Style::new(),
        styles,
    );
    kv(
        &mut lines,
        "status",
        row.process.status.to_string(),
        styles.status(row.process.status),
        styles,
    );
    let server = find_server(app, pid);
    // What the process says it is doing (a state machine's state), whole.
    if let Some(state) = server.and_then(|s| s.state.as_deref()) {
        for (n, line) in state_lines(state, spread, value_width)
            .into_iter()
            .enumerate()
        {
            let key = if n == 0 { "state" } else { "" };
            kv(&mut lines, key, line, styles.bold(), styles);
        }
    }
    match server {
        Some(server) => worker_lines(&mut lines, row, server, styles),
        None => {
            if let Some(sup) = snapshot.supervisors.iter().find(|s| s.pid == pid) {
                supervisor_lines(&mut lines, app, sup, styles);
            }
        }
    }
    let started = format!(
        "{} (up {})",
        format::time_of_day(row.process.started_at_ms, app.zone),
        format::duration_ms(row.process.uptime_ms)
    );
    kv(&mut lines, "started", started, Style::new(), styles);
    kv(
        &mut lines,
        "system",
        if row.process.system {
            "yes: part of noex itself"
        } else {
            "no"
        }
        .into(),
        Style::new(),
        styles,
    );
    let warnings = warnings_text(row);
    let warning_style = if row.warnings.any() {
        styles.bad()
    } else {
        styles.dim()
    };
    kv(&mut lines, "warnings", warnings, warning_style, styles);
    match &row.process.last_error {
        None => kv(
            &mut lines,
            "last error",
            "none".into(),
            styles.dim(),
            styles,
        ),
        Some(error) => {
            let mut first = true;
            for text in error.lines() {
                let key = if first { "last error" } else { "" };
                first = false;
                kv(&mut lines, key, text.to_string(), styles.bad(), styles);
            }
        }
    }
    let history = (!row.is_supervisor()).then(|| {
        app.rate_history(pid)
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
    });
    (format!(" {}{closing}", describe(row)), lines, history)
}

/// `text` with its control characters (a newline in a state's text) as spaces: one
/// line of the panel.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// How a state that lists figures is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spread {
    /// Each figure on a line of its own, under what they are figures of.
    Figures,
    /// As few lines as fit the panel's width, broken between figures.
    Wrapped,
}

/// A state's lines in the panel. Its parts (what the process says of itself, then
/// its pending timers: `; ` apart) each start a line, so a part never runs on into
/// the next. A part that lists figures (`bucket orders: 40 records, 24.0 KiB,
/// 60 ops/s, 2 subscribers`) is laid out by `spread`; any other part, and a
/// figure too long for `width`, is wrapped between its `, `-separated pieces
/// (the panel wraps what is still too long).
fn state_lines(state: &str, spread: Spread, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for part in one_line(state).split("; ").map(str::trim) {
        if part.is_empty() {
            continue;
        }
        match (spread, figures(part)) {
            (Spread::Figures, Some((subject, figures))) => {
                lines.push(format!("{subject}:"));
                lines.extend(figures.iter().map(|figure| format!("  {figure}")));
            }
            _ => lines.extend(wrap_between_pieces(part, width)),
        }
    }
    if lines.is_empty() {
        // A process that says nothing in words still has its (empty) state line.
        lines.push(String::new());
    }
    lines
}

/// `subject: a, b, c` with three figures or more, where nothing is nested (a
/// state machine's `Open { failures: 3, since: 5 }` is not a list of figures).
fn figures(part: &str) -> Option<(&str, Vec<&str>)> {
    if part.contains(['{', '[', '(', '"', '\'']) {
        return None;
    }
    let (subject, list) = part.split_once(": ")?;
    let figures: Vec<&str> = list.split(", ").collect();
    (figures.len() >= 3 && figures.iter().all(|f| !f.is_empty())).then_some((subject, figures))
}

/// `text` in lines of at most `width` characters, broken only after a `, `.
fn wrap_between_pieces(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let pieces: Vec<&str> = text.split(", ").collect();
    for (n, piece) in pieces.iter().enumerate() {
        let piece = if n + 1 < pieces.len() {
            format!("{piece},")
        } else {
            (*piece).to_string()
        };
        let joined = line.chars().count() + 1 + piece.chars().count();
        if line.is_empty() {
            line = piece;
        } else if joined <= width {
            line.push(' ');
            line.push_str(&piece);
        } else {
            lines.push(std::mem::replace(&mut line, piece));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn find_server(app: &App, pid: Pid) -> Option<&ServerInfo> {
    app.snapshot()?.servers.iter().find(|s| s.pid == pid)
}

fn worker_lines(lines: &mut Vec<Line<'static>>, row: &Row, server: &ServerInfo, styles: &Styles) {
    kv(
        lines,
        "type",
        server.type_name.to_string(),
        Style::new(),
        styles,
    );
    let rate = row
        .rate
        .map_or_else(String::new, |r| format!(", {}/s now", rate_text(r)));
    kv(
        lines,
        "messages",
        format!("{} handled{rate}", format::count(server.messages)),
        Style::new(),
        styles,
    );
    let queue_style = if row.warnings.backlog.is_some() {
        styles.warn()
    } else {
        Style::new()
    };
    kv(
        lines,
        "queue",
        format!("{} waiting", format::count(server.queue_len)),
        queue_style,
        styles,
    );
    let busy = row.busy_pct.map_or_else(String::new, |p| {
        format!(", {} of the last interval", percent_text(p))
    });
    kv(
        lines,
        "busy",
        format!("{} in handlers{busy}", format::duration_ns(server.busy_ns)),
        Style::new(),
        styles,
    );
    let (handler, style) = match server.handler_running_ns {
        None => ("idle".to_string(), styles.dim()),
        Some(ns) => (
            format!("running for {}", format::duration_ns(ns)),
            if row.warnings.stuck_ns.is_some() {
                styles.bad()
            } else {
                Style::new()
            },
        ),
    };
    kv(lines, "handler", handler, style, styles);
    kv(
        lines,
        "restarts",
        restarts_text(server.restarts),
        restarts_style(row, styles),
        styles,
    );
}

fn supervisor_lines(
    lines: &mut Vec<Line<'static>>,
    app: &App,
    sup: &SupervisorInfo,
    styles: &Styles,
) {
    let intensity = format!(
        "{}, at most {} restarts in {}",
        sup.strategy,
        sup.intensity.max_restarts,
        format::duration_ms(sup.intensity.within_ms)
    );
    kv(lines, "strategy", intensity, Style::new(), styles);
    let mut children: Vec<String> = sup
        .children
        .iter()
        .take(CHILDREN_LISTED)
        .map(|c| match c.pid {
            Some(pid) => format!("{} {pid}", c.id),
            None => format!("{} (stopped)", c.id),
        })
        .collect();
    if sup.children.len() > CHILDREN_LISTED {
        children.push(format!("and {} more", sup.children.len() - CHILDREN_LISTED));
    }
    let listed = format!("{}: {}", sup.children.len(), children.join(", "));
    kv(lines, "children", listed, Style::new(), styles);
    kv(
        lines,
        "child restarts",
        sup.child_restarts.to_string(),
        if sup.child_restarts > 0 {
            styles.warn()
        } else {
            Style::new()
        },
        styles,
    );
    let row = app.row(sup.pid);
    let style = row.map_or_else(Style::new, |r| restarts_style(r, styles));
    kv(
        lines,
        "restarts",
        restarts_text(sup.restarts),
        style,
        styles,
    );
}

fn restarts_text(n: u32) -> String {
    match n {
        0 => "never".to_string(),
        1 => "once".to_string(),
        n => format!("{n} times"),
    }
}

fn warnings_text(row: &Row) -> String {
    if !row.warnings.any() {
        return "none".to_string();
    }
    let mut parts = vec![warning_text(&row.warnings)];
    if let Some(n) = row.warnings.crash_loop {
        parts.push(format!(
            "{n} restarts in the last {}s",
            LOOP_WINDOW_MS / 1_000
        ));
    }
    if let Some(streak) = row.warnings.backlog {
        parts.push(format!("queue grew {streak} refreshes in a row"));
    }
    parts.join("; ")
}

/// ` key          value`
fn kv(lines: &mut Vec<Line<'static>>, key: &str, value: String, style: Style, styles: &Styles) {
    lines.push(Line::from(vec![
        Span::styled(format!(" {key:<KEY$}"), styles.dim()),
        Span::styled(value, style),
    ]));
}
