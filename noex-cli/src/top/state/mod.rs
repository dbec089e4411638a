//! The dashboard's state: what the agent said, what we derived from it, and where the
//! user is looking. Data only: no terminal, no socket, no drawing.
//!
//! Snapshots arrive on a timer. Each one is turned, once, into table rows with rates
//! (counter deltas between two snapshots, over the difference of their `taken_at_ms`,
//! never our own clock), warnings, a sorted and filtered view, and the supervision
//! tree. Drawing a frame then only reads what is visible, so a frame costs the same for
//! ten processes and for ten thousand.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use noex_agent::client::Push;
use noex_agent::protocol::{ActionOutcome, Hello, ProcessRef};
use noex_agent::types::{
    LifecycleEvent, Pid, ProcessTree, ServerInfo, Snapshot, SupervisorInfo, TreeNode,
};
use tui_tree_widget::{TreeItem, TreeState};

use crate::cli::{Layout, Theme};
use crate::render::action::{Action, outcome_line};
use crate::render::format::TimeZone;
use crate::render::style::Style as TextStyle;
use crate::render::table::ProcessRow;

/// Samples kept per process for its sparkline (one per refresh).
pub const SPARK_LEN: usize = 60;
/// Lines the event log keeps; older ones are dropped.
pub const LOG_CAP: usize = 1_000;
/// Events asked for when attaching, so the log starts with the recent story.
pub const HISTORY_ON_ATTACH: u32 = 200;
/// A handler running longer than this is stuck.
pub const STUCK_NS: u64 = 1_000_000_000;
/// A queue that grew this many refreshes in a row is a backlog.
pub const BACKLOG_STREAK: u32 = 3;
/// A crash loop: restarts went up in `LOOP_HITS` of the last `LOOP_REFRESHES`
/// refreshes, or `LOOP_HITS` restarts happened within `LOOP_WINDOW_MS`.
pub const LOOP_REFRESHES: usize = 10;
pub const LOOP_HITS: u32 = 3;
pub const LOOP_WINDOW_MS: u64 = 30_000;
/// Restart histories of children not seen for this long are forgotten.
const FORGET_MS: u64 = 120_000;

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
}

/// A kill or restart waiting for the user's yes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub action: Action,
    pub pid: Pid,
    /// `worker-1 <0.23>`.
    pub label: String,
    /// The supervisor's label, to say who will restart it.
    pub supervisor: Option<String>,
    /// Why nothing would restart it, if so: the prompt says it, and a yes is sent
    /// with `force`.
    pub nothing_restarts: Option<String>,
}

/// Where the dashboard stands with the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    Connected,
    Connecting,
    Disconnected { reason: String },
}

/// How a status line message reads: good news, bad news, or neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Bad,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub tone: Tone,
    /// When it was set, so it can expire.
    pub since: Instant,
}

/// Things an operator would otherwise miss, for one process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Warnings {
    /// The handler running now has run this long (over [`STUCK_NS`]).
    pub stuck_ns: Option<u64>,
    /// The queue grew this many refreshes in a row (at least [`BACKLOG_STREAK`]).
    pub backlog: Option<u32>,
    /// Restarts within the last [`LOOP_WINDOW_MS`], when it looks like a crash loop.
    pub crash_loop: Option<u32>,
}

impl Warnings {
    pub fn any(&self) -> bool {
        self.stuck_ns.is_some() || self.backlog.is_some() || self.crash_loop.is_some()
    }

    /// For sorting: a crash loop outranks a stuck handler, which outranks a backlog.
    fn severity(&self) -> u8 {
        u8::from(self.crash_loop.is_some()) * 4
            + u8::from(self.stuck_ns.is_some()) * 2
            + u8::from(self.backlog.is_some())
    }
}

/// Which process a row is, across restarts: a supervised child keeps its supervisor
/// and child id when it gets a new pid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    Child { parent: Pid, id: String },
    Named(String),
    Pid(Pid),
}

/// One process of the table: the same fields as a `noex ps` row, plus what only a
/// live view knows.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub process: ProcessRow,
    /// Registered name, else child id, else `-`.
    pub label: String,
    /// Messages per second since the previous snapshot; `None` for a supervisor or a
    /// process seen once.
    pub rate: Option<f64>,
    /// Share of the time between two snapshots spent in handlers, 0 to 100.
    pub busy_pct: Option<f64>,
    pub warnings: Warnings,
    pub identity: Identity,
    /// Lowercase text the filter matches: label, pid, type, status.
    search: String,
}

