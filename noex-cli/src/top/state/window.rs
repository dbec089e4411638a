//! A large application's table, cut by the agent. Above [`WINDOW_ABOVE`] processes
//! the dashboard stops asking for every process at every refresh: the agent sorts and
//! filters the table and sends the rows around the cursor, with the counts over all of
//! them and the rates. Sort, filter and `a` ask again at once; the cursor moving past
//! the rows held asks for the next ones.

use std::collections::HashMap;

use noex_agent::table::{TableQuery, TableRow, TableSort, TableView};
use noex_agent::types::Pid;

use super::{App, Column, Totals};

/// More processes than this and the dashboard asks for windows.
pub const WINDOW_ABOVE: u64 = 10_000;
/// Back to whole snapshots at or below this (not at once below `WINDOW_ABOVE`, so an
/// app near the line does not flip at every refresh).
pub const WHOLE_AT_MOST: u64 = 8_000;
/// Rows asked for: a few screens, so the cursor moves without asking.
pub const WINDOW_ROWS: u32 = 200;

/// Where the rows the dashboard holds sit in the agent's table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// The table position of the first row held.
    pub offset: u64,
    /// The table's length: processes that pass the filter.
    pub matched: u64,
    /// Every supervisor's full child count (its children held are fewer).
    pub child_counts: HashMap<Pid, u64>,
    /// The rows held, in table order.
    order: Vec<Pid>,
}

/// How the next refresh asks, and what is waiting to be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Windowing {
    /// Ask for windows (else for whole snapshots).
    pub ask: bool,
    /// The agent answered `table` with `unknown_request` (older than 2.1): never again.
    pub unsupported: bool,
    /// Sort, filter or `a` changed, or the cursor left the rows held: ask now.
    pub stale: bool,
    /// The table position the cursor is to move to, not asked for yet.
    pub cursor_to: Option<u64>,
    /// The position the window asked for is for: the cursor moves there when it comes.
    cursor_asked: Option<u64>,
}

impl Default for Windowing {
    fn default() -> Self {
        // The first refresh asks for a window: it is cheap at any size, and its counts
        // say whether whole snapshots would be.
        Windowing {
            ask: true,
            unsupported: false,
            stale: false,
            cursor_to: None,
            cursor_asked: None,
        }
    }
}

impl Column {
    fn table_sort(self) -> TableSort {
        match self {
            Column::Name => TableSort::Name,
            Column::Pid => TableSort::Pid,
            Column::Status => TableSort::Status,
            Column::Rate => TableSort::Rate,
            Column::Queue => TableSort::Queue,
            Column::Restarts => TableSort::Restarts,
            Column::Busy => TableSort::Busy,
            Column::Uptime => TableSort::Uptime,
            Column::Warnings => TableSort::Warnings,
        }
    }
}

impl App {
    /// Whether the next refresh asks for a window rather than a whole snapshot.
    pub fn asks_for_window(&self) -> bool {
        self.windowing.ask && !self.windowing.unsupported
    }

    /// The table's length: the agent's count while windowed, else the rows shown.
    pub fn table_len(&self) -> u64 {
        match &self.window {
            Some(window) => window.matched,
            None => self.visible.len() as u64,
        }
    }

    /// The table position of the cursor's row.
    pub fn table_position(&self) -> u64 {
        self.window.as_ref().map_or(0, |w| w.offset) + self.cursor as u64
    }

    /// A supervisor's full child count, when the tree holds only some of its children.
    pub fn child_count(&self, pid: Pid) -> Option<u64> {
        self.window.as_ref()?.child_counts.get(&pid).copied()
    }

