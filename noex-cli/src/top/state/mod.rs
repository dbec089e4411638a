//! The dashboard's state: what the agent said, what we derived from it, and where the
//! user is looking. Data only: no terminal, no socket, no drawing.
//!
//! Snapshots arrive on a timer. Each one is turned, once, into table rows with rates
//! (counter deltas between two snapshots, over the difference of their `taken_at_ms`,
//! never our own clock), warnings, a sorted and filtered view, and the supervision
//! tree. Drawing a frame then only reads what is visible, so a frame costs the same for
//! ten processes and for ten thousand.
//!
//! [`App`] holds it all; each concern's data and methods live in their own module:
//! `model` (a snapshot turned into rows), `tracking` (histories and warnings), `table`,
//! `tree`, `selection` (keeping the two in step), `event_log`, `connection`, `actions`
//! (kill and restart), `message` (the status line) and `focus` (layout, focus,
//! overlays).

mod actions;
mod connection;
mod crash_loop;
mod event_log;
mod focus;
mod message;
mod model;
mod picker;
mod problems;
mod replay;
mod selection;
mod table;
mod tracking;
mod tree;
mod window;

use std::collections::{HashSet, VecDeque};

use noex_agent::protocol::Hello;
use noex_agent::types::{Pid, Snapshot};
use tui_tree_widget::{TreeItem, TreeState};

pub use actions::Pending;
pub use connection::{Connection, HISTORY_ON_ATTACH};
pub use crash_loop::{CRASH_LOOP_RESTARTS, CRASH_LOOP_WINDOW_MS, CrashLoop, CrashLoops};
pub use event_log::{LOG_CAP, LogEntry};
pub use focus::{Focus, Overlay};
pub use message::{Message, Tone};
pub use model::{Identity, Model, Row, describe};
pub use picker::{AppChoice, Picker};
pub use problems::Problem;
pub use replay::{NO_ACTIONS, NO_SWITCH, ReplayStatus};
pub use table::{Column, Sort, Totals};
use tracking::Tracking;
pub use tracking::{
    BACKLOG_STREAK, LOOP_HITS, LOOP_REFRESHES, LOOP_WINDOW_MS, SPARK_LEN, STUCK_NS, Warnings,
};
pub use tree::NodeKey;
pub use window::{WHOLE_AT_MOST, WINDOW_ABOVE, WINDOW_ROWS, Window, Windowing};

use crate::cli::{Layout, Theme};
use crate::render::format::TimeZone;

/// The whole dashboard.
pub struct App {
    // Settings.
    pub layout: Layout,
    pub theme: Theme,
    pub colour: bool,
    /// ASCII symbols instead of Unicode ones (consoles without the glyphs).
    pub ascii: bool,
    pub zone: TimeZone,
    /// Total memory of this machine, the scale of the memory gauge; `None` when the
    /// app runs elsewhere (`--host`, a recording).
    pub system_memory: Option<u64>,
    /// The machine the app runs on, over `--host` (`ana@box`); `None`: this one.
    pub host: Option<String>,
    /// The cluster node shown, over `--cluster` with `--node`.
    pub node: Option<String>,

    // The agent.
    pub connection: Connection,
    /// While disconnected, the dashboard tries again by itself (the target is not a
    /// pid, which never comes back).
    pub retrying: bool,
    pub hello: Option<Hello>,
    pub model: Option<Model>,
    /// Set while the rows are a window the agent cut (a large app).
    pub window: Option<Window>,
    pub windowing: Windowing,
    /// The refresh interval, when the app's slow answers made it longer than asked.
    pub refresh_stretched: Option<std::time::Duration>,
    /// The agent's counts for the header while windowed.
    window_totals: Totals,
    tracking: Tracking,
    pub log: VecDeque<LogEntry>,
    /// Events that arrived while paused, shown on resume.
    held: VecDeque<LogEntry>,
    last_seq: Option<u64>,
    /// Restart times per process, for the crash-loop banner.
    crash_loops: CrashLoops,

    // Where the user is.
    pub focus: Focus,
    pub overlay: Overlay,
    pub sort: Sort,
    pub filter: String,
    /// `/` was pressed: keys go to the filter.
    pub editing_filter: bool,
    pub show_system: bool,
    pub paused: bool,
    /// Row indices (into `model.rows`) the table shows, filtered and sorted.
    pub visible: Vec<usize>,
    pub totals: Totals,
    /// The table's selected line, an index into `visible`.
    pub cursor: usize,
    /// The first table line drawn (kept by the view so the cursor stays in sight).
    pub table_offset: usize,
    pub tree_state: TreeState<NodeKey>,
    /// Supervisors the user closed; every other one is open.
    collapsed: HashSet<Vec<NodeKey>>,
    /// Tree widget items, built from `model.tree` by the view when `tree_dirty`.
    pub tree_items: Vec<TreeItem<'static, NodeKey>>,
    pub tree_dirty: bool,
    /// Event log lines scrolled back from the newest (0 follows new events).
    pub log_scroll: usize,
    /// `e`: the event log shows only problems (crashes, restarts, giving up).
    pub problems_only: bool,
    /// `A`: the applications to switch to.
    pub picker: Picker,
    pub message: Option<Message>,
    /// A kill or restart is on its way; another waits for it.
    pub action_in_flight: bool,
    /// Playing a recording (`noex top --replay`), not watching a live app.
    pub replay: Option<ReplayStatus>,
}

impl App {
    pub fn new(layout: Layout, theme: Theme, colour: bool) -> App {
        App {
            layout,
            theme,
            colour,
            ascii: false,
            zone: TimeZone::Local,
            system_memory: None,
            host: None,
            node: None,
            connection: Connection::Connecting,
            retrying: false,
            hello: None,
            model: None,
            window: None,
            windowing: Windowing::default(),
            refresh_stretched: None,
            window_totals: Totals::default(),
            tracking: Tracking::default(),
            log: VecDeque::new(),
            held: VecDeque::new(),
            last_seq: None,
            crash_loops: CrashLoops::default(),
            focus: if layout == Layout::Minimal {
                Focus::Table
            } else {
                Focus::Tree
            },
            overlay: Overlay::None,
            sort: Sort::by(Column::Pid),
            filter: String::new(),
            editing_filter: false,
            show_system: false,
            paused: false,
            visible: Vec::new(),
            totals: Totals::default(),
            cursor: 0,
            table_offset: 0,
            tree_state: TreeState::default(),
            collapsed: HashSet::new(),
            tree_items: Vec::new(),
            tree_dirty: true,
            log_scroll: 0,
            problems_only: false,
            picker: Picker::default(),
            message: None,
            action_in_flight: false,
            replay: None,
        }
    }

    pub fn read_only(&self) -> bool {
        self.hello.as_ref().is_some_and(|h| h.read_only)
    }

    pub fn is_connected(&self) -> bool {
        self.connection == Connection::Connected
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.model.as_ref().map(|m| &m.snapshot)
    }

    pub fn rows(&self) -> &[Row] {
        self.model.as_ref().map_or(&[], |m| &m.rows)
    }

    pub fn row(&self, pid: Pid) -> Option<&Row> {
        let model = self.model.as_ref()?;
        model.by_pid.get(&pid).map(|&i| &model.rows[i])
    }
}
