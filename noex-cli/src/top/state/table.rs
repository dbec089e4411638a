//! The process table: which rows it shows (filter, system processes), in what order
//! (sort column and direction), the header's counts, and the cursor.

use std::cmp::Ordering;

use noex_agent::types::Pid;

use super::{App, Row};

/// A table column the rows can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Name,
    Pid,
    Status,
    Rate,
    Queue,
    Restarts,
    Busy,
    Uptime,
    Warnings,
}

impl Column {
    /// In the order `s` cycles through them (and the table shows them).
    pub const ALL: [Column; 9] = [
        Column::Name,
        Column::Pid,
        Column::Status,
        Column::Rate,
        Column::Queue,
        Column::Restarts,
        Column::Busy,
        Column::Uptime,
        Column::Warnings,
    ];

    pub fn header(self) -> &'static str {
        match self {
            Column::Name => "NAME",
            Column::Pid => "PID",
            Column::Status => "STATUS",
            Column::Rate => "MSG/S",
            Column::Queue => "QUEUE",
            Column::Restarts => "RESTARTS",
            Column::Busy => "BUSY",
            Column::Uptime => "UPTIME",
            Column::Warnings => "WARNING",
        }
    }

    /// The key that sorts by this column (Shift + a letter of its name).
    pub fn key(self) -> char {
        match self {
            Column::Name => 'N',
            Column::Pid => 'I',
            Column::Status => 'T',
            Column::Rate => 'M',
            Column::Queue => 'Q',
            Column::Restarts => 'X',
            Column::Busy => 'B',
            Column::Uptime => 'U',
            Column::Warnings => 'W',
        }
    }

    pub fn from_key(key: char) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.key() == key)
    }

    /// Counters and warnings sort largest first; names, pids and status ascending;
    /// uptime youngest first, so what just restarted comes up.
    pub fn descending_by_default(self) -> bool {
        matches!(
            self,
            Column::Rate | Column::Queue | Column::Restarts | Column::Busy | Column::Warnings
        )
    }

    pub fn numeric(self) -> bool {
        !matches!(self, Column::Name | Column::Status | Column::Warnings)
    }

    fn next(self) -> Column {
        let i = Column::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

impl Sort {
    pub fn by(column: Column) -> Sort {
        Sort {
            column,
            descending: column.descending_by_default(),
        }
    }
}

/// Counts for the header, over the processes shown (system ones only with `a`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub processes: usize,
    pub hidden_system: usize,
    pub stuck: usize,
    pub backlog: usize,
    pub crash_loop: usize,
}

impl Totals {
    pub fn warnings(&self) -> usize {
        self.stuck + self.backlog + self.crash_loop
    }
}

impl App {
    /// Recompute which rows the table shows and in what order, and the header counts.
    /// Runs when a snapshot arrives and when sort, filter or `a` change: never per frame.
    pub fn refilter(&mut self) {
        if self.window.is_some() {
            // The agent sorts and filters: ask it again, at once.
            self.windowing.stale = true;
            self.show_window();
            return;
        }
        let keep = self.table_pid();
        let Some(model) = &self.model else {
            self.visible.clear();
            self.totals = Totals::default();
            return;
        };
        let needle = self.filter.trim().to_lowercase();
        let mut totals = Totals::default();
        let mut visible = Vec::with_capacity(model.rows.len());
        for (i, row) in model.rows.iter().enumerate() {
            if row.process.system && !self.show_system {
                totals.hidden_system += 1;
                continue;
            }
            totals.processes += 1;
            totals.stuck += usize::from(row.warnings.stuck_ns.is_some());
            totals.backlog += usize::from(row.warnings.backlog.is_some());
            totals.crash_loop += usize::from(row.warnings.crash_loop.is_some());
            if needle.is_empty() || row.search.contains(&needle) {
                visible.push(i);
            }
        }
        let rows = &model.rows;
        let sort = self.sort;
        visible.sort_by(|&a, &b| {
            let (a, b) = (&rows[a], &rows[b]);
            let primary = compare(a, b, sort.column);
            let primary = if sort.descending {
                primary.reverse()
            } else {
                primary
            };
            primary.then(a.process.pid.cmp(&b.process.pid))
        });
        self.visible = visible;
        self.totals = totals;
        match keep {
            Some(pid) => {
                self.select_table_pid(pid);
            }
            None => self.cursor = 0,
        }
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
    }

