//! The process table, cut by the agent: every process sorted and filtered in the
//! application, and only the rows a client shows sent over the socket, with counts over
//! all of them and rates since the agent's previous table (since 2.1).
//!
//! A dashboard watching a million processes draws forty rows: asking for a whole
//! snapshot every second would cost the application hundreds of megabytes of encoding
//! and the client as much of decoding, for rows nobody sees.

#[cfg(feature = "client")]
use serde::Deserialize;
#[cfg(feature = "protocol")]
use serde::Serialize;

use crate::types::{Pid, Snapshot};

/// The most rows one table reply carries, whatever the client asks.
pub const MAX_TABLE_ROWS: u32 = 1_000;
/// The longest filter the agent matches with; longer ones are cut to it.
pub const MAX_FILTER_BYTES: usize = 256;
/// A handler running longer than this is stuck (as the dashboard says).
pub const STUCK_NS: u64 = 1_000_000_000;

/// What the table is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "protocol", derive(Serialize, serde::Deserialize))]
#[cfg_attr(feature = "protocol", serde(rename_all = "snake_case"))]
pub enum TableSort {
    /// Pid order, the order processes started in.
    #[default]
    Pid,
    /// Registered name, else child id; processes with neither last.
    Name,
    /// Status by its wire name.
    Status,
    /// Messages per second since the agent's previous table; unknown lowest.
    Rate,
    /// Messages waiting.
    Queue,
    /// Restarts by its supervisor.
    Restarts,
    /// Share of time in handlers since the previous table; unknown lowest.
    Busy,
    /// Time since the instance started.
    Uptime,
    /// A stuck handler, then a growing queue.
    Warnings,
    /// A sort this agent does not know (sent by a newer client): pid order.
    #[cfg_attr(feature = "protocol", serde(other))]
    Unknown,
}

/// Which rows of the table a client wants. Every field may be left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "protocol", derive(Serialize, serde::Deserialize))]
#[cfg_attr(feature = "protocol", serde(default))]
pub struct TableQuery {
    /// The sort column.
    pub sort: TableSort,
    /// Largest first; ties are always in pid order.
    pub descending: bool,
    /// Keep rows whose name, child id, pid (`<0.42>`), type or status contains this,
    /// ignoring case; empty keeps every row. Cut to [`MAX_FILTER_BYTES`].
    pub filter: String,
    /// Include noex's own processes.
    pub system: bool,
    /// The first row wanted, counted in the sorted, filtered table.
    pub offset: u64,
    /// How many rows, at most [`MAX_TABLE_ROWS`].
    pub limit: u32,
    /// Move the window so it holds this process, if it is in the table: keeps a
    /// selected row in view while the order changes under it.
    pub around: Option<Pid>,
}

/// One row of the window: which process, and what only the agent can work out.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct TableRow {
    /// The process; its details are in the reply's snapshot.
    pub pid: Pid,
    /// Messages per second since the previous table; `None` for a supervisor or a
    /// process the previous table did not see.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub rate: Option<f64>,
    /// Share of the time since the previous table spent in handlers, 0 to 100.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub busy_pct: Option<f64>,
    /// The queue is longer than at the previous table.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub queue_growing: bool,
}

/// How many children a supervisor of the reply has in all (its `children` list in the
/// reply holds only those in the window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct ChildCount {
    /// The supervisor.
    pub pid: Pid,
    /// All of its children, running or not.
    pub children: u64,
}

/// The answer to `table`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct TableView {
    /// The application's figures (`process_count`, `total_messages`, memory) as in a
    /// whole snapshot, but `servers` and `supervisors` hold only the window's processes
    /// and the supervisors above them, whose `children` hold only those.
    pub snapshot: Snapshot,
    /// The window, in table order.
    pub rows: Vec<TableRow>,
    /// Where the window starts in the table (moved to hold `around`, and kept inside
    /// the table).
    pub offset: u64,
    /// Rows that pass the filter: the table's length.
    pub matched: u64,
    /// Processes counted before the filter, system ones only when asked for.
    pub processes: u64,
    /// System processes left out (the query did not ask for them).
    pub hidden_system: u64,
    /// Processes whose handler has run longer than [`STUCK_NS`].
    pub stuck: u64,
    /// Processes whose queue grew since the previous table.
    pub queues_growing: u64,
    /// Time since the agent's previous table (for any client), the base of the rates; `None` the
    /// first time.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub interval_ms: Option<u64>,
    /// Messages per second of the application's own servers (not system ones).
    #[cfg_attr(feature = "protocol", serde(default))]
    pub app_rate: Option<f64>,
    /// The full child count of every supervisor in the reply.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub child_counts: Vec<ChildCount>,
}

