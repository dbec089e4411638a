//! The end of a process, in the order others may rely on.
//!
//! A process that exits first takes its children down, then reports: its status,
//! the process table, its name, its event, its links and monitors, and last the
//! exit signal that `stop` and `wait` wait for. A supervisor's children are gone
//! before its parent hears of its exit or its name is free, so a restarted
//! supervisor never meets its old children (OTP's shutdown does the same when it
//! stops a supervisor; noex keeps the promise when one is killed too).

use std::borrow::Cow;

use noex_agent::types::EventKind;

use super::ProcessStatus;
use super::{CellRef, ProcessKind};
use super::{names, processes};
use crate::ExitReason;

/// The process behind `cell` has stopped running (its task ended, or `init`
/// failed); report its exit with `reason` (`text`: as it is shown). Its mailbox is
/// closed already.
/// `started`: whether its `init` had succeeded (if not, its starter reports the
/// failure, and its parent is not sent an exit signal).
pub(crate) fn finish(
    cell: CellRef,
    reason: Box<ExitReason>,
    text: Cow<'static, str>,
    started: bool,
) {
    let children = match cell.kind {
        ProcessKind::Supervisor => live_children(&cell),
        ProcessKind::Server => Vec::new(),
    };
    if children.is_empty() {
        complete(&cell, reason, text, started);
        return;
    }
    // Only a killed supervisor gets here: one that stops in order has stopped its
    // children already. Its children are killed, as links would kill them.
    cell.set_status(ProcessStatus::Stopping);
    for child in &children {
        child.kill(ExitReason::Killed);
    }
    let teardown = Teardown {
        cell,
        reason: Some((reason, text)),
        started,
        children,
    };
    match tokio::runtime::Handle::try_current() {
        // A runtime shutting down drops the task unpolled: `Drop` completes then.
        Ok(runtime) => drop(runtime.spawn(teardown.wait_for_children())),
        Err(_) => drop(teardown),
    }
}

/// The children of `cell` still alive: the processes linked to it that it started.
fn live_children(cell: &CellRef) -> Vec<CellRef> {
    let processes = &processes();
    cell.links()
        .into_iter()
        .filter_map(|pid| processes.get(pid))
        .filter(|child| child.parent() == Some(cell.pid) && child.is_alive())
        .collect()
}

/// A killed process waiting for its children to end before it reports its exit.
struct Teardown {
    cell: CellRef,
    /// Taken when the exit is reported.
    reason: Option<(Box<ExitReason>, Cow<'static, str>)>,
    started: bool,
    children: Vec<CellRef>,
}

impl Teardown {
    async fn wait_for_children(self) {
        for child in &self.children {
            child.wait_exit().await;
        }
        // Reported by `Drop`, which also covers a runtime that drops this task.
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        if let Some((reason, text)) = self.reason.take() {
            complete(&self.cell, reason, text, self.started);
        }
    }
}

fn complete(cell: &CellRef, reason: Box<ExitReason>, text: Cow<'static, str>, started: bool) {
    let signals = cell.close_signals();
    cell.set_status(ProcessStatus::Stopped);
    processes().remove(cell.pid);
    names().release(cell);
    // A crash is an error of its own; a kill or a shutdown ends a process that did
    // nothing wrong.
    let kind = match *reason {
        ExitReason::Error(_) => EventKind::Crashed { error: text },
        _ => EventKind::Terminated { reason: text },
    };
    // Without a name: `release` has just taken it.
    cell.emit_named_at(None, kind, 0);
    // Links and monitors hear before `wait` returns: whoever waits for this exit and
    // then asks the supervisor finds the exit already in the supervisor's mailbox.
    signals.deliver(cell, &reason, started);
    cell.set_exit(reason);
}