    /// The request for the next window: the rows around the cursor, or around where
    /// it is moving to. Clears `stale`. Answers come in the order asked, one at a
    /// time, so the next window is this one's.
    pub fn table_query(&mut self) -> TableQuery {
        self.windowing.stale = false;
        self.windowing.cursor_asked = self.windowing.cursor_to.take();
        let half = u64::from(WINDOW_ROWS / 2);
        let (offset, around) = match (self.windowing.cursor_asked, &self.window) {
            (Some(to), _) => (to.saturating_sub(half), None),
            (None, Some(window)) => (window.offset, self.table_pid()),
            (None, None) => (0, self.table_pid()),
        };
        TableQuery {
            sort: self.sort.column.table_sort(),
            descending: self.sort.descending,
            filter: self.filter.trim().to_string(),
            system: self.show_system,
            offset,
            limit: WINDOW_ROWS,
            around,
        }
    }

    /// Take in a window: its processes become the rows, in the agent's order.
    pub fn ingest_table(&mut self, view: TableView) {
        if view.snapshot.process_count <= WHOLE_AT_MOST {
            // Small enough for whole snapshots, which also give the whole tree.
            self.windowing.ask = false;
            self.windowing.stale = true;
        }
        let rates: HashMap<Pid, TableRow> = view.rows.iter().map(|r| (r.pid, *r)).collect();
        self.window = Some(Window {
            offset: view.offset,
            matched: view.matched,
            child_counts: view
                .child_counts
                .iter()
                .map(|c| (c.pid, c.children))
                .collect(),
            order: view.rows.iter().map(|r| r.pid).collect(),
        });
        self.window_totals = Totals {
            processes: view.processes as usize,
            hidden_system: view.hidden_system as usize,
            stuck: view.stuck as usize,
            ..Totals::default()
        };
        self.take_in(view.snapshot, Some(&rates), view.app_rate);
        if let Some(to) = self.windowing.cursor_asked.take() {
            let offset = self.window.as_ref().map_or(0, |w| w.offset);
            self.cursor =
                to.saturating_sub(offset)
                    .min(self.visible.len().saturating_sub(1) as u64) as usize;
            if let Some(pid) = self.table_pid() {
                self.select_tree_pid(pid);
            }
        }
    }

    /// The agent does not know `table` (older than 2.1): whole snapshots from now on.
    pub fn window_unsupported(&mut self) {
        self.windowing.unsupported = true;
        self.windowing.stale = true;
    }

    /// The window's rows, in its order, as `visible`; the header's counts from the
    /// agent, warnings that need history from the rows held.
    pub(super) fn show_window(&mut self) {
        let (Some(model), Some(window)) = (&self.model, &self.window) else {
            return;
        };
        self.visible = window
            .order
            .iter()
            .filter_map(|pid| model.by_pid.get(pid).copied())
            .collect();
        let mut totals = self.window_totals;
        for &i in &self.visible {
            let warnings = &model.rows[i].warnings;
            totals.backlog += usize::from(warnings.backlog.is_some());
            totals.crash_loop += usize::from(warnings.crash_loop.is_some());
        }
        self.totals = totals;
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
    }

