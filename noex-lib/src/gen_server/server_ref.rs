//! The handle to a running server: call, cast, info, stop.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use super::deadline::{Elapsed, Never, Within, with_deadline};
use super::reply::{ReplyOrExit, ReplyReceiver, reply_channel};
use super::shared::{Envelope, Shared};
use super::{DEFAULT_CALL_TIMEOUT, GenServer, ReplyTo};
use crate::error::{CallError, CallTimeoutError, ServerNotRunningError, StopError};
use crate::process::{self, CellRef, ProcessCell};
use crate::{ExitReason, Pid};

/// A reference to a GenServer. Cheap to clone; stays valid (and reports
/// `ServerNotRunningError`) after the server has ended.
pub struct ServerRef<S: GenServer> {
    shared: Arc<Shared<S>>,
}

impl<S: GenServer> Clone for ServerRef<S> {
    fn clone(&self) -> Self {
        ServerRef {
            shared: self.shared.clone(),
        }
    }
}

impl<S: GenServer> std::fmt::Debug for ServerRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerRef")
            .field("pid", &self.cell().pid)
            .field("type", &self.cell().type_name())
            .finish()
    }
}

impl<S: GenServer> process::HoldsCell for ServerRef<S> {
    #[inline]
    fn held_cell(&self) -> &ProcessCell {
        self.cell()
    }
}

impl<S: GenServer> ServerRef<S> {
    pub(crate) fn new(shared: Arc<Shared<S>>) -> Self {
        ServerRef { shared }
    }

    pub(crate) fn cell(&self) -> &ProcessCell {
        &self.shared.cell
    }

    pub(crate) fn shared(&self) -> &Shared<S> {
        &self.shared
    }

    /// The cell, as the process table, supervisors and the Observer hold it.
    pub(crate) fn cell_ref(&self) -> CellRef {
        CellRef::new(self.shared.clone())
    }

    /// The server's pid. It stays the same for the life of the server; a restarted
    /// server is a new process with a new pid.
    pub fn pid(&self) -> Pid {
        self.cell().pid
    }

    /// The name the server is registered under, if any.
    pub fn name(&self) -> Option<String> {
        self.cell().name().map(|n| n.to_string())
    }

    /// Whether the server is still alive (initializing, running or stopping).
    pub fn is_running(&self) -> bool {
        self.cell().is_alive()
    }

    /// Send a request and wait for the reply, at most [`DEFAULT_CALL_TIMEOUT`].
    pub async fn call(&self, request: S::Call) -> Result<S::Reply, CallError> {
        self.call_timeout(request, DEFAULT_CALL_TIMEOUT).await
    }

    /// Send a request and wait for the reply, at most `timeout`.
    ///
    /// Fails at once with `NotRunning` if the server is not running, and with
    /// `Exited` (carrying the exit reason) the moment the server exits without
    /// replying — while the call is queued, while it is handled, or after its reply
    /// was deferred.
    pub async fn call_timeout(
        &self,
        request: S::Call,
        timeout: Duration,
    ) -> Result<S::Reply, CallError> {
        let (reply, _waiting) = self.send_call(request)?;
        self.wait_within(reply, timeout).await
    }

