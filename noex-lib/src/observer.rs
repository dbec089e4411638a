//! The Observer: what the application's processes are doing, right now.
//!
//! [`snapshot`] reads every process's counters (atomics, no message to the
//! processes, so a busy server cannot delay it); [`process_tree`] nests them under
//! their supervisors; [`crate::events::subscribe`] streams lifecycle events.

// The snapshot's own types: what a client reads, so their enums keep the `Unknown` a
// newer agent may send. The runtime's types (`supervisor::Strategy`, ...) convert into
// these.
pub use noex_agent::types::{
    ChildInfo, ChildKind, Intensity, LifecycleEvent, ProcessStatus, ProcessTree, RestartType,
    ServerInfo, Snapshot, Strategy, SupervisorInfo, TreeNode,
};

use crate::clock::now_ms;
use crate::process::{ProcessKind, processes, touch_ahead_owned};
use crate::sync::Mutex;
use crate::type_names::SharedTypeNames;

/// The name `set_app_name` gave, or the executable's once first asked for.
static APP_NAME: Mutex<Option<String>> = Mutex::new(None);

/// The application's name, as `noex list` and the dashboard show it: the agent's
/// `app_name` option, or else the executable's name.
pub fn app_name() -> String {
    // The executable's name is looked up once, not at every snapshot.
    APP_NAME
        .lock()
        .get_or_insert_with(noex_agent::types::default_app_name)
        .clone()
}

/// Name the application: the agent does, with its options.
#[cfg(feature = "agent")]
pub(crate) fn set_app_name(name: String) {
    *APP_NAME.lock() = Some(name);
}

/// Everything the Observer knows now: one entry per live process.
pub fn snapshot() -> Snapshot {
    let cells = processes().cells();
    let process_count = cells.len() as u64;
    let mut servers = Vec::with_capacity(cells.len());
    let mut supervisors = Vec::new();
    let mut total_messages = 0;
    let mut type_names = SharedTypeNames::default();
    for cell in touch_ahead_owned(cells) {
        match cell.kind {
            ProcessKind::Server => {
                let info = cell.server_info(&mut type_names);
                total_messages += info.messages;
                servers.push(info);
            }
            ProcessKind::Supervisor => supervisors.extend(cell.supervisor_info()),
        }
    }
    Snapshot {
        taken_at_ms: now_ms(),
        app: app_name(),
        os_pid: std::process::id(),
        uptime_ms: processes().uptime().as_millis() as u64,
        process_count,
        total_messages,
        memory_rss_bytes: resident_bytes(),
        servers,
        supervisors,
    }
}

/// The snapshot as a compact reply's rows (protocol 2.1), written as the process
/// table is read: no [`Snapshot`] is built only to be encoded. Returns the rest of
/// what a snapshot says.
#[cfg(feature = "agent")]
pub(crate) fn snapshot_rows(rows: &mut noex_agent::rows::RowsWriter) -> noex_agent::rows::Envelope {
    let cells = processes().cells();
    let process_count = cells.len() as u64;
    rows.reserve(cells.len());
    let mut total_messages = 0;
    // Processes of one type come in runs: shorten a type's name once per run (the
    // name is one static string per type).
    let mut last: Option<(&'static str, &'static str)> = None;
    for cell in touch_ahead_owned(cells) {
        match cell.kind {
            ProcessKind::Server => {
                let full = (cell.full_type_name())();
                let type_name = match last {
                    Some((last_full, short)) if std::ptr::eq(last_full, full) => short,
                    _ => {
                        let short = crate::type_names::short_type_name(full);
                        last = Some((full, short));
                        short
                    }
                };
                total_messages += cell.write_server_row(type_name, rows);
            }
            ProcessKind::Supervisor => cell.write_supervisor_row(rows),
        }
    }
    noex_agent::rows::Envelope {
        taken_at_ms: now_ms(),
        app: app_name(),
        os_pid: std::process::id(),
        uptime_ms: processes().uptime().as_millis() as u64,
        process_count,
        total_messages,
        memory_rss_bytes: resident_bytes(),
    }
}

/// The supervision tree, children in start order.
pub fn process_tree() -> ProcessTree {
    ProcessTree::from_snapshot(&snapshot())
}

/// How many processes are alive now.
pub fn process_count() -> usize {
    processes().len()
}

/// The OS process's resident memory, from the kernel's own count in kB.
#[cfg(target_os = "linux")]
pub(crate) fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_rss_bytes(&status)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn resident_bytes() -> Option<u64> {
    memory_stats::memory_stats().map(|m| m.physical_mem as u64)
}

/// The `VmRSS:` line of `/proc/<pid>/status` (`VmRSS:    1234 kB`), in bytes.
#[cfg(any(target_os = "linux", test))]
fn vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_the_vm_rss_line_in_bytes() {
        let status = "Name:\tapp\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_bytes(status), Some(1234 * 1024));
        assert_eq!(vm_rss_bytes("Name:\tapp\nThreads:\t4\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn resident_memory_grows_with_memory_in_use() {
        let before = resident_bytes().expect("Linux tells it");
        // Written, so the pages are resident.
        let block = vec![1u8; 64 << 20];
        let after = resident_bytes().expect("Linux tells it");
        assert!(after >= before + (32 << 20), "{before} -> {after}");
        drop(std::hint::black_box(block));
    }
}
