//! A process that holds a value, as Elixir's `Agent` does: callers read and change
//! it through functions that run inside the process, one at a time, so the value
//! needs no lock and each caller sees every change made before its own.
//!
//! ```
//! use noex::state_agent::StateAgent;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let counter = StateAgent::start(|| 0_u64, Some("hits")).await?;
//! counter.update(|hits| *hits += 1).await?;
//! counter.cast(|hits| *hits += 10)?;
//! // The value before, and 0 after.
//! let before = counter.get_and_update(std::mem::take).await?;
//! assert_eq!(before, 11);
//! assert_eq!(StateAgent::<u64>::lookup("hits")?.get(|hits| *hits).await?, 0);
//! counter.stop().await?;
//! # Ok(()) }
//! ```
//!
//! As in Elixir, the functions run in the agent's process: a slow one holds up every
//! caller behind it, and one that panics crashes the agent, which its supervisor
//! restarts from its initial value. Its caller, and every call queued behind it, gets
//! [`CallError::Exited`] with the panic's message, as an Elixir caller exits with the
//! agent's reason (on a multi-thread runtime the caller may hear first that its
//! reply was dropped: [`CallError::NoReply`]). A caller that times out stops waiting; its
//! function still runs when its turn comes. A cast to an agent that has ended is an
//! error here, where Elixir's `Agent.cast/2` returns `:ok` either way.

use std::fmt;
use std::time::Duration;

use crate::error::{CallError, StartError, StopError};
use crate::gen_server::{Context, DEFAULT_CALL_TIMEOUT, GenServer, Reply, ReplyTo, ServerRef};
use crate::registry::{self, LookupError};
use crate::services;
use crate::supervisor::ChildSpec;
use crate::{ExitReason, Pid, ServerNotRunningError};

/// A function the agent runs on its value.
type Job<T> = Box<dyn FnOnce(&mut T) + Send>;

/// A handle to a running agent holding a `T`. Cheap to clone.
pub struct StateAgent<T: Send + 'static> {
    server: ServerRef<StateAgentServer<T>>,
}

impl<T: Send + 'static> Clone for StateAgent<T> {
    fn clone(&self) -> Self {
        StateAgent {
            server: self.server.clone(),
        }
    }
}

impl<T: Send + 'static> fmt::Debug for StateAgent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateAgent")
            .field("pid", &self.server.pid())
            .finish()
    }
}

impl<T: Send + 'static> From<ServerRef<StateAgentServer<T>>> for StateAgent<T> {
    fn from(server: ServerRef<StateAgentServer<T>>) -> Self {
        StateAgent { server }
    }
}

