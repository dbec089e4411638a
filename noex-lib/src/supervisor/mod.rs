//! A supervisor restarts its children by a strategy, and gives up — stopping, so
//! that its own supervisor decides — when they crash too often.
//!
//! Children start in order and stop in reverse order. Strategies: `one_for_one`,
//! `one_for_all`, `rest_for_one`, `simple_one_for_one`; restart types `permanent`,
//! `transient`, `temporary`; restart intensity: more than `max_restarts` within a
//! window (by default OTP's, 1 in 5 s) stops every child and then the supervisor,
//! with a shutdown reason that says why
//! ([`ExitReason::MaxRestartsExceeded`]).
//!
//! It follows OTP's `supervisor` rule for rule; the few differences are listed,
//! each with its reason and its test, in [`otp_differences`].
//!
//! ## Names
//!
//! One rule for every child, built-in services included: a child's **id** names it
//! within its supervisor, and reaches it there, typed and across restarts
//! ([`SupervisorRef::child`]); a child is **registered** under a name, for the whole
//! application and for `noex ps`, only when its spec says so
//! ([`ChildSpec::name`], or a service's options `name`). Every instance the
//! supervisor starts takes that name again, so a [`NamedRef`] or a service's
//! `lookup` finds the current one. Ids may repeat across supervisors; names may not.
//!
//! ```
//! use noex::supervisor::{self, ChildSpec, SupervisorSpec};
//! # use noex::gen_server::{Context, GenServer, Reply};
//! # struct Worker;
//! # impl GenServer for Worker { type Call = (); type Cast = (); type Reply = ();
//! #   async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) } }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let sup = supervisor::start(
//!     SupervisorSpec::one_for_one()
//!         .child(ChildSpec::worker("worker-1", || Worker))
//!         .child(ChildSpec::worker("worker-2", || Worker)),
//! )
//! .await?;
//! assert_eq!(sup.count_children().await?.active, 2);
//! sup.stop().await?;
//! # Ok(()) }
//! ```

mod intensity;
pub mod otp_differences;
mod policy;
mod server;
mod spec;

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

pub use policy::{ChildInfo, ChildKind, ChildStatus, RestartType, Strategy};
use server::SupervisorCall;
pub(crate) use server::SupervisorServer;
pub use spec::{
    AnyServer, ChildSpec, DEFAULT_MAX_RESTARTS, DEFAULT_RESTART_WINDOW, DEFAULT_WORKER_SHUTDOWN,
    Shutdown, SupervisorSpec,
};

use crate::error::{StartError, StopError, SupervisorError};
use crate::gen_server::{GenServer, NamedRef, ReplyTo, ServerRef, SpawnOptions};
use crate::process::CellRef;
use crate::{ExitReason, Pid};

/// Start a supervisor and its children (in order). Fails if any child fails to start;
/// the children already started are stopped again.
pub async fn start(spec: SupervisorSpec) -> Result<SupervisorRef, StartError> {
    let options = SpawnOptions {
        name: spec.name.clone(),
        system: spec.system,
        ..SpawnOptions::default()
    };
    let server = SupervisorServer::spawn(spec, options).await?;
    Ok(SupervisorRef { server })
}

/// Counts of a supervisor's children (OTP's `count_children`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCount {
    /// Child specs, running or not; 1 (the template) for `simple_one_for_one`.
    pub specs: usize,
    /// Children running now.
    pub active: usize,
    /// Child specs of supervisors, running or not (for `simple_one_for_one`: its
    /// children, when the template is a supervisor).
    pub supervisors: usize,
    /// Child specs of workers, running or not (likewise).
    pub workers: usize,
}

/// A child, by the id of its spec or (in a `simple_one_for_one` supervisor) by its
/// pid: what `terminate_child` takes. A `&str` or a [`Pid`] converts into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildRef {
    /// The id of the child's spec.
    Id(String),
    /// The child's pid (`simple_one_for_one` children, which share their template's id).
    Pid(Pid),
}

impl From<&str> for ChildRef {
    fn from(id: &str) -> Self {
        ChildRef::Id(id.to_string())
    }
}

impl From<String> for ChildRef {
    fn from(id: String) -> Self {
        ChildRef::Id(id)
    }
}

impl From<Pid> for ChildRef {
    fn from(pid: Pid) -> Self {
        ChildRef::Pid(pid)
    }
}

/// A child [`SupervisorRef::start_child`] started: the pid of this instance, and, for
/// a worker, a typed handle that reaches it across its restarts.
pub struct StartedChild<S = AnyServer> {
    pid: Pid,
    id: Arc<str>,
    supervisor: CellRef,
    server: PhantomData<fn() -> S>,
}

impl<S> StartedChild<S> {
    /// The pid of the instance just started.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The child's id in its supervisor.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<S: GenServer> StartedChild<S> {
    /// The child, whichever instance of it runs when the handle is used.
    pub fn handle(&self) -> NamedRef<S> {
        NamedRef::child(self.supervisor.clone(), self.id.clone())
    }
}

impl<S> std::fmt::Debug for StartedChild<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedChild")
            .field("pid", &self.pid)
            .field("id", &self.id)
            .finish()
    }
}