    /// The process under the table's cursor.
    pub fn table_pid(&self) -> Option<Pid> {
        let index = *self.visible.get(self.cursor)?;
        self.rows().get(index).map(Row::pid)
    }

    /// Put the table cursor on `pid`, if the table shows it.
    pub fn select_table_pid(&mut self, pid: Pid) -> bool {
        let Some(model) = &self.model else {
            return false;
        };
        match self
            .visible
            .iter()
            .position(|&i| model.rows[i].pid() == pid)
        {
            Some(index) => {
                self.cursor = index;
                true
            }
            None => false,
        }
    }

    /// Move the table cursor by `delta` rows (clamped), and the tree with it.
    pub fn move_table(&mut self, delta: isize) {
        if self.window.is_some() {
            self.move_window_cursor(delta);
            return;
        }
        if self.visible.is_empty() {
            return;
        }
        self.cursor = self
            .cursor
            .saturating_add_signed(delta)
            .min(self.visible.len() - 1);
        if let Some(pid) = self.table_pid() {
            self.select_tree_pid(pid);
        }
    }

    pub fn sort_by(&mut self, column: Column) {
        self.sort = if self.sort.column == column {
            Sort {
                column,
                descending: !self.sort.descending,
            }
        } else {
            Sort::by(column)
        };
        self.refilter();
    }

    pub fn next_sort(&mut self) {
        self.sort = Sort::by(self.sort.column.next());
        self.refilter();
    }

    pub fn reverse_sort(&mut self) {
        self.sort.descending = !self.sort.descending;
        self.refilter();
    }

    pub fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        if let Some(window) = &mut self.window {
            // A new table: from its top, unless the selected process is in it.
            window.offset = 0;
        }
        self.refilter();
        if let Some(pid) = self.table_pid() {
            self.select_tree_pid(pid);
        }
    }

    /// Show or hide system processes, in the table, the tree and the event log.
    pub fn toggle_system(&mut self) {
        self.show_system = !self.show_system;
        self.tree_dirty = true;
        self.refilter();
        if self.tree_state.selected().is_empty() || !self.tree_selection_shown() {
            self.select_first_tree_node();
        }
    }
}