impl<T: Send + 'static> StateAgent<T> {
    /// Start an agent whose value is `init()`, run in the agent's process before
    /// this returns (Elixir's `Agent.start_link/2`); registered under `name` if
    /// given. A panic in `init` fails the start with an `InitializationError`.
    pub async fn start(
        init: impl FnOnce() -> T + Send + 'static,
        name: Option<&str>,
    ) -> Result<Self, StartError> {
        let server = StateAgentServer::new(init);
        let server = services::start::<_, Self>(server, name).await?;
        Ok(StateAgent { server })
    }

    /// A supervisor child that runs an agent, starting from `init()` at every
    /// (re)start: a restarted agent holds its initial value again. Registered only
    /// if named (`.name("...")` on the spec), and then [`StateAgent::lookup`] finds
    /// it.
    pub fn child_spec(
        id: impl Into<String>,
        init: impl Fn() -> T + Send + Sync + 'static,
    ) -> ChildSpec {
        let init = std::sync::Arc::new(init);
        services::child_spec::<_, Self, _>(id, None, move || {
            let init = init.clone();
            StateAgentServer::new(move || init())
        })
    }

    /// The agent registered under `name`.
    pub fn lookup(name: &str) -> Result<Self, LookupError> {
        registry::lookup_wrapped::<StateAgentServer<T>, Self>(name).map(StateAgent::from)
    }

    /// The process behind the agent.
    pub fn server_ref(&self) -> &ServerRef<StateAgentServer<T>> {
        &self.server
    }

    /// The pid of the agent's process.
    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    /// Whether the agent's process is still running.
    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// What `read` makes of the value (Elixir's `Agent.get/3`), waiting at most
    /// [`DEFAULT_CALL_TIMEOUT`].
    pub async fn get<R: Send + 'static>(
        &self,
        read: impl FnOnce(&T) -> R + Send + 'static,
    ) -> Result<R, CallError> {
        self.get_timeout(read, DEFAULT_CALL_TIMEOUT).await
    }

    /// [`StateAgent::get`], waiting at most `timeout`.
    pub async fn get_timeout<R: Send + 'static>(
        &self,
        read: impl FnOnce(&T) -> R + Send + 'static,
        timeout: Duration,
    ) -> Result<R, CallError> {
        self.get_and_update_timeout(move |value| read(value), timeout)
            .await
    }

    /// Change the value, and wait until it is changed (Elixir's `Agent.update/3`).
    pub async fn update(
        &self,
        change: impl FnOnce(&mut T) + Send + 'static,
    ) -> Result<(), CallError> {
        self.get_and_update(change).await
    }

    /// Change the value and return what `change` returns, in one step: nobody
    /// else's function runs between the read and the write (Elixir's
    /// `Agent.get_and_update/3`, with the new value written in place).
    pub async fn get_and_update<R: Send + 'static>(
        &self,
        change: impl FnOnce(&mut T) -> R + Send + 'static,
    ) -> Result<R, CallError> {
        self.get_and_update_timeout(change, DEFAULT_CALL_TIMEOUT)
            .await
    }

    /// [`StateAgent::get_and_update`], waiting at most `timeout`.
    pub async fn get_and_update_timeout<R: Send + 'static>(
        &self,
        change: impl FnOnce(&mut T) -> R + Send + 'static,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let ask = move |reply: ReplyTo<R>| {
            job(move |value| {
                reply.reply(change(value));
            })
        };
        self.server.request_timeout(ask, timeout).await
    }

    /// Change the value without waiting (Elixir's `Agent.cast/2`); it is changed in
    /// turn, after what was asked before. Fails only if the agent has ended.
    pub fn cast(
        &self,
        change: impl FnOnce(&mut T) + Send + 'static,
    ) -> Result<(), ServerNotRunningError> {
        self.server.cast(job(change))
    }

    /// Stop the agent after what is already asked of it, and wait until it has
    /// ended (Elixir's `Agent.stop/3` with `:normal`).
    pub async fn stop(&self) -> Result<(), StopError> {
        self.server.stop(ExitReason::Normal).await
    }
}

fn job<T>(work: impl FnOnce(&mut T) + Send + 'static) -> Job<T> {
    Box::new(work)
}

/// The agent's process. Not used directly: see [`StateAgent`].
pub struct StateAgentServer<T> {
    /// Until `init` has run.
    init: Option<Box<dyn FnOnce() -> T + Send>>,
    /// From `init` on.
    value: Option<T>,
}

impl<T> StateAgentServer<T> {
    fn new(init: impl FnOnce() -> T + Send + 'static) -> Self {
        StateAgentServer {
            init: Some(Box::new(init)),
            value: None,
        }
    }

    fn run(&mut self, job: Job<T>) {
        job(self
            .value
            .as_mut()
            .expect("set by init, before any message"));
    }
}

impl<T: Send + 'static> GenServer for StateAgentServer<T> {
    type Call = Job<T>;
    type Cast = Job<T>;
    type Reply = ();

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), crate::error::BoxError> {
        let init = self.init.take().expect("init runs once");
        self.value = Some(init());
        Ok(())
    }

    async fn handle_call(&mut self, job: Job<T>, _: &mut Context<Self>) -> Reply<()> {
        // The job replies itself, through the `ReplyTo` it holds.
        self.run(job);
        Reply::Now(())
    }

    async fn handle_cast(&mut self, job: Job<T>, _: &mut Context<Self>) {
        self.run(job);
    }
}
