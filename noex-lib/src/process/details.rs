//! What a process of a particular kind tells the Observer beyond the common columns:
//! a state machine's current state, the tables a process owns. The kind registers a
//! source when its process starts (or takes up the role), and keeps it current
//! itself (a state change writes its own cell, not this table); the Observer reads
//! it only when it builds a view, and only for processes flagged as having one.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::cell::HAS_DETAILS;
use super::processes;
use crate::Pid;
use crate::process::PidHasher;

/// A process kind's own facts, read when the Observer builds a view.
pub(crate) trait DetailSource: Send + Sync {
    /// What the process is doing now, in a few words: a state machine's state, the
    /// tables it owns. Shown in `noex ps`'s STATE column and the dashboard's details.
    fn state(&self) -> Option<String> {
        None
    }

    /// Whether this is a state machine's own state (which `gen_statem::current_state`
    /// reads), rather than, say, a table its process owns.
    fn is_machine_state(&self) -> bool {
        false
    }
}

/// A process's sources, each with the number its guard removes it by.
type Sources = HashMap<u64, Vec<(u64, Arc<dyn DetailSource>)>, BuildHasherDefault<PidHasher>>;

static SOURCES: Mutex<Option<Sources>> = Mutex::new(None);
static NEXT_SOURCE: AtomicU64 = AtomicU64::new(1);

fn with_sources<T>(f: impl FnOnce(&mut Sources) -> T) -> T {
    let mut sources = SOURCES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(sources.get_or_insert_with(Sources::default))
}

/// Registers `source` for `pid` until the returned guard drops. A guard kept in the
/// process's own state drops however the process ends (a kill drops the task's
/// future, and the state with it).
pub(crate) fn publish(pid: Pid, source: Arc<dyn DetailSource>) -> DetailGuard {
    let number = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed);
    with_sources(|sources| sources.entry(pid.0).or_default().push((number, source)));
    if let Some(cell) = processes().get(pid) {
        cell.set_flag(HAS_DETAILS, true);
    }
    DetailGuard { pid, number }
}

/// The state machine's own source among `pid`'s, if it is a state machine.
pub(crate) fn machine_source(pid: Pid) -> Option<Arc<dyn DetailSource>> {
    with_sources(|sources| {
        let list = sources.get(&pid.0)?;
        list.iter()
            .find(|(_, source)| source.is_machine_state())
            .map(|(_, source)| source.clone())
    })
}

/// What the process says of itself (see [`DetailSource::state`]): one flag test for
/// a process with no details, the common case.
#[inline]
pub(crate) fn describe_cell(cell: &super::ProcessCell) -> Option<String> {
    if !cell.has_flag(HAS_DETAILS) {
        return None;
    }
    describe(cell.pid)
}

/// What `pid`'s sources say, joined: `None` when none says anything.
fn describe(pid: Pid) -> Option<String> {
    let sources: Vec<Arc<dyn DetailSource>> = with_sources(|sources| {
        sources
            .get(&pid.0)
            .map(|list| list.iter().map(|(_, s)| s.clone()).collect())
            .unwrap_or_default()
    });
    // Outside the lock: a source may take locks of its own.
    let parts: Vec<String> = sources.iter().filter_map(|s| s.state()).collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Removes a source when dropped.
pub(crate) struct DetailGuard {
    pid: Pid,
    number: u64,
}

impl Drop for DetailGuard {
    fn drop(&mut self) {
        with_sources(|sources| {
            if let Some(list) = sources.get_mut(&self.pid.0) {
                list.retain(|(number, _)| *number != self.number);
                if list.is_empty() {
                    sources.remove(&self.pid.0);
                }
            }
        });
    }
}
