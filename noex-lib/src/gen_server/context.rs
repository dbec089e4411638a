//! What a handler can do besides changing state: reply later, continue, stop, set timers.

use std::any::Any;
use std::time::Duration;

use tokio::task::AbortHandle;

use super::{GenServer, Info, ServerRef};
use crate::{ExitReason, Pid};

/// The outcome delivered to a caller: the reply, or the reason the server crashed.
///
/// The `oneshot` crate's channel rather than tokio's: its two ends share one state
/// word and no reference counts, so a reply costs about half the atomic operations
/// (a tenth of a round trip, measured on the call benchmark).
pub(crate) type ReplySlot<R> = oneshot::Sender<Result<R, String>>;

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
    pub fn stop(&mut self, reason: ExitReason) {
        self.requests.get_or_insert_default().stop = Some(reason);
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
