//! The dashboard's table, read from the process table without building a snapshot: a
//! window of forty rows out of a million costs a walk over the cells' counters, not a
//! million `ServerInfo`s. Only the window's processes, and the supervisors above them,
//! are then read in full.

use std::borrow::Cow;
use std::collections::HashSet;

use noex_agent::table::{ChildCount, TableEntry, TableMemory, TableQuery, TableView, cut_table};
use noex_agent::types::{Pid, ServerInfo, Snapshot, SupervisorInfo};

use crate::clock::now_ms;
use crate::observer;
use crate::process::{CellRef, ProcessKind, processes, release, touch_ahead};
use crate::type_names::SharedTypeNames;

/// A window of the table as `query` asks, with rates against `memory`.
pub(crate) fn table(query: &TableQuery, memory: &mut TableMemory) -> TableView {
    let cells = processes().cells();
    let labels = query.needs_labels();
    let now = now_ms();
    let entries = touch_ahead(&cells).map(|cell| entry(cell, labels));
    let mut view = cut_table(entries, now, query, memory);
    let process_count = cells.len() as u64;
    release(cells);
    let (servers, supervisors, child_counts) = window(&view.pids());
    view.snapshot = Snapshot {
        app: observer::app_name(),
        os_pid: std::process::id(),
        uptime_ms: processes().uptime().as_millis() as u64,
        process_count,
        memory_rss_bytes: observer::resident_bytes(),
        servers,
        supervisors,
        // The time and the messages counted by the cut.
        ..view.snapshot
    };
    view.child_counts = child_counts;
    view
}

fn entry(cell: &CellRef, labels: bool) -> TableEntry<'_> {
    let supervisor = cell.kind == ProcessKind::Supervisor;
    let label = labels
        .then(|| match cell.name() {
            Some(name) => Some(Cow::Owned(name.to_string())),
            None => cell.child_id.as_deref().map(Cow::Borrowed),
        })
        .flatten();
    TableEntry {
        pid: cell.pid,
        supervisor,
        system: cell.system,
        label,
        child_id: cell.child_id.as_deref(),
        // Shortening the type's path searches it: only for the filter.
        type_name: if labels { cell.type_name() } else { "" },
        status: cell.status().into(),
        messages: if supervisor {
            0
        } else {
            cell.counters.handled()
        },
        busy_ns: cell.counters.busy_ns(),
        queue_len: if supervisor { 0 } else { cell.queue_len() },
        handler_running_ns: cell.counters.handler_running_ns(),
        restarts: cell.restarts,
        started_at_ms: cell.started_at_ms,
        // A lookup for a process that has details, only for the filter.
        state: labels
            .then(|| crate::process::details::describe_cell(cell))
            .flatten()
            .map(Cow::Owned),
    }
}

/// The servers of `wanted` in full, the supervisors among and above them listing
/// only the children kept, and every such supervisor's full child count.
fn window(wanted: &HashSet<Pid>) -> (Vec<ServerInfo>, Vec<SupervisorInfo>, Vec<ChildCount>) {
    let mut keep = wanted.clone();
    let mut servers = Vec::new();
    let mut above = Vec::new();
    let mut type_names = SharedTypeNames::default();
    for &pid in wanted {
        let Some(cell) = processes().get(pid) else {
            continue;
        };
        if cell.kind == ProcessKind::Server {
            servers.push(cell.server_info(&mut type_names));
        }
        let mut parent = cell.parent();
        while let Some(pid) = parent {
            if !keep.insert(pid) {
                break;
            }
            above.push(pid);
            parent = processes().get(pid).and_then(|cell| cell.parent());
        }
    }
    let mut supervisors = Vec::new();
    let mut child_counts = Vec::new();
    let supervisor_pids = wanted.iter().copied().chain(above);
    for cell in supervisor_pids.filter_map(|pid| processes().get(pid)) {
        let listed =
            |child: &crate::process::ListedChild| child.pid.is_some_and(|pid| keep.contains(&pid));
        if let Some((info, children)) = cell.supervisor_info_listing(listed) {
            child_counts.push(ChildCount {
                pid: info.pid,
                children,
            });
            supervisors.push(info);
        }
    }
    servers.sort_unstable_by_key(|s| s.pid);
    supervisors.sort_unstable_by_key(|s| s.pid);
    child_counts.sort_unstable_by_key(|c| c.pid);
    (servers, supervisors, child_counts)
}