fn compare(a: &Row, b: &Row, column: Column) -> Ordering {
    fn opt_f64(a: Option<f64>, b: Option<f64>) -> Ordering {
        // Unknown sorts below every number.
        match (a, b) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        }
    }
    match column {
        Column::Name => (a.label == "-")
            .cmp(&(b.label == "-"))
            .then_with(|| a.label.cmp(&b.label)),
        Column::Pid => a.process.pid.cmp(&b.process.pid),
        Column::Status => a.process.status.as_str().cmp(b.process.status.as_str()),
        Column::Rate => opt_f64(a.rate, b.rate),
        Column::Queue => a.process.queue_len.cmp(&b.process.queue_len),
        Column::Restarts => a.process.restarts.cmp(&b.process.restarts),
        Column::Busy => opt_f64(a.busy_pct, b.busy_pct),
        Column::Uptime => a.process.uptime_ms.cmp(&b.process.uptime_ms),
        Column::Warnings => a.warnings.severity().cmp(&b.warnings.severity()),
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
    fn system_processes_are_hidden_until_asked_for() {
        let mut app = app();
        assert_eq!(app.totals.processes, 7);
        assert_eq!(app.totals.hidden_system, 2);
        assert!(app.visible.iter().all(|&i| !app.rows()[i].process.system));
        let lines = app.tree_lines().len();
        app.toggle_system();
        assert_eq!(app.totals.processes, 9);
        assert_eq!(app.tree_lines().len(), lines + 2);
        assert_eq!(app.log_shown().count(), app.log.len());
    }

    #[test]
    fn sorting_by_a_column_and_again_reverses_it() {
        let mut app = app();
        let pids = |app: &App| -> Vec<u64> {
            app.visible
                .iter()
                .map(|&i| app.rows()[i].process.pid)
                .collect()
        };
        app.sort_by(Column::Rate);
        assert!(app.sort.descending);
        assert_eq!(&pids(&app)[..4], [2, 4, 6, 7]);
        app.sort_by(Column::Rate);
        assert!(!app.sort.descending);
        // Unknown rates (supervisors, a new pid) come first ascending, by pid.
        assert_eq!(&pids(&app)[..3], [1, 3, 23]);
        app.sort_by(Column::Warnings);
        assert_eq!(pids(&app)[0], 23, "a crash loop outranks the rest");
        app.sort_by(Column::Name);
        assert_eq!(&pids(&app)[..2], [1, 2]);
    }

    /// The first press of a column's key sorts counters largest first (messages/s,
    /// queue, restarts, busy, warnings) and names, pids and status ascending; uptime
    /// youngest first, so what just restarted comes up. A second press reverses.
    #[test]
    fn counters_sort_largest_first_on_the_first_press_and_names_and_pids_ascending() {
        let mut app = app();
        for column in Column::ALL {
            // From another column, as a user coming from any other sort.
            app.sort = Sort::by(if column == Column::Name {
                Column::Pid
            } else {
                Column::Name
            });
            app.sort_by(column);
            let descending = matches!(
                column,
                Column::Rate | Column::Queue | Column::Restarts | Column::Busy | Column::Warnings
            );
            assert_eq!(app.sort.descending, descending, "first press of {column:?}");
            app.sort_by(column);
            assert_eq!(
                app.sort.descending, !descending,
                "second press of {column:?}"
            );
        }
        app.sort_by(Column::Queue);
        assert!(app.sort.descending);
        let queues: Vec<u64> = app
            .visible
            .iter()
            .filter_map(|&i| app.rows()[i].process.queue_len)
            .collect();
        assert!(queues.is_sorted_by(|a, b| a >= b), "{queues:?}");
    }

    /// `noex ps --sort` and the dashboard agree on which way each column goes first.
    #[test]
    fn the_dashboard_sorts_each_column_the_way_ps_sort_does() {
        use crate::cli::SortKey;
        use crate::render::fixtures;
        use crate::render::table::process_rows;

        for (key, column) in [
            (SortKey::Pid, Column::Pid),
            (SortKey::Name, Column::Name),
            (SortKey::Status, Column::Status),
            (SortKey::Queue, Column::Queue),
            (SortKey::Restarts, Column::Restarts),
            (SortKey::Messages, Column::Rate),
            (SortKey::Busy, Column::Busy),
        ] {
            let snapshot = fixtures::snapshot();
            let rows = process_rows(&snapshot, false, key);
            let first = rows.first().unwrap();
            let last = rows.last().unwrap();
            let ps_descending = match key {
                SortKey::Queue => first.queue_len > last.queue_len,
                SortKey::Restarts => first.restarts > last.restarts,
                SortKey::Messages => first.messages > last.messages,
                SortKey::Busy => first.busy_ns > last.busy_ns,
                SortKey::Pid => first.pid > last.pid,
                SortKey::Name => first.label() > last.label() && last.label().is_some(),
                SortKey::Status => first.status.as_str() > last.status.as_str(),
            };
            assert_eq!(
                Sort::by(column).descending,
                ps_descending,
                "{key:?} and {column:?}"
            );
        }
    }

    #[test]
    fn the_filter_matches_names_pids_and_types() {
        let mut app = app();
        app.set_filter("worker".into());
        assert_eq!(app.visible.len(), 3, "workers, worker-1, worker-2");
        app.set_filter("<0.4>".into());
        assert_eq!(app.visible.len(), 1);
        app.set_filter("ratelimiter".into());
        assert_eq!(app.table_pid(), Some(Pid(4)));
        // The state a process says it is in (the fixture's limiter: Throttling).
        app.set_filter("THROTTL".into());
        assert_eq!(app.visible.len(), 1);
        assert_eq!(app.table_pid(), Some(Pid(4)));
        app.set_filter("nothing".into());
        assert!(app.visible.is_empty());
        assert_eq!(app.table_pid(), None);
    }
}
