//! One process's shared record: identity, status, counters, exit signal.
//!
//! The server's own task is the only writer of its message counters, so counting a
//! message is a relaxed load and store (no lock, no allocation, no read-modify-write).
//! Senders count `enqueued` under the mailbox's lock; the queue length is the difference.

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

/// Message counters. Senders write `enqueued`, the server's task the others: a
/// cache line's worth of padding keeps them apart, so neither slows the other
/// down. Padding rather than alignment: an over-aligned cell would need an aligned
/// (slower) allocation for every process.
#[derive(Default)]
pub(crate) struct Counters {
    enqueued: AtomicU64,
    _apart: [u64; 7],
    handled: AtomicU64,
    busy_ns: AtomicU64,
    /// The [`clock`](super::clock) reading when the running handler started; 0 when idle.
    handler_since: AtomicU64,
}

impl Counters {
    /// Counted by the mailbox, under its lock, as each message is queued.
    #[inline]
    pub(crate) fn enqueued(&self) -> &AtomicU64 {
        &self.enqueued
    }

    /// Called by the server's task only.
    #[inline]
    pub(crate) fn on_dequeue(&self) {
        let handled = &self.handled;
        handled.store(handled.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Called by the server's task only; returns the start time to pass to `handler_finished`.
    #[inline]
    pub(crate) fn handler_started(&self) -> u64 {
        self.handler_started_at(super::clock::now_ns())
    }

    /// A handler starts at `now`, a clock reading the caller already has (the end of
    /// the previous handler, when the next message was waiting).
    #[inline]
    pub(crate) fn handler_started_at(&self, now: u64) -> u64 {
        let now = now.max(1);
        self.handler_since.store(now, Ordering::Relaxed);
        now
    }

    /// Called by the server's task only. Returns the clock reading it took.
    #[inline]
    pub(crate) fn handler_finished(&self, started: u64) -> u64 {
        let now = super::clock::now_ns();
        self.handler_since.store(0, Ordering::Relaxed);
        let busy = self.busy_ns.load(Ordering::Relaxed);
        self.busy_ns
            .store(busy + now.saturating_sub(started), Ordering::Relaxed);
        now
    }

    /// How long the running handler has been running; `None` when idle.
    pub(crate) fn handler_running_ns(&self) -> Option<u64> {
        match self.handler_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(super::clock::now_ns().saturating_sub(since)),
        }
    }

    pub(crate) fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    pub(crate) fn queue_len(&self) -> u64 {
        // Read `handled` first: it never passes `enqueued`, so the difference never underflows.
        let handled = self.handled.load(Ordering::Relaxed);
        self.enqueued
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
    /// `std::any::type_name` of the server; shown shortened by [`Self::type_name`].
    full_type_name: &'static str,
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
    pub(crate) kill_reason: Mutex<Option<Box<ExitReason>>>,
    pub(crate) abort: OnceLock<AbortHandle>,
    pub(crate) exit: ExitSignal,
    /// Boxed: only supervisors have one, and every process would pay for it.
    pub(crate) supervisor: Option<Box<SupervisorView>>,
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
            full_type_name: init.type_name,
            system: init.system,
            parent: init.parent,
            child_id: init.child_id,
            restarts: init.restarts,
            started_at_ms: super::coarse_now_ms(),
            status: AtomicU8::new(STATUS_INITIALIZING),
            counters: Counters::default(),
            name: Mutex::new(None),
            last_error: Mutex::new(init.last_error),
            kill_reason: Mutex::new(None),
            abort: OnceLock::new(),
            exit: ExitSignal::default(),
            supervisor: init.supervisor.map(Box::new),
        }
    }

    /// `my_app::workers::Worker<u8>` -> `Worker<u8>`: the path is noise in a table.
    /// Shortened when asked, not when the process starts.
    pub(crate) fn type_name(&self) -> &'static str {
        let full = self.full_type_name;
        let base_end = full.find('<').unwrap_or(full.len());
        match full[..base_end].rfind("::") {
            Some(at) => &full[at + 2..],
            None => full,
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
        self.kill_reason
            .lock()
            .get_or_insert_with(|| Box::new(reason));
        match self.abort.get() {
            Some(abort) => abort.abort(),
            // Still in `init`, which runs in its starter's task: wake `until_killed`
            // (waiters for the exit just check again).
            None => self.exit.notify.notify_waiters(),
        }
    }

    pub(crate) fn kill_requested(&self) -> bool {
        self.kill_reason.lock().is_some()
    }

    /// `future`'s output, or `None` if the process is killed first.
    pub(crate) async fn until_killed<F: Future>(&self, future: F) -> Option<F::Output> {
        let mut future = std::pin::pin!(future);
        // Most `init`s finish on their first poll: no need to watch for a kill then.
        if let Some(output) = futures::FutureExt::now_or_never(future.as_mut()) {
            return Some(output);
        }
        let killed = async {
            loop {
                let notified = self.exit.notify.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                if self.kill_requested() {
                    return;
                }
                notified.await;
            }
        };
        let mut killed = std::pin::pin!(killed);
        std::future::poll_fn(|cx| {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(cx) {
                return std::task::Poll::Ready(Some(output));
            }
            killed.as_mut().poll(cx).map(|()| None)
        })
        .await
    }

    pub(crate) fn server_info(&self) -> ServerInfo {
        ServerInfo {
            pid: self.pid,
            name: self.name().map(|n| n.to_string()),
            child_id: self.child_id.as_deref().map(str::to_string),
            parent: self.parent,
            type_name: self.type_name().to_string(),
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
