//! What a state machine's handler can do besides returning its transition.

use std::any::Any;
use std::time::Duration;

use super::server::StateMachineServer;
use super::{GenStateMachine, StateMachineRef};
use crate::gen_server::{self, TimerRef};
use crate::process::MonitorRef;
use crate::{ExitReason, Pid, ServerNotRunningError};

/// The handler's view of its own process: its pid and handle, plain timers,
/// monitors, links and exit signals, as a GenServer's
/// [`Context`](crate::gen_server::Context) has them. Stopping, replying and the
/// machine's own timeouts are [`Transition`](super::Transition)s instead.
pub struct Context<'a, M: GenStateMachine> {
    inner: &'a mut gen_server::Context<StateMachineServer<M>>,
}

impl<'a, M: GenStateMachine> Context<'a, M> {
    pub(crate) fn new(inner: &'a mut gen_server::Context<StateMachineServer<M>>) -> Self {
        Context { inner }
    }

    /// This machine's pid.
    pub fn pid(&self) -> Pid {
        self.inner.pid()
    }

    /// A handle to this machine, to hand to other processes.
    pub fn myself(&self) -> StateMachineRef<M> {
        StateMachineRef::from(self.inner.myself())
    }

    /// Deliver `message` as an [`Event::Info`](super::Event::Info) after `delay`
    /// (OTP's `erlang:start_timer/3`, which neither events nor state changes
    /// cancel). The machine's own timeouts are usually what is wanted:
    /// [`Transition::state_timeout`](super::Transition::state_timeout) and the rest.
    pub fn send_after(&self, delay: Duration, message: impl Any + Send) -> TimerRef {
        self.inner.send_after(delay, message)
    }

    /// Monitor `pid`: one [`Down`](crate::process::Down) comes as an info event
    /// when it ends.
    pub fn monitor(&self, pid: Pid) -> MonitorRef {
        self.inner.monitor(pid)
    }

    /// Take a monitor back; see [`gen_server::Context::demonitor`].
    pub fn demonitor(&self, monitor: MonitorRef) -> bool {
        self.inner.demonitor(monitor)
    }

    /// Link this process with `pid`; see [`gen_server::Context::link`].
    pub fn link(&self, pid: Pid) -> Result<(), ServerNotRunningError> {
        self.inner.link(pid)
    }

    /// Remove the link with `pid`, if any.
    pub fn unlink(&self, pid: Pid) {
        self.inner.unlink(pid);
    }

    /// Trap exits: exit signals from links come as info events
    /// ([`Exit`](crate::process::Exit)) instead of ending the machine.
    pub fn trap_exit(&self, trap: bool) {
        self.inner.trap_exit(trap);
    }

    /// Send `pid` an exit signal; see [`gen_server::Context::exit`].
    pub fn exit(&self, pid: Pid, reason: ExitReason) {
        self.inner.exit(pid, reason);
    }
}