    /// Move the cursor by `delta` table rows while windowed: within the rows held,
    /// or past them, asking for the window there.
    pub(super) fn move_window_cursor(&mut self, delta: isize) {
        let Some(window) = &self.window else {
            return;
        };
        let last = window.matched.saturating_sub(1);
        let to = self
            .table_position()
            .saturating_add_signed(delta as i64)
            .min(last);
        let held = window.offset..window.offset + self.visible.len() as u64;
        if held.contains(&to) {
            self.cursor = (to - window.offset) as usize;
            if let Some(pid) = self.table_pid() {
                self.select_tree_pid(pid);
            }
        } else {
            self.windowing.cursor_to = Some(to);
            self.windowing.stale = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use noex_agent::types::Snapshot;

    use super::*;
    use crate::cli::{Layout, Theme};
    use crate::top::testing;

    /// A window over `snapshot`'s processes in the order `pids` gives, claiming
    /// `process_count` processes in all.
    fn window(mut snapshot: Snapshot, pids: &[u64], process_count: u64) -> TableView {
        snapshot.process_count = process_count;
        TableView {
            snapshot,
            rows: pids
                .iter()
                .map(|&pid| TableRow {
                    pid: Pid(pid),
                    rate: Some(pid as f64),
                    busy_pct: None,
                    queue_growing: false,
                })
                .collect(),
            offset: 40,
            matched: process_count - 2,
            processes: process_count - 2,
            hidden_system: 2,
            stuck: 1,
            queues_growing: 0,
            interval_ms: Some(1_000),
            app_rate: Some(7.0),
            child_counts: vec![],
        }
    }

    #[test]
    fn a_window_is_shown_in_the_agents_order_with_its_counts_and_rates() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest_table(window(testing::snapshot(0), &[20, 2, 6], 50_000));
        let shown: Vec<u64> = app.visible.iter().map(|&i| app.rows()[i].pid().0).collect();
        assert_eq!(shown, [20, 2, 6], "not sorted again here");
        assert_eq!(app.table_len(), 49_998);
        assert_eq!(app.totals.processes, 49_998);
        assert_eq!(app.totals.stuck, 1);
        assert_eq!(
            testing::row(&app, Pid(20)).rate,
            Some(20.0),
            "the agent's rate"
        );
        assert_eq!(app.model.as_ref().unwrap().app_rate, Some(7.0));
        assert_eq!(app.table_position(), 40);
        assert!(app.asks_for_window());
    }

    #[test]
    fn a_small_app_is_asked_for_whole_snapshots_and_a_large_one_for_windows() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        assert!(app.asks_for_window(), "the first refresh asks for a window");
        app.ingest_table(window(testing::snapshot(0), &[1, 2], WHOLE_AT_MOST));
        assert!(!app.asks_for_window());
        assert!(
            app.windowing.stale,
            "the whole snapshot is asked for at once"
        );
        app.ingest(testing::snapshot(1));
        assert!(app.window.is_none());
        let mut large = testing::snapshot(2);
        large.process_count = WINDOW_ABOVE + 1;
        app.ingest(large);
        assert!(app.asks_for_window());
        let mut near = testing::snapshot(3);
        near.process_count = WINDOW_ABOVE;
        app.ingest(near);
        assert!(
            app.asks_for_window(),
            "no flipping back above WHOLE_AT_MOST"
        );
    }

    #[test]
    fn an_agent_without_table_is_asked_for_whole_snapshots() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.window_unsupported();
        assert!(!app.asks_for_window());
        let mut large = testing::snapshot(0);
        large.process_count = WINDOW_ABOVE * 10;
        app.ingest(large);
        assert!(!app.asks_for_window());
    }

    #[test]
    fn the_query_carries_sort_filter_system_and_the_selection() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest_table(window(testing::snapshot(0), &[20, 2, 6], 50_000));
        app.sort_by(Column::Queue);
        app.toggle_system();
        app.set_filter(" worker ".into());
        assert!(app.windowing.stale);
        let query = app.table_query();
        assert!(!app.windowing.stale);
        assert_eq!(query.sort, TableSort::Queue);
        assert!(query.descending);
        assert_eq!(query.filter, "worker");
        assert!(query.system);
        assert_eq!(query.offset, 0, "a new filter starts from the top");
        assert_eq!(query.around, Some(Pid(20)));
        assert_eq!(query.limit, WINDOW_ROWS);
    }

    #[test]
    fn the_cursor_moves_within_the_rows_held_and_asks_beyond_them() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest_table(window(testing::snapshot(0), &[20, 2, 6], 50_000));
        app.move_table(2);
        assert_eq!((app.table_position(), app.windowing.stale), (42, false));
        app.move_table(1);
        assert!(app.windowing.stale, "row 43 is not held");
        let query = app.table_query();
        assert_eq!(
            query.offset,
            43u64.saturating_sub(u64::from(WINDOW_ROWS / 2))
        );
        assert_eq!(query.around, None);
        app.move_table(-100);
        assert_eq!(app.windowing.cursor_to, Some(0));
        app.move_table(isize::MAX / 2);
        assert_eq!(app.windowing.cursor_to, Some(49_997), "the last row");
    }
}
