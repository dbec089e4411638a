//! How a supervisor starts, restarts and stops each child.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::policy::{ChildKind, RestartType, Strategy};
use super::server::SupervisorServer;
use crate::ExitReason;
use crate::error::{DuplicateChildError, SpecError, StartError};
use crate::future::BoxFuture;
use crate::gen_server::{GenServer, SpawnOptions, spawn};
use crate::process::CellRef;

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
    /// The supervisor: the child is linked to it.
    pub(crate) parent: CellRef,
    pub(crate) child_id: Arc<str>,
    pub(crate) restarts: u32,
    pub(crate) last_error: Option<Box<str>>,
    pub(crate) name: Option<String>,
    pub(crate) system: bool,
    /// See `SpawnOptions::handle_type`.
    pub(crate) handle_type: Option<fn() -> &'static str>,
}

/// The argument of a `simple_one_for_one` child, lent to its start function, which
/// makes the server from it before anything is awaited. Kept in a `Box`: for the
/// usual `()` that is no allocation at all (a million children, a million fewer).
pub(crate) type ChildArg = Box<dyn Any + Send + Sync>;

impl ChildStart {
    fn spawn_options(self) -> SpawnOptions {
        SpawnOptions {
            name: self.name,
            // As OTP's supervisors: a child's `init` takes as long as it takes.
            start_timeout: None,
            system: self.system,
            parent: Some(self.parent),
            child_id: Some(self.child_id),
            restarts: self.restarts,
            last_error: self.last_error,
            supervisor: None,
            handle_type: self.handle_type,
        }
    }
}

/// Stop a child by its shutdown spec and wait until it has ended (OTP's
/// `shutdown/1`: ask, wait, then kill). `terminate` runs unless it is killed.
pub(crate) async fn shutdown_child(child: &CellRef, shutdown: Shutdown) {
    match shutdown {
        Shutdown::BrutalKill => child.kill(ExitReason::Killed),
        Shutdown::Timeout(limit) => {
            child.request_stop(ExitReason::Shutdown);
            if tokio::time::timeout(limit, child.wait_exit()).await.is_ok() {
                return;
            }
            child.kill(ExitReason::Killed);
        }
        Shutdown::Infinity => child.request_stop(ExitReason::Shutdown),
    }
    child.wait_exit().await;
}

/// Stop many children at once by one shutdown spec, as OTP stops the children of
/// a `simple_one_for_one` supervisor: all asked together, one shared timeout.
pub(crate) async fn shutdown_children(children: &[CellRef], shutdown: Shutdown) {
    // Every child was asked at once; waiting for their exits in turn waits as long.
    let all_ended = || async {
        for child in children {
            child.wait_exit().await;
        }
    };
    match shutdown {
        Shutdown::BrutalKill => children.iter().for_each(|c| c.kill(ExitReason::Killed)),
        Shutdown::Timeout(limit) => {
            children
                .iter()
                .for_each(|c| c.request_stop(ExitReason::Shutdown));
            if tokio::time::timeout(limit, all_ended()).await.is_ok() {
                return;
            }
            children.iter().for_each(|c| c.kill(ExitReason::Killed));
        }
        Shutdown::Infinity => children
            .iter()
            .for_each(|c| c.request_stop(ExitReason::Shutdown)),
    }
    all_ended().await;
}

type StartFn = Arc<
    dyn Fn(
            ChildStart,
            Option<&(dyn Any + Send + Sync)>,
        ) -> BoxFuture<'static, Result<CellRef, StartError>>
        + Send
        + Sync,
>;

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
///
/// A worker's spec knows its server's type (`ChildSpec<Worker>`), so
/// [`SupervisorRef::start_child`](super::SupervisorRef::start_child) hands back a
/// typed handle; specs of nested supervisors, and specs gathered into one list, are
/// `ChildSpec` ([`AnyServer`]).
pub struct ChildSpec<S = AnyServer> {
    pub(crate) id: String,
    pub(crate) restart: RestartType,
    pub(crate) shutdown: Shutdown,
    pub(crate) kind: ChildKind,
    pub(crate) name: Option<String>,
    pub(crate) system: bool,
    /// See `SpawnOptions::handle_type`.
    pub(crate) handle_type: Option<fn() -> &'static str>,
    pub(crate) start: StartFn,
    server: PhantomData<fn() -> S>,
}

/// The server type of a [`ChildSpec`] that does not say which: a nested supervisor,
/// or one spec among others of different types. No value of it exists.
#[derive(Clone, Copy, Debug)]
pub enum AnyServer {}

