//! The panels' arrangement: which layout is shown, which panel the arrow keys move
//! in, and what is drawn over the panels.

use super::{App, Pending};
use crate::cli::Layout;

/// Which panel the arrow keys move in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Tree,
    Table,
    Events,
}

/// What is drawn over the panels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Details,
    /// Asks "kill worker-1 <0.23>? y/N" before the request is sent.
    Confirm(Pending),
    /// `A`: the running applications, to switch to another (see `App::picker`).
    Apps,
}

impl App {
    pub fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
        if !self.focusable().contains(&self.focus) {
            self.focus = Focus::Table;
        }
        self.tree_dirty = true;
    }

    /// The panels the current layout shows, in Tab order.
    pub fn focusable(&self) -> &'static [Focus] {
        match self.layout {
            Layout::Full => &[Focus::Tree, Focus::Table, Focus::Events],
            Layout::Compact => &[Focus::Tree, Focus::Table],
            Layout::Minimal => &[Focus::Table],
        }
    }

    pub fn cycle_focus(&mut self, forward: bool) {
        let panels = self.focusable();
        let i = panels.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = panels.len();
        self.focus = panels[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
    }
}
