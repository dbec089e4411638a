//! How a supervisor starts, restarts and stops each child.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use noex_agent::types::{ChildKind, RestartType, Strategy};

use super::server::SupervisorServer;
use crate::error::StartError;
use crate::gen_server::{GenServer, Link, ServerRef, SpawnOptions, spawn};
use crate::process::CellRef;
use crate::{ExitReason, Pid};

/// How a child is stopped: OTP's shutdown spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// Kill at once; `terminate` does not run.
    BrutalKill,
    /// Ask it to stop (`terminate` runs), and kill it if it has not ended in time.
    Timeout(Duration),
    /// Ask it to stop and wait as long as it takes (the default for supervisors).
    Infinity,
}

/// OTP's default shutdown for workers.
pub const DEFAULT_WORKER_SHUTDOWN: Shutdown = Shutdown::Timeout(Duration::from_secs(5));

/// What a supervisor passes to a child's start function.
pub(crate) struct ChildStart {
    pub(crate) link: Link,
    pub(crate) child_id: Arc<str>,
    pub(crate) restarts: u32,
    pub(crate) last_error: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) system: bool,
    /// The argument of a `simple_one_for_one` child.
    pub(crate) arg: Option<Arc<dyn Any + Send + Sync>>,
}

impl ChildStart {
    fn spawn_options(self) -> SpawnOptions {
        SpawnOptions {
            name: self.name,
            system: self.system,
            link: Some(self.link),
            child_id: Some(self.child_id),
            restarts: self.restarts,
            last_error: self.last_error,
            supervisor: None,
        }
    }
}

/// A running child, type-erased.
pub(crate) struct StartedChild {
    pub(crate) cell: CellRef,
    /// Queues a stop request in the child's mailbox.
    pub(crate) request_stop: Box<dyn Fn(ExitReason) + Send + Sync>,
}

impl StartedChild {
    pub(crate) fn pid(&self) -> Pid {
        self.cell.pid
    }

    fn new<S: GenServer>(server: ServerRef<S>) -> Self {
        StartedChild {
            cell: server.cell_ref(),
            request_stop: Box::new(move |reason| server.request_stop(reason)),
        }
    }

    /// Stop the child by its shutdown spec and wait until it has ended.
    pub(crate) async fn shutdown(self, shutdown: Shutdown) {
        match shutdown {
            Shutdown::BrutalKill => self.cell.kill(ExitReason::Killed),
            Shutdown::Timeout(limit) => {
                (self.request_stop)(ExitReason::Shutdown);
                if tokio::time::timeout(limit, self.cell.exit.wait())
                    .await
                    .is_ok()
                {
                    return;
                }
                self.cell.kill(ExitReason::Killed);
            }
            Shutdown::Infinity => (self.request_stop)(ExitReason::Shutdown),
        }
        self.cell.exit.wait().await;
    }
}

type StartFn =
    Arc<dyn Fn(ChildStart) -> BoxFuture<'static, Result<StartedChild, StartError>> + Send + Sync>;

/// How to start one child, and what to do when it exits.
///
/// ```
/// use noex::supervisor::{ChildSpec, RestartType};
/// # use noex::gen_server::{Context, GenServer, Reply};
/// # struct Worker;
/// # impl GenServer for Worker { type Call = (); type Cast = (); type Reply = ();
/// #   async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) } }
/// let spec = ChildSpec::worker("worker-1", || Worker).restart(RestartType::Transient);
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: String,
    pub(crate) restart: RestartType,
    pub(crate) shutdown: Shutdown,
    pub(crate) kind: ChildKind,
    pub(crate) name: Option<String>,
    pub(crate) system: bool,
    pub(crate) start: StartFn,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish()
    }
}

impl ChildSpec {
    /// A GenServer child; `factory` makes a fresh server for every (re)start, so a
    /// restarted child begins with fresh state and an empty mailbox.
    pub fn worker<S, F>(id: impl Into<String>, factory: F) -> Self
    where
        S: GenServer,
        F: Fn() -> S + Send + Sync + 'static,
    {
        Self::with_start(
            id,
            ChildKind::Worker,
            DEFAULT_WORKER_SHUTDOWN,
            move |start| {
                let server = factory();
                Box::pin(async move {
                    let server = spawn(server, start.spawn_options()).await?;
                    Ok(StartedChild::new(server))
                })
            },
        )
    }