impl TableQuery {
    /// Whether the rows' names, child ids and types are needed: to sort by name or to
    /// filter. Without them, a source may leave labels out, which saves a lock and a
    /// copy per process.
    pub fn needs_labels(&self) -> bool {
        self.sort == TableSort::Name || !self.filter.trim().is_empty()
    }
}

#[cfg(feature = "server")]
pub use build::{TableCut, TableEntry, TableMemory, build_table, cut_table};

#[cfg(feature = "server")]
mod build {
    use std::borrow::Cow;
    use std::cmp::Ordering;
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::types::{ProcessStatus, SupervisorInfo};

    /// What the agent remembers between tables: each server's counters, in
    /// pid order, for rates. One for the agent: 32 bytes per server, however many
    /// clients ask.
    #[derive(Debug, Default)]
    pub struct TableMemory {
        at_ms: Option<u64>,
        counters: Vec<Counters>,
    }

    #[derive(Clone, Copy, Debug)]
    struct Counters {
        pid: Pid,
        messages: u64,
        busy_ns: u64,
        queue_len: u64,
    }

    /// One process as the table sees it: what sorting, filtering and counting need,
    /// without the rest of what a snapshot carries.
    #[derive(Clone, Debug)]
    pub struct TableEntry<'s> {
        /// The process.
        pub pid: Pid,
        /// A supervisor (no messages, no queue).
        pub supervisor: bool,
        /// Part of noex itself.
        pub system: bool,
        /// Registered name, else child id; may be left out unless
        /// [`TableQuery::needs_labels`].
        pub label: Option<Cow<'s, str>>,
        /// Its child id (for the filter).
        pub child_id: Option<&'s str>,
        /// The server's type; ignored for a supervisor.
        pub type_name: &'s str,
        /// Where it is in its life.
        pub status: ProcessStatus,
        /// Messages handled so far.
        pub messages: u64,
        /// Time in handlers so far.
        pub busy_ns: u64,
        /// Messages waiting now.
        pub queue_len: u64,
        /// How long the handler running now has run.
        pub handler_running_ns: Option<u64>,
        /// Restarts by its supervisor.
        pub restarts: u32,
        /// When this instance started.
        pub started_at_ms: u64,
    }

    /// A table cut to its window, before the window's processes are looked up.
    #[derive(Clone, Debug, PartialEq)]
    pub struct TableCut {
        /// The window, in table order.
        pub rows: Vec<TableRow>,
        /// Where the window starts in the table.
        pub offset: u64,
        /// The table's length.
        pub matched: u64,
        /// Processes counted before the filter.
        pub processes: u64,
        /// System processes left out.
        pub hidden_system: u64,
        /// Stuck handlers.
        pub stuck: u64,
        /// Queues longer than at the previous table.
        pub queues_growing: u64,
        /// Time since the previous table.
        pub interval_ms: Option<u64>,
        /// Messages per second of the app's own servers.
        pub app_rate: Option<f64>,
        /// Messages handled by every server given.
        pub total_messages: u64,
    }

    impl TableCut {
        /// The window's pids.
        pub fn pids(&self) -> HashSet<Pid> {
            self.rows.iter().map(|r| r.pid).collect()
        }

        /// The reply, with `snapshot` holding the window's processes and the
        /// supervisors above them.
        pub fn into_view(self, snapshot: Snapshot, child_counts: Vec<ChildCount>) -> TableView {
            TableView {
                snapshot,
                rows: self.rows,
                offset: self.offset,
                matched: self.matched,
                processes: self.processes,
                hidden_system: self.hidden_system,
                stuck: self.stuck,
                queues_growing: self.queues_growing,
                interval_ms: self.interval_ms,
                app_rate: self.app_rate,
                child_counts,
            }
        }
    }

    /// Sort, filter and window `snapshot` as `query` asks; `memory` is the
    /// agent's, updated for the next table.
    pub fn build_table(
        snapshot: Snapshot,
        query: &TableQuery,
        memory: &mut TableMemory,
    ) -> TableView {
        let entries = snapshot
            .servers
            .iter()
            .map(|s| TableEntry {
                pid: s.pid,
                supervisor: false,
                system: s.system,
                label: s
                    .name
                    .as_deref()
                    .or(s.child_id.as_deref())
                    .map(Cow::Borrowed),
                child_id: s.child_id.as_deref(),
                type_name: &s.type_name,
                status: s.status,
                messages: s.messages,
                busy_ns: s.busy_ns,
                queue_len: s.queue_len,
                handler_running_ns: s.handler_running_ns,
                restarts: s.restarts,
                started_at_ms: s.started_at_ms,
            })
            .chain(snapshot.supervisors.iter().map(|s| {
                TableEntry {
                    pid: s.pid,
                    supervisor: true,
                    system: s.system,
                    label: s
                        .name
                        .as_deref()
                        .or(s.child_id.as_deref())
                        .map(Cow::Borrowed),
                    child_id: s.child_id.as_deref(),
                    type_name: "",
                    status: s.status,
                    messages: 0,
                    busy_ns: 0,
                    queue_len: 0,
                    handler_running_ns: None,
                    restarts: s.restarts,
                    started_at_ms: s.started_at_ms,
                }
            }));
        let cut = cut_table(entries, snapshot.taken_at_ms, query, memory);
        let (snapshot, child_counts) = keep_only(snapshot, &cut.pids());
        cut.into_view(snapshot, child_counts)
    }

    /// Sort, filter and window `entries` (every process, at `now_ms`) as `query`
    /// asks; `memory` is the agent's, updated for the next table. Linear in the
    /// processes but for the window's sort, and 16 bytes per row while it runs (plus
    /// the labels when sorting by name); fastest when `entries` come in pid order.
    pub fn cut_table<'s>(
        entries: impl IntoIterator<Item = TableEntry<'s>>,
        now_ms: u64,
        query: &TableQuery,
        memory: &mut TableMemory,
    ) -> TableCut {
        let interval_ms = memory
            .at_ms
            .map(|at| now_ms.saturating_sub(at))
            .filter(|dt| *dt > 0);
        let previous = std::mem::take(&mut memory.counters);
        let mut earlier = Earlier {
            previous: &previous,
            next: 0,
        };
        let mut counters = Vec::with_capacity(previous.len());
        let needle = Needle::new(&query.filter);
        let by_name = query.sort == TableSort::Name;
        let mut cut = TableCut {
            rows: Vec::new(),
            offset: 0,
            matched: 0,
            processes: 0,
            hidden_system: 0,
            stuck: 0,
            queues_growing: 0,
            interval_ms,
            app_rate: interval_ms.map(|_| 0.0),
            total_messages: 0,
        };
        // Sort keys: a number for every column but the name.
        let mut keyed: Vec<(u64, Pid)> = Vec::new();
        let mut named: Vec<(Option<Cow<'s, str>>, Pid)> = Vec::new();
        for entry in entries {
            let now = Counters {
                pid: entry.pid,
                messages: entry.messages,
                busy_ns: entry.busy_ns,
                queue_len: entry.queue_len,
            };
            let change = if entry.supervisor {
                Change::default()
            } else {
                cut.total_messages += entry.messages;
                counters.push(now);
                Change::between(earlier.find(entry.pid), now, interval_ms)
            };
            if let (Some(total), Some(rate), false) =
                (cut.app_rate.as_mut(), change.rate, entry.system)
            {
                *total += rate;
            }
            if entry.system && !query.system {
                cut.hidden_system += 1;
                continue;
            }
            let stuck = entry.handler_running_ns.is_some_and(|ns| ns > STUCK_NS);
            cut.processes += 1;
            cut.stuck += u64::from(stuck);
            cut.queues_growing += u64::from(change.queue_growing);
            if !needle.matches(&entry) {
                continue;
            }
            if by_name {
                named.push((entry.label, entry.pid));
            } else {
                keyed.push((sort_key(query.sort, &entry, &change, stuck), entry.pid));
            }
        }
        // Pid order makes this a check, not a sort.
        counters.sort_by_key(|c| c.pid);

        let limit = query.limit.min(MAX_TABLE_ROWS) as usize;
        let descending = query.descending;
        let (matched, offset, pids) = if by_name {
            // Named first, by name; then the rest.
            let order = |a: &(Option<Cow<str>>, Pid), b: &(Option<Cow<str>>, Pid)| {
                let primary =
                    a.0.is_none()
                        .cmp(&b.0.is_none())
                        .then_with(|| a.0.cmp(&b.0));
                directed(primary, descending).then(a.1.cmp(&b.1))
            };
            select(&mut named, query, limit, |(_, pid)| *pid, order)
        } else {
            let order = |a: &(u64, Pid), b: &(u64, Pid)| {
                directed(a.0.cmp(&b.0), descending).then(a.1.cmp(&b.1))
            };
            select(&mut keyed, query, limit, |(_, pid)| *pid, order)
        };
        cut.rows = pids
            .into_iter()
            .map(|pid| {
                let change = match counters.binary_search_by_key(&pid, |c| c.pid) {
                    Ok(i) => {
                        Change::between(Earlier::search(&previous, pid), counters[i], interval_ms)
                    }
                    Err(_) => Change::default(),
                };
                TableRow {
                    pid,
                    rate: change.rate,
                    busy_pct: change.busy_pct,
                    queue_growing: change.queue_growing,
                }
            })
            .collect();
        cut.offset = offset as u64;
        cut.matched = matched as u64;
        memory.at_ms = Some(now_ms);
        memory.counters = counters;
        cut
    }

    /// The previous table's counters, looked up in pid order by walking forward.
    struct Earlier<'p> {
        previous: &'p [Counters],
        next: usize,
    }

    impl Earlier<'_> {
        fn find(&mut self, pid: Pid) -> Option<Counters> {
            let rest = &self.previous[self.next..];
            // Entries in pid order walk forward; any other order searches.
            let skip = rest.iter().take(8).take_while(|c| c.pid < pid).count();
            if skip < 8 {
                self.next += skip;
                let found = self
                    .previous
                    .get(self.next)
                    .filter(|c| c.pid == pid)
                    .copied();
                if found.is_some() {
                    self.next += 1;
                }
                return found;
            }
            // Far ahead (many processes ended): search, and walk on from there.
            match self.previous.binary_search_by_key(&pid, |c| c.pid) {
                Ok(i) => {
                    self.next = i + 1;
                    Some(self.previous[i])
                }
                Err(i) => {
                    self.next = i;
                    None
                }
            }
        }

        fn search(previous: &[Counters], pid: Pid) -> Option<Counters> {
            previous
                .binary_search_by_key(&pid, |c| c.pid)
                .ok()
                .map(|i| previous[i])
        }
    }

    /// What changed for a server since the previous table.
    #[derive(Clone, Copy, Default)]
    struct Change {
        rate: Option<f64>,
        busy_pct: Option<f64>,
        queue_growing: bool,
    }

    impl Change {
        fn between(before: Option<Counters>, now: Counters, interval_ms: Option<u64>) -> Change {
            let Some(before) = before else {
                return Change::default();
            };
            let (rate, busy_pct) = interval_ms
                .map(|dt| {
                    let dt = dt as f64;
                    let rate = now.messages.saturating_sub(before.messages) as f64 * 1_000.0 / dt;
                    let busy = now.busy_ns.saturating_sub(before.busy_ns) as f64
                        / (dt * 1_000_000.0)
                        * 100.0;
                    (rate, busy.min(100.0))
                })
                .unzip();
            Change {
                rate,
                busy_pct,
                queue_growing: now.queue_len > before.queue_len,
            }
        }
    }

    /// `ordering`, reversed for a descending sort.
    fn directed(ordering: Ordering, descending: bool) -> Ordering {
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    }

    /// A process's place under `sort` (all but the name) as one number: larger sorts
    /// later ascending.
    fn sort_key(sort: TableSort, entry: &TableEntry, change: &Change, stuck: bool) -> u64 {
        // Unknown lowest; rates are never negative, so their bits order as numbers.
        let measured = |value: Option<f64>| value.map_or(0, |v| v.max(0.0).to_bits() + 1);
        match sort {
            TableSort::Pid | TableSort::Name | TableSort::Unknown => entry.pid.0,
            TableSort::Status => STATUS_ORDER
                .iter()
                .position(|s| *s == entry.status.as_str())
                .unwrap_or(STATUS_ORDER.len()) as u64,
            TableSort::Rate => measured(change.rate),
            TableSort::Queue => entry.queue_len,
            TableSort::Restarts => u64::from(entry.restarts),
            TableSort::Busy => measured(change.busy_pct),
            // Youngest first ascending, as uptime grows.
            TableSort::Uptime => u64::MAX - entry.started_at_ms,
            // A stuck handler outranks a growing queue.
            TableSort::Warnings => u64::from(stuck) * 2 + u64::from(change.queue_growing),
        }
    }

    /// Status names in the order they sort (by name, as the dashboard sorts them).
    const STATUS_ORDER: [&str; 5] = ["initializing", "running", "stopped", "stopping", "unknown"];

    /// The table's length, where the window starts (moved to hold `query.around`, and
    /// kept inside the table), and the window's pids in order.
    fn select<T>(
        rows: &mut [T],
        query: &TableQuery,
        limit: usize,
        pid: impl Fn(&T) -> Pid,
        order: impl Fn(&T, &T) -> Ordering,
    ) -> (usize, usize, Vec<Pid>) {
        let matched = rows.len();
        let mut offset =
            (query.offset.min(usize::MAX as u64) as usize).min(matched.saturating_sub(limit));
        if let Some(around) = query.around
            && let Some(target) = rows.iter().position(|r| pid(r) == around)
        {
            // Its place in the table: how many rows sort before it.
            let target = &rows[target];
            let place = rows
                .iter()
                .filter(|r| order(r, target) == Ordering::Less)
                .count();
            if place < offset {
                offset = place;
            } else if place >= offset + limit {
                offset = place + 1 - limit.max(1);
            }
        }
        let pids = window(rows, offset, limit, &order)
            .iter()
            .map(&pid)
            .collect();
        (matched, offset, pids)
    }

    /// The rows `offset..offset + limit` of `rows` in `order`, without sorting
    /// the rest: two selections and a sort of the window, linear in the table.
    fn window<T>(
        rows: &mut [T],
        offset: usize,
        limit: usize,
        order: impl Fn(&T, &T) -> Ordering,
    ) -> &mut [T] {
        let end = (offset + limit).min(rows.len());
        if offset >= end {
            return &mut [];
        }
        if end < rows.len() {
            rows.select_nth_unstable_by(end, &order);
        }
        let head = &mut rows[..end];
        if offset > 0 {
            head.select_nth_unstable_by(offset, &order);
        }
        let window = &mut head[offset..];
        window.sort_unstable_by(&order);
        window
    }

    /// The filter, lowercased once.
    struct Needle(String);

    impl Needle {
        fn new(filter: &str) -> Needle {
            let filter = crate::text::clip(filter.trim(), MAX_FILTER_BYTES);
            Needle(filter.to_lowercase())
        }

        fn matches(&self, entry: &TableEntry) -> bool {
            if self.0.is_empty() {
                return true;
            }
            let pid = format!("<0.{}>", entry.pid.0);
            let type_name = if entry.supervisor {
                "supervisor"
            } else {
                entry.type_name
            };
            [
                entry.label.as_deref(),
                entry.child_id,
                Some(pid.as_str()),
                Some(type_name),
                Some(entry.status.as_str()),
            ]
            .into_iter()
            .flatten()
            .any(|field| contains_ignoring_case(field, &self.0))
        }
    }

    /// Whether `haystack` contains the lowercase `needle`, ignoring case; allocates only
    /// for text beyond ASCII.
    fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
        if haystack.is_ascii() && needle.is_ascii() {
            let (h, n) = (haystack.as_bytes(), needle.as_bytes());
            n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
        } else {
            haystack.to_lowercase().contains(needle)
        }
    }

    /// Keep only `wanted` and the supervisors above them, each supervisor listing only
    /// kept children; and every kept supervisor's full child count.
    fn keep_only(mut snapshot: Snapshot, wanted: &HashSet<Pid>) -> (Snapshot, Vec<ChildCount>) {
        let parents: HashMap<Pid, Option<Pid>> = snapshot
            .supervisors
            .iter()
            .map(|s| (s.pid, s.parent))
            .collect();
        let mut keep = wanted.clone();
        let servers = std::mem::take(&mut snapshot.servers);
        snapshot.servers = servers
            .into_iter()
            .filter(|s| wanted.contains(&s.pid))
            .inspect(|s| add_ancestors(s.parent, &parents, &mut keep))
            .collect();
        for supervisor in snapshot
            .supervisors
            .iter()
            .filter(|s| wanted.contains(&s.pid))
        {
            add_ancestors(supervisor.parent, &parents, &mut keep);
        }
        let supervisors = std::mem::take(&mut snapshot.supervisors);
        let mut child_counts = Vec::new();
        snapshot.supervisors = supervisors
            .into_iter()
            .filter(|s| keep.contains(&s.pid))
            .map(|mut s: SupervisorInfo| {
                child_counts.push(ChildCount {
                    pid: s.pid,
                    children: s.children.len() as u64,
                });
                s.children
                    .retain(|c| c.pid.is_some_and(|pid| keep.contains(&pid)));
                s
            })
            .collect();
        (snapshot, child_counts)
    }

    fn add_ancestors(
        mut parent: Option<Pid>,
        parents: &HashMap<Pid, Option<Pid>>,
        keep: &mut HashSet<Pid>,
    ) {
        while let Some(pid) = parent {
            if !keep.insert(pid) {
                return;
            }
            parent = parents.get(&pid).copied().flatten();
        }
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;
    use crate::types::{
        ChildInfo, ChildKind, Intensity, ProcessStatus, RestartType, ServerInfo, Strategy,
        SupervisorInfo,
    };

    fn server(pid: u64, queue_len: u64, parent: Option<u64>) -> ServerInfo {
        ServerInfo {
            pid: Pid(pid),
            name: None,
            child_id: Some(format!("job-{pid}")),
            parent: parent.map(Pid),
            type_name: "Job".into(),
            status: ProcessStatus::Running,
            messages: 0,
            queue_len,
            started_at_ms: 0,
            restarts: 0,
            busy_ns: 0,
            handler_running_ns: None,
            last_error: None,
            system: false,
        }
    }

    fn supervisor(pid: u64, children: &[u64]) -> SupervisorInfo {
        SupervisorInfo {
            pid: Pid(pid),
            name: Some("jobs".into()),
            child_id: None,
            parent: None,
            status: ProcessStatus::Running,
            strategy: Strategy::SimpleOneForOne,
            intensity: Intensity {
                max_restarts: 3,
                within_ms: 5_000,
            },
            children: children
                .iter()
                .map(|&pid| ChildInfo {
                    id: format!("job-{pid}"),
                    pid: Some(Pid(pid)),
                    restart: RestartType::Permanent,
                    kind: ChildKind::Worker,
                })
                .collect(),
            child_restarts: 0,
            restarts: 0,
            started_at_ms: 0,
            last_error: None,
            system: false,
        }
    }

    /// A supervisor `<0.1>` over servers `<0.10>`..`<0.29>`, whose queue is their pid
    /// modulo 7; `<0.30>` is a system server.
    fn jobs(taken_at_ms: u64) -> Snapshot {
        let pids: Vec<u64> = (10..30).collect();
        let mut servers: Vec<ServerInfo> =
            pids.iter().map(|&p| server(p, p % 7, Some(1))).collect();
        let mut system = server(30, 0, None);
        system.system = true;
        system.type_name = "AgentConnection".into();
        servers.push(system);
        Snapshot {
            taken_at_ms,
            app: "test".into(),
            os_pid: 1,
            uptime_ms: 0,
            process_count: 22,
            total_messages: 0,
            memory_rss_bytes: None,
            servers,
            supervisors: vec![supervisor(1, &pids)],
        }
    }

    fn query(sort: TableSort, descending: bool, offset: u64, limit: u32) -> TableQuery {
        TableQuery {
            sort,
            descending,
            offset,
            limit,
            ..TableQuery::default()
        }
    }

    fn pids(view: &TableView) -> Vec<u64> {
        view.rows.iter().map(|r| r.pid.0).collect()
    }

    #[test]
    fn the_agent_sorts_then_windows_ties_in_pid_order() {
        let mut memory = TableMemory::default();
        let view = build_table(jobs(0), &query(TableSort::Queue, true, 0, 5), &mut memory);
        // Queue 6: pids 13, 20, 27; queue 5: 12, 19, 26.
        assert_eq!(pids(&view), [13, 20, 27, 12, 19]);
        assert_eq!(view.matched, 21, "20 jobs and their supervisor");
        assert_eq!(view.processes, 21);
        assert_eq!(view.hidden_system, 1);

        let next = build_table(jobs(0), &query(TableSort::Queue, true, 5, 5), &mut memory);
        assert_eq!(next.offset, 5);
        assert_eq!(pids(&next), [26, 11, 18, 25, 10]);

        let whole = build_table(jobs(0), &query(TableSort::Queue, true, 0, 100), &mut memory);
        let mut sorted = pids(&whole);
        assert_eq!(&sorted[..10], [13, 20, 27, 12, 19, 26, 11, 18, 25, 10]);
        sorted.sort_unstable();
        assert_eq!(sorted, (1..2).chain(10..30).collect::<Vec<_>>());
    }

    #[test]
    fn a_window_past_the_end_is_moved_back_inside_the_table() {
        let mut memory = TableMemory::default();
        let view = build_table(
            jobs(0),
            &query(TableSort::Pid, false, 1_000, 4),
            &mut memory,
        );
        assert_eq!(view.offset, 17);
        assert_eq!(pids(&view), [26, 27, 28, 29]);
        let capped = build_table(
            jobs(0),
            &query(TableSort::Pid, false, 0, u32::MAX),
            &mut memory,
        );
        assert_eq!(capped.rows.len(), 21, "at most MAX_TABLE_ROWS, here all");
    }

    #[test]
    fn around_moves_the_window_to_hold_the_selected_process() {
        let mut memory = TableMemory::default();
        let mut wanted = query(TableSort::Pid, false, 0, 4);
        wanted.around = Some(Pid(13));
        let view = build_table(jobs(0), &wanted, &mut memory);
        assert_eq!(
            pids(&view),
            [10, 11, 12, 13],
            "just below the window: one step"
        );
        wanted.around = Some(Pid(20));
        let view = build_table(jobs(0), &wanted, &mut memory);
        // <0.20> is the 11th row (after <0.1> and <0.10>..<0.19>): the last of the window.
        assert_eq!(pids(&view), [17, 18, 19, 20]);
        wanted.offset = 15;
        wanted.around = Some(Pid(12));
        let view = build_table(jobs(0), &wanted, &mut memory);
        assert_eq!(
            pids(&view)[0],
            12,
            "a window below the process moves up to it"
        );
        wanted.around = Some(Pid(999));
        let view = build_table(jobs(0), &wanted, &mut memory);
        assert_eq!(
            view.offset, 15,
            "an unknown pid leaves the window where it was"
        );
    }

    #[test]
    fn rates_are_against_the_agents_previous_table() {
        let mut memory = TableMemory::default();
        let first = build_table(
            jobs(1_000),
            &query(TableSort::Rate, true, 0, 3),
            &mut memory,
        );
        assert_eq!(first.interval_ms, None);
        assert_eq!(first.app_rate, None);
        assert!(first.rows.iter().all(|r| r.rate.is_none()));

        let mut later = jobs(3_000);
        for server in &mut later.servers {
            if server.pid == Pid(15) {
                server.messages = 400;
                server.busy_ns = 500_000_000;
                server.queue_len += 1;
            }
        }
        let second = build_table(later, &query(TableSort::Rate, true, 0, 3), &mut memory);
        assert_eq!(second.interval_ms, Some(2_000));
        assert_eq!(second.rows[0].pid, Pid(15));
        // 400 messages over the 2 s between the snapshots' times; 0.5 s busy of 2 s.
        assert_eq!(second.rows[0].rate, Some(200.0));
        assert_eq!(second.rows[0].busy_pct, Some(25.0));
        assert!(second.rows[0].queue_growing);
        assert_eq!(second.queues_growing, 1);
        assert_eq!(second.app_rate, Some(200.0));
        assert_eq!(second.rows[1].rate, Some(0.0));
    }

    #[test]
    fn rates_follow_each_server_when_many_others_ended_in_between() {
        let mut memory = TableMemory::default();
        build_table(
            jobs(1_000),
            &query(TableSort::Pid, false, 0, 0),
            &mut memory,
        );
        let mut later = jobs(2_000);
        // Twelve servers ended: the walk through the previous counters jumps them.
        later.servers.retain(|s| !(10..22).contains(&s.pid.0));
        for server in &mut later.servers {
            server.messages = server.pid.0;
        }
        let view = build_table(later, &query(TableSort::Rate, true, 0, 3), &mut memory);
        let rates: Vec<_> = view.rows.iter().map(|r| (r.pid.0, r.rate)).collect();
        // (<0.30> is a system server, left out.)
        assert_eq!(
            rates,
            [(29, Some(29.0)), (28, Some(28.0)), (27, Some(27.0))]
        );
    }

    #[test]
    fn the_filter_ignores_case_and_matches_names_pids_types_and_status() {
        let mut memory = TableMemory::default();
        let mut filtered = |filter: &str, system: bool| {
            let wanted = TableQuery {
                filter: filter.into(),
                system,
                limit: 100,
                ..TableQuery::default()
            };
            build_table(jobs(0), &wanted, &mut memory)
        };
        assert_eq!(
            pids(&filtered("JOB-1", false)).len(),
            10,
            "job-1, job-10..job-19"
        );
        assert_eq!(pids(&filtered("<0.12>", false)), [12]);
        assert_eq!(pids(&filtered("supervisor", false)), [1]);
        assert_eq!(filtered("RUNNING", false).matched, 21);
        assert_eq!(pids(&filtered("agentconn", false)), Vec::<u64>::new());
        let with_system = filtered("agentconn", true);
        assert_eq!(pids(&with_system), [30]);
        assert_eq!((with_system.processes, with_system.hidden_system), (22, 0));
    }

    #[test]
    fn the_reply_holds_the_window_and_the_supervisors_above_it() {
        let mut memory = TableMemory::default();
        let view = build_table(jobs(0), &query(TableSort::Queue, true, 0, 2), &mut memory);
        let servers: Vec<u64> = view.snapshot.servers.iter().map(|s| s.pid.0).collect();
        assert_eq!(servers, [13, 20]);
        assert_eq!(view.snapshot.supervisors.len(), 1, "their supervisor");
        let children: Vec<_> = view.snapshot.supervisors[0]
            .children
            .iter()
            .map(|c| c.pid)
            .collect();
        assert_eq!(children, [Some(Pid(13)), Some(Pid(20))]);
        assert_eq!(
            view.child_counts,
            [ChildCount {
                pid: Pid(1),
                children: 20
            }]
        );
        assert_eq!(
            view.snapshot.process_count, 22,
            "the app's figures stay whole"
        );
    }
}