    /// A typed request: `make` builds the call around the [`ReplyTo`] it is answered
    /// through, so the reply's type follows from the request, whatever the server's
    /// `Reply` type (as kameo's `Message<M>::Reply`). The server answers with
    /// [`ReplyTo::reply`] (what `handle_call` returns then goes nowhere). Waits at most
    /// [`DEFAULT_CALL_TIMEOUT`]; fails as [`ServerRef::call_timeout`] does, except
    /// that a handler that panics drops the `ReplyTo` it was handed before the server
    /// is marked as stopping, so its caller gets `NoReply` rather than the panic (the
    /// server still exits with it, and every call queued behind gets `Exited`).
    ///
    /// ```
    /// use noex::gen_server::{self, Context, GenServer, Reply, ReplyTo, StartOptions};
    ///
    /// struct Store(Vec<String>);
    /// enum Ask {
    ///     Len(ReplyTo<usize>),
    ///     Get(usize, ReplyTo<Option<String>>),
    /// }
    ///
    /// impl GenServer for Store {
    ///     type Call = Ask;
    ///     type Cast = ();
    ///     type Reply = ();
    ///
    ///     async fn handle_call(&mut self, ask: Ask, _: &mut Context<Self>) -> Reply<()> {
    ///         match ask {
    ///             Ask::Len(reply) => reply.reply(self.0.len()),
    ///             Ask::Get(at, reply) => reply.reply(self.0.get(at).cloned()),
    ///         };
    ///         Reply::Now(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
    /// # unsafe { std::env::set_var("NOEX_AGENT", "off") }
    /// let store = gen_server::start(Store(vec!["a".into()]), StartOptions::new()).await.unwrap();
    /// let len: usize = store.request(Ask::Len).await.unwrap();
    /// let first = store.request(|reply| Ask::Get(0, reply)).await.unwrap();
    /// assert_eq!((len, first.as_deref()), (1, Some("a")));
    /// # }
    /// ```
    pub async fn request<T: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<T>) -> S::Call,
    ) -> Result<T, CallError> {
        self.request_timeout(make, DEFAULT_CALL_TIMEOUT).await
    }

    /// [`ServerRef::request`], waiting at most `timeout`.
    pub async fn request_timeout<T: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<T>) -> S::Call,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let (reply, _waiting) = self.send_request(make)?;
        self.wait_within(reply, timeout).await
    }

    /// [`ServerRef::request`], waiting however long it takes (supervisor calls).
    pub(crate) async fn request_untimed<T: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<T>) -> S::Call,
    ) -> Result<T, CallError> {
        let (reply, _waiting) = self.send_request(make)?;
        let Ok(outcome) = with_deadline(ReplyOrExit::new(self.cell(), reply), Never).await;
        outcome
    }

    async fn wait_within<T>(
        &self,
        reply: ReplyReceiver<T>,
        timeout: Duration,
    ) -> Result<T, CallError> {
        match with_deadline(ReplyOrExit::new(self.cell(), reply), Within::new(timeout)).await {
            Ok(outcome) => outcome,
            Err(Elapsed) => Err(CallTimeoutError {
                pid: self.pid(),
                timeout,
            }
            .into()),
        }
    }

    fn send_request<T>(
        &self,
        make: impl FnOnce(ReplyTo<T>) -> S::Call,
    ) -> Result<(ReplyReceiver<T>, Waiting), CallError> {
        let waiter = self.start_waiting()?;
        let waiting = Waiting::on(waiter, self.pid());
        let (slot, reply) = reply_channel(waiter);
        let request = make(ReplyTo {
            slot,
            pid: self.pid(),
        });
        self.send_envelope(Envelope::Request(request))?;
        Ok((reply, waiting))
    }

    fn send_call(&self, request: S::Call) -> Result<(ReplyReceiver<S::Reply>, Waiting), CallError> {
        let waiter = self.start_waiting()?;
        let waiting = Waiting::on(waiter, self.pid());
        let (slot, reply) = reply_channel(waiter);
        self.send_envelope(Envelope::Call(request, slot))?;
        Ok((reply, waiting))
    }

    /// The calling process, if a process calls, now waiting for this server: a call
    /// to itself, or one that closes a cycle of waiting processes, could never be
    /// answered, and fails here.
    #[inline]
    fn start_waiting(&self) -> Result<u64, CallError> {
        process::with_current(|current| {
            let Some(caller) = current else {
                return Ok(0);
            };
            if std::ptr::eq(caller, self.cell()) {
                return Err(CallError::CallingSelf { pid: self.pid() });
            }
            process::start_waiting(caller, self.cell())
                .map_err(|cycle| CallError::Deadlock { cycle })?;
            Ok(caller.pid.0)
        })
    }

    /// Send a message without waiting. Fails only if the server has ended.
    pub fn cast(&self, message: S::Cast) -> Result<(), ServerNotRunningError> {
        self.send_envelope(Envelope::Cast(message))
    }

    /// Send a message to [`GenServer::handle_info`].
    pub fn send_info(&self, message: impl Any + Send) -> Result<(), ServerNotRunningError> {
        self.send_envelope(Envelope::Info(Box::new(message)))
    }

    /// Ask the server to stop after the messages already in its mailbox; waits until
    /// `terminate` has run and the process has ended. As OTP's `stop/3`: an error if
    /// the server is not running, or if it ended with another reason (its
    /// `terminate` panicked, or it was killed meanwhile).
    pub async fn stop(&self, reason: ExitReason) -> Result<(), StopError> {
        self.send_envelope(Envelope::Stop(Box::new(reason.clone())))?;
        let exited = self.cell().wait_exit().await;
        if exited == reason {
            Ok(())
        } else {
            Err(StopError::Exited {
                pid: self.pid(),
                reason: exited,
            })
        }
    }

    /// End the server at once, without `terminate` (OTP's `exit(Pid, kill)`).
    pub fn kill(&self) {
        self.cell().kill(ExitReason::Killed);
    }

    /// Wait until the server has ended, and tell why.
    pub async fn wait(&self) -> ExitReason {
        self.cell().wait_exit().await
    }

    #[inline]
    pub(crate) fn send_envelope(&self, envelope: Envelope<S>) -> Result<(), ServerNotRunningError> {
        // A send that races the server's exit is dropped with its mailbox (a call then
        // fails with NotRunning), so no status check is needed here.
        if self.shared.mailbox.send(envelope).is_err() {
            return Err(ServerNotRunningError { pid: self.pid() });
        }
        Ok(())
    }
}

/// A calling process's wait for one server, ended when the call does: answered,
/// failed, timed out or dropped. (A reply ends it first, as it is sent.) Only a
/// number: the caller is found again as the current process, which it still is.
pub(crate) struct Waiting(u64);

impl Waiting {
    #[inline]
    fn on(waiter: u64, callee: Pid) -> Self {
        Waiting(if waiter != 0 { callee.0 } else { 0 })
    }
}

impl Drop for Waiting {
    #[inline]
    fn drop(&mut self) {
        if self.0 != 0 {
            process::with_current(|current| {
                if let Some(caller) = current {
                    process::stop_waiting(caller, Pid(self.0));
                }
            });
        }
    }
}
