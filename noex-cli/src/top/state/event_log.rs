//! The event log: lifecycle events the agent pushes and notes about the connection,
//! bounded, held back while paused, and scrolled.

use noex_agent::client::Push;
use noex_agent::types::LifecycleEvent;

use super::App;

/// Lines the event log keeps; older ones are dropped.
pub const LOG_CAP: usize = 1_000;

/// One line of the event log.
#[derive(Clone, Debug, PartialEq)]
pub enum LogEntry {
    Event(LifecycleEvent),
    /// The agent skipped this many events because we read too slowly.
    Lagged(u64),
    /// Something about the connection (`attached`, `connection lost`).
    Note(String),
}

impl LogEntry {
    fn system(&self) -> bool {
        matches!(self, LogEntry::Event(event) if event.system)
    }
}

impl App {
    pub fn push(&mut self, push: Push) {
        match push {
            Push::Event(event) => self.push_event(event),
            Push::Lagged { dropped } => self.add_log(LogEntry::Lagged(dropped)),
        }
    }

    pub fn push_event(&mut self, event: LifecycleEvent) {
        // History after a reconnect repeats what we already have.
        if self.last_seq.is_some_and(|seq| event.seq <= seq) {
            return;
        }
        self.last_seq = Some(event.seq);
        self.crash_loops.observe(&event);
        self.add_log(LogEntry::Event(event));
    }

    pub(super) fn add_log(&mut self, entry: LogEntry) {
        let target = if self.paused {
            &mut self.held
        } else {
            &mut self.log
        };
        target.push_back(entry);
        while target.len() > LOG_CAP {
            target.pop_front();
        }
        if !self.paused && self.log_scroll > 0 {
            // Keep the lines the user scrolled to where they are.
            self.log_scroll += 1;
        }
    }

    /// Log entries shown, oldest first (system events only with `a`, and only
    /// problems with `e`).
    pub fn log_shown(&self) -> impl DoubleEndedIterator<Item = &LogEntry> {
        let all = self.show_system;
        let problems_only = self.problems_only;
        self.log
            .iter()
            .filter(move |e| all || !e.system())
            .filter(move |e| !problems_only || e.is_problem_or_note())
    }

    /// Scroll the event log back (positive) or forward.
    pub fn scroll_log(&mut self, delta: isize) {
        let shown = self.log_shown().count();
        self.log_scroll = self
            .log_scroll
            .saturating_add_signed(delta)
            .min(shown.saturating_sub(1));
    }

    pub fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        if !self.paused {
            let held = std::mem::take(&mut self.held);
            for entry in held {
                self.add_log(entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Layout, Theme};
    use crate::top::testing;

    fn app() -> App {
        testing::app(Layout::Full)
    }

    #[test]
    fn pause_holds_events_and_shows_them_on_resume() {
        let mut app = app();
        let before = app.log.len();
        app.toggle_pause();
        app.push(Push::Lagged { dropped: 1 });
        assert_eq!(app.log.len(), before);
        app.toggle_pause();
        assert_eq!(app.log.len(), before + 1);
    }

    #[test]
    fn the_event_log_is_bounded() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        let mut event = testing::events().remove(0);
        for seq in 1..=(LOG_CAP as u64 + 50) {
            event.seq = seq;
            app.push_event(event.clone());
        }
        assert_eq!(app.log.len(), LOG_CAP);
    }
}
