//! The server's task: init, the message loop, and the exit that always follows.
//!
//! Everything that must happen when a process ends — status, registry, event,
//! waking waiters, telling the parent — lives in `Drop for Process`, so it happens
//! on every way out: a stop, a crash, and an abort (kill), where the task's future
//! is dropped at its await point.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use noex_agent::types::{EventKind, ProcessStatus};
use tokio::task::JoinHandle;

use super::context::ReplySlot;
use super::mailbox::{Mailbox, mailbox};
use super::{Context, GenServer, Info, Reply, ReplyTo, ServerRef};
use crate::error::{InitializationError, StartError};
use crate::process::{CellInit, ProcessCell, ProcessKind, SupervisorView};
use crate::runtime::runtime;
use crate::{ExitReason, Pid};

pub(crate) enum Envelope<S: GenServer> {
    Call(S::Call, ReplySlot<S::Reply>),
    Cast(S::Cast),
    Info(Info),
    // Boxed: rare, and it would otherwise make every envelope larger.
    Stop(Box<ExitReason>),
}

/// Tells a supervisor that one of its children ended.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) parent: Pid,
    pub(crate) notify: Arc<dyn Fn(Pid, ExitReason) + Send + Sync>,
}

/// Everything a supervisor (or `start`) decides about a new process.
#[derive(Default)]
pub(crate) struct SpawnOptions {
    pub(crate) name: Option<String>,
    pub(crate) system: bool,
    pub(crate) link: Option<Link>,
    pub(crate) child_id: Option<Arc<str>>,
    pub(crate) restarts: u32,
    pub(crate) last_error: Option<String>,
    pub(crate) supervisor: Option<SupervisorView>,
}

pub(crate) struct Spawned<S: GenServer> {
    pub(crate) server: ServerRef<S>,
    pub(crate) task: JoinHandle<()>,
}

pub(crate) async fn spawn<S: GenServer>(
    mut server: S,
    options: SpawnOptions,
) -> Result<Spawned<S>, StartError> {
    let rt = runtime();
    let kind = if options.supervisor.is_some() {
        ProcessKind::Supervisor
    } else {
        ProcessKind::Server
    };
    let cell = Arc::new(ProcessCell::new(CellInit {
        pid: rt.processes.next_pid(),
        kind,
        type_name: std::any::type_name::<S>(),
        system: options.system,
        parent: options.link.as_ref().map(|link| link.parent),
        child_id: options.child_id,
        restarts: options.restarts,
        last_error: options.last_error,
        supervisor: options.supervisor,
    }));
    let (sender, mailbox) = mailbox();
    let myself = ServerRef {
        mailbox: sender,
        cell: cell.clone(),
    };
    if let Some(name) = options.name {
        rt.registry
            .register_cell(&name, &cell, Arc::new(myself.clone()))?;
    }
    rt.processes.insert(cell.clone());
    crate::agent::autostart();

    let mut process = Process {
        ctx: Context::new(myself.clone()),
        cell: cell.clone(),
        link: options.link,
        mailbox,
        exit: None,
        notify_parent: false,
    };
    // `init` runs here, in the starter's task, which waits for it anyway: no
    // hand-over to the server's task and back before `start` returns. A kill during
    // `init` ends it (and a starter that gives up drops it), exactly as an abort of
    // the server's task did; `Drop for Process` reports the exit either way.
    let init = AssertUnwindSafe(server.init(&mut process.ctx)).catch_unwind();
    let failure = match cell.until_killed(init).await {
        Some(Ok(Ok(()))) => None,
        Some(Ok(Err(error))) => Some((error.to_string(), Some(error))),
        Some(Err(panic)) => Some((panic_message(&*panic), None)),
        None => {
            drop(process);
            return Err(InitializationError {
                type_name: cell.type_name(),
                reason: "killed during init".into(),
                source: None,
            }
            .into());
        }
    };
    if let Some((reason, source)) = failure {
        process.exit = Some(Box::new(ExitReason::error(format!(
            "init failed: {reason}"
        ))));
        drop(process);
        return Err(InitializationError {
            type_name: cell.type_name(),
            reason,
            source,
        }
        .into());
    }
    cell.set_status(ProcessStatus::Running);
    rt.events
        .emit_at(&cell, EventKind::Started, cell.started_at_ms);
    process.notify_parent = true;
    let task = tokio::spawn(run(process, server));
    let _ = cell.abort.set(task.abort_handle());
    if cell.kill_requested() {
        // A kill that came after `init` and before the abort handle was set.
        task.abort();
    }
    Ok(Spawned {
        server: myself,
        task,
    })
}

