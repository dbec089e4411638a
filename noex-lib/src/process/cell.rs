//! One process's shared record: identity, status, counters, exit signal.
//!
//! The server's own task is the only writer of its message counters, so counting a
//! message is a relaxed load and store (no lock, no allocation, no read-modify-write).
//! Senders bump `enqueued` on their side; the queue length is the difference.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use noex_agent::types::{
    ChildInfo, Intensity, ProcessStatus, ServerInfo, Strategy, SupervisorInfo,
};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::{ExitReason, Pid};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProcessKind {
    Server,
    Supervisor,
}

/// Message counters, each on its own cache line: senders and the server's task
/// write different ones, and must not slow each other down.
#[derive(Default)]
pub(crate) struct Counters {
    enqueued: CachePadded<AtomicU64>,
    handled: CachePadded<AtomicU64>,
    busy_ns: AtomicU64,
    /// The [`clock`](super::clock) reading when the running handler started; 0 when idle.
    handler_since: AtomicU64,
}

#[derive(Default)]
#[repr(align(64))]
struct CachePadded<T>(T);

impl Counters {
    #[inline]
    pub(crate) fn on_enqueue(&self) {
        self.enqueued.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Called by the server's task only.
    #[inline]
    pub(crate) fn on_dequeue(&self) {
        let handled = &self.handled.0;
        handled.store(handled.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Called by the server's task only; returns the start time to pass to `handler_finished`.
    #[inline]
    pub(crate) fn handler_started(&self) -> u64 {
        let now = super::clock::now_ns().max(1);
        self.handler_since.store(now, Ordering::Relaxed);
        now
    }

    /// Called by the server's task only.
    #[inline]
    pub(crate) fn handler_finished(&self, started: u64) {
        let elapsed = super::clock::now_ns().saturating_sub(started);
        self.handler_since.store(0, Ordering::Relaxed);
        let busy = self.busy_ns.load(Ordering::Relaxed);
        self.busy_ns.store(busy + elapsed, Ordering::Relaxed);
    }

    /// How long the running handler has been running; `None` when idle.
    pub(crate) fn handler_running_ns(&self) -> Option<u64> {
        match self.handler_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(super::clock::now_ns().saturating_sub(since)),
        }
    }

    pub(crate) fn handled(&self) -> u64 {
        self.handled.0.load(Ordering::Relaxed)
    }

    pub(crate) fn queue_len(&self) -> u64 {
        // Read `handled` first: it never passes `enqueued`, so the difference never underflows.
        let handled = self.handled.0.load(Ordering::Relaxed);
        self.enqueued
            .0
            .load(Ordering::Relaxed)
            .saturating_sub(handled)
    }
}

/// Set once when the process exits; waiters are woken.
#[derive(Default)]
pub(crate) struct ExitSignal {
    reason: OnceLock<ExitReason>,
    notify: Notify,
}

impl ExitSignal {
    pub(crate) fn set(&self, reason: ExitReason) {
        let _ = self.reason.set(reason);
        self.notify.notify_waiters();
    }

    pub(crate) async fn wait(&self) -> ExitReason {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(reason) = self.reason.get() {
                return reason.clone();
            }
            notified.await;
        }
    }
}

/// What a supervisor publishes about itself for the Observer; updated by the
/// supervisor whenever its children change, read without asking it.
pub(crate) struct SupervisorView {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) state: Mutex<SupervisorViewState>,
}

#[derive(Default)]
pub(crate) struct SupervisorViewState {
    pub(crate) children: Vec<ChildInfo>,
    pub(crate) restarts: u32,
}

pub(crate) struct ProcessCell {
    pub(crate) pid: Pid,
    pub(crate) kind: ProcessKind,
    pub(crate) type_name: &'static str,
    pub(crate) system: bool,
    pub(crate) parent: Option<Pid>,
    pub(crate) child_id: Option<Arc<str>>,
    /// Restarts of this child before this instance (carried across restarts).
    pub(crate) restarts: u32,
    pub(crate) started_at_ms: u64,
    status: AtomicU8,
    pub(crate) counters: Counters,
    pub(crate) name: Mutex<Option<Arc<str>>>,
    pub(crate) last_error: Mutex<Option<String>>,
    /// Set before aborting the task, so the exit is reported with this reason.
    pub(crate) kill_reason: Mutex<Option<ExitReason>>,
    pub(crate) abort: OnceLock<AbortHandle>,
    pub(crate) exit: ExitSignal,
    pub(crate) supervisor: Option<SupervisorView>,
}