/// A reference to a running supervisor.
#[derive(Clone, Debug)]
pub struct SupervisorRef {
    pub(crate) server: ServerRef<SupervisorServer>,
}

impl SupervisorRef {
    /// The supervisor's pid.
    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    /// The name the supervisor is registered under, if any.
    pub fn name(&self) -> Option<String> {
        self.server.name()
    }

    /// Whether the supervisor is still running.
    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// A typed request to the supervisor, waiting as long as it takes.
    async fn ask<T: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<T>) -> SupervisorCall,
    ) -> Result<T, SupervisorError> {
        Ok(self.server.request_untimed(request).await?)
    }

    /// Add and start a child. An id already in use is refused: `AlreadyStarted`
    /// (with its pid) if that child runs, `AlreadyPresent` if not. If its `init`
    /// returns `Ignore`: `Ignored`, the spec kept unless the child is temporary.
    ///
    /// A worker's spec gives back a typed child: [`StartedChild::handle`] reaches it
    /// across its restarts.
    pub async fn start_child<S>(
        &self,
        spec: ChildSpec<S>,
    ) -> Result<StartedChild<S>, SupervisorError> {
        let id: Arc<str> = Arc::from(spec.id());
        let spec = spec.erase();
        let pid = self
            .ask(|reply| SupervisorCall::StartChild(spec, reply))
            .await??;
        Ok(StartedChild {
            pid,
            id,
            supervisor: self.server.cell_ref(),
            server: PhantomData,
        })
    }

    /// Start a `simple_one_for_one` child from the template, with `arg`. Its id is
    /// the template's, numbered (`session-7`).
    pub async fn start_child_with<A: Any + Send + Sync>(
        &self,
        arg: A,
    ) -> Result<Pid, SupervisorError> {
        let arg: spec::ChildArg = Box::new(arg);
        self.ask(|reply| SupervisorCall::StartChildWith(arg, reply))
            .await?
    }

    /// Stop a child by its shutdown spec: by id, or — a `simple_one_for_one` child —
    /// by pid too, as in OTP. Its spec stays (restart it with `restart_child`),
    /// except for temporary and `simple_one_for_one` children. A
    /// `simple_one_for_one` child that has already ended is no error.
    pub async fn terminate_child(&self, child: impl Into<ChildRef>) -> Result<(), SupervisorError> {
        let child = child.into();
        self.ask(|reply| SupervisorCall::TerminateChild(child, reply))
            .await?
    }

    /// Start a stopped child again (one stopped by `terminate_child`, or a
    /// transient one that ended); returns the new pid. As in OTP, a running child
    /// is an error (`Running`: terminate it first), as are a child whose restart is
    /// pending (`Restarting`) and every `simple_one_for_one` child. Does not count
    /// toward the restart intensity.
    pub async fn restart_child(&self, id: &str) -> Result<Pid, SupervisorError> {
        self.ask(|reply| SupervisorCall::RestartChild(id.to_string(), reply))
            .await?
    }

    /// Forget the spec of a stopped child. As in OTP, a running child is an error
    /// (`Running`: terminate it first), and so is any `simple_one_for_one` child.
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.ask(|reply| SupervisorCall::DeleteChild(id.to_string(), reply))
            .await?
    }

    /// The children, in start order.
    pub async fn children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.ask(SupervisorCall::Children).await
    }

    /// The child `id`, typed, whichever instance of it runs when the handle is used:
    /// it outlives the child's restarts (see [`NamedRef`]). Not for
    /// `simple_one_for_one` children, which share their template's id.
    pub fn child<S: GenServer>(&self, id: &str) -> NamedRef<S> {
        NamedRef::child(self.server.cell_ref(), Arc::from(id))
    }

    /// What the supervisor says of child `id`, if it has it.
    pub async fn child_info(&self, id: &str) -> Result<Option<ChildInfo>, SupervisorError> {
        Ok(self
            .children()
            .await?
            .into_iter()
            .find(|child| child.id == id))
    }

    /// How many children the supervisor has, by kind and by state (OTP's
    /// `count_children`).
    pub async fn count_children(&self) -> Result<ChildCount, SupervisorError> {
        self.ask(SupervisorCall::CountChildren).await
    }

    /// Stop every child in reverse start order, then the supervisor.
    pub async fn stop(&self) -> Result<(), StopError> {
        self.server.stop(ExitReason::Shutdown).await
    }

    /// End the supervisor at once (OTP's `exit(Sup, kill)`). Its children are killed
    /// too, and its exit is reported once they are gone.
    pub fn kill(&self) {
        self.server.kill();
    }

    /// Wait until the supervisor has ended, and tell why: an application that
    /// waits on its root supervisor learns here that the tree gave up
    /// ([`ExitReason::MaxRestartsExceeded`]).
    pub async fn wait(&self) -> ExitReason {
        self.server.wait().await
    }
}

/// The live supervisor with this pid, if there is one (the agent's restart action).
#[cfg(feature = "agent")]
pub(crate) fn supervisor_at(pid: Pid) -> Option<SupervisorRef> {
    let shared = crate::process::processes()
        .get(pid)?
        .downcast::<crate::gen_server::Shared<SupervisorServer>>()?;
    Some(SupervisorRef {
        server: ServerRef::new(shared),
    })
}
