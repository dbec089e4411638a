//! A supervisor restarts its children by a strategy, and gives up — escalating to
//! its own supervisor — when they crash too often.
//!
//! Children start in order and stop in reverse order. Strategies: `one_for_one`,
//! `one_for_all`, `rest_for_one`, `simple_one_for_one`; restart types `permanent`,
//! `transient`, `temporary`; restart intensity: more than `max_restarts` within a
//! window stops every child and then the supervisor, with `MaxRestartsExceeded`.
//!
//! ```
//! use noex::supervisor::{self, ChildSpec, SupervisorSpec};
//! # use noex::gen_server::{Context, GenServer, Reply};
//! # struct Worker;
//! # impl GenServer for Worker { type Call = (); type Cast = (); type Reply = ();
//! #   async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) } }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
mod server;
mod spec;

use std::any::Any;
use std::sync::{Arc, LazyLock};

use dashmap::DashMap;
pub use noex_agent::types::{ChildInfo, ChildKind, RestartType, Strategy};
pub(crate) use server::SupervisorServer;
use server::{SupervisorCall, SupervisorReply};
pub use spec::{
    ChildSpec, DEFAULT_MAX_RESTARTS, DEFAULT_RESTART_WINDOW, DEFAULT_WORKER_SHUTDOWN, Shutdown,
    SupervisorSpec,
};

use crate::error::{ServerNotRunningError, StartError, SupervisorError};
use crate::gen_server::{ServerRef, SpawnOptions};
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

/// Counts of a supervisor's children.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCount {
    /// Child specs, running or not.
    pub specs: usize,
    /// Children running now.
    pub active: usize,
    pub supervisors: usize,
    pub workers: usize,
}

/// A reference to a running supervisor.
#[derive(Clone, Debug)]
pub struct SupervisorRef {
    pub(crate) server: ServerRef<SupervisorServer>,
}

impl SupervisorRef {
    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    pub fn name(&self) -> Option<String> {
        self.server.name()
    }

    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    async fn ask(&self, request: SupervisorCall) -> Result<SupervisorReply, SupervisorError> {
        Ok(self.server.call_untimed(request).await?)
    }

    /// Add and start a child. `DuplicateChildError` if the id is taken.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<Pid, SupervisorError> {
        match self.ask(SupervisorCall::StartChild(spec)).await? {
            SupervisorReply::Started(result) => result,
            _ => unreachable!("start_child answers Started"),
        }
    }

    /// Start a `simple_one_for_one` child from the template, with `arg`.
    pub async fn start_child_with<A: Any + Send + Sync>(
        &self,
        arg: A,
    ) -> Result<Pid, SupervisorError> {
        match self
            .ask(SupervisorCall::StartChildWith(Arc::new(arg)))
            .await?
        {
            SupervisorReply::Started(result) => result,
            _ => unreachable!("start_child_with answers Started"),
        }
    }

    /// Stop a child by its shutdown spec. Its spec stays (restart it with
    /// `restart_child`), except for temporary and `simple_one_for_one` children.
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        match self
            .ask(SupervisorCall::TerminateChild(id.to_string()))
            .await?
        {
            SupervisorReply::Done(result) => result,
            _ => unreachable!("terminate_child answers Done"),
        }
    }

    /// Stop (if running) and start a child again; returns the new pid. Not for
    /// `simple_one_for_one` children, as in OTP.
    pub async fn restart_child(&self, id: &str) -> Result<Pid, SupervisorError> {
        match self
            .ask(SupervisorCall::RestartChild(id.to_string()))
            .await?
        {
            SupervisorReply::Started(result) => result,
            _ => unreachable!("restart_child answers Started"),
        }
    }

    /// Stop a child (if running) and forget its spec.
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        match self
            .ask(SupervisorCall::DeleteChild(id.to_string()))
            .await?
        {
            SupervisorReply::Done(result) => result,
            _ => unreachable!("delete_child answers Done"),
        }
    }

    /// The children, in start order.
    pub async fn children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        match self.ask(SupervisorCall::Children).await? {
            SupervisorReply::Children(children) => Ok(children),
            _ => unreachable!("children answers Children"),
        }
    }

    /// One child by id, if the supervisor has it.
    pub async fn child(&self, id: &str) -> Result<Option<ChildInfo>, SupervisorError> {
        Ok(self
            .children()
            .await?
            .into_iter()
            .find(|child| child.id == id))
    }

    pub async fn count_children(&self) -> Result<ChildCount, SupervisorError> {
        match self.ask(SupervisorCall::CountChildren).await? {
            SupervisorReply::Count(count) => Ok(count),
            _ => unreachable!("count_children answers Count"),
        }
    }

    /// Stop every child in reverse start order, then the supervisor.
    pub async fn stop(&self) -> Result<(), ServerNotRunningError> {
        self.server.stop(ExitReason::Shutdown).await
    }

    /// Wait until the supervisor has ended, and tell why.
    pub async fn wait(&self) -> ExitReason {
        self.server.wait().await
    }
}

/// Live supervisors by pid, so the agent can ask a child's supervisor to restart it.
pub(crate) fn live_supervisors() -> &'static DashMap<Pid, SupervisorRef> {
    static LIVE: LazyLock<DashMap<Pid, SupervisorRef>> = LazyLock::new(DashMap::new);
    &LIVE
}
