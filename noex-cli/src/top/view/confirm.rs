//! The y/N question before a kill or a restart. Anything but `y` is a no.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::styles::Styles;
use super::{centered, panel};
use crate::render::action::Action;
use crate::top::state::Pending;

pub fn draw(frame: &mut Frame, area: Rect, pending: &Pending, styles: &Styles) {
    let what = match (pending.action, &pending.supervisor) {
        (Action::Kill, _) if let Some(why) = &pending.nothing_restarts => {
            format!("{why}, so it stops for good (a supervisor takes its children with it).")
        }
        (Action::Kill, Some(sup)) => format!(
            "It exits abnormally (killed); its supervisor {sup} applies its restart policy."
        ),
        (Action::Kill, None) => {
            "It exits abnormally (killed). It has no supervisor: nothing will restart it."
                .to_string()
        }
        (Action::Restart, Some(sup)) => {
            format!("Its supervisor {sup} stops it and starts a new instance (empty mailbox).")
        }
        (Action::Restart, None) => {
            "It has no supervisor, so the agent will refuse to restart it.".to_string()
        }
    };
    let verb = pending.action.verb();
    let (initial, rest) = verb.split_at(1);
    let lines = vec![
        Line::from(format!(" {what}")),
        Line::from(""),
        Line::from(vec![
            Span::styled(" y", styles.key()),
            Span::raw(format!(" {verb}   ")),
            Span::styled("n", styles.key()),
            Span::raw(" or any other key: cancel (the default)"),
        ]),
    ];
    let popup = centered(area, 68, 7);
    frame.render_widget(Clear, popup);
    let title = Line::from(vec![
        Span::raw(format!(" {}{rest} ", initial.to_uppercase())),
        Span::styled(pending.label.clone(), styles.bold()),
        Span::raw("? "),
    ]);
    let block = panel(title, true, styles).border_style(styles.warn());
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