impl Row {
    pub fn pid(&self) -> Pid {
        Pid(self.process.pid)
    }

    pub fn is_supervisor(&self) -> bool {
        self.process.kind == "supervisor"
    }
}

/// What was derived from the latest snapshot.
#[derive(Clone, Debug)]
pub struct Model {
    pub snapshot: Snapshot,
    /// Every process, system ones included, in pid order.
    pub rows: Vec<Row>,
    pub by_pid: HashMap<Pid, usize>,
    pub tree: ProcessTree,
    /// Where each live process sits in the tree.
    pub tree_paths: HashMap<Pid, Vec<NodeKey>>,
    /// Messages per second of the app's own (not system) servers.
    pub app_rate: Option<f64>,
    /// The widest pid and status texts, so table columns do not jump as it scrolls.
    pub pid_width: usize,
    pub status_width: usize,
    /// The longest label, so the name column is as wide as it needs (within limits).
    pub label_width: usize,
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

/// A tree node's identifier among its siblings: its pid, or for a child spec with no
/// running process, its place in the supervisor's child list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKey {
    Pid(Pid),
    Spec(u32),
}

impl NodeKey {
    pub fn of(node: &TreeNode, index: usize) -> NodeKey {
        match node.pid() {
            Some(pid) => NodeKey::Pid(pid),
            None => NodeKey::Spec(u32::try_from(index).unwrap_or(u32::MAX)),
        }
    }

    pub fn pid(self) -> Option<Pid> {
        match self {
            NodeKey::Pid(pid) => Some(pid),
            NodeKey::Spec(_) => None,
        }
    }
}

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

/// Per-process and per-app histories, kept between snapshots.
#[derive(Clone, Debug, Default)]
struct Tracking {
    rates: HashMap<Pid, VecDeque<u64>>,
    /// Last queue length and how many refreshes in a row it grew.
    queues: HashMap<Pid, (u64, u32)>,
    restarts: HashMap<Identity, RestartTrack>,
    app_rates: VecDeque<u64>,
    peak_rss: u64,
}

#[derive(Clone, Debug, Default)]
struct RestartTrack {
    last: u32,
    /// Whether restarts went up, for each of the last refreshes.
    recent: VecDeque<bool>,
    /// When restarts went up, and by how much.
    times: VecDeque<(u64, u32)>,
    seen_at_ms: u64,
}

impl RestartTrack {
    fn observe(&mut self, restarts: u32, at_ms: u64) {
        let grew = restarts > self.last;
        if grew {
            self.times.push_back((at_ms, restarts - self.last));
        }
        self.last = restarts;
        self.seen_at_ms = at_ms;
        self.recent.push_back(grew);
        while self.recent.len() > LOOP_REFRESHES {
            self.recent.pop_front();
        }
        while self
            .times
            .front()
            .is_some_and(|(t, _)| at_ms.saturating_sub(*t) > LOOP_WINDOW_MS)
        {
            self.times.pop_front();
        }
    }

    /// Restarts within the window, if this looks like a crash loop.
    fn crash_loop(&self) -> Option<u32> {
        let within: u32 = self.times.iter().map(|(_, n)| n).sum();
        let hits = self.recent.iter().filter(|grew| **grew).count();
        (within >= LOOP_HITS || hits >= LOOP_HITS as usize).then_some(within)
    }
}

/// The whole dashboard.
pub struct App {
    // Settings.
    pub layout: Layout,
    pub theme: Theme,
    pub colour: bool,
    /// ASCII symbols instead of Unicode ones (consoles without the glyphs).
    pub ascii: bool,
    pub zone: TimeZone,
    /// Total memory of this machine, the scale of the memory gauge.
    pub system_memory: Option<u64>,

    // The agent.
    pub connection: Connection,
    /// While disconnected, the dashboard tries again by itself (the target is not a
    /// pid, which never comes back).
    pub retrying: bool,
    pub hello: Option<Hello>,
    pub model: Option<Model>,
    tracking: Tracking,
    pub log: VecDeque<LogEntry>,
    /// Events that arrived while paused, shown on resume.
    held: VecDeque<LogEntry>,
    last_seq: Option<u64>,

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
    pub message: Option<Message>,
    /// A kill or restart is on its way; another waits for it.
    pub action_in_flight: bool,
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
            connection: Connection::Connecting,
            retrying: false,
            hello: None,
            model: None,
            tracking: Tracking::default(),
            log: VecDeque::new(),
            held: VecDeque::new(),
            last_seq: None,
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
            message: None,
            action_in_flight: false,
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

