//! Which process is running on this thread, and which process each one waits for:
//! the waits-for graph that turns a call closing a cycle into `CallError::Deadlock`
//! instead of a wait for its timeout.
//!
//! Each process's cell keeps one edge, the pid it is calling (0 for none). A caller
//! writes its edge, then walks the edges from the process it calls; reaching itself
//! means every process on the way waits for the next, and the last for the caller,
//! so none can ever answer. Two processes calling each other at once both write
//! before they read (sequentially consistent), so at least one of them sees the
//! cycle. The edge is removed by the reply, before it is sent — not when the
//! caller next runs — so that the server, having answered, can call its former
//! caller without being told of a cycle that no longer exists.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use super::{CellRef, ProcessCell, processes};
use crate::Pid;

thread_local! {
    /// The cell of the process whose task is being polled on this thread.
    static CURRENT: Cell<*const ProcessCell> = const { Cell::new(ptr::null()) };
}

/// Runs `f` with the cell of the process whose task is running this code, if any.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&ProcessCell>) -> R) -> R {
    let current = CURRENT.with(Cell::get);
    // SAFETY: `CURRENT` is set only while a `Current` future is polled, to the cell
    // that future holds; it is reset before the poll returns.
    f(unsafe { current.as_ref() })
}

/// What a process's task holds its own cell by (its server's handle: one pointer,
/// where a `CellRef` would take two, and a task has no byte to spare).
pub(crate) trait HoldsCell {
    fn held_cell(&self) -> &ProcessCell;
}

pin_project_lite::pin_project! {
    /// A process's task: its future, polled with the process marked as this
    /// thread's current one.
    pub(crate) struct Current<H, F> {
        holder: H,
        #[pin]
        future: F,
    }
}

impl<H: HoldsCell, F: Future> Current<H, F> {
    pub(crate) fn new(holder: H, future: F) -> Self {
        Current { holder, future }
    }
}

impl<H: HoldsCell, F: Future> Future for Current<H, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _restore = Restore(CURRENT.replace(this.holder.held_cell()));
        this.future.poll(cx)
    }
}

/// Puts back the thread's previous current process, even if the poll panics.
struct Restore(*const ProcessCell);

impl Drop for Restore {
    #[inline]
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}

/// How far a walk follows edges before it gives up looking: a chain that long is
/// not a deadlock found at a glance, and the call waits for its timeout as before.
const MAX_WALK: usize = 64;

/// `caller` is about to wait for `callee`: records the edge and walks on from
/// `callee`. Returns the cycle (starting with the caller) if the wait closes one; the
/// edge is then taken back.
pub(crate) fn start_waiting(caller: &ProcessCell, callee: &ProcessCell) -> Result<(), Vec<Pid>> {
    caller.waiting_for.store(callee.pid.0, Ordering::SeqCst);
    let next = callee.waiting_for.load(Ordering::SeqCst);
    if next == 0 {
        return Ok(());
    }
    match walk(caller, callee, next) {
        Some(cycle) => {
            stop_waiting(caller, callee.pid);
            Err(cycle)
        }
        None => Ok(()),
    }
}

#[cold]
fn walk(caller: &ProcessCell, callee: &ProcessCell, mut next: u64) -> Option<Vec<Pid>> {
    let mut cycle = vec![caller.pid, callee.pid];
    let mut holder: Option<CellRef>;
    while next != 0 {
        if next == caller.pid.0 {
            return Some(cycle);
        }
        // A cycle that does not pass through the caller: not its deadlock to report.
        if cycle.len() > MAX_WALK || cycle.contains(&Pid(next)) {
            return None;
        }
        cycle.push(Pid(next));
        holder = processes().get(Pid(next));
        next = holder
            .as_ref()
            .map_or(0, |cell| cell.waiting_for.load(Ordering::SeqCst));
    }
    None
}

/// The reply to the process `waiter` (0: no process) from `callee` is being sent:
/// its wait ends. The waiter is found by its pid, only when a process called.
#[inline]
pub(crate) fn reply_sent(waiter: u64, callee: Pid) {
    if waiter != 0 {
        reply_sent_to_process(waiter, callee);
    }
}

#[cold]
fn reply_sent_to_process(waiter: u64, callee: Pid) {
    if let Some(cell) = processes().get(Pid(waiter)) {
        stop_waiting(&cell, callee);
    }
}

/// Takes back `waiter`'s edge to `callee`, if it is still that one (the waiter may
/// have moved on to another call by the time a late reply is sent).
#[inline]
pub(crate) fn stop_waiting(waiter: &ProcessCell, callee: Pid) {
    // Usually already taken back (by the reply): a read, not a locked instruction.
    if waiter.waiting_for.load(Ordering::Relaxed) != callee.0 {
        return;
    }
    let _ = waiter
        .waiting_for
        .compare_exchange(callee.0, 0, Ordering::SeqCst, Ordering::Relaxed);
}
