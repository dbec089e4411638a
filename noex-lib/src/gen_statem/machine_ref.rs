//! The handle to a running state machine: call, cast, info, stop.

use std::any::Any;
use std::time::Duration;

use super::GenStateMachine;
use super::server::StateMachineServer;
use crate::error::{CallError, StopError};
use crate::gen_server::ServerRef;
use crate::registry::{self, LookupError};
use crate::{ExitReason, Pid, ServerNotRunningError};

/// A handle to a running [`GenStateMachine`]. Cheap to clone; stays valid (and
/// reports errors) after the machine has ended.
pub struct StateMachineRef<M: GenStateMachine> {
    server: ServerRef<StateMachineServer<M>>,
}

impl<M: GenStateMachine> Clone for StateMachineRef<M> {
    fn clone(&self) -> Self {
        StateMachineRef {
            server: self.server.clone(),
        }
    }
}

impl<M: GenStateMachine> std::fmt::Debug for StateMachineRef<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachineRef")
            .field("pid", &self.pid())
            .finish()
    }
}

impl<M: GenStateMachine> From<ServerRef<StateMachineServer<M>>> for StateMachineRef<M> {
    fn from(server: ServerRef<StateMachineServer<M>>) -> Self {
        StateMachineRef { server }
    }
}

impl<M: GenStateMachine> StateMachineRef<M> {
    /// The machine registered under `name` (with
    /// [`StartOptions::name`](crate::gen_server::StartOptions::name), or a child
    /// spec's `.name(...)`).
    pub fn lookup(name: &str) -> Result<Self, LookupError> {
        registry::lookup_wrapped::<StateMachineServer<M>, Self>(name).map(Self::from)
    }

    /// The machine's pid.
    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    /// Whether the machine's process is still alive.
    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// The process behind the machine.
    pub fn server_ref(&self) -> &ServerRef<StateMachineServer<M>> {
        &self.server
    }

    /// Send a request, handled as an [`Event::Call`](super::Event::Call), and wait
    /// for the reply at most [`DEFAULT_CALL_TIMEOUT`](crate::gen_server::DEFAULT_CALL_TIMEOUT)
    /// (OTP's `gen_statem:call/2`). The reply may come from a later state.
    pub async fn call(&self, request: M::Call) -> Result<M::Reply, CallError> {
        self.server.call(request).await
    }

    /// [`StateMachineRef::call`], waiting at most `timeout`. Fails as
    /// [`ServerRef::call_timeout`] does.
    pub async fn call_timeout(
        &self,
        request: M::Call,
        timeout: Duration,
    ) -> Result<M::Reply, CallError> {
        self.server.call_timeout(request, timeout).await
    }

    /// Send an [`Event::Cast`](super::Event::Cast) without waiting. Fails only if
    /// the machine has ended.
    pub fn cast(&self, message: M::Cast) -> Result<(), ServerNotRunningError> {
        self.server.cast(message)
    }

    /// Send any message, handled as an [`Event::Info`](super::Event::Info).
    pub fn send_info(&self, message: impl Any + Send) -> Result<(), ServerNotRunningError> {
        self.server.send_info(message)
    }

    /// Stop the machine after the messages already in its mailbox, and wait until
    /// [`GenStateMachine::terminate`] has run (OTP's `gen_statem:stop/3`).
    pub async fn stop(&self, reason: ExitReason) -> Result<(), StopError> {
        self.server.stop(reason).await
    }

    /// End the machine at once, without `terminate`.
    pub fn kill(&self) {
        self.server.kill();
    }

    /// Wait until the machine has ended, and tell why.
    pub async fn wait(&self) -> ExitReason {
        self.server.wait().await
    }
}
