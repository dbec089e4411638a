//! What a handler can do besides changing state: reply later, continue, stop, set
//! timers, and watch other processes (monitors, links, trapping exits).

use std::any::Any;
use std::time::Duration;

use tokio::task::AbortHandle;

use super::reply::ReplySlot;
use super::{GenServer, Info, ServerRef};
use crate::error::ServerNotRunningError;
use crate::process::{self, MonitorRef, Watcher};
use crate::{ExitReason, Pid};

/// The handler's view of its own process.
pub struct Context<S: GenServer> {
    myself: ServerRef<S>,
    /// Where the reply to the call being handled goes.
    pub(crate) reply_slot: Option<ReplySlot<S::Reply>>,
    /// Boxed: rare, and every idle server would otherwise carry room for them.
    pub(crate) requests: Option<Box<Requests>>,
}

/// What a handler asked for, to happen once it returns.
#[derive(Default)]
pub(crate) struct Requests {
    pub(crate) continuation: Option<Info>,
    /// Wins over a continuation asked for by the same handler.
    pub(crate) stop: Option<ExitReason>,
    /// The reply of a call whose handler also asked to stop: sent once `terminate`
    /// has run, as OTP's `{stop, Reason, Reply, State}` does.
    pub(crate) reply_after_terminate: Option<Box<dyn FnOnce() + Send>>,
}

impl<S: GenServer> Context<S> {
    pub(crate) fn new(myself: ServerRef<S>) -> Self {
        Context {
            myself,
            reply_slot: None,
            requests: None,
        }
    }

    /// This server's pid.
    pub fn pid(&self) -> Pid {
        self.myself.pid()
    }

    pub(crate) fn myself_ref(&self) -> &ServerRef<S> {
        &self.myself
    }

    /// A reference to this server, to hand to other processes.
    pub fn myself(&self) -> ServerRef<S> {
        self.myself.clone()
    }

    /// Take the reply handle of the call being handled, to answer it later (from any
    /// task) with [`ReplyTo::reply`]; return [`super::Reply::Deferred`] from the
    /// handler. `None` outside `handle_call` or when already taken.
    pub fn defer_reply(&mut self) -> Option<ReplyTo<S::Reply>> {
        let slot = self.reply_slot.take()?;
        Some(ReplyTo {
            slot,
            pid: self.pid(),
        })
    }

    /// Run [`GenServer::handle_continue`] with `message` right after this handler,
    /// before the next message.
    pub fn continue_with(&mut self, message: impl Any + Send) {
        self.requests.get_or_insert_default().continuation = Some(Box::new(message));
    }

    /// Stop the server after this handler returns (`terminate` runs with `reason`).
    /// A call being handled gets its reply once `terminate` has run, or, if it is
    /// not answered, the reason as its error.
    pub fn stop(&mut self, reason: ExitReason) {
        self.requests.get_or_insert_default().stop = Some(reason);
    }

    /// Answer the call being handled: now, or after `terminate` if this handler
    /// also asked to stop.
    #[inline]
    pub(crate) fn reply(&mut self, slot: ReplySlot<S::Reply>, value: S::Reply) {
        if self.requests.is_none() {
            let _ = slot.send(Ok(value));
            return;
        }
        self.reply_after_requests(slot, value);
    }

    #[cold]
    fn reply_after_requests(&mut self, slot: ReplySlot<S::Reply>, value: S::Reply) {
        match self
            .requests
            .as_mut()
            .filter(|requests| requests.stop.is_some())
        {
            Some(requests) => {
                requests.reply_after_terminate = Some(Box::new(move || {
                    let _ = slot.send(Ok(value));
                }));
            }
            None => {
                let _ = slot.send(Ok(value));
            }
        }
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.requests
            .as_ref()
            .is_some_and(|requests| requests.stop.is_some())
    }

    /// Monitor `pid`: one [`Down`](crate::process::Down) reaches `handle_info` when
    /// it ends — at once, with [`ExitReason::NoProc`], if it is not alive.
    pub fn monitor(&self, pid: Pid) -> MonitorRef {
        let me = self.myself.cell();
        process::add_monitor(pid, Watcher::Process(me.pid), Some(me))
    }

    /// Take a monitor back. Its `Down`, if already on its way, is not delivered.
    /// Returns whether the monitor was still active (the process had not ended).
    pub fn demonitor(&self, monitor: MonitorRef) -> bool {
        process::remove_monitor(monitor, Some(self.myself.cell()))
    }

    /// Link this process with `pid`, both ways: when either exits, the other gets
    /// an exit signal (see [`crate::process`]). If `pid` is not alive, as OTP's
    /// `link/1`: a process that traps exits gets an [`Exit`](crate::process::Exit)
    /// with [`ExitReason::NoProc`], and one that does not gets this error.
    pub fn link(&self, pid: Pid) -> Result<(), ServerNotRunningError> {
        process::link(&self.myself.cell_ref(), pid)
    }

    /// Remove the link with `pid`, if any.
    pub fn unlink(&self, pid: Pid) {
        process::unlink(self.myself.cell(), pid);
    }

    /// Trap exits: exit signals from links arrive in `handle_info` as
    /// [`Exit`](crate::process::Exit) messages instead of ending this process.
    pub fn trap_exit(&self, trap: bool) {
        self.myself.cell().set_trap_exit(trap);
    }

    /// Send `pid` an exit signal from this process, as OTP's `exit/2`: a process
    /// that traps exits gets an [`Exit`](crate::process::Exit) message; one that
    /// does not ends with `reason` (`terminate` does not run), unless `reason` is
    /// `Normal`. `Killed` cannot be trapped (OTP's `kill`).
    pub fn exit(&self, pid: Pid, reason: ExitReason) {
        if let Some(target) = crate::process::processes().get(pid) {
            process::exit_signal(&target, self.pid(), &reason, process::Sent::ByExit);
        }
    }

    /// Deliver `message` to [`GenServer::handle_info`] after `delay`.
    pub fn send_after(&self, delay: Duration, message: impl Any + Send) -> TimerRef {
        let myself = self.myself.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = myself.send_info(message);
        });
        TimerRef(task.abort_handle())
    }
}

/// A pending timer from [`Context::send_after`].
#[derive(Debug)]
pub struct TimerRef(AbortHandle);

impl TimerRef {
    /// Cancel the timer; the message is not sent if it has not been already.
    pub fn cancel(self) {
        self.0.abort();
    }
}

/// The right to answer one call, once. Dropping it without replying makes the call
/// fail with `CallError::NoReply`. A reply to a caller that already timed out is
/// dropped: each call has its own channel, so it can never reach a later call.
pub struct ReplyTo<R> {
    pub(crate) slot: ReplySlot<R>,
    pub(crate) pid: Pid,
}

impl<R> ReplyTo<R> {
    /// Answer the call. Returns `false` if the caller is no longer waiting.
    pub fn reply(self, value: R) -> bool {
        self.slot.send(Ok(value)).is_ok()
    }

    /// The server the call was made to.
    pub fn pid(&self) -> Pid {
        self.pid
    }
}

impl<R> std::fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyTo").field("pid", &self.pid).finish()
    }
}
