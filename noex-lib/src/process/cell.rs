//! One process's shared record: identity, status, counters, exit signal.
//!
//! The server's own task is the only writer of its message counters, so counting a
//! message is a relaxed load and store (no lock, no allocation, no read-modify-write).
//! Senders count `enqueued` in the mailbox, under its lock; the queue length is the
//! difference.
//!
//! A cell shares one allocation with its server's mailbox (`gen_server::shared`);
//! what is not the server's own handle holds it as a [`CellRef`].

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use noex_agent::types::{EventKind, LifecycleEvent, ServerInfo, SupervisorInfo};
use tokio::task::JoinHandle;

use super::Info;
use super::exit_waiters::ExitWaiters;
use super::signals::Signals;
use super::status::ProcessStatus;
use super::supervisor_view::{ListedChild, SupervisorView};
use crate::sync::Mutex;
use crate::type_names::SharedTypeNames;
use crate::{ExitReason, Pid, clock, events};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProcessKind {
    Server,
    Supervisor,
}

/// Message counters, written by the server's task only. (Senders count in the
/// mailbox, so the two sides never write to one cache line.)
#[derive(Default)]
pub(crate) struct Counters {
    handled: AtomicU64,
    busy_ns: AtomicU64,
    /// The [`clock`](super::clock) reading when the running handler started; 0 when idle.
    handler_since: AtomicU64,
}

impl Counters {
    /// Called by the server's task only.
    #[inline]
    pub(crate) fn on_dequeue(&self) {
        let handled = &self.handled;
        handled.store(handled.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Called by the server's task only. `at` is a clock reading the caller already
    /// has (the end of the previous handler, when the next message was waiting), or
    /// 0 to read the clock.
    #[inline]
    pub(crate) fn handler_started(&self, at: u64) {
        let at = if at == 0 { clock::now_ns() } else { at };
        self.handler_since.store(at.max(1), Ordering::Relaxed);
    }

    /// Called by the server's task only. Returns the clock reading it took. The
    /// start is read back from `handler_since`, so the server's task need not keep
    /// it across the handler.
    #[inline]
    pub(crate) fn handler_finished(&self) -> u64 {
        let now = clock::now_ns();
        let started = self.handler_since.load(Ordering::Relaxed);
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
            since => Some(clock::now_ns().saturating_sub(since)),
        }
    }

    pub(crate) fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    pub(crate) fn busy_ns(&self) -> u64 {
        self.busy_ns.load(Ordering::Relaxed)
    }
}

/// `repr(C)`, with the counters last: the mailbox sits before the cell in their
/// shared allocation, so the whole cell lies between the lock senders take and the
/// counters the server writes. Every idle server carries one, so what is rarely
/// needed is boxed and what changes after the start shares one lock.
#[repr(C)]
pub(crate) struct ProcessCell {
    pub(crate) pid: Pid,
    pub(crate) started_at_ms: u64,
    /// `std::any::type_name` of the server; shown shortened by [`Self::type_name`].
    full_type_name: fn() -> &'static str,
    /// The pid of the supervisor that started it (and is linked to it), 0 for
    /// none: pids start at 1, and an `Option<Pid>` would take 16 bytes.
    parent: u64,
    pub(crate) child_id: Option<Arc<str>>,
    /// Boxed: only supervisors have one, and every process would pay for it.
    pub(crate) supervisor: Option<Box<SupervisorView>>,
    notes: Mutex<Notes>,
    exit_waiters: ExitWaiters,
    /// Restarts of this child before this instance (carried across restarts).
    pub(crate) restarts: u32,
    pub(crate) kind: ProcessKind,
    pub(crate) system: bool,
    status: AtomicU8,
    /// [`TRAPS_EXITS`], [`SHOWS_NOTES`], [`LINKED_TO_PARENT`], [`SIGNALS_CLOSED`]
    /// and [`EXIT_REPORTED`]: bits here rather than fields of the notes, where
    /// each would cost 8 bytes.
    flags: AtomicU8,
    /// The pid of the process this one is calling, 0 for none: its edge in the
    /// waits-for graph (`waiting.rs`).
    pub(crate) waiting_for: AtomicU64,
    pub(crate) counters: Counters,
}

/// What may change after the start, under one lock.
#[derive(Default)]
pub(crate) struct Notes {
    /// Boxed: most processes never have a name or a last error.
    shown: Option<Box<Shown>>,
    /// The reason to report when the process ends: set by a kill before it aborts
    /// the task, and by the task itself on an orderly way out (which wins); once
    /// it has ended ([`EXIT_REPORTED`]), the reason it ended with.
    pub(crate) exit_reason: Option<Box<ExitReason>>,
    /// Set once the server's task runs (a kill before that wakes `until_killed`);
    /// kept to abort it.
    pub(crate) task: Option<JoinHandle<()>>,
    /// Links and monitors; boxed, and made at the first one (most have none).
    pub(crate) signals: Option<Box<Signals>>,
}

/// What the Observer shows of the notes.
#[derive(Default)]
pub(crate) struct Shown {
    pub(crate) name: Option<Arc<str>>,
    pub(crate) last_error: Option<Box<str>>,
}

impl Notes {
    pub(crate) fn name(&self) -> Option<&Arc<str>> {
        self.shown.as_ref()?.name.as_ref()
    }

