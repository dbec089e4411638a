//! Every colour and symbol of the dashboard, in one place.
//!
//! Meanings come from `render::style` (the same [`Role`] as in `noex ps`: a crash is
//! `Bad` everywhere); this module only says how a role looks in a terminal cell, for a
//! dark or a light background, with colour or without (`NO_COLOR`, `--color never`:
//! bold, dim and reverse video carry the meaning instead), and with Unicode symbols or
//! an ASCII fallback for consoles without them.

use noex_agent::types::ProcessStatus;
use ratatui::style::{Color, Modifier, Style};

use crate::cli::Theme;
use crate::render::style::{Role, status_role};

/// How the dashboard looks: theme, colour on or off, symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Styles {
    pub theme: Theme,
    pub colour: bool,
    pub symbols: Symbols,
}

/// Glyphs that some terminals lack; [`Symbols::ASCII`] is the fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbols {
    pub open: &'static str,
    pub closed: &'static str,
    pub leaf: &'static str,
    /// In front of the selected line of a list.
    pub cursor: &'static str,
    /// Sparkline bars, lowest first.
    pub bars: [&'static str; 8],
    pub ascending: &'static str,
    pub descending: &'static str,
    pub separator: &'static str,
    /// Event log markers, so a problem reads as one without colour too.
    pub crash: &'static str,
    pub restart: &'static str,
    pub max_restarts: &'static str,
    /// In front of the crash-loop banner.
    pub warning: &'static str,
}

impl Symbols {
    pub const UNICODE: Symbols = Symbols {
        open: "▼ ",
        closed: "▶ ",
        leaf: "  ",
        cursor: "> ",
        bars: ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"],
        ascending: "▲",
        descending: "▼",
        separator: " · ",
        crash: "✖",
        restart: "↻",
        max_restarts: "‼",
        warning: "⚠",
    };
    pub const ASCII: Symbols = Symbols {
        open: "- ",
        closed: "+ ",
        leaf: "  ",
        cursor: "> ",
        bars: ["_", "_", ".", ".", "-", "-", "=", "#"],
        ascending: "^",
        descending: "v",
        separator: " | ",
        crash: "X",
        restart: "R",
        max_restarts: "!",
        warning: "!",
    };
}

impl Styles {
    pub fn new(theme: Theme, colour: bool) -> Styles {
        Styles {
            theme,
            colour,
            symbols: Symbols::UNICODE,
        }
    }

    /// Whether this terminal is known to lack the Unicode symbols (the Linux console).
    pub fn ascii_terminal() -> bool {
        let term = std::env::var("TERM").unwrap_or_default();
        matches!(term.as_str(), "linux" | "vt100" | "vt220" | "dumb")
    }

    /// How text in `role` looks.
    pub fn role(&self, role: Role) -> Style {
        let style = Style::new();
        if !self.colour {
            return match role {
                Role::Dim => style.add_modifier(Modifier::DIM),
                Role::Good | Role::Hint => style,
                Role::Warn | Role::Name => style.add_modifier(Modifier::BOLD),
                Role::Bad => style.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            };
        }
        let light = self.theme == Theme::Light;
        match role {
            Role::Dim => style.fg(if light {
                Color::Indexed(244)
            } else {
                Color::DarkGray
            }),
            Role::Good => style.fg(if light {
                Color::Indexed(28)
            } else {
                Color::Green
            }),
            // Yellow is unreadable on white.
            Role::Warn => style.fg(if light {
                Color::Indexed(130)
            } else {
                Color::Yellow
            }),
            Role::Bad => style.fg(Color::Red).add_modifier(Modifier::BOLD),
            Role::Name => style.add_modifier(Modifier::BOLD),
            Role::Hint => style.fg(if light { Color::Blue } else { Color::Cyan }),
        }
    }

    pub fn role_opt(&self, role: Option<Role>) -> Style {
        role.map_or_else(Style::new, |role| self.role(role))
    }

    pub fn status(&self, status: ProcessStatus) -> Style {
        self.role_opt(status_role(status))
    }

    pub fn dim(&self) -> Style {
        self.role(Role::Dim)
    }

    pub fn warn(&self) -> Style {
        self.role(Role::Warn)
    }

    pub fn bad(&self) -> Style {
        self.role(Role::Bad)
    }

    pub fn good(&self) -> Style {
        self.role(Role::Good)
    }

    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected line of the focused list.
    pub fn cursor(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The selected line of a list that does not have the focus.
    pub fn cursor_unfocused(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// A panel's border: brighter when it has the focus.
    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.colour) {
            (true, true) => self.role(Role::Hint),
            (true, false) => self.bold(),
            (false, _) => self.dim(),
        }
    }

    pub fn title(&self, focused: bool) -> Style {
        if focused {
            self.bold().patch(self.role(Role::Hint))
        } else {
            self.bold()
        }
    }

    /// Column headers of a table.
    pub fn header(&self) -> Style {
        self.bold()
    }

    /// A key in the footer or in the help.
    pub fn key(&self) -> Style {
        self.role(Role::Hint).add_modifier(Modifier::BOLD)
    }

    /// An action the agent will refuse (read-only), shown but greyed out.
    pub fn disabled(&self) -> Style {
        self.dim().add_modifier(Modifier::CROSSED_OUT)
    }

    pub fn gauge(&self) -> Style {
        if self.colour {
            self.role(Role::Good)
        } else {
            Style::new()
        }
    }

    pub fn sparkline(&self) -> Style {
        self.role(Role::Hint)
    }
}