impl<S> Clone for ChildSpec<S> {
    fn clone(&self) -> Self {
        ChildSpec {
            id: self.id.clone(),
            restart: self.restart,
            shutdown: self.shutdown,
            kind: self.kind,
            name: self.name.clone(),
            system: self.system,
            start: self.start.clone(),
            handle_type: self.handle_type,
            server: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for ChildSpec<S> {
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
    pub fn worker<S, F>(id: impl Into<String>, factory: F) -> ChildSpec<S>
    where
        S: GenServer,
        F: Fn() -> S + Send + Sync + 'static,
    {
        Self::with_start(
            id,
            ChildKind::Worker,
            DEFAULT_WORKER_SHUTDOWN,
            move |start, _| {
                let server = factory();
                Box::pin(async move {
                    let server = spawn(server, start.spawn_options()).await?;
                    Ok(server.cell_ref())
                })
            },
        )
    }

    /// A GenServer child made from an argument: the template of a
    /// `simple_one_for_one` supervisor, started with `start_child_with(arg)`.
    pub fn worker_with<A, S, F>(id: impl Into<String>, factory: F) -> ChildSpec<S>
    where
        A: Any + Send + Sync,
        S: GenServer,
        F: Fn(&A) -> S + Send + Sync + 'static,
    {
        Self::with_start(
            id,
            ChildKind::Worker,
            DEFAULT_WORKER_SHUTDOWN,
            move |start, arg| {
                let server = arg.and_then(|arg| arg.downcast_ref::<A>()).map(&factory);
                Box::pin(async move {
                    let Some(server) = server else {
                        return Err(StartError::BadArgument {
                            child_id: start.child_id.to_string(),
                            expected: std::any::type_name::<A>(),
                        });
                    };
                    let server = spawn(server, start.spawn_options()).await?;
                    Ok(server.cell_ref())
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
            move |start, _| {
                let spec = spec.clone();
                Box::pin(async move {
                    let mut options = start.spawn_options();
                    options.name = options.name.or_else(|| spec.name.clone());
                    options.system |= spec.system;
                    let server = SupervisorServer::spawn(spec, options).await?;
                    Ok(server.cell_ref())
                })
            },
        )
    }

    fn with_start<S, F>(
        id: impl Into<String>,
        kind: ChildKind,
        shutdown: Shutdown,
        start: F,
    ) -> ChildSpec<S>
    where
        F: Fn(
                ChildStart,
                Option<&(dyn Any + Send + Sync)>,
            ) -> BoxFuture<'static, Result<CellRef, StartError>>
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
            handle_type: None,
            start: Arc::new(start),
            server: PhantomData,
        }
    }
}

impl<S> ChildSpec<S> {
    /// The same spec, with its server type forgotten: to keep it in one list with
    /// specs of other types.
    pub fn erase(self) -> ChildSpec {
        ChildSpec {
            id: self.id,
            restart: self.restart,
            shutdown: self.shutdown,
            kind: self.kind,
            name: self.name,
            system: self.system,
            start: self.start,
            handle_type: self.handle_type,
            server: PhantomData,
        }
    }

    /// When to restart: permanent (default), transient or temporary.
    pub fn restart(mut self, restart: RestartType) -> Self {
        self.restart = restart;
        self
    }

    /// How the child is stopped (OTP's `shutdown`): by default 5 s for a worker,
    /// then killed, and [`Shutdown::Infinity`] for a supervisor.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Register every instance of this child under `name` (unnamed, a child is reached
    /// through its supervisor by id: see "Names" in [`crate::supervisor`]).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    #[doc(hidden)]
    pub fn system(mut self, system: bool) -> Self {
        self.system = system;
        self
    }

    /// The child's id, unique within its supervisor.
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
    pub(crate) template: Option<Arc<ChildSpec>>,
    pub(crate) name: Option<String>,
    pub(crate) system: bool,
}

/// The default restart intensity, OTP's: one restart within 5 seconds. An
/// application sets its own where it expects more.
pub const DEFAULT_MAX_RESTARTS: u32 = 1;
/// The default window for [`DEFAULT_MAX_RESTARTS`]: 5 seconds (OTP's `period`).
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
    pub fn simple_one_for_one<S>(template: ChildSpec<S>) -> Self {
        SupervisorSpec {
            template: Some(Arc::new(template.erase())),
            ..Self::with_strategy(Strategy::SimpleOneForOne)
        }
    }

    /// More than `max_restarts` restarts within `within` stops the supervisor. The
    /// window must be longer than zero (checked at start).
    pub fn max_restarts(mut self, max_restarts: u32, within: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.within = within;
        self
    }

    /// Add a child; children start in the order added.
    pub fn child<S>(mut self, child: ChildSpec<S>) -> Self {
        self.children.push(child.erase());
        self
    }

    /// Add several children, started in the order given, after those already added.
    pub fn children<S>(mut self, children: impl IntoIterator<Item = ChildSpec<S>>) -> Self {
        self.children
            .extend(children.into_iter().map(ChildSpec::erase));
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

    /// The restart strategy: `one_for_one`, `one_for_all`, `rest_for_one` or
    /// `simple_one_for_one`.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// OTP's checks of a supervisor's flags and start spec, before anything starts.
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        if self.within.is_zero() {
            return Err(SpecError::ZeroPeriod);
        }
        if self.strategy == Strategy::SimpleOneForOne && !self.children.is_empty() {
            return Err(SpecError::SimpleOneForOneWithChildren);
        }
        let mut ids = std::collections::HashSet::new();
        for child in &self.children {
            if !ids.insert(child.id.as_str()) {
                return Err(DuplicateChildError {
                    id: child.id.clone(),
                }
                .into());
            }
        }
        Ok(())
    }
}