    pub(crate) fn last_error(&self) -> Option<&str> {
        self.shown.as_ref()?.last_error.as_deref()
    }

    pub(crate) fn take_name(&mut self) -> Option<Arc<str>> {
        self.shown.as_mut()?.name.take()
    }
}

pub(crate) struct CellInit {
    pub(crate) pid: Pid,
    pub(crate) kind: ProcessKind,
    pub(crate) type_name: fn() -> &'static str,
    pub(crate) system: bool,
    pub(crate) parent: Option<Pid>,
    pub(crate) child_id: Option<Arc<str>>,
    pub(crate) restarts: u32,
    pub(crate) last_error: Option<Box<str>>,
    pub(crate) supervisor: Option<SupervisorView>,
}

#[cfg(test)]
impl CellInit {
    /// A plain server with no parent, link, name or history: for unit tests.
    pub(crate) fn bare(pid: Pid, type_name: fn() -> &'static str) -> Self {
        CellInit {
            pid,
            kind: ProcessKind::Server,
            type_name,
            system: false,
            parent: None,
            child_id: None,
            restarts: 0,
            last_error: None,
            supervisor: None,
        }
    }
}

impl ProcessCell {
    pub(crate) fn new(init: CellInit) -> Self {
        let has_last_error = init.last_error.is_some();
        ProcessCell {
            pid: init.pid,
            started_at_ms: clock::coarse_now_ms(),
            full_type_name: init.type_name,
            parent: init.parent.map_or(0, Pid::id),
            child_id: init.child_id,
            supervisor: init.supervisor.map(Box::new),
            notes: Mutex::new(Notes {
                shown: init.last_error.map(|last_error| {
                    Box::new(Shown {
                        name: None,
                        last_error: Some(last_error),
                    })
                }),
                ..Notes::default()
            }),
            exit_waiters: ExitWaiters::default(),
            restarts: init.restarts,
            kind: init.kind,
            system: init.system,
            status: AtomicU8::new(ProcessStatus::Initializing.to_raw()),
            flags: AtomicU8::new(if has_last_error { SHOWS_NOTES } else { 0 }),
            waiting_for: AtomicU64::new(0),
            counters: Counters::default(),
        }
    }

    /// The supervisor that started it (and is linked to it).
    pub(crate) fn parent(&self) -> Option<Pid> {
        (self.parent != 0).then_some(Pid(self.parent))
    }

    pub(crate) fn notes(&self) -> crate::sync::MutexGuard<'_, Notes> {
        self.notes.lock()
    }

    pub(crate) fn has_flag(&self, flag: u8) -> bool {
        self.flags.load(Ordering::Relaxed) & flag != 0
    }

    /// Set or clear `flag`, returning whether it was set. For the flags kept under
    /// the notes' lock, call it with the lock held.
    pub(crate) fn set_flag(&self, flag: u8, on: bool) -> bool {
        let old = if on {
            self.flags.fetch_or(flag, Ordering::Relaxed)
        } else {
            self.flags.fetch_and(!flag, Ordering::Relaxed)
        };
        old & flag != 0
    }

    pub(crate) fn traps_exits(&self) -> bool {
        self.has_flag(TRAPS_EXITS)
    }

    pub(crate) fn set_trap_exit(&self, trap: bool) {
        self.set_flag(TRAPS_EXITS, trap);
    }

