//! The one place that decides whether output is coloured, and what each colour means.
//!
//! Renderers never test for a terminal themselves: they take a [`Style`] and ask it to
//! paint a piece of text in a [`Role`]. A plain style returns the text untouched, so
//! the same renderer serves a terminal, a pipe and a snapshot test.

use std::fmt::{Display, Write as _};
use std::io::IsTerminal;

use noex_agent::types::{EventKind, ProcessStatus, is_normal_exit};
use owo_colors::OwoColorize;

use crate::cli::ColorChoice;

/// What a piece of text is, so it gets the same colour everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Secondary detail: pids, times, stopped children.
    Dim,
    /// Healthy state.
    Good,
    /// Worth a look: restarts, a process starting or stopping, dropped events.
    Warn,
    /// Something failed: crashes, errors.
    Bad,
    /// A process's name.
    Name,
    /// A hint to the user.
    Hint,
}

/// Whether to colour, decided once per output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    colour: bool,
}

/// Which standard stream a style is for.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Style {
    /// No colour at all: pipes, files, tests.
    pub const PLAIN: Style = Style { colour: false };
    /// Colour regardless of the terminal (`--color always`, tests of colouring).
    pub const COLOURED: Style = Style { colour: true };

    /// Colour if `choice` allows it: `auto` means the stream is a terminal, `NO_COLOR` is
    /// unset or empty (<https://no-color.org>) and `TERM` is not `dumb`.
    pub fn detect(choice: ColorChoice, stream: Stream) -> Style {
        let coloured = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
                let terminal = match stream {
                    Stream::Stdout => std::io::stdout().is_terminal(),
                    Stream::Stderr => std::io::stderr().is_terminal(),
                };
                terminal && !no_color && !dumb
            }
        };
        if coloured {
            Style::COLOURED
        } else {
            Style::PLAIN
        }
    }

    pub fn is_coloured(self) -> bool {
        self.colour
    }

    /// [`Style::paint_opt`], written into `out` (a million tree lines allocate
    /// nothing of their own).
    pub fn write_painted(self, out: &mut String, role: Option<Role>, text: impl Display) {
        let _ = match role {
            Some(role) if self.colour => write!(out, "{}", text.style(ansi(role))),
            _ => write!(out, "{text}"),
        };
    }

    /// `text` painted for `role`, or untouched when colour is off.
    pub fn paint(self, role: Role, text: &str) -> String {
        if !self.colour {
            return text.to_string();
        }
        format!("{}", text.style(ansi(role)))
    }

    /// Paint in `role` if there is one; otherwise leave the text as it is.
    pub fn paint_opt(self, role: Option<Role>, text: &str) -> String {
        match role {
            Some(role) => self.paint(role, text),
            None => text.to_string(),
        }
    }

    /// The colour of a table cell in `role`, for comfy-table (which applies it after
    /// measuring widths, so alignment holds); `None` when colour is off.
    pub fn cell_colour(self, role: Role) -> Option<comfy_table::Color> {
        use comfy_table::Color;
        if !self.colour {
            return None;
        }
        match role {
            Role::Name => None,
            Role::Dim => Some(Color::DarkGrey),
            Role::Good => Some(Color::Green),
            Role::Warn => Some(Color::Yellow),
            Role::Bad => Some(Color::Red),
            Role::Hint => Some(Color::Cyan),
        }
    }
}

fn ansi(role: Role) -> owo_colors::Style {
    let style = owo_colors::Style::new();
    match role {
        Role::Dim => style.bright_black(),
        Role::Good => style.green(),
        Role::Warn => style.yellow(),
        Role::Bad => style.red().bold(),
        Role::Name => style.bold(),
        Role::Hint => style.cyan(),
    }
}

/// The role a status is shown in: running is the normal case and stays unpainted.
pub fn status_role(status: ProcessStatus) -> Option<Role> {
    match status {
        ProcessStatus::Running => None,
        ProcessStatus::Initializing | ProcessStatus::Stopping => Some(Role::Warn),
        ProcessStatus::Stopped | ProcessStatus::Unknown => Some(Role::Dim),
    }
}

/// The role an event is shown in: crashes (and kills, and any other abnormal exit)
/// red, restarts yellow, the rest plain.
pub fn event_role(kind: &EventKind) -> Option<Role> {
    match kind {
        EventKind::Crashed { .. } | EventKind::MaxRestartsExceeded { .. } => Some(Role::Bad),
        EventKind::Terminated { reason } if !is_normal_exit(reason) => Some(Role::Bad),
        EventKind::Restarted { .. } => Some(Role::Warn),
        EventKind::Started => Some(Role::Good),
        EventKind::Terminated { .. }
        | EventKind::ChildAdded
        | EventKind::ChildRemoved
        | EventKind::Registered { .. }
        | EventKind::Unregistered { .. }
        | EventKind::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_leaves_text_untouched() {
        assert_eq!(Style::PLAIN.paint(Role::Bad, "boom"), "boom");
        assert_eq!(Style::PLAIN.cell_colour(Role::Bad), None);
    }

    #[test]
    fn coloured_style_wraps_text_in_escape_codes() {
        let painted = Style::COLOURED.paint(Role::Bad, "boom");
        assert!(painted.starts_with('\u{1b}'), "{painted:?}");
        assert!(painted.contains("boom"));
    }

    /// Tables colour cells through comfy-table, not `paint`: each role but a name (bold
    /// only, which a table leaves plain) gets the colour `paint` gives it.
    #[test]
    fn coloured_table_cells_take_their_roles_colour() {
        use comfy_table::Color;
        let cases = [
            (Role::Dim, Some(Color::DarkGrey)),
            (Role::Good, Some(Color::Green)),
            (Role::Warn, Some(Color::Yellow)),
            (Role::Bad, Some(Color::Red)),
            (Role::Hint, Some(Color::Cyan)),
            (Role::Name, None),
        ];
        for (role, colour) in cases {
            assert_eq!(Style::COLOURED.cell_colour(role), colour, "{role:?}");
            assert_eq!(Style::PLAIN.cell_colour(role), None, "{role:?}");
        }
    }

    #[test]
    fn never_means_never_and_always_means_always() {
        assert!(!Style::detect(ColorChoice::Never, Stream::Stdout).is_coloured());
        assert!(Style::detect(ColorChoice::Always, Stream::Stdout).is_coloured());
    }
}
