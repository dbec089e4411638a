//! What a handler can do besides changing state: reply later, continue, stop, set
//! timers, and watch other processes (monitors, links, trapping exits).

use std::any::Any;
use std::time::Duration;

use tokio::task::AbortHandle;

use super::pending_timers::{self, PendingTimer};
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
    /// The idle timeout running since the last handler returned: the next message
    /// taken cancels it, unless it is its [`IdleTimeout`].
    pub(crate) idle_timer: Option<AbortHandle>,
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
    /// See [`Context::idle_timeout`]: started once the server waits for messages.
    pub(crate) idle_after: Option<Duration>,
}

impl<S: GenServer> Context<S> {
    pub(crate) fn new(myself: ServerRef<S>) -> Self {
        Context {
            myself,
            reply_slot: None,
            requests: None,
            idle_timer: None,
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

    /// Have [`GenServer::handle_info`] get an [`IdleTimeout`] if no message arrives
    /// within `after` once this handler returns (OTP's `{noreply, State, Timeout}`,
    /// whose message is `timeout`). Whatever message arrives first cancels it; a
    /// handler that wants one again asks again.
    pub fn idle_timeout(&mut self, after: Duration) {
        self.requests.get_or_insert_default().idle_after = Some(after);
    }

    /// Start the idle timeout asked for: the server is about to wait for messages.
    pub(crate) fn start_idle_timer(&mut self, after: Duration) {
        // The message names its timer (its task), so a late one is told apart.
        let timer = self.timer(after, None, || IdleTimeout {
            timer: tokio::task::id(),
        });
        if let Some(previous) = self.idle_timer.replace(timer.0) {
            previous.abort();
        }
    }

    /// Whether `message`, just taken from the mailbox, is to be handled: anything but
    /// an idle timeout that another message beat (whose timer had already fired). Any
    /// other message cancels the idle timeout.
    pub(crate) fn take_idle_timer(&mut self, message: Option<&Info>) -> bool {
        let timeout = message.and_then(|message| message.downcast_ref::<IdleTimeout>());
        match (self.idle_timer.take(), timeout) {
            (Some(pending), Some(timeout)) if pending.id() == timeout.timer => true,
            // An earlier timer's, queued behind the message that cancelled it.
            (pending, Some(_)) => {
                self.idle_timer = pending;
                false
            }
            (Some(pending), None) => {
                pending.abort();
                true
            }
            (None, None) => true,
        }
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
            let _ = slot.send(Ok(value), self.pid());
            return;
        }
        self.reply_after_requests(slot, value);
    }

    #[cold]
    fn reply_after_requests(&mut self, slot: ReplySlot<S::Reply>, value: S::Reply) {
        let pid = self.pid();
        match self
            .requests
            .as_mut()
            .filter(|requests| requests.stop.is_some())
        {
            Some(requests) => {
                requests.reply_after_terminate = Some(Box::new(move || {
                    let _ = slot.send(Ok(value), pid);
                }));
            }
            None => {
                let _ = slot.send(Ok(value), pid);
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

    /// Deliver `message` to [`GenServer::handle_info`] after `delay`. Pending timers
    /// show in the Observer (`noex ps`'s STATE column): how many, and the next due.
    pub fn send_after(&self, delay: Duration, message: impl Any + Send) -> TimerRef {
        let pending = self.pending_timer(delay, None);
        self.timer(delay, Some(pending), move || message)
    }

    /// Records a timer due after `delay` among the server's pending ones.
    fn pending_timer(&self, delay: Duration, period: Option<Duration>) -> PendingTimer {
        pending_timers::add(self.pid(), tokio::time::Instant::now() + delay, period)
    }

    /// A task that sends `message()` to `handle_info` after `delay`; shown among the
    /// pending timers until then if `pending` is given (the idle timeout's is not).
    fn timer<M: Any + Send>(
        &self,
        delay: Duration,
        pending: Option<PendingTimer>,
        message: impl FnOnce() -> M + Send + 'static,
    ) -> TimerRef {
        let myself = self.myself.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            drop(pending);
            let _ = myself.send_info(message());
        });
        TimerRef(task.abort_handle())
    }

    /// Deliver a clone of `message` to [`GenServer::handle_info`] every `period`, the
    /// first after one period, until the timer is cancelled or the server ends
    /// (OTP's `timer:send_interval/2`). A tick the server's mailbox could not take
    /// in time is not made up: the next comes a period after it.
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    pub fn send_interval(&self, period: Duration, message: impl Any + Send + Clone) -> TimerRef {
        assert!(!period.is_zero(), "send_interval needs a period above zero");
        let pending = self.pending_timer(period, Some(period));
        let myself = self.myself.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                pending.rearmed(tokio::time::Instant::now() + period);
                if myself.send_info(message.clone()).is_err() {
                    break;
                }
            }
        });
        TimerRef(task.abort_handle())
    }
}

impl<S: GenServer> Drop for Context<S> {
    /// An idle timeout outlives nothing: its timer would keep the server's
    /// allocation until it ran out.
    fn drop(&mut self) {
        if let Some(timer) = self.idle_timer.take() {
            timer.abort();
        }
    }
}

/// What [`GenServer::handle_info`] gets when the idle timeout a handler asked for
/// with [`Context::idle_timeout`] runs out (OTP's `timeout` message).
#[derive(Debug)]
pub struct IdleTimeout {
    timer: tokio::task::Id,
}

/// A pending timer from [`Context::send_after`] or [`Context::send_interval`].
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
        self.slot.send(Ok(value), self.pid)
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
