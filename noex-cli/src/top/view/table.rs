//! The stats table: one row per process, sortable by any column, filtered with `/`.
//!
//! Rows were sorted and filtered when the snapshot arrived (`App::refilter`); a frame
//! only formats the rows in sight. Columns are dropped, least important first, when
//! the terminal is too narrow for all of them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row as TableRow, Table, TableState};

use super::styles::Styles;
use super::{WAITING, panel, percent_text, rate_text, spark_text};
use crate::render::format;
use crate::render::style::Role;
use crate::top::state::{App, Column, Focus, Row, Sort, Warnings};

/// A column as drawn: one of the sortable ones, or the rate sparkline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Data(Column),
    Trend,
}

/// Samples the TREND column shows, at least and at most.
const TREND_WIDTH: u16 = 12;
const TREND_MAX: u16 = crate::top::state::SPARK_LEN as u16;
const NAME_MIN: u16 = 10;
const NAME_MAX: u16 = 28;

/// Columns in the order they are dropped last to first: the name and pid always stay.
const PRIORITY: [Shown; 10] = [
    Shown::Data(Column::Name),
    Shown::Data(Column::Pid),
    Shown::Data(Column::Rate),
    Shown::Data(Column::Queue),
    Shown::Data(Column::Restarts),
    Shown::Data(Column::Warnings),
    Shown::Data(Column::Status),
    Shown::Data(Column::Busy),
    Shown::Data(Column::Uptime),
    Shown::Trend,
];

pub fn draw(frame: &mut Frame, area: Rect, app: &mut App, styles: &Styles) {
    let focused = app.focus == Focus::Table;
    let block = panel(title(app, styles), focused, styles);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(model) = &app.model else {
        let text = Paragraph::new(Span::styled(WAITING, styles.dim()));
        frame.render_widget(text, inner);
        return;
    };
    if app.visible.is_empty() {
        let text = if app.filter.is_empty() {
            " no processes".to_string()
        } else {
            format!(" no process matches \"{}\"", app.filter)
        };
        frame.render_widget(Paragraph::new(Span::styled(text, styles.dim())), inner);
        return;
    }
    // Keep the cursor in sight: scroll only as far as needed.
    let height = usize::from(inner.height.saturating_sub(1)).max(1);
    let mut offset = app
        .table_offset
        .min(app.visible.len().saturating_sub(height));
    if app.cursor < offset {
        offset = app.cursor;
    } else if app.cursor >= offset + height {
        offset = app.cursor + 1 - height;
    }
    app.table_offset = offset;

    let cursor_width = styles.symbols.cursor.chars().count() as u16;
    let (shown, widths) = fit(
        inner.width.saturating_sub(cursor_width),
        model.pid_width as u16,
        model.status_width as u16,
        model.label_width as u16,
    );
    let sort = app.sort;
    let header = TableRow::new(
        std::iter::once(Cell::from("")).chain(shown.iter().map(|col| {
            let text = match col {
                Shown::Data(column) => {
                    let arrow = if sort.column == *column {
                        arrow(sort, styles)
                    } else {
                        ""
                    };
                    format!("{}{arrow}", column.header())
                }
                Shown::Trend => "TREND".to_string(),
            };
            Cell::from(align(Line::from(text), *col))
        })),
    )
    .style(styles.header());

    let trend_width = shown
        .iter()
        .zip(&widths)
        .find(|(col, _)| **col == Shown::Trend)
        .map_or(0, |(_, w)| usize::from(*w));
    let window = &app.visible[offset..(offset + height).min(app.visible.len())];
    let rows = window.iter().map(|&i| {
        let row = &model.rows[i];
        let history = app.rate_history(row.pid());
        TableRow::new(
            std::iter::once(marker(&row.warnings, styles)).chain(
                shown
                    .iter()
                    .map(|col| cell(row, *col, history, trend_width, styles)),
            ),
        )
        .style(if row.process.system {
            styles.dim()
        } else {
            Style::new()
        })
    });
    let constraints =
        std::iter::once(Constraint::Length(1)).chain(widths.iter().map(|w| Constraint::Length(*w)));
    let table = Table::new(rows, constraints)
        .header(header)
        .column_spacing(1)
        .highlight_symbol(styles.symbols.cursor)
        .highlight_spacing(HighlightSpacing::Always)
        .row_highlight_style(if focused {
            styles.cursor()
        } else {
            styles.cursor_unfocused()
        });
    let mut state = TableState::default().with_selected(Some(app.cursor - offset));
    frame.render_stateful_widget(table, inner, &mut state);
}

/// ` Processes 7 · by MSG/S▼ · filter "work" `
fn title(app: &App, styles: &Styles) -> Line<'static> {
    if app.model.is_none() {
        return Line::from(" Processes ");
    }
    let mut text = format!(" Processes {}", app.table_len());
    if !app.filter.is_empty() {
        text.push_str(&format!(" of {}", app.totals.processes));
    }
    if app.window.is_some() && !app.visible.is_empty() {
        // Only the rows around the cursor are here: say where they are.
        text.push_str(&format!(" · row {}", app.table_position() + 1));
    }
    text.push_str(&format!(
        " · by {}{}",
        app.sort.column.header(),
        arrow(app.sort, styles)
    ));
    if !app.filter.is_empty() {
        text.push_str(&format!(" · filter \"{}\"", app.filter));
    }
    if app.show_system {
        text.push_str(" · with system");
    }
    text.push(' ');
    Line::from(text)
}

/// `▼` or `▲`: which way the table is sorted.
fn arrow(sort: Sort, styles: &Styles) -> &'static str {
    if sort.descending {
        styles.symbols.descending
    } else {
        styles.symbols.ascending
    }
}