struct Process<S: GenServer> {
    ctx: Context<S>,
    cell: Arc<ProcessCell>,
    link: Option<Link>,
    mailbox: Mailbox<Envelope<S>>,
    /// Set on every orderly way out; `None` when the task is aborted. Boxed, as
    /// rare as it is: it would otherwise make every idle server larger.
    exit: Option<Box<ExitReason>>,
    /// An `init` failure is reported to the starter, not to the parent as an exit.
    notify_parent: bool,
}

/// The server's task: the message loop, then `terminate`. (`init` ran in `spawn`.)
///
/// Not an `async fn`: one would keep its arguments twice (as arguments and as
/// locals), and this future is most of an idle server's memory.
#[allow(clippy::manual_async_fn)]
fn run<S: GenServer>(mut process: Process<S>, mut server: S) -> impl Future<Output = ()> + Send {
    async move {
        let reason = process.serve(&mut server).await;
        process.cell.set_status(ProcessStatus::Stopping);
        // Boxed: it runs once, and would otherwise make every idle server's task larger.
        let terminate =
            Box::pin(AssertUnwindSafe(server.terminate(&reason, &mut process.ctx)).catch_unwind())
                .await;
        process.exit = Some(Box::new(match terminate {
            Ok(()) => reason,
            Err(panic) if !reason.is_abnormal() => {
                ExitReason::error(format!("terminate panicked: {}", panic_message(&*panic)))
            }
            Err(_) => reason,
        }));
        // Its `Drop` reports the exit.
        drop(process);
    }
}

impl<S: GenServer> Process<S> {
    /// The message loop. Returns why the server stops.
    async fn serve(&mut self, server: &mut S) -> ExitReason {
        if (self.ctx.stop.is_some() || self.ctx.continuation.is_some())
            && let Some(reason) = Box::pin(self.take_continuations(server)).await
        {
            return reason;
        }
        // When the previous handler ended and the next message was already waiting,
        // that end is this handler's start: one clock reading per message in a burst.
        let mut previous_end = None;
        loop {
            let mut waited = false;
            let envelope = std::future::poll_fn(|cx| {
                let poll = self.mailbox.poll_recv(cx);
                waited |= poll.is_pending();
                poll
            })
            .await;
            let Some(envelope) = envelope else {
                break;
            };
            let counters = &self.cell.counters;
            counters.on_dequeue();
            let started = match previous_end {
                Some(end) if !waited => counters.handler_started_at(end),
                _ => counters.handler_started(),
            };
            let mut reply = None;
            let handled = match envelope {
                Envelope::Call(request, slot) => {
                    self.ctx.reply_to = Some(ReplyTo {
                        slot,
                        pid: self.cell.pid,
                    });
                    let outcome = AssertUnwindSafe(server.handle_call(request, &mut self.ctx))
                        .catch_unwind()
                        .await;
                    outcome.map(|answer| {
                        // Unanswered and not kept by the handler: dropped, the caller gets NoReply.
                        let reply_to = self.ctx.reply_to.take();
                        if let (Reply::Now(value), Some(reply_to)) = (answer, reply_to) {
                            reply = Some((reply_to, value));
                        }
                    })
                }
                Envelope::Cast(message) => {
                    AssertUnwindSafe(server.handle_cast(message, &mut self.ctx))
                        .catch_unwind()
                        .await
                }
                Envelope::Info(message) => {
                    AssertUnwindSafe(server.handle_info(message, &mut self.ctx))
                        .catch_unwind()
                        .await
                }
                Envelope::Stop(reason) => {
                    self.cell.counters.handler_finished(started);
                    return *reason;
                }
            };
            // Counted before the caller is answered, so what it sees next agrees.
            previous_end = Some(self.cell.counters.handler_finished(started));
            if let Some((reply_to, value)) = reply {
                reply_to.reply(value);
            }
            if let Err(panic) = handled {
                return self.crash(&*panic);
            }
            if self.ctx.stop.is_some() || self.ctx.continuation.is_some() {
                previous_end = None;
                // Boxed: rare, and it would otherwise make every idle server larger.
                if let Some(reason) = Box::pin(self.take_continuations(server)).await {
                    return reason;
                }
            }
        }
        // Unreachable while `ctx` holds a sender to this mailbox; treat as a normal end.
        ExitReason::Normal
    }

