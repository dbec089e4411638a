//! Waiting for a call's reply: the reply, or the server's exit, whichever comes first.
//!
//! Every caller the server knows of (the call it handles, the calls queued) is
//! answered with the exit reason when it exits. What is left is a reply deferred to
//! a handle the server no longer owns: for that, the caller also watches the exit.
//! It starts watching only at its second poll (`with_deadline` always polls twice):
//! the first almost always finds the reply on its way, and watching costs a lock.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::CallError;
use crate::process::{self, ProcessCell, ProcessStatus};
use crate::{ExitReason, Pid};

/// The outcome delivered to a caller: the reply, or the reason the server exited
/// before it replied.
///
/// The `oneshot` crate's channel rather than tokio's: its two ends share one state
/// word and no reference counts, so a reply costs about half the atomic operations
/// (a tenth of a round trip, measured on the call benchmark).
pub(crate) struct ReplySlot<R> {
    sender: oneshot::Sender<Result<R, ExitReason>>,
    /// The pid of the process that made the call, 0 if no process did: the reply
    /// ends its wait in the waits-for graph (see `process::waiting`). A pid, not
    /// its cell: the slot lives in every server's context, sized to the byte.
    waiter: u64,
}

impl<R> ReplySlot<R> {
    /// Answer the caller of `callee` (the server replying). Returns whether the
    /// caller was still waiting.
    #[inline]
    pub(crate) fn send(self, outcome: Result<R, ExitReason>, callee: Pid) -> bool {
        // Before the reply is sent, so that the caller, once it runs again, cannot
        // have a newer wait that this would take back.
        process::reply_sent(self.waiter, callee);
        self.sender.send(outcome).is_ok()
    }
}

/// A call's two ends; `waiter` is the calling process's pid, 0 if no process calls.
#[inline]
pub(crate) fn reply_channel<R>(waiter: u64) -> (ReplySlot<R>, ReplyReceiver<R>) {
    let (sender, receiver) = oneshot::channel();
    (ReplySlot { sender, waiter }, receiver)
}

/// The caller's end of a [`ReplySlot`].
pub(crate) type ReplyReceiver<R> = oneshot::Receiver<Result<R, ExitReason>>;

type ExitWatch<'a> = Pin<Box<dyn Future<Output = ExitReason> + Send + 'a>>;

/// A hand-written future rather than an `async fn`: it stays small (a pointer or
/// two besides the receiver), and every call moves it.
pub(crate) struct ReplyOrExit<'a, R> {
    cell: &'a ProcessCell,
    reply: ReplyReceiver<R>,
    exit: Option<ExitWatch<'a>>,
    polled: bool,
    /// The reply handle was dropped with the server on its way out: only its exit
    /// reason is left to wait for.
    reply_dropped: bool,
}

impl<'a, R> ReplyOrExit<'a, R> {
    pub(crate) fn new(cell: &'a ProcessCell, reply: ReplyReceiver<R>) -> Self {
        ReplyOrExit {
            cell,
            reply,
            exit: None,
            polled: false,
            reply_dropped: false,
        }
    }

    fn exited(&self, reason: ExitReason) -> CallError {
        CallError::Exited {
            pid: self.cell.pid,
            reason,
        }
    }
}

impl<R> Future for ReplyOrExit<'_, R> {
    type Output = Result<R, CallError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this.reply_dropped {
            match Pin::new(&mut this.reply).poll(cx) {
                Poll::Ready(Ok(Ok(value))) => return Poll::Ready(Ok(value)),
                Poll::Ready(Ok(Err(reason))) => return Poll::Ready(Err(this.exited(reason))),
                // Dropped unanswered by a live server: NoReply. By a server on its way
                // out: its reason comes with its exit.
                Poll::Ready(Err(_)) if this.cell.status() == ProcessStatus::Running => {
                    return Poll::Ready(Err(CallError::NoReply { pid: this.cell.pid }));
                }
                Poll::Ready(Err(_)) => this.reply_dropped = true,
                Poll::Pending if !this.polled => {
                    this.polled = true;
                    return Poll::Pending;
                }
                Poll::Pending => {}
            }
        }
        let cell = this.cell;
        let exit = this.exit.get_or_insert_with(|| Box::pin(cell.wait_exit()));
        let Poll::Ready(reason) = exit.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        // A reply sent just before the exit still wins (on a dropped handle this
        // finds nothing, and the exit reason stands).
        match this.reply.try_recv() {
            Ok(outcome) => Poll::Ready(outcome.map_err(|reason| this.exited(reason))),
            Err(_) => Poll::Ready(Err(this.exited(reason))),
        }
    }
}