/// The columns that fit in `width`, left to right, and their widths.
fn fit(width: u16, pid_width: u16, status_width: u16, label_width: u16) -> (Vec<Shown>, Vec<u16>) {
    let base = |col: Shown| -> u16 {
        let content = match col {
            Shown::Data(Column::Name) => NAME_MIN,
            Shown::Data(Column::Pid) => pid_width,
            Shown::Data(Column::Status) => status_width,
            Shown::Data(Column::Rate) => 6,
            Shown::Data(Column::Queue) => 6,
            Shown::Data(Column::Restarts) => 3,
            Shown::Data(Column::Busy) => 4,
            Shown::Data(Column::Uptime) => 7,
            Shown::Data(Column::Warnings) => 12,
            Shown::Trend => TREND_WIDTH,
        };
        let header = match col {
            Shown::Data(column) => column.header().len() as u16 + 1,
            Shown::Trend => 5,
        };
        content.max(header)
    };
    // The warning marker takes one column and a space.
    let mut used = 2;
    let mut chosen = Vec::new();
    for col in PRIORITY {
        let need = base(col) + 1;
        if used + need <= width || chosen.is_empty() {
            used += need;
            chosen.push(col);
        }
    }
    // Left to right: the columns in their usual order, then the trend.
    let shown: Vec<Shown> = Column::ALL
        .into_iter()
        .map(Shown::Data)
        .chain([Shown::Trend])
        .filter(|c| chosen.contains(c))
        .collect();
    // Spare room widens the name as far as the longest name needs, then the trend,
    // then the name again.
    let mut spare = width.saturating_sub(used);
    let mut name = NAME_MIN + spare.min(label_width.clamp(NAME_MIN, NAME_MAX) - NAME_MIN);
    spare -= name - NAME_MIN;
    let mut trend = TREND_WIDTH;
    if shown.contains(&Shown::Trend) {
        let extra = spare.min(TREND_MAX - TREND_WIDTH);
        trend += extra;
        spare -= extra;
    }
    name += spare.min(NAME_MAX - name);
    let widths = shown
        .iter()
        .map(|col| match col {
            Shown::Data(Column::Name) => name,
            Shown::Trend => trend,
            other => base(*other),
        })
        .collect();
    (shown, widths)
}

fn align(line: Line<'static>, col: Shown) -> Line<'static> {
    match col {
        Shown::Data(column) if column.numeric() => line.right_aligned(),
        _ => line,
    }
}

/// `!` in front of a row with a warning.
fn marker(warnings: &Warnings, styles: &Styles) -> Cell<'static> {
    if !warnings.any() {
        return Cell::from("");
    }
    Cell::from(Span::styled("!", warning_style(warnings, styles)))
}

fn cell(
    row: &Row,
    col: Shown,
    history: Option<&std::collections::VecDeque<u64>>,
    trend_width: usize,
    styles: &Styles,
) -> Cell<'static> {
    let p = &row.process;
    let dash = || "-".to_string();
    let (text, style) = match col {
        Shown::Data(Column::Name) => (row.label.clone(), styles.role(Role::Name)),
        Shown::Data(Column::Pid) => (row.pid().to_string(), styles.dim()),
        Shown::Data(Column::Status) => (p.status.as_str().to_string(), styles.status(p.status)),
        Shown::Data(Column::Rate) => (row.rate.map_or_else(dash, rate_text), Style::new()),
        Shown::Data(Column::Queue) => {
            let style = if row.warnings.backlog.is_some() || p.queue_len.unwrap_or(0) >= 100 {
                styles.warn()
            } else {
                Style::new()
            };
            (p.queue_len.map_or_else(dash, format::count), style)
        }
        Shown::Data(Column::Restarts) => (p.restarts.to_string(), restarts_style(row, styles)),
        Shown::Data(Column::Busy) => (row.busy_pct.map_or_else(dash, percent_text), Style::new()),
        Shown::Data(Column::Uptime) => (format::duration_ms(p.uptime_ms), Style::new()),
        Shown::Data(Column::Warnings) => (
            warning_text(&row.warnings),
            warning_style(&row.warnings, styles),
        ),
        Shown::Trend => (
            history.map_or_else(String::new, |h| {
                spark_text(h.iter().copied(), trend_width, styles)
            }),
            styles.sparkline(),
        ),
    };
    Cell::from(align(Line::from(Span::styled(text, style)), col))
}

/// `crash loop, stuck 2.1s, backlog`: the row's warnings, worst first.
pub fn warning_text(warnings: &Warnings) -> String {
    let mut parts = Vec::new();
    if warnings.crash_loop.is_some() {
        parts.push("crash loop".to_string());
    }
    if let Some(ns) = warnings.stuck_ns {
        parts.push(format!("stuck {}", format::duration_ns(ns)));
    }
    if warnings.backlog.is_some() {
        parts.push("backlog".to_string());
    }
    parts.join(", ")
}

/// A crash loop or a stuck handler is bad; a backlog only a warning.
pub fn warning_style(warnings: &Warnings, styles: &Styles) -> Style {
    if warnings.crash_loop.is_some() || warnings.stuck_ns.is_some() {
        styles.bad()
    } else {
        styles.warn()
    }
}

/// Restarts stand out, and more so in a crash loop.
pub fn restarts_style(row: &Row, styles: &Styles) -> Style {
    if row.warnings.crash_loop.is_some() {
        styles.bad()
    } else if row.process.restarts > 0 {
        styles.warn()
    } else {
        Style::new()
    }
}
