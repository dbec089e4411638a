//! The runtime-wide table of live processes, keyed by pid.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use dashmap::DashMap;

use super::ProcessCell;
use crate::Pid;

/// Sharded, so starting and stopping processes on many threads does not contend
/// on one lock; the Observer iterates it only when asked for a snapshot.
#[derive(Default)]
pub(crate) struct ProcessTable {
    next_pid: AtomicU64,
    cells: DashMap<Pid, Arc<ProcessCell>>,
}

impl ProcessTable {
    /// A fresh pid; pids are never reused within a run.
    pub(crate) fn next_pid(&self) -> Pid {
        Pid(self.next_pid.fetch_add(1, Ordering::Relaxed) + 1)
    }

    pub(crate) fn insert(&self, cell: Arc<ProcessCell>) {
        self.cells.insert(cell.pid, cell);
    }

    pub(crate) fn remove(&self, pid: Pid) {
        self.cells.remove(&pid);
    }

    pub(crate) fn get(&self, pid: Pid) -> Option<Arc<ProcessCell>> {
        self.cells.get(&pid).map(|entry| entry.value().clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }

    /// Every live cell, in pid order.
    pub(crate) fn cells(&self) -> Vec<Arc<ProcessCell>> {
        let mut cells: Vec<_> = self.cells.iter().map(|e| e.value().clone()).collect();
        cells.sort_unstable_by_key(|cell| cell.pid);
        cells
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