    /// The message-rate history of a process, oldest first.
    pub fn rate_history(&self, pid: Pid) -> Option<&VecDeque<u64>> {
        self.tracking.rates.get(&pid)
    }

    /// The app's message rate at each refresh, oldest first.
    pub fn app_rates(&self) -> &VecDeque<u64> {
        &self.tracking.app_rates
    }

    pub fn peak_rss(&self) -> u64 {
        self.tracking.peak_rss
    }

    pub fn set_message(&mut self, tone: Tone, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            tone,
            since: Instant::now(),
        });
    }

    /// Forget a message shown for longer than `ttl`.
    pub fn expire_message(&mut self, now: Instant, ttl: std::time::Duration) {
        if self
            .message
            .as_ref()
            .is_some_and(|m| now.duration_since(m.since) >= ttl)
        {
            self.message = None;
        }
    }

    // ----- the connection -----

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
                self.tracking = Tracking::default();
                self.visible.clear();
                self.totals = Totals::default();
                self.tree_dirty = true;
                self.last_seq = None;
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

    // ----- events -----

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
        self.add_log(LogEntry::Event(event));
    }

    fn add_log(&mut self, entry: LogEntry) {
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

    /// Log entries shown, oldest first (system events only with `a`).
    pub fn log_shown(&self) -> impl DoubleEndedIterator<Item = &LogEntry> {
        let all = self.show_system;
        self.log.iter().filter(move |e| all || !e.system())
    }

    // ----- snapshots -----

    /// Take in a new snapshot: rates, histories, warnings, rows, tree.
    pub fn ingest(&mut self, snapshot: Snapshot) {
        let before_table = self.table_pid();
        let before_table_identity = before_table
            .and_then(|p| self.row(p))
            .map(|r| r.identity.clone());
        let before_tree = self.tree_state.selected().to_vec();
        let before_tree_identity = before_tree
            .last()
            .and_then(|k| k.pid())
            .and_then(|p| self.row(p))
            .map(|r| r.identity.clone());

        let previous = self.model.take();
        let dt_ms = previous
            .as_ref()
            .map(|m| snapshot.taken_at_ms.saturating_sub(m.snapshot.taken_at_ms))
            .filter(|dt| *dt > 0);
        let counters: HashMap<Pid, (u64, u64)> = previous
            .as_ref()
            .map(|m| {
                m.snapshot
                    .servers
                    .iter()
                    .map(|s| (s.pid, (s.messages, s.busy_ns)))
                    .collect()
            })
            .unwrap_or_default();
        drop(previous);

        let at = snapshot.taken_at_ms;
        let mut rows = Vec::with_capacity(snapshot.servers.len() + snapshot.supervisors.len());
        let mut app_rate = dt_ms.map(|_| 0.0);
        for server in &snapshot.servers {
            let (rate, busy_pct) = dt_ms
                .zip(counters.get(&server.pid))
                .map(|(dt, &(messages, busy))| rates(server, messages, busy, dt))
                .unzip();
            if let (Some(total), Some(rate), false) = (app_rate.as_mut(), rate, server.system) {
                *total += rate;
            }
            rows.push(new_row(ProcessRow::from_server(server, at), rate, busy_pct));
        }
        for supervisor in &snapshot.supervisors {
            rows.push(new_row(
                ProcessRow::from_supervisor(supervisor, at),
                None,
                None,
            ));
        }
        rows.sort_unstable_by_key(|r| r.process.pid);
        assign_identities(&mut rows);
        self.track(&snapshot, &mut rows, app_rate);

        let by_pid = rows.iter().enumerate().map(|(i, r)| (r.pid(), i)).collect();
        let tree = ProcessTree::from_snapshot(&snapshot);
        let mut tree_paths = HashMap::with_capacity(rows.len());
        let mut supervisors = Vec::new();
        walk_paths(
            &tree.roots,
            &mut Vec::new(),
            &mut tree_paths,
            &mut supervisors,
        );
        let pid_width = rows.last().map_or(6, |r| r.pid().to_string().len());
        let status_width = rows
            .iter()
            .map(|r| r.process.status.as_str().len())
            .max()
            .unwrap_or(7);
        let label_width = rows
            .iter()
            .map(|r| r.label.chars().count())
            .max()
            .unwrap_or(4);
        self.model = Some(Model {
            snapshot,
            rows,
            by_pid,
            tree,
            tree_paths,
            app_rate,
            pid_width,
            status_width,
            label_width,
        });

        // Every supervisor is open unless the user closed it.
        let existing: HashSet<&Vec<NodeKey>> = supervisors.iter().collect();
        self.collapsed.retain(|path| existing.contains(path));
        self.tree_state.close_all();
        for path in &supervisors {
            if !self.collapsed.contains(path) {
                self.tree_state.open(path.clone());
            }
        }
        self.tree_dirty = true;

        // The old view's indices point into the old rows.
        self.visible.clear();
        self.refilter();
        // Follow the selected process, also when its supervisor gave it a new pid.
        if let Some(pid) = self.follow(before_table, before_table_identity) {
            self.select_table_pid(pid);
        }
        if before_tree.is_empty() {
            self.select_first_tree_node();
        } else if self.node_at(&before_tree).is_none() {
            match self.follow(
                before_tree.last().and_then(|k| k.pid()),
                before_tree_identity,
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

    /// Update the histories and set each row's warnings.
    fn track(&mut self, snapshot: &Snapshot, rows: &mut [Row], app_rate: Option<f64>) {
        let at = snapshot.taken_at_ms;
        let tracking = &mut self.tracking;
        let mut rates = HashMap::with_capacity(rows.len());
        let mut queues = HashMap::with_capacity(rows.len());
        for row in rows.iter_mut() {
            let pid = row.pid();
            // Message-rate sparkline.
            let mut history = tracking.rates.remove(&pid).unwrap_or_default();
            if let Some(rate) = row.rate {
                history.push_back(rate.round() as u64);
                while history.len() > SPARK_LEN {
                    history.pop_front();
                }
            }
            if !row.is_supervisor() {
                rates.insert(pid, history);
            }
            // Backlog: a queue that keeps growing.
            if let Some(queue) = row.process.queue_len {
                let streak = match tracking.queues.get(&pid) {
                    Some(&(last, streak)) if queue > last => streak + 1,
                    _ => 0,
                };
                queues.insert(pid, (queue, streak));
                row.warnings.backlog = (streak >= BACKLOG_STREAK).then_some(streak);
            }
            // Stuck: one handler running for too long.
            row.warnings.stuck_ns = row.process.handler_running_ns.filter(|ns| *ns > STUCK_NS);
            // Crash loop: restarts going up again and again.
            let track = tracking
                .restarts
                .entry(row.identity.clone())
                .or_insert_with(|| RestartTrack {
                    last: row.process.restarts,
                    ..RestartTrack::default()
                });
            track.observe(row.process.restarts, at);
            row.warnings.crash_loop = track.crash_loop();
        }
        tracking.rates = rates;
        tracking.queues = queues;
        tracking
            .restarts
            .retain(|_, track| at.saturating_sub(track.seen_at_ms) <= FORGET_MS);
        if let Some(rate) = app_rate {
            tracking.app_rates.push_back(rate.round() as u64);
            while tracking.app_rates.len() > SPARK_LEN {
                tracking.app_rates.pop_front();
            }
        }
        if let Some(rss) = snapshot.memory_rss_bytes {
            tracking.peak_rss = tracking.peak_rss.max(rss);
        }
    }

    /// Recompute which rows the table shows and in what order, and the header counts.
    /// Runs when a snapshot arrives and when sort, filter or `a` change: never per frame.
    pub fn refilter(&mut self) {
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

    // ----- selection -----

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

    /// Put the tree's selection on `pid`, if the tree has it.
    pub fn select_tree_pid(&mut self, pid: Pid) -> bool {
        let path = self
            .model
            .as_ref()
            .and_then(|m| m.tree_paths.get(&pid))
            .cloned();
        match path {
            Some(path) => {
                self.tree_state.select(path);
                true
            }
            None => false,
        }
    }

    fn select_first_tree_node(&mut self) {
        if let Some(first) = self.tree_lines().into_iter().next() {
            self.tree_state.select(first);
        }
    }

    /// The tree node under the tree's selection.
    pub fn tree_node(&self) -> Option<(&TreeNode, Option<&SupervisorInfo>)> {
        self.node_at(self.tree_state.selected())
    }

    /// The tree node at `path`, with its supervisor.
    fn node_at(&self, path: &[NodeKey]) -> Option<(&TreeNode, Option<&SupervisorInfo>)> {
        let model = self.model.as_ref()?;
        let mut nodes = model.tree.roots.as_slice();
        let mut parent = None;
        for (depth, key) in path.iter().enumerate() {
            let node = nodes
                .iter()
                .enumerate()
                .find(|(i, n)| NodeKey::of(n, *i) == *key)
                .map(|(_, n)| n)?;
            if depth + 1 == path.len() {
                return Some((node, parent));
            }
            match node {
                TreeNode::Supervisor { info, children } => {
                    parent = Some(info);
                    nodes = children;
                }
                _ => return None,
            }
        }
        None
    }

    /// The process the focused panel points at: what Enter, K and R act on.
    pub fn selected_pid(&self) -> Option<Pid> {
        match self.focus {
            Focus::Tree => self.tree_state.selected().last().and_then(|k| k.pid()),
            Focus::Table | Focus::Events => self.table_pid(),
        }
    }

    /// The tree's lines as drawn (open supervisors' children included), top to bottom.
    pub fn tree_lines(&self) -> Vec<Vec<NodeKey>> {
        let mut out = Vec::new();
        if let Some(model) = &self.model {
            let opened = self.tree_state.opened();
            flatten(
                &model.tree.roots,
                &mut Vec::new(),
                opened,
                self.show_system,
                &mut out,
            );
        }
        out
    }

    /// Move the tree selection by `delta` lines (clamped), and the table with it.
    pub fn move_tree(&mut self, delta: isize) {
        let lines = self.tree_lines();
        if lines.is_empty() {
            return;
        }
        let current = lines
            .iter()
            .position(|p| p.as_slice() == self.tree_state.selected());
        let next = match current {
            None => 0,
            Some(i) => i.saturating_add_signed(delta).min(lines.len() - 1),
        };
        self.tree_state.select(lines[next].clone());
        if let Some(pid) = lines[next].last().and_then(|k| k.pid()) {
            self.select_table_pid(pid);
        }
    }

    /// Move the table cursor by `delta` rows (clamped), and the tree with it.
    pub fn move_table(&mut self, delta: isize) {
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

    /// Close the selected supervisor, or go to the parent of what is selected.
    pub fn tree_left(&mut self) {
        let selected = self.tree_state.selected().to_vec();
        if selected.is_empty() {
            return;
        }
        if self.tree_state.opened().contains(&selected) {
            self.tree_state.close(&selected);
            self.collapsed.insert(selected);
            self.tree_dirty = true;
        } else if selected.len() > 1 {
            self.tree_state
                .select(selected[..selected.len() - 1].to_vec());
        }
    }

    /// Open the selected supervisor.
    pub fn tree_right(&mut self) {
        let selected = self.tree_state.selected().to_vec();
        if self.collapsed.remove(&selected) || self.is_supervisor_path(&selected) {
            self.tree_state.open(selected);
            self.tree_dirty = true;
        }
    }

    pub fn tree_toggle(&mut self) {
        let selected = self.tree_state.selected().to_vec();
        if self.tree_state.opened().contains(&selected) {
            self.tree_left();
        } else {
            self.tree_right();
        }
    }

    fn is_supervisor_path(&self, path: &[NodeKey]) -> bool {
        matches!(
            path.last().and_then(|k| k.pid()).and_then(|p| self.row(p)),
            Some(row) if row.is_supervisor()
        )
    }

    /// Scroll the event log back (positive) or forward.
    pub fn scroll_log(&mut self, delta: isize) {
        let shown = self.log_shown().count();
        self.log_scroll = self
            .log_scroll
            .saturating_add_signed(delta)
            .min(shown.saturating_sub(1));
    }

    // ----- settings the keys change -----

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

    pub fn toggle_system(&mut self) {
        self.show_system = !self.show_system;
        self.tree_dirty = true;
        self.refilter();
        if self.tree_state.selected().is_empty() || !self.tree_selection_shown() {
            self.select_first_tree_node();
        }
    }

    fn tree_selection_shown(&self) -> bool {
        let selected = self.tree_state.selected();
        self.tree_lines().iter().any(|p| p.as_slice() == selected)
    }

    pub fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.refilter();
        if let Some(pid) = self.table_pid() {
            self.select_tree_pid(pid);
        }
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

    // ----- kill and restart -----

    /// What K or R would act on: the selected live process, with its supervisor.
    pub fn pending(&self, action: Action) -> Result<Pending, String> {
        let Some(pid) = self.selected_pid() else {
            return Err(match self.tree_node() {
                Some((TreeNode::Stopped { child_id, .. }, _)) if self.focus == Focus::Tree => {
                    format!("{child_id} is not running")
                }
                _ => "no process selected".to_string(),
            });
        };
        let row = self.row(pid).ok_or_else(|| format!("{pid} has gone"))?;
        let supervisor = row
            .process
            .parent
            .and_then(|p| self.row(Pid(p)))
            .map(|s| s.label.clone());
        let target = ProcessRef {
            pid,
            name: row.process.name.clone(),
            child_id: row.process.child_id.clone(),
        };
        // The agent refuses these anyway; say so before asking to confirm.
        if let Some(why) = self
            .snapshot()
            .and_then(|snapshot| noex_agent::target::belongs_to_agent(snapshot, &target))
        {
            return Err(why);
        }
        let nothing_restarts = self
            .snapshot()
            .and_then(|snapshot| noex_agent::target::nothing_restarts(snapshot, &target));
        Ok(Pending {
            action,
            pid,
            label: describe(row),
            supervisor,
            nothing_restarts,
        })
    }

    /// A kill or restart came back.
    pub fn action_done(&mut self, action: Action, result: Result<ActionOutcome, String>) {
        self.action_in_flight = false;
        match result {
            Ok(outcome) => {
                let text = outcome_line(action, &outcome, TextStyle::PLAIN);
                self.set_message(Tone::Good, text);
            }
            Err(error) => {
                self.set_message(Tone::Bad, format!("{} failed: {error}", action.verb()));
            }
        }
    }
}

/// `worker-1 <0.23>`, or `<0.23>` for a process with neither name nor child id.
pub fn describe(row: &Row) -> String {
    if row.label == "-" {
        row.pid().to_string()
    } else {
        format!("{} {}", row.label, row.pid())
    }
}

/// Messages per second and busy percent since the previous snapshot's counters.
fn rates(server: &ServerInfo, messages: u64, busy_ns: u64, dt_ms: u64) -> (f64, f64) {
    let dt = dt_ms as f64;
    let rate = server.messages.saturating_sub(messages) as f64 * 1_000.0 / dt;
    let busy = server.busy_ns.saturating_sub(busy_ns) as f64 / (dt * 1_000_000.0) * 100.0;
    (rate, busy.min(100.0))
}

fn new_row(process: ProcessRow, rate: Option<f64>, busy_pct: Option<f64>) -> Row {
    let label = process.label().unwrap_or_else(|| "-".to_string());
    let search = format!(
        "{} <0.{}> {} {} {}",
        label,
        process.pid,
        process.type_name.as_deref().unwrap_or("supervisor"),
        process.status,
        process.child_id.as_deref().unwrap_or(""),
    )
    .to_lowercase();
    let identity = Identity::Pid(Pid(process.pid));
    Row {
        process,
        label,
        rate,
        busy_pct,
        warnings: Warnings::default(),
        identity,
        search,
    }
}

/// A supervised child is known by its supervisor and child id; a registered process by
/// its name; anything else (or a label two processes share) by its pid.
fn assign_identities(rows: &mut [Row]) {
    let identity = |p: &ProcessRow| match (&p.child_id, p.parent, &p.name) {
        (Some(id), Some(parent), _) => Identity::Child {
            parent: Pid(parent),
            id: id.clone(),
        },
        (_, _, Some(name)) => Identity::Named(name.clone()),
        _ => Identity::Pid(Pid(p.pid)),
    };
    let mut seen: HashMap<Identity, usize> = HashMap::with_capacity(rows.len());
    for row in rows.iter() {
        *seen.entry(identity(&row.process)).or_default() += 1;
    }
    for row in rows.iter_mut() {
        let candidate = identity(&row.process);
        if seen.get(&candidate) == Some(&1) {
            row.identity = candidate;
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

/// Record each live process's path, and every supervisor's path.
fn walk_paths(
    nodes: &[TreeNode],
    prefix: &mut Vec<NodeKey>,
    paths: &mut HashMap<Pid, Vec<NodeKey>>,
    supervisors: &mut Vec<Vec<NodeKey>>,
) {
    for (i, node) in nodes.iter().enumerate() {
        prefix.push(NodeKey::of(node, i));
        if let Some(pid) = node.pid() {
            paths.insert(pid, prefix.clone());
        }
        if let TreeNode::Supervisor { children, .. } = node {
            supervisors.push(prefix.clone());
            walk_paths(children, prefix, paths, supervisors);
        }
        prefix.pop();
    }
}

fn flatten(
    nodes: &[TreeNode],
    prefix: &mut Vec<NodeKey>,
    opened: &HashSet<Vec<NodeKey>>,
    all: bool,
    out: &mut Vec<Vec<NodeKey>>,
) {
    for (i, node) in nodes.iter().enumerate() {
        if !all && node.is_system() {
            continue;
        }
        prefix.push(NodeKey::of(node, i));
        out.push(prefix.clone());
        if let TreeNode::Supervisor { children, .. } = node
            && opened.contains(prefix.as_slice())
        {
            flatten(children, prefix, opened, all, out);
        }
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use noex_agent::types::*;

    use super::*;
    use crate::render::fixtures::{self, NOW_MS};
    use crate::top::testing::{self, CACHE, WORKER_1, WORKER_2};

    fn app() -> App {
        testing::app(Layout::Full)
    }

    fn row(app: &App, pid: Pid) -> &Row {
        app.row(pid).expect("row")
    }

    #[test]
    fn rates_use_the_snapshots_clock_not_ours() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        let mut first = fixtures::snapshot();
        first.taken_at_ms = NOW_MS - 4_000;
        let mut second = fixtures::snapshot();
        for server in &mut second.servers {
            if server.pid == CACHE {
                server.messages += 2_000;
                server.busy_ns += 1_000_000_000;
            }
        }
        app.ingest(first);
        assert_eq!(row(&app, CACHE).rate, None, "one snapshot has no rate");
        app.ingest(second);
        // 2000 messages over the 4 s between the snapshots' taken_at_ms.
        assert_eq!(row(&app, CACHE).rate, Some(500.0));
        assert_eq!(row(&app, CACHE).busy_pct, Some(25.0));
        assert_eq!(row(&app, Pid(7)).rate, Some(0.0));
        assert_eq!(
            row(&app, Pid(1)).rate,
            None,
            "supervisors handle no messages"
        );
    }

    #[test]
    fn a_snapshot_with_the_same_time_gives_no_rate() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest(fixtures::snapshot());
        app.ingest(fixtures::snapshot());
        assert_eq!(row(&app, CACHE).rate, None);
        assert_eq!(app.model.as_ref().unwrap().app_rate, None);
    }

    #[test]
    fn app_rate_counts_only_the_apps_own_servers() {
        let app = app();
        // cache 1234/s + limiter 45/s + worker-2 10/s; the system connection is left out.
        assert_eq!(app.model.as_ref().unwrap().app_rate, Some(1_289.0));
        assert_eq!(app.app_rates().len(), 3);
    }

    #[test]
    fn a_queue_growing_three_refreshes_in_a_row_is_a_backlog() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        for k in 0..3 {
            app.ingest(testing::snapshot(k));
            assert_eq!(row(&app, WORKER_2).warnings.backlog, None, "after {k}");
        }
        app.ingest(testing::snapshot(3));
        assert_eq!(row(&app, WORKER_2).warnings.backlog, Some(3));
        // The queue stops growing: the warning goes.
        app.ingest(testing::snapshot(3));
        assert_eq!(row(&app, WORKER_2).warnings.backlog, None);
    }

    #[test]
    fn a_handler_running_over_a_second_is_stuck() {
        let app = app();
        assert_eq!(row(&app, CACHE).warnings.stuck_ns, Some(2_100_000_000));
        // 1.5 ms is busy, not stuck.
        assert_eq!(row(&app, Pid(4)).warnings.stuck_ns, None);
    }

    #[test]
    fn restarts_going_up_again_and_again_across_new_pids_is_a_crash_loop() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest(testing::snapshot(0));
        app.ingest(testing::snapshot(1));
        app.ingest(testing::snapshot(2));
        assert_eq!(row(&app, Pid(22)).warnings.crash_loop, None, "two restarts");
        app.ingest(testing::snapshot(3));
        assert_eq!(row(&app, WORKER_1).warnings.crash_loop, Some(3));
        assert_eq!(app.totals.crash_loop, 1);
        assert_eq!(app.totals.warnings(), 3);
    }

    #[test]
    fn a_single_restart_is_not_a_crash_loop() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest(testing::snapshot(0));
        app.ingest(testing::snapshot(1));
        for _ in 0..5 {
            let mut later = testing::snapshot(1);
            later.taken_at_ms += 10_000;
            app.ingest(later);
        }
        assert_eq!(row(&app, Pid(21)).warnings.crash_loop, None);
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

    #[test]
    fn the_filter_matches_names_pids_and_types() {
        let mut app = app();
        app.set_filter("worker".into());
        assert_eq!(app.visible.len(), 3, "workers, worker-1, worker-2");
        app.set_filter("<0.4>".into());
        assert_eq!(app.visible.len(), 1);
        app.set_filter("ratelimiter".into());
        assert_eq!(app.table_pid(), Some(Pid(4)));
        app.set_filter("nothing".into());
        assert!(app.visible.is_empty());
        assert_eq!(app.table_pid(), None);
    }

    #[test]
    fn collapsing_a_supervisor_hides_its_children_and_survives_a_snapshot() {
        let mut app = app();
        let all = app.tree_lines().len();
        assert!(app.select_tree_pid(Pid(3)));
        app.tree_left();
        assert_eq!(app.tree_lines().len(), all - 3);
        app.ingest(testing::snapshot(3));
        assert_eq!(app.tree_lines().len(), all - 3, "still closed");
        app.tree_right();
        assert_eq!(app.tree_lines().len(), all);
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

    #[test]
    fn a_kill_outcome_reads_like_noex_kill() {
        let mut app = app();
        let outcome = noex_agent::protocol::ActionOutcome {
            target: noex_agent::protocol::ProcessRef {
                pid: Pid(17),
                name: None,
                child_id: Some("worker-1".into()),
            },
            supervisor: Some(noex_agent::protocol::ProcessRef {
                pid: Pid(1),
                name: Some("app_sup".into()),
                child_id: None,
            }),
            new_pid: Some(Pid(23)),
        };
        app.action_done(Action::Kill, Ok(outcome));
        let message = app.message.clone().unwrap();
        assert_eq!(
            message.text,
            "worker-1 <0.17> killed; restarted by app_sup as <0.23>"
        );
        assert_eq!(message.tone, Tone::Good);
        app.action_done(Action::Restart, Err("no process named \"x\"".into()));
        assert_eq!(
            app.message.unwrap().text,
            "restart failed: no process named \"x\""
        );
    }

    #[test]
    fn messages_expire() {
        let mut app = app();
        app.set_message(Tone::Info, "hello");
        let now = Instant::now();
        app.expire_message(now, std::time::Duration::from_secs(60));
        assert!(app.message.is_some());
        app.expire_message(
            now + std::time::Duration::from_secs(61),
            std::time::Duration::from_secs(60),
        );
        assert!(app.message.is_none());
    }

    #[test]
    fn duplicate_child_ids_fall_back_to_pids() {
        let mut rows = vec![
            new_row(
                ProcessRow::from_server(&fixtures::worker(5, None, Some("session"), Some(9)), 0),
                None,
                None,
            ),
            new_row(
                ProcessRow::from_server(&fixtures::worker(6, None, Some("session"), Some(9)), 0),
                None,
                None,
            ),
            new_row(
                ProcessRow::from_server(&fixtures::worker(7, None, Some("solo"), Some(9)), 0),
                None,
                None,
            ),
        ];
        assign_identities(&mut rows);
        assert_eq!(rows[0].identity, Identity::Pid(Pid(5)));
        assert_eq!(rows[1].identity, Identity::Pid(Pid(6)));
        assert_eq!(
            rows[2].identity,
            Identity::Child {
                parent: Pid(9),
                id: "solo".into()
            }
        );
    }
}
