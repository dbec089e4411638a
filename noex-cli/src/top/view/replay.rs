//! What a replay looks like: a REPLAY badge where the connection state goes, and a
//! status line with the recorded time, the position, the pace and the player's keys,
//! so a recording is never taken for the live application.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::styles::Styles;
use crate::render::format;
use crate::top::state::{App, ReplayStatus, Tone};

/// The header's badge: `REPLAY` (with `paused` while paused), in reverse video.
pub fn badge(status: &ReplayStatus, styles: &Styles) -> Vec<Span<'static>> {
    let text = if status.playing {
        " REPLAY "
    } else {
        " REPLAY paused "
    };
    vec![Span::styled(text, styles.warn().patch(styles.cursor()))]
}

/// `REPLAY 14:03:27.512 · frame 12/300 · 0:11/4:59 · playing 2x` and the keys (or a
/// message, or the time being typed after `g`).
pub fn footer(app: &App, status: &ReplayStatus, styles: &Styles) -> Line<'static> {
    let sep = styles.symbols.separator;
    let mut spans = vec![
        Span::styled(" REPLAY ", styles.warn().patch(styles.cursor())),
        Span::raw(" "),
        Span::styled(format::time_of_day(status.at_ms, app.zone), styles.bold()),
        Span::styled(sep, styles.dim()),
        Span::raw(format!("frame {}/{}", status.frame + 1, status.frames)),
        Span::styled(sep, styles.dim()),
        Span::raw(format!(
            "{}/{}",
            clock(status.at_ms - status.start_ms),
            clock(status.end_ms - status.start_ms)
        )),
        Span::styled(sep, styles.dim()),
        Span::styled(
            if status.playing {
                format!("playing {}", speed(status.speed))
            } else {
                format!("paused {}", speed(status.speed))
            },
            if status.playing {
                styles.good()
            } else {
                styles.warn()
            },
        ),
        Span::raw("  "),
    ];
    if let Some(typed) = &status.goto {
        spans.extend([
            Span::styled("go to ", styles.key()),
            Span::raw(typed.clone()),
            Span::styled("█", styles.dim()),
            Span::styled("  14:03:20, 2m30s, +30s · Enter · Esc", styles.dim()),
        ]);
    } else if let Some(message) = &app.message {
        let style = match message.tone {
            Tone::Info => Style::new(),
            Tone::Good => styles.good(),
            Tone::Bad => styles.bad(),
        };
        spans.push(Span::styled(message.text.clone(), style));
    } else {
        for (key, what) in [
            ("space", "play/pause"),
            (",.", "step"),
            ("[]", "±1 min"),
            ("+-", "speed"),
            ("g", "go to"),
            ("q", "quit"),
        ] {
            spans.push(Span::styled(key, styles.key()));
            spans.push(Span::raw(format!(" {what}  ")));
        }
    }
    Line::from(spans)
}

/// The help's keys in a replay: the player's first, then the dashboard's that still
/// apply (not pause, refresh, kill or restart, which the player takes or refuses).
pub fn help_keys(live: Vec<(String, String)>) -> Vec<(String, String)> {
    let player = [
        (
            "Space",
            "play or pause the recording (at the end: from the start)",
        ),
        (", . ← →", "one frame back, forward (and pause)"),
        ("[ ]", "one minute back, forward"),
        ("Home End", "the first, the last frame"),
        ("+ -", "faster, slower: 0.5x to 16x"),
        (
            "g",
            "go to a time: 14:03:20, 2m30s from the start, +30s, -1m",
        ),
        (
            "K R r",
            "off: this is a recording, not the live application",
        ),
    ];
    let mut keys: Vec<(String, String)> = player
        .iter()
        .map(|(key, what)| (key.to_string(), what.to_string()))
        .collect();
    keys.extend(
        live.into_iter()
            .filter(|(key, _)| {
                !matches!(key.as_str(), "p" | "r" | "K R") && !key.starts_with("← →")
            })
            .map(|(key, what)| {
                // `g` goes to a time here, not to the top.
                let what = if key == "↑↓ j k" {
                    "move; PgUp PgDn G: page, bottom".to_string()
                } else {
                    what
                };
                (key, what)
            }),
    );
    keys.push(("h l".into(), "tree: close or open a supervisor".into()));
    keys
}

/// `0:42`, `12:05`, `1:02:03`: a position in the recording.
fn clock(ms: u64) -> String {
    let s = ms / 1_000;
    let (h, m, s) = (s / 3_600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// `0.5x`, `1x`, `16x`.
fn speed(speed: f64) -> String {
    if speed.fract() == 0.0 {
        format!("{speed:.0}x")
    } else {
        format!("{speed}x")
    }
}
