//! Which process the user has selected, and keeping it so: the tree and the table
//! point at the same process, and a selection survives a new snapshot, following a
//! restarted child to its new pid.

use noex_agent::types::Pid;

use super::{App, Focus, Identity, NodeKey, Row};

/// The selections before a snapshot replaces the rows, with the identities of the
/// processes they were on.
pub(super) struct SelectionBefore {
    table: Option<Pid>,
    table_identity: Option<Identity>,
    tree: Vec<NodeKey>,
    tree_identity: Option<Identity>,
}

impl App {
    /// The process the focused panel points at: what Enter, K and R act on.
    pub fn selected_pid(&self) -> Option<Pid> {
        match self.focus {
            Focus::Tree => self.tree_state.selected().last().and_then(|k| k.pid()),
            Focus::Table | Focus::Events => self.table_pid(),
        }
    }

    pub(super) fn remember_selection(&self) -> SelectionBefore {
        let table = self.table_pid();
        let table_identity = table.and_then(|p| self.row(p)).map(|r| r.identity.clone());
        let tree = self.tree_state.selected().to_vec();
        let tree_identity = tree
            .last()
            .and_then(|k| k.pid())
            .and_then(|p| self.row(p))
            .map(|r| r.identity.clone());
        SelectionBefore {
            table,
            table_identity,
            tree,
            tree_identity,
        }
    }

    /// Put the selections back on the processes they were on, in the new rows.
    pub(super) fn restore_selection(&mut self, before: SelectionBefore) {
        // Follow the selected process, also when its supervisor gave it a new pid.
        if let Some(pid) = self.follow(before.table, before.table_identity) {
            self.select_table_pid(pid);
        }
        if before.tree.is_empty() {
            self.select_first_tree_node();
        } else if self.node_at(&before.tree).is_none() {
            match self.follow(
                before.tree.last().and_then(|k| k.pid()),
                before.tree_identity,
            ) {
                Some(pid) => {
                    self.select_tree_pid(pid);
                }
                None => self.select_first_tree_node(),
            }
        }
        self.sync_selection();
    }

    /// The panel without the focus shows what the focused one points at.
    fn sync_selection(&mut self) {
        match self.focus {
            Focus::Tree => {
                if let Some(pid) = self.tree_state.selected().last().and_then(|k| k.pid()) {
                    self.select_table_pid(pid);
                }
            }
            Focus::Table | Focus::Events => {
                if let Some(pid) = self.table_pid() {
                    self.select_tree_pid(pid);
                }
            }
        }
    }

    /// The pid a selection moves to: the same pid if it still runs, else the process
    /// with the same identity (a restarted child).
    fn follow(&self, pid: Option<Pid>, identity: Option<Identity>) -> Option<Pid> {
        let pid = pid?;
        if self.row(pid).is_some() {
            return Some(pid);
        }
        let identity = identity?;
        self.rows()
            .iter()
            .find(|r| r.identity == identity)
            .map(Row::pid)
    }
}

#[cfg(test)]
mod tests {
    use noex_agent::types::Pid;

    use crate::cli::{Layout, Theme};
    use crate::top::state::{App, Focus, NodeKey};
    use crate::top::testing;

    fn app() -> App {
        testing::app(Layout::Full)
    }

    #[test]
    fn the_table_cursor_follows_a_restarted_child_to_its_new_pid() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest(testing::snapshot(0));
        assert!(app.select_table_pid(Pid(20)));
        app.focus = Focus::Table;
        app.ingest(testing::snapshot(1));
        assert_eq!(app.table_pid(), Some(Pid(21)));
        // The tree shows what the focused table points at.
        assert_eq!(
            app.tree_state.selected().last(),
            Some(&NodeKey::Pid(Pid(21)))
        );
    }

    #[test]
    fn a_snapshot_with_fewer_processes_keeps_the_cursor_in_range() {
        let mut app = app();
        app.focus = Focus::Table;
        app.move_table(100);
        let mut smaller = testing::snapshot(3);
        smaller.servers.retain(|s| s.pid.0 < 6);
        app.ingest(smaller);
        assert!(app.cursor < app.visible.len());
        assert!(app.table_pid().is_some());
    }

    #[test]
    fn the_tree_selection_follows_a_restarted_child() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest(testing::snapshot(0));
        assert!(app.select_tree_pid(Pid(20)));
        app.ingest(testing::snapshot(1));
        assert_eq!(
            app.tree_state.selected(),
            [
                NodeKey::Pid(Pid(1)),
                NodeKey::Pid(Pid(3)),
                NodeKey::Pid(Pid(21))
            ]
        );
    }
}
