//! Where the dashboard stands with the agent: attaching (to the same application
//! again, or to another one), losing the connection, and retrying.

use noex_agent::protocol::Hello;
use noex_agent::types::LifecycleEvent;

use super::{App, LogEntry, Tone, Totals, Tracking, Windowing};

/// Events asked for when attaching, so the log starts with the recent story.
pub const HISTORY_ON_ATTACH: u32 = 200;

/// Where the dashboard stands with the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    Connected,
    Connecting,
    Disconnected { reason: String },
}

impl App {
    /// Attached (again): `history` is the agent's recent events, oldest first.
    pub fn connected(&mut self, hello: Hello, history: Vec<LifecycleEvent>) {
        let same_app = self
            .hello
            .as_ref()
            .is_some_and(|h| h.pid == hello.pid && h.started_at_ms == hello.started_at_ms);
        if !same_app {
            if self.hello.is_some() {
                // Another application (the pid was reused, or a new `--socket` owner):
                // nothing of the old one's picture applies.
                self.model = None;
                self.window = None;
                self.windowing = Windowing::default();
                self.tracking = Tracking::default();
                self.visible.clear();
                self.totals = Totals::default();
                self.tree_dirty = true;
                self.last_seq = None;
                self.crash_loops = super::CrashLoops::default();
            }
            self.add_log(LogEntry::Note(format!(
                "attached to {} (pid {}){}",
                hello.app,
                hello.pid,
                if hello.read_only { ", read-only" } else { "" }
            )));
        } else {
            self.add_log(LogEntry::Note("reconnected".into()));
        }
        self.hello = Some(hello);
        self.connection = Connection::Connected;
        self.action_in_flight = false;
        for event in history {
            self.push_event(event);
        }
    }

    /// The connection ended; the last picture stays.
    pub fn disconnected(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        if matches!(self.connection, Connection::Disconnected { .. }) {
            return;
        }
        self.add_log(LogEntry::Note(format!("connection lost: {reason}")));
        self.connection = Connection::Disconnected { reason };
        self.action_in_flight = false;
    }

    pub fn reconnecting(&mut self) {
        self.connection = Connection::Connecting;
    }

    /// An automatic attempt failed: still disconnected, for the new reason, and
    /// quietly (the status line already says it keeps trying).
    pub fn retry_failed(&mut self, reason: impl Into<String>) {
        self.connection = Connection::Disconnected {
            reason: reason.into(),
        };
    }

    /// A reconnect failed: still disconnected, for the new reason.
    pub fn reconnect_failed(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        self.set_message(Tone::Bad, format!("reconnect failed: {reason}"));
        self.connection = Connection::Disconnected { reason };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Layout;
    use crate::top::testing;

    fn app() -> App {
        testing::app(Layout::Full)
    }

    #[test]
    fn history_repeated_after_a_reconnect_is_not_logged_twice() {
        let mut app = app();
        let before = app.log.len();
        app.disconnected("gone");
        app.connected(testing::hello(false), testing::events());
        // One note for the loss, one for the reconnect; no event twice.
        assert_eq!(app.log.len(), before + 2);
        assert!(app.model.is_some(), "the picture stays");
    }

    #[test]
    fn another_app_at_the_same_socket_starts_a_fresh_picture() {
        let mut app = app();
        app.disconnected("gone");
        let mut other = testing::hello(false);
        other.started_at_ms += 1;
        app.connected(other, Vec::new());
        assert!(app.model.is_none());
        assert!(app.app_rates().is_empty());
    }

    #[test]
    fn a_disconnect_keeps_the_last_picture() {
        let mut app = app();
        app.disconnected("the application exited");
        assert!(matches!(app.connection, Connection::Disconnected { .. }));
        assert_eq!(app.rows().len(), 9);
    }
}