    /// Runs requested continuations; returns a reason if the server must stop.
    async fn take_continuations(&mut self, server: &mut S) -> Option<ExitReason> {
        loop {
            if let Some(reason) = self.ctx.stop.take() {
                return Some(*reason);
            }
            let message = self.ctx.continuation.take()?;
            let started = self.cell.counters.handler_started();
            let outcome = AssertUnwindSafe(server.handle_continue(message, &mut self.ctx))
                .catch_unwind()
                .await;
            self.cell.counters.handler_finished(started);
            if let Err(panic) = outcome {
                return Some(self.crash(&*panic));
            }
        }
    }

    fn crash(&mut self, panic: &(dyn Any + Send)) -> ExitReason {
        let message = panic_message(panic);
        tracing::warn!(pid = %self.cell.pid, type_name = self.cell.type_name(), error = %message, "server crashed");
        if let Some(reply_to) = self.ctx.reply_to.take() {
            reply_to.fail(message.clone());
        }
        ExitReason::error(message)
    }
}

impl<S: GenServer> Drop for Process<S> {
    fn drop(&mut self) {
        let cell = &self.cell;
        let reason = self
            .exit
            .take()
            .or_else(|| cell.kill_reason.lock().take())
            .map_or(ExitReason::Killed, |reason| *reason);
        if let Some(reply_to) = self.ctx.reply_to.take() {
            reply_to.fail(reason.to_string());
        }
        // Status first: a caller whose request is dropped with the mailbox (after this
        // function) must already see the server as not running.
        cell.set_status(ProcessStatus::Stopped);
        let rt = runtime();
        rt.processes.remove(cell.pid);
        rt.registry.release(cell);
        let kind = match &reason {
            ExitReason::Normal | ExitReason::Shutdown | ExitReason::Killed => {
                EventKind::Terminated {
                    reason: reason.to_string(),
                }
            }
            _ => EventKind::Crashed {
                error: reason.to_string(),
            },
        };
        if reason.is_abnormal() {
            *cell.last_error.lock() = Some(reason.to_string());
        }
        rt.events.emit(cell, kind);
        // The parent hears first: whoever waits for this exit and then asks the
        // supervisor finds the exit already in the supervisor's mailbox.
        if self.notify_parent
            && let Some(link) = &self.link
        {
            (link.notify)(cell.pid, reason.clone());
        }
        cell.exit.set(reason);
    }
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BoxError;
    use crate::gen_server::StartOptions;
    use crate::registry;

    struct StuckInInit;

    impl GenServer for StuckInInit {
        type Call = ();
        type Cast = ();
        type Reply = ();

        async fn init(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
            std::future::pending().await
        }

        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }
    }

    #[tokio::test]
    async fn a_kill_during_init_ends_the_process_and_fails_the_start() {
        let name = "process-test.stuck-in-init";
        let start = tokio::spawn(super::super::start(
            StuckInInit,
            StartOptions::new().name(name),
        ));
        let pid = loop {
            match registry::whereis(name) {
                Some(pid) => break pid,
                None => tokio::task::yield_now().await,
            }
        };
        let cell = runtime().processes.get(pid).expect("in the process table");
        cell.kill(ExitReason::Killed);
        let error = start.await.unwrap().unwrap_err();
        assert!(error.to_string().contains("killed during init"), "{error}");
        assert_eq!(cell.exit.wait().await, ExitReason::Killed);
        assert!(runtime().processes.get(pid).is_none());
        assert!(registry::whereis(name).is_none());
    }
}