    /// Its name and last error, in `notes` (its own, locked), to set: the cell is
    /// marked as having some, and the Observer takes the notes' lock only for such
    /// a cell (a million idle servers cost none).
    pub(crate) fn shown_mut<'n>(&self, notes: &'n mut Notes) -> &'n mut Shown {
        self.flags.fetch_or(SHOWS_NOTES, Ordering::Release);
        notes.shown.get_or_insert_default()
    }

    /// The notes as the Observer shows them (name, last error): `None` when there
    /// has never been either.
    fn shown_notes_guard(&self) -> Option<crate::sync::MutexGuard<'_, Notes>> {
        (self.flags.load(Ordering::Acquire) & SHOWS_NOTES != 0).then(|| self.notes())
    }

    /// `std::any::type_name` of the server, unshortened, for whoever keeps it.
    pub(crate) fn full_type_name(&self) -> fn() -> &'static str {
        self.full_type_name
    }

    /// `my_app::workers::Worker<u8>` -> `Worker<u8>`: the path is noise in a table.
    /// Shortened when asked, not when the process starts.
    pub(crate) fn type_name(&self) -> &'static str {
        crate::type_names::short_type_name((self.full_type_name)())
    }

    pub(crate) fn status(&self) -> ProcessStatus {
        ProcessStatus::from_raw(self.status.load(Ordering::Acquire))
    }

    pub(crate) fn set_status(&self, status: ProcessStatus) {
        self.status.store(status.to_raw(), Ordering::Release);
    }

    /// Publish an event about this live process, under its current name.
    pub(crate) fn emit(&self, kind: EventKind) {
        let name = self.name().map(|n| n.to_string());
        self.emit_named_at(name, kind, 0);
    }

    /// Publish an event under `name`, that happened at `at_ms` (a clock reading the
    /// caller already has; 0 for now).
    #[inline]
    pub(crate) fn emit_named_at(&self, name: Option<String>, kind: EventKind, at_ms: u64) {
        events::hub().publish(LifecycleEvent {
            seq: 0,
            at_ms,
            pid: self.pid,
            name,
            child_id: self.child_id.as_deref().map(str::to_string),
            parent: self.parent(),
            system: self.system,
            kind,
        });
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.status() != ProcessStatus::Stopped
    }

    pub(crate) fn name(&self) -> Option<Arc<str>> {
        self.notes().name().cloned()
    }

    /// Report the exit: `reason` is what every waiter gets.
    pub(crate) fn set_exit(&self, reason: Box<ExitReason>) {
        {
            let mut notes = self.notes();
            notes.exit_reason = Some(reason);
            self.flags.fetch_or(EXIT_REPORTED, Ordering::Release);
        }
        self.exit_waiters.wake();
    }

    /// The reason the process ended, once its exit is reported.
    pub(crate) async fn wait_exit(&self) -> ExitReason {
        let notify = self.exit_waiters.notify();
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.flags.load(Ordering::Acquire) & EXIT_REPORTED != 0 {
                let notes = self.notes();
                return notes
                    .exit_reason
                    .as_deref()
                    .cloned()
                    .unwrap_or(ExitReason::Killed);
            }
            notified.await;
        }
    }

    /// End the process at its next await point, reporting `reason` as its exit.
    pub(crate) fn kill(&self, reason: ExitReason) {
        let abort = {
            let mut notes = self.notes();
            notes.exit_reason.get_or_insert_with(|| Box::new(reason));
            notes.task.as_ref().map(JoinHandle::abort_handle)
        };
        // Outside the lock: an abort may drop the task, and its exit takes the lock.
        match abort {
            Some(abort) => abort.abort(),
            // Still in `init`, which runs in its starter's task: wake `until_killed`
            // (waiters for the exit just check again).
            None => self.exit_waiters.wake(),
        }
    }

    /// Whether an exit reason is set: by a kill, as long as the task has not ended.
    pub(crate) fn kill_requested(&self) -> bool {
        self.notes().exit_reason.is_some()
    }

    /// `future`'s output, or `None` if the process is killed first.
    // Not an `async fn`, which would keep `future` twice: this runs every `init`.
    #[allow(clippy::manual_async_fn)]
    pub(crate) fn until_killed<F: Future>(
        &self,
        future: F,
    ) -> impl Future<Output = Option<F::Output>> {
        async move {
            let mut future = std::pin::pin!(future);
            // Most `init`s finish on their first poll: no need to watch for a kill then.
            if let Some(output) = crate::future::now_or_never(future.as_mut()) {
                return Some(output);
            }
            let killed = async {
                loop {
                    let notified = self.exit_waiters.notify().notified();
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
    }

    /// The name and the last error, as the Observer shows them: one lock for both.
    fn shown_notes(&self) -> (Option<String>, Option<String>) {
        let Some(notes) = self.shown_notes_guard() else {
            return (None, None);
        };
        (
            notes.name().map(|name| name.to_string()),
            notes.last_error().map(str::to_string),
        )
    }

    fn server_info(&self, queue_len: u64, type_name: Arc<str>) -> ServerInfo {
        let (name, last_error) = self.shown_notes();
        ServerInfo {
            pid: self.pid,
            name,
            child_id: self.child_id.as_deref().map(str::to_string),
            parent: self.parent(),
            type_name,
            status: self.status().into(),
            messages: self.counters.handled(),
            queue_len,
            started_at_ms: self.started_at_ms,
            restarts: self.restarts,
            busy_ns: self.counters.busy_ns(),
            handler_running_ns: self.counters.handler_running_ns(),
            last_error,
            system: self.system,
            state: super::details::describe_cell(self),
        }
    }

    /// This server as a compact snapshot's row, written without copying its strings
    /// (since protocol 2.1). `type_name` is the cell's short type name, which the
    /// caller works out once per type rather than once per server.
    #[cfg(feature = "agent")]
    fn write_server_row(
        &self,
        queue_len: u64,
        type_name: &str,
        rows: &mut noex_agent::rows::RowsWriter,
    ) -> u64 {
        let messages = self.counters.handled();
        // Before the notes' lock: a source may take locks of its own.
        let state = super::details::describe_cell(self);
        let notes = self.shown_notes_guard();
        let notes = notes.as_deref();
        rows.server(noex_agent::rows::ServerRow {
            pid: self.pid,
            name: notes.and_then(|notes| notes.name().map(|name| &**name)),
            child_id: self.child_id.as_deref(),
            parent: self.parent(),
            type_name,
            status: self.status().into(),
            messages,
            queue_len,
            started_at_ms: self.started_at_ms,
            restarts: self.restarts,
            busy_ns: self.counters.busy_ns.load(Ordering::Relaxed),
            handler_running_ns: self.counters.handler_running_ns(),
            last_error: notes.and_then(Notes::last_error),
            system: self.system,
            state: state.as_deref(),
        });
        messages
    }

    /// This supervisor as a compact snapshot's row, its children written as they
    /// are listed (a million children are not first copied into `ChildInfo`s).
    #[cfg(feature = "agent")]
    pub(crate) fn write_supervisor_row(&self, rows: &mut noex_agent::rows::RowsWriter) {
        let Some(view) = self.supervisor.as_ref() else {
            return;
        };
        // Copied, so the notes' lock is not held with the table's (as everywhere).
        let (name, last_error) = self.shown_notes();
        let table = view.children.read();
        // Each id is an allocation of its own, in cold memory: fetched ahead.
        let mut ahead = table.iter().skip(TOUCH_AHEAD);
        let children = table.iter().map(move |child| {
            if let Some(later) = ahead.next() {
                prefetch(later.id.as_ptr(), later.id.len());
            }
            noex_agent::rows::ChildRow {
                id: child.id,
                pid: child.pid,
                restart: child.restart,
                kind: child.kind,
            }
        });
        rows.supervisor_row(
            noex_agent::rows::SupervisorRow {
                pid: self.pid,
                name: name.as_deref(),
                child_id: self.child_id.as_deref(),
                parent: self.parent(),
                status: self.status().into(),
                strategy: view.strategy,
                intensity: view.intensity,
                child_restarts: table.child_restarts(),
                restarts: self.restarts,
                started_at_ms: self.started_at_ms,
                last_error: last_error.as_deref(),
                system: self.system,
            },
            children,
        );
    }

    pub(crate) fn supervisor_info(&self) -> Option<SupervisorInfo> {
        self.supervisor_info_listing(|_| true).map(|(info, _)| info)
    }

    /// Its supervisor info listing only the children `listed` picks (a window of a
    /// million), and how many children it has in all.
    pub(crate) fn supervisor_info_listing(
        &self,
        listed: impl Fn(&ListedChild) -> bool,
    ) -> Option<(SupervisorInfo, u64)> {
        let view = self.supervisor.as_ref()?;
        let (name, last_error) = self.shown_notes();
        let table = view.children.read();
        let info = SupervisorInfo {
            pid: self.pid,
            name,
            child_id: self.child_id.as_deref().map(str::to_string),
            parent: self.parent(),
            status: self.status().into(),
            strategy: view.strategy,
            intensity: view.intensity,
            children: table
                .iter()
                .filter(|child| listed(child))
                .map(ListedChild::to_wire)
                .collect(),
            child_restarts: table.child_restarts(),
            restarts: self.restarts,
            started_at_ms: self.started_at_ms,
            last_error,
            system: self.system,
        };
        Some((info, table.len() as u64))
    }
}

/// Whatever holds a cell: its server's shared allocation.
pub(crate) trait ProcessRecord: Send + Sync + 'static {
    fn cell(&self) -> &ProcessCell;
    /// Messages ever queued in the process's mailbox.
    fn enqueued(&self) -> u64;
    /// Queue a message for `handle_info`; `false` if the process has exited.
    fn send_info(&self, message: Info) -> bool;
    /// Queue a stop request behind the messages already in the mailbox.
    fn request_stop(&self, reason: ExitReason);
    /// Ask the server for its state's text ([`crate::GenServer::format_status`]),
    /// answered between two messages; `None` if the process has exited.
    fn format_status(&self) -> Option<oneshot::Receiver<Option<String>>>;
    /// The record itself, to find the typed server behind a cell (the agent's
    /// actions, a handle to a supervisor's child).
    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync>;
}

/// A process's cell, held apart from the server's typed handle: by the process
/// table, supervisors and the Observer.
#[derive(Clone)]
pub(crate) struct CellRef(Arc<dyn ProcessRecord>);

impl CellRef {
    pub(crate) fn new(record: Arc<dyn ProcessRecord>) -> Self {
        CellRef(record)
    }

    /// Fetches the reference count, which a clone is about to write: a run of these
    /// overlaps the misses that the clones, each a locked instruction, would take
    /// one at a time.
    pub(crate) fn prefetch_count(&self) {
        prefetch(self.allocation(), ARC_COUNTS);
    }

    /// Fetches the record (its reference count, mailbox and cell) into cache.
    fn prefetch_record(&self) {
        prefetch(self.allocation(), ARC_COUNTS + size_of_val(&*self.0));
    }

    /// Where the record's allocation starts: its reference counts, then the record.
    fn allocation(&self) -> *const u8 {
        (Arc::as_ptr(&self.0) as *const u8).wrapping_sub(ARC_COUNTS)
    }

    /// Fetches the strings the cell points to (its child id; a name or an error
    /// is behind the notes' lock, and rare).
    fn prefetch_strings(&self) {
        if let Some(id) = &self.cell().child_id {
            prefetch(id.as_ptr(), id.len());
        }
    }

    /// Messages queued and not yet taken by the server.
    pub(crate) fn queue_len(&self) -> u64 {
        // `handled` first: it never passes `enqueued`, so the difference never underflows.
        let handled = self.counters.handled();
        self.0.enqueued().saturating_sub(handled)
    }

    /// What the Observer shows of this server; `type_names` shares its type's name
    /// with the other servers of a snapshot.
    pub(crate) fn server_info(&self, type_names: &mut SharedTypeNames) -> ServerInfo {
        let cell = self.cell();
        let type_name = type_names.get((cell.full_type_name)());
        cell.server_info(self.queue_len(), type_name)
    }

    /// Writes this server's row into `rows`; returns its messages handled.
    #[cfg(feature = "agent")]
    pub(crate) fn write_server_row(
        &self,
        type_name: &str,
        rows: &mut noex_agent::rows::RowsWriter,
    ) -> u64 {
        self.cell()
            .write_server_row(self.queue_len(), type_name, rows)
    }

    /// Queue a message for `handle_info`; `false` if the process has exited.
    /// Ask the server for its state's text (see [`ProcessRecord::format_status`]).
    pub(crate) fn format_status(&self) -> Option<oneshot::Receiver<Option<String>>> {
        self.0.format_status()
    }

    pub(crate) fn send_info(&self, message: Info) -> bool {
        self.0.send_info(message)
    }

    /// Queue a stop request behind the messages already in the mailbox.
    pub(crate) fn request_stop(&self, reason: ExitReason) {
        self.0.request_stop(reason);
    }

    /// The typed record behind the cell, if it is an `R`.
    pub(crate) fn downcast<R: Send + Sync + 'static>(&self) -> Option<Arc<R>> {
        self.0.clone().into_any().downcast::<R>().ok()
    }

    fn cell(&self) -> &ProcessCell {
        self.0.cell()
    }
}