    /// A GenServer child made from an argument: the template of a
    /// `simple_one_for_one` supervisor, started with `start_child_with(arg)`.
    pub fn worker_with<A, S, F>(id: impl Into<String>, factory: F) -> Self
    where
        A: Any + Send + Sync,
        S: GenServer,
        F: Fn(&A) -> S + Send + Sync + 'static,
    {
        Self::with_start(
            id,
            ChildKind::Worker,
            DEFAULT_WORKER_SHUTDOWN,
            move |start| {
                let arg = start.arg.clone();
                let server = arg
                    .as_deref()
                    .and_then(|arg| arg.downcast_ref::<A>())
                    .map(&factory);
                Box::pin(async move {
                    let Some(server) = server else {
                        return Err(StartError::BadArgument {
                            child_id: start.child_id.to_string(),
                            expected: std::any::type_name::<A>(),
                        });
                    };
                    let server = spawn(server, start.spawn_options()).await?;
                    Ok(StartedChild::new(server))
                })
            },
        )
    }

    /// A nested supervisor. Its default shutdown is `Infinity`, as in OTP.
    pub fn supervisor(id: impl Into<String>, spec: SupervisorSpec) -> Self {
        Self::with_start(
            id,
            ChildKind::Supervisor,
            Shutdown::Infinity,
            move |start| {
                let spec = spec.clone();
                Box::pin(async move {
                    let mut options = start.spawn_options();
                    options.name = options.name.or_else(|| spec.name.clone());
                    options.system |= spec.system;
                    let server = SupervisorServer::spawn(spec, options).await?;
                    Ok(StartedChild::new(server))
                })
            },
        )
    }

    fn with_start<F>(id: impl Into<String>, kind: ChildKind, shutdown: Shutdown, start: F) -> Self
    where
        F: Fn(ChildStart) -> BoxFuture<'static, Result<StartedChild, StartError>>
            + Send
            + Sync
            + 'static,
    {
        ChildSpec {
            id: id.into(),
            restart: RestartType::Permanent,
            shutdown,
            kind,
            name: None,
            system: false,
            start: Arc::new(start),
        }
    }

    /// When to restart: permanent (default), transient or temporary.
    pub fn restart(mut self, restart: RestartType) -> Self {
        self.restart = restart;
        self
    }

    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Register every instance of this child under `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    #[doc(hidden)]
    pub fn system(mut self, system: bool) -> Self {
        self.system = system;
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A supervisor's configuration: strategy, restart intensity and children.
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: u32,
    pub(crate) within: Duration,
    pub(crate) children: Vec<ChildSpec>,
    pub(crate) template: Option<ChildSpec>,
    pub(crate) name: Option<String>,
    pub(crate) system: bool,
}

/// The default restart intensity: 3 restarts within 5 seconds. OTP's own default
/// is 1 in 5 s; 3 tolerates a short burst of crashes before escalating.
pub const DEFAULT_MAX_RESTARTS: u32 = 3;
pub const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(5);

impl SupervisorSpec {
    fn with_strategy(strategy: Strategy) -> Self {
        SupervisorSpec {
            strategy,
            max_restarts: DEFAULT_MAX_RESTARTS,
            within: DEFAULT_RESTART_WINDOW,
            children: Vec::new(),
            template: None,
            name: None,
            system: false,
        }
    }

    /// Restart only the child that exited.
    pub fn one_for_one() -> Self {
        Self::with_strategy(Strategy::OneForOne)
    }

    /// When a child exits, stop the others (in reverse order) and restart them all.
    pub fn one_for_all() -> Self {
        Self::with_strategy(Strategy::OneForAll)
    }

    /// When a child exits, stop the children started after it and restart those and it.
    pub fn rest_for_one() -> Self {
        Self::with_strategy(Strategy::RestForOne)
    }

    /// Dynamic children of one template, added with `start_child_with(arg)`.
    pub fn simple_one_for_one(template: ChildSpec) -> Self {
        SupervisorSpec {
            template: Some(template),
            ..Self::with_strategy(Strategy::SimpleOneForOne)
        }
    }

    /// More than `max_restarts` restarts within `within` stops the supervisor.
    pub fn max_restarts(mut self, max_restarts: u32, within: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.within = within;
        self
    }

    /// Add a child; children start in the order added.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    pub fn children(mut self, children: impl IntoIterator<Item = ChildSpec>) -> Self {
        self.children.extend(children);
        self
    }

    /// Register the supervisor under `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    #[doc(hidden)]
    pub fn system(mut self, system: bool) -> Self {
        self.system = system;
        self
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }
}
