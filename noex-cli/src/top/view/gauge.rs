//! The app's resident memory as a gauge, and its message rate as a sparkline.
//!
//! The gauge's scale is the machine's total memory (read once at start), so a full bar
//! means the app is about to run the machine out of memory; a gauge scaled to the
//! peak seen would sit near full all the time and say little. The peak is in the label.
//! Where total memory is unknown, the scale falls back to the peak.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Sparkline};

use super::styles::Styles;
use super::{WAITING, app_rate_text, panel, rate_text};
use crate::render::format;
use crate::top::state::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, styles: &Styles) {
    let [memory, rate] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area);
    draw_memory(frame, memory, app, styles);
    draw_rate(frame, rate, app, styles);
}

fn draw_memory(frame: &mut Frame, area: Rect, app: &App, styles: &Styles) {
    let block = panel(Line::from(" Memory (RSS) "), false, styles);
    let rss = app.snapshot().and_then(|s| s.memory_rss_bytes);
    let Some(rss) = rss else {
        let text = if app.snapshot().is_some() {
            " not reported on this platform"
        } else {
            WAITING
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, styles.dim())).block(block),
            area,
        );
        return;
    };
    let peak = app.peak_rss().max(rss);
    let (scale, of) = match app.system_memory {
        Some(total) if total > 0 => (total, format!(" of {} system", format::bytes(total))),
        _ => (peak, " of peak".to_string()),
    };
    let ratio = (rss as f64 / scale as f64).clamp(0.0, 1.0);
    // As much of the label as fits.
    let room = usize::from(area.width.saturating_sub(2));
    let label = [
        format!(
            "{} · {:.1}%{of} · peak {}",
            format::bytes(rss),
            ratio * 100.0,
            format::bytes(peak)
        ),
        format!("{} · {:.1}%{of}", format::bytes(rss), ratio * 100.0),
        format!("{} · {:.1}%", format::bytes(rss), ratio * 100.0),
    ]
    .into_iter()
    .find(|label| label.chars().count() <= room)
    .unwrap_or_else(|| format::bytes(rss));
    let gauge = Gauge::default()
        .block(block)
        .ratio(ratio)
        .label(label)
        .use_unicode(styles.symbols.bars[7] == "█")
        .gauge_style(styles.gauge());
    frame.render_widget(gauge, area);
}

fn draw_rate(frame: &mut Frame, area: Rect, app: &App, styles: &Styles) {
    let now = app_rate_text(app);
    let peak = app.app_rates().iter().copied().max().unwrap_or(0);
    let title = format!(" Messages/s {now} (peak {}) ", rate_text(peak as f64));
    let block = panel(Line::from(title), false, styles);
    let width = usize::from(block.inner(area).width);
    let rates = app.app_rates();
    let data: Vec<u64> = rates
        .iter()
        .skip(rates.len().saturating_sub(width))
        .copied()
        .collect();
    let sparkline = Sparkline::default()
        .block(block)
        .data(&data)
        .style(styles.sparkline());
    frame.render_widget(sparkline, area);
}