pub(crate) struct CellInit {
    pub(crate) pid: Pid,
    pub(crate) kind: ProcessKind,
    pub(crate) type_name: &'static str,
    pub(crate) system: bool,
    pub(crate) parent: Option<Pid>,
    pub(crate) child_id: Option<Arc<str>>,
    pub(crate) restarts: u32,
    pub(crate) last_error: Option<String>,
    pub(crate) supervisor: Option<SupervisorView>,
}

impl ProcessCell {
    pub(crate) fn new(init: CellInit) -> Self {
        ProcessCell {
            pid: init.pid,
            kind: init.kind,
            type_name: init.type_name,
            system: init.system,
            parent: init.parent,
            child_id: init.child_id,
            restarts: init.restarts,
            started_at_ms: super::now_ms(),
            status: AtomicU8::new(STATUS_INITIALIZING),
            counters: Counters::default(),
            name: Mutex::new(None),
            last_error: Mutex::new(init.last_error),
            kill_reason: Mutex::new(None),
            abort: OnceLock::new(),
            exit: ExitSignal::default(),
            supervisor: init.supervisor,
        }
    }

    pub(crate) fn status(&self) -> ProcessStatus {
        match self.status.load(Ordering::Acquire) {
            STATUS_INITIALIZING => ProcessStatus::Initializing,
            STATUS_RUNNING => ProcessStatus::Running,
            STATUS_STOPPING => ProcessStatus::Stopping,
            _ => ProcessStatus::Stopped,
        }
    }

    pub(crate) fn set_status(&self, status: ProcessStatus) {
        let raw = match status {
            ProcessStatus::Initializing => STATUS_INITIALIZING,
            ProcessStatus::Running => STATUS_RUNNING,
            ProcessStatus::Stopping => STATUS_STOPPING,
            ProcessStatus::Stopped | ProcessStatus::Unknown => STATUS_STOPPED,
        };
        self.status.store(raw, Ordering::Release);
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.status() != ProcessStatus::Stopped
    }

    pub(crate) fn name(&self) -> Option<Arc<str>> {
        self.name.lock().clone()
    }

    /// End the process at its next await point, reporting `reason` as its exit.
    pub(crate) fn kill(&self, reason: ExitReason) {
        self.kill_reason.lock().get_or_insert(reason);
        if let Some(abort) = self.abort.get() {
            abort.abort();
        }
    }

    pub(crate) fn server_info(&self) -> ServerInfo {
        ServerInfo {
            pid: self.pid,
            name: self.name().map(|n| n.to_string()),
            child_id: self.child_id.as_deref().map(str::to_string),
            parent: self.parent,
            type_name: self.type_name.to_string(),
            status: self.status(),
            messages: self.counters.handled(),
            queue_len: self.counters.queue_len(),
            started_at_ms: self.started_at_ms,
            restarts: self.restarts,
            busy_ns: self.counters.busy_ns.load(Ordering::Relaxed),
            handler_running_ns: self.counters.handler_running_ns(),
            last_error: self.last_error.lock().clone(),
            system: self.system,
        }
    }

    pub(crate) fn supervisor_info(&self) -> Option<SupervisorInfo> {
        let view = self.supervisor.as_ref()?;
        let state = view.state.lock();
        Some(SupervisorInfo {
            pid: self.pid,
            name: self.name().map(|n| n.to_string()),
            child_id: self.child_id.as_deref().map(str::to_string),
            parent: self.parent,
            status: self.status(),
            strategy: view.strategy,
            intensity: view.intensity,
            children: state.children.clone(),
            restarts: state.restarts,
            restarted: self.restarts,
            started_at_ms: self.started_at_ms,
            last_error: self.last_error.lock().clone(),
            system: self.system,
        })
    }
}

const STATUS_INITIALIZING: u8 = 0;
const STATUS_RUNNING: u8 = 1;
const STATUS_STOPPING: u8 = 2;
const STATUS_STOPPED: u8 = 3;
