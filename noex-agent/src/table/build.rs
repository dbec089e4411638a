//! Cutting the table: sort keys, filter, counts, rates against the previous table, and
//! the window picked without sorting the rest.

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
    /// What the process says it is doing (for the filter); may be left out unless
    /// [`TableQuery::needs_labels`].
    pub state: Option<Cow<'s, str>>,
}

impl TableView {
    /// The window's pids.
    pub fn pids(&self) -> HashSet<Pid> {
        self.rows.iter().map(|r| r.pid).collect()
    }
}

/// Sort, filter and window `snapshot` as `query` asks; `memory` is the
/// agent's, updated for the next table.
pub fn build_table(snapshot: Snapshot, query: &TableQuery, memory: &mut TableMemory) -> TableView {
    let entries = snapshot
        .servers
        .iter()
        .map(|s| TableEntry {
            pid: s.pid,
            supervisor: false,
            system: s.system,
            label: label(&s.name, &s.child_id),
            child_id: s.child_id.as_deref(),
            type_name: &s.type_name,
            status: s.status,
            messages: s.messages,
            busy_ns: s.busy_ns,
            queue_len: s.queue_len,
            handler_running_ns: s.handler_running_ns,
            restarts: s.restarts,
            started_at_ms: s.started_at_ms,
            state: s.state.as_deref().map(Cow::Borrowed),
        })
        .chain(snapshot.supervisors.iter().map(|s| TableEntry {
            pid: s.pid,
            supervisor: true,
            system: s.system,
            label: label(&s.name, &s.child_id),
            child_id: s.child_id.as_deref(),
            type_name: "",
            status: s.status,
            messages: 0,
            busy_ns: 0,
            queue_len: 0,
            handler_running_ns: None,
            restarts: s.restarts,
            started_at_ms: s.started_at_ms,
            state: None,
        }));
    let mut view = cut_table(entries, snapshot.taken_at_ms, query, memory);
    (view.snapshot, view.child_counts) = keep_only(snapshot, &view.pids());
    view
}

/// Registered name, else child id.
fn label<'s>(name: &'s Option<String>, child_id: &'s Option<String>) -> Option<Cow<'s, str>> {
    name.as_deref().or(child_id.as_deref()).map(Cow::Borrowed)
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
) -> TableView {
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
    let mut needle = Needle::new(&query.filter);
    let by_name = query.sort == TableSort::Name;
    // The window's processes are the caller's to add: the snapshot carries the
    // time and the messages counted here.
    let mut cut = TableView {
        snapshot: Snapshot {
            taken_at_ms: now_ms,
            ..Snapshot::default()
        },
        rows: Vec::new(),
        offset: 0,
        matched: 0,
        processes: 0,
        hidden_system: 0,
        stuck: 0,
        queues_growing: 0,
        interval_ms,
        app_rate: interval_ms.map(|_| 0.0),
        child_counts: Vec::new(),
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
            cut.snapshot.total_messages += entry.messages;
            counters.push(now);
            Change::between(earlier.find(entry.pid), now, interval_ms)
        };
        if let (Some(total), Some(rate), false) = (cut.app_rate.as_mut(), change.rate, entry.system)
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
                Ok(i) => Change::between(Earlier::search(&previous, pid), counters[i], interval_ms),
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
                let busy =
                    now.busy_ns.saturating_sub(before.busy_ns) as f64 / (dt * 1_000_000.0) * 100.0;
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
struct Needle {
    lowercase: String,
    /// The pid's text, written here for each process rather than allocated.
    pid: String,
}

impl Needle {
    fn new(filter: &str) -> Needle {
        let filter = crate::text::clip(filter.trim(), MAX_FILTER_BYTES);
        Needle {
            lowercase: filter.to_lowercase(),
            pid: String::new(),
        }
    }

    fn matches(&mut self, entry: &TableEntry) -> bool {
        use std::fmt::Write;
        if self.lowercase.is_empty() {
            return true;
        }
        self.pid.clear();
        let _ = write!(self.pid, "<0.{}>", entry.pid.0);
        let type_name = if entry.supervisor {
            "supervisor"
        } else {
            entry.type_name
        };
        [
            entry.label.as_deref(),
            entry.child_id,
            Some(self.pid.as_str()),
            Some(type_name),
            Some(entry.status.as_str()),
            entry.state.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|field| contains_ignoring_case(field, &self.lowercase))
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
