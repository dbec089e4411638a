//! `A`: the running noex applications, to switch the dashboard to another. The one
//! shown is marked; one whose agent does not answer is listed with the reason.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::styles::Styles;
use super::{centered, panel};
use crate::render::format;
use crate::top::state::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, styles: &Styles) {
    let mut lines = Vec::new();
    match &app.picker.choices {
        None => lines.push(Line::from(Span::styled(
            " looking for noex applications…",
            styles.dim(),
        ))),
        Some(_) if app.picker.failed.is_some() => {
            let why = app.picker.failed.as_deref().unwrap_or_default();
            lines.push(Line::from(Span::styled(
                format!(
                    " could not list the applications: {}",
                    format::truncate(why, 34)
                ),
                styles.dim(),
            )));
        }
        Some(choices) if choices.is_empty() => lines.push(Line::from(Span::styled(
            " no noex application is running",
            styles.dim(),
        ))),
        Some(choices) => {
            // A cluster's nodes may be on other machines: which one says more than a
            // count of processes, and an OS pid alone does not tell nodes apart.
            let nodes = choices.iter().any(|choice| choice.node.is_some());
            let header = if nodes {
                format!("   {:<24} {:>8}  {:<16}", "NODE · APP", "PID", "HOST")
            } else {
                format!("   {:<24} {:>8} {:>10}", "APP", "PID", "PROCESSES")
            };
            lines.push(Line::from(Span::styled(header, styles.header())));
            for (i, choice) in choices.iter().enumerate() {
                let cursor = if i == app.picker.cursor {
                    styles.symbols.cursor
                } else {
                    "  "
                };
                let name = choice.app.as_deref().unwrap_or("(not answering)");
                let mut text = if nodes {
                    format!(
                        "{cursor} {:<24} {:>8}  {:<16}",
                        format::truncate(name, 24),
                        choice.pid,
                        format::truncate(choice.host.as_deref().unwrap_or("-"), 16)
                    )
                } else {
                    format!(
                        "{cursor} {:<24} {:>8} {:>10}",
                        format::truncate(name, 24),
                        choice.pid,
                        choice
                            .processes
                            .map_or_else(|| "-".to_string(), format::count)
                    )
                };
                if app.is_shown(choice) {
                    text.push_str("  (shown)");
                }
                if let Some(error) = &choice.error {
                    text.push_str(&format!("  {}", format::truncate(error, 30)));
                }
                let style = if i == app.picker.cursor {
                    styles.cursor()
                } else if choice.app.is_none() {
                    styles.dim()
                } else {
                    ratatui::style::Style::new()
                };
                lines.push(Line::from(Span::styled(text, style)));
            }
        }
    }
    let height = lines.len() as u16 + 2;
    let popup = centered(area, 72, height);
    frame.render_widget(Clear, popup);
    // Over `--cluster` the choices are the nodes up.
    let listing_nodes = app
        .picker
        .choices
        .as_ref()
        .is_some_and(|choices| choices.iter().any(|choice| choice.node.is_some()));
    let title = if listing_nodes {
        " Nodes · Enter switch · Esc cancel "
    } else {
        " Applications · Enter switch · Esc cancel "
    };
    let block = panel(Line::from(title), true, styles);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
