//! `A`: the noex applications running for this user, to switch the dashboard to
//! another one. Listing them takes the agents' answers, so the event loop does it
//! (`top::agent_picker`) and hands the list in; until then the picker says it is
//! looking.

use std::path::PathBuf;

use tui_tree_widget::TreeState;

use super::{App, CrashLoops, Overlay, Totals, Windowing};

/// One application the picker offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppChoice {
    /// Its OS process id.
    pub pid: u32,
    pub socket: PathBuf,
    /// Its name; `None` when its agent did not answer (`error` says why).
    pub app: Option<String>,
    /// Its processes (noex's own left out), when the agent said.
    pub processes: Option<u64>,
    pub error: Option<String>,
    /// The cluster node it runs as, when the picker lists a `--cluster`'s nodes.
    pub node: Option<String>,
    /// The machine that node runs on (its hostname).
    pub host: Option<String>,
}

/// The picker's state: the list (once known) and the line selected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Picker {
    /// `None` while the agents are being asked.
    pub choices: Option<Vec<AppChoice>>,
    pub cursor: usize,
    /// Why there is no list: over `--host`, the remote `noex list` failed.
    pub failed: Option<String>,
}

impl App {
    /// Open the picker; [`App::apps_listed`] fills it.
    pub fn open_picker(&mut self) {
        self.picker = Picker::default();
        self.overlay = Overlay::Apps;
    }

    /// The applications running now, in pid order; the cursor starts on the one
    /// shown.
    pub fn apps_listed(&mut self, choices: Vec<AppChoice>) {
        if self.overlay != Overlay::Apps {
            return;
        }
        self.picker.cursor = choices
            .iter()
            .position(|choice| self.is_shown(choice))
            .unwrap_or(0);
        self.picker.choices = Some(choices);
    }

    /// Whether `choice` is what the dashboard shows: a node by its name (nodes on two
    /// machines may share an OS pid), an application by its pid.
    pub fn is_shown(&self, choice: &AppChoice) -> bool {
        match (&choice.node, &self.node) {
            (Some(node), Some(shown)) => node == shown,
            _ => self.hello.as_ref().map(|hello| hello.pid) == Some(choice.pid),
        }
    }

    /// The applications could not be listed at all (over `--host`, ssh failed).
    pub fn apps_not_listed(&mut self, why: String) {
        if self.overlay != Overlay::Apps {
            return;
        }
        self.picker.choices = Some(Vec::new());
        self.picker.failed = Some(why);
    }

    pub fn move_picker(&mut self, delta: isize) {
        let len = self.picker.choices.as_ref().map_or(0, Vec::len);
        self.picker.cursor = self
            .picker
            .cursor
            .saturating_add_signed(delta)
            .min(len.saturating_sub(1));
    }

    /// The application under the picker's cursor.
    pub fn picked(&self) -> Option<&AppChoice> {
        self.picker.choices.as_ref()?.get(self.picker.cursor)
    }

    /// Leave the application shown for `choice`: nothing of its picture, its event
    /// log, its crash loops, the filter or the selection applies to the next one.
    /// The layout, the sort and what the log shows (`a`, `e`) are the user's
    /// choices and stay.
    pub fn switching_to(&mut self, choice: &AppChoice) {
        self.overlay = Overlay::None;
        self.hello = None;
        self.model = None;
        self.window = None;
        self.windowing = Windowing::default();
        self.tracking = Default::default();
        self.visible.clear();
        self.totals = Totals::default();
        self.log.clear();
        self.held.clear();
        self.last_seq = None;
        self.crash_loops = CrashLoops::default();
        self.filter.clear();
        self.editing_filter = false;
        self.cursor = 0;
        self.table_offset = 0;
        self.tree_state = TreeState::default();
        self.collapsed.clear();
        self.tree_items.clear();
        self.tree_dirty = true;
        self.log_scroll = 0;
        self.action_in_flight = false;
        self.reconnecting();
        let name = choice.app.as_deref().unwrap_or("the application");
        self.set_message(
            super::Tone::Info,
            format!("switching to {name} (pid {})…", choice.pid),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Layout;
    use crate::top::state::{Column, Connection};
    use crate::top::testing;

    fn choices() -> Vec<AppChoice> {
        let choice = |pid: u32, app: Option<&str>| AppChoice {
            pid,
            socket: PathBuf::from(format!("/run/noex/{pid}.sock")),
            app: app.map(str::to_string),
            processes: app.map(|_| 7),
            error: app.is_none().then(|| "no answer".to_string()),
            node: None,
            host: None,
        };
        vec![
            choice(1000, Some("billing")),
            choice(4242, Some("demo")),
            choice(5150, None),
        ]
    }

    #[test]
    fn the_picker_starts_on_the_application_shown_and_moves_within_the_list() {
        let mut app = testing::app(Layout::Full);
        app.open_picker();
        assert_eq!(app.picked(), None, "still looking");
        app.apps_listed(choices());
        assert_eq!(app.picked().unwrap().pid, 4242);
        app.move_picker(10);
        assert_eq!(app.picked().unwrap().pid, 5150);
        app.move_picker(-10);
        assert_eq!(app.picked().unwrap().pid, 1000);
    }

    #[test]
    fn a_list_that_comes_after_the_picker_closed_is_ignored() {
        let mut app = testing::app(Layout::Full);
        app.open_picker();
        app.overlay = Overlay::None;
        app.apps_listed(choices());
        assert_eq!(app.picker.choices, None);
    }

    #[test]
    fn switching_resets_the_picture_the_filter_and_the_log_but_keeps_the_users_choices() {
        let mut app = testing::app(Layout::Compact);
        app.set_filter("worker".into());
        app.sort_by(Column::Queue);
        app.toggle_problems_only();
        app.open_picker();
        app.apps_listed(choices());
        let billing = choices().remove(0);
        app.switching_to(&billing);
        assert_eq!(app.overlay, Overlay::None);
        assert!(app.model.is_none() && app.hello.is_none());
        assert!(app.filter.is_empty());
        assert!(app.log.is_empty());
        assert!(app.crash_loops().is_empty());
        assert_eq!(app.connection, Connection::Connecting);
        assert_eq!(app.layout, Layout::Compact);
        assert_eq!(app.sort.column, Column::Queue);
        assert!(app.problems_only);
        assert_eq!(
            app.message.as_ref().unwrap().text,
            "switching to billing (pid 1000)…"
        );
    }
}