/// [`ProcessCell::flags`]: exit signals from links arrive as `Exit` messages instead
/// of ending the process.
const TRAPS_EXITS: u8 = 1;
/// [`ProcessCell::flags`]: it has (or had) a name or a last error to show.
const SHOWS_NOTES: u8 = 2;
/// [`ProcessCell::flags`], under the notes' lock: linked to its parent (every
/// supervised process is; a flag costs none of the box other links live in).
pub(crate) const LINKED_TO_PARENT: u8 = 4;
/// [`ProcessCell::flags`], under the notes' lock: its exit has been delivered to
/// its links and monitors; later ones are told at once instead.
pub(crate) const SIGNALS_CLOSED: u8 = 8;
/// [`ProcessCell::flags`]: its exit is reported, and its reason is in the notes.
const EXIT_REPORTED: u8 = 16;
/// [`ProcessCell::flags`]: a process kind published details for it (`details.rs`),
/// so the Observer looks them up; the others cost it nothing.
pub(crate) const HAS_DETAILS: u8 = 32;

/// The strong and weak counts an `Arc`'s allocation holds before its value.
const ARC_COUNTS: usize = 2 * size_of::<usize>();

/// Cells read ahead at once by [`touch_ahead`].
const TOUCH_AHEAD: usize = 32;

/// `cells`, each run of [`TOUCH_AHEAD`] fetched into cache ahead of the walk (see
/// [`prepare`]), so their cache misses overlap instead of coming one at a time
/// inside the longer per-cell work: a large table's cells are far apart in memory,
/// and their first touch is most of a walk's cost.
#[cfg(feature = "agent")]
pub(crate) fn touch_ahead(cells: &[CellRef]) -> impl Iterator<Item = &CellRef> {
    cells.iter().enumerate().map(move |(at, cell)| {
        if at.is_multiple_of(TOUCH_AHEAD) {
            prepare(&cells[at..], at == 0);
        }
        cell
    })
}

/// [`touch_ahead`], taking the cells: each is dropped as the walk passes it, while
/// its reference count is in cache (a million locked decrements that miss, one
/// after the other, are most of dropping a table's cells).
pub(crate) fn touch_ahead_owned(cells: Vec<CellRef>) -> impl Iterator<Item = CellRef> {
    let mut cells = cells.into_iter();
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at.is_multiple_of(TOUCH_AHEAD) {
            prepare(cells.as_slice(), at == 0);
        }
        at += 1;
        cells.next()
    })
}

/// Drops `cells` touching ahead (see [`touch_ahead_owned`]).
#[cfg(feature = "agent")]
pub(crate) fn release(cells: Vec<CellRef>) {
    touch_ahead_owned(cells).for_each(drop);
}

/// At the start of a run (`ahead` begins with it): fetches the next run's records,
/// and the strings the records of this run point to, fetched a run ago, so a cell's
/// misses are all in flight before the walk reaches it.
fn prepare(ahead: &[CellRef], first: bool) {
    let (run, rest) = ahead.split_at(ahead.len().min(TOUCH_AHEAD));
    if first {
        run.iter().for_each(CellRef::prefetch_record);
    }
    rest[..rest.len().min(TOUCH_AHEAD)]
        .iter()
        .for_each(CellRef::prefetch_record);
    run.iter().for_each(CellRef::prefetch_strings);
}

/// Asks the CPU to bring `len` bytes from `start` into cache, without waiting for
/// them (a hint: it reads nothing, and no address can fault).
pub(super) fn prefetch(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const LINE: usize = 64;
        let first = start as usize & !(LINE - 1);
        let end = start as usize + len;
        for line in (first..end).step_by(LINE) {
            // SAFETY: a prefetch is a hint; it does not access memory.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}

impl Deref for CellRef {
    type Target = ProcessCell;

    fn deref(&self) -> &ProcessCell {
        self.cell()
    }
}
