//! A handle that outlives restarts: a server named by its registered name, or by its
//! place under a supervisor, found again on each use.
//!
//! A [`ServerRef`] is one process: once its supervisor restarts it, the new process
//! has a new pid and the old reference reports `NotRunning`. A [`NamedRef`] holds
//! what stays the same across restarts instead, and looks the server up each time.
//! A call made while there is none (the child is restarting) waits for the next one
//! within the call's timeout, as a call by registered name does in OTP when the
//! name is back in time. A call already delivered to a process that then exits
//! fails with `Exited`, as any call does: it may have been handled.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::shared::Shared;
use super::{DEFAULT_CALL_TIMEOUT, GenServer, ReplyTo, ServerRef};
use crate::Pid;
use crate::error::{CallError, UnresolvedError};
use crate::process::{self, CellRef, Registered};
use crate::type_names::readable_type_name;

/// A server by its registered name or by its child id under a supervisor, looked up
/// on each use, so one handle serves every instance its supervisor starts.
///
/// ```
/// use noex::gen_server::{Context, GenServer, NamedRef, Reply};
/// use noex::supervisor::{self, ChildSpec, SupervisorSpec};
///
/// struct Counter(u64);
/// impl GenServer for Counter {
///     type Call = ();
///     type Cast = ();
///     type Reply = u64;
///     async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
///         self.0 += 1;
///         Reply::Now(self.0)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
/// # unsafe { std::env::set_var("NOEX_AGENT", "off") }
/// let app = supervisor::start(
///     SupervisorSpec::one_for_one().child(ChildSpec::worker("counter", || Counter(0)).name("counter")),
/// )
/// .await?;
/// let counter = NamedRef::<Counter>::new("counter");
/// assert_eq!(counter.call(()).await?, 1);
/// counter.resolve()?.kill(); // its supervisor starts a fresh one
/// assert_eq!(counter.call(()).await?, 1); // the same handle reaches it
/// app.stop().await?;
/// # Ok(()) }
/// ```
pub struct NamedRef<S: GenServer> {
    target: Target,
    _server: PhantomData<fn() -> S>,
}

#[derive(Clone)]
enum Target {
    Name(Arc<str>),
    Child { supervisor: CellRef, id: Arc<str> },
}

/// What one lookup found.
enum Found<S: GenServer> {
    Running(ServerRef<S>),
    /// Nothing there now; a later one may come.
    Nothing,
}

impl<S: GenServer> NamedRef<S> {
    /// The server registered under `name`, whichever process that is when used.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        NamedRef {
            target: Target::Name(name.into()),
            _server: PhantomData,
        }
    }

    /// The child `id` of the supervisor `supervisor`, whichever instance runs.
    pub(crate) fn child(supervisor: CellRef, id: Arc<str>) -> Self {
        NamedRef {
            target: Target::Child { supervisor, id },
            _server: PhantomData,
        }
    }

    /// What the handle names, as errors show it: `"pool-1"`, or
    /// `child "pool-1" of <0.3>`.
    pub fn target(&self) -> String {
        match &self.target {
            Target::Name(name) => format!("{name:?}"),
            Target::Child { supervisor, id } => format!("child {id:?} of {}", supervisor.pid),
        }
    }

    /// The server now, without waiting.
    pub fn resolve(&self) -> Result<ServerRef<S>, UnresolvedError> {
        match self.find()? {
            Found::Running(server) => Ok(server),
            Found::Nothing => Err(self.not_found(None)),
        }
    }

    /// The pid of the server now, if one runs.
    pub fn pid(&self) -> Option<Pid> {
        self.resolve().ok().map(|server| server.pid())
    }

    /// The server now, or the next one to come up within `timeout`.
    pub async fn resolve_within(&self, timeout: Duration) -> Result<ServerRef<S>, UnresolvedError> {
        self.resolve_until(Instant::now() + timeout, timeout).await
    }

    /// Call the server, waiting at most [`DEFAULT_CALL_TIMEOUT`] in all: for one to
    /// come up if none runs now, then for its reply.
    pub async fn call(&self, request: S::Call) -> Result<S::Reply, CallError> {
        self.call_timeout(request, DEFAULT_CALL_TIMEOUT).await
    }

    /// [`NamedRef::call`], waiting at most `timeout` in all.
    pub async fn call_timeout(
        &self,
        request: S::Call,
        timeout: Duration,
    ) -> Result<S::Reply, CallError> {
        let (server, left) = self.resolve_for_call(timeout).await?;
        server.call_timeout(request, left).await
    }

    /// A typed request ([`ServerRef::request`]), waiting at most
    /// [`DEFAULT_CALL_TIMEOUT`] in all.
    pub async fn request<T: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<T>) -> S::Call,
    ) -> Result<T, CallError> {
        self.request_timeout(make, DEFAULT_CALL_TIMEOUT).await
    }

    /// [`NamedRef::request`], waiting at most `timeout` in all.
    pub async fn request_timeout<T: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<T>) -> S::Call,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let (server, left) = self.resolve_for_call(timeout).await?;
        server.request_timeout(make, left).await
    }

    /// Send a message to the server running now, without waiting. Fails if none
    /// runs (a cast does not wait for a restart).
    pub fn cast(&self, message: S::Cast) -> Result<(), UnresolvedError> {
        self.resolve()?
            .cast(message)
            .map_err(|_| self.not_found(None))
    }

    async fn resolve_until(
        &self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<ServerRef<S>, UnresolvedError> {
        loop {
            // Armed before the lookup, so a process that comes up between the two is
            // not missed.
            let notified = self.changes().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Found::Running(server) = self.find()? {
                return Ok(server);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(self.not_found(Some(timeout)));
            }
        }
    }

    /// Where a new instance is announced.
    fn changes(&self) -> &Notify {
        match &self.target {
            Target::Name(_) => process::names().registered(),
            Target::Child { supervisor, .. } => {
                &supervisor
                    .supervisor
                    .as_ref()
                    .expect("a child handle is made from a supervisor")
                    .changed
            }
        }
    }

    fn find(&self) -> Result<Found<S>, UnresolvedError> {
        let server = match &self.target {
            // The name's own record: it is registered before `init` runs, before the
            // process is in the process table.
            Target::Name(name) => match process::names().lookup(name) {
                None => return Ok(Found::Nothing),
                Some(Ok(server)) => server,
                Some(Err((pid, what))) => return Err(self.wrong_type(pid, what)),
            },
            Target::Child { supervisor, id } => {
                if !supervisor.is_alive() {
                    return Err(UnresolvedError::SupervisorEnded {
                        target: self.target(),
                        supervisor: supervisor.pid,
                    });
                }
                let view = supervisor
                    .supervisor
                    .as_ref()
                    .expect("a child handle is made from a supervisor");
                let pid = view.children.read().find(id).and_then(|child| child.pid);
                let Some(cell) = pid.and_then(|pid| process::processes().get(pid)) else {
                    return Ok(Found::Nothing);
                };
                match cell.downcast::<Shared<S>>() {
                    Some(shared) => ServerRef::new(shared),
                    None => return Err(self.wrong_type(cell.pid, Registered::of(&cell))),
                }
            }
        };
        // Stopping, stopped or being killed: its successor is the one to wait for. One
        // still in `init` takes calls (they wait in its mailbox), as in OTP.
        let ending = matches!(
            server.cell().status(),
            process::ProcessStatus::Stopping | process::ProcessStatus::Stopped
        ) || server.cell().kill_requested();
        Ok(if ending {
            Found::Nothing
        } else {
            Found::Running(server)
        })
    }

    fn wrong_type(&self, pid: Pid, what: Registered) -> UnresolvedError {
        UnresolvedError::WrongType {
            target: self.target(),
            pid,
            registered: what.describe(),
            expected: readable_type_name(std::any::type_name::<S>()),
        }
    }

    /// The server, waited for within `timeout`, and what is left of `timeout` for
    /// the call itself.
    async fn resolve_for_call(
        &self,
        timeout: Duration,
    ) -> Result<(ServerRef<S>, Duration), UnresolvedError> {
        let deadline = Instant::now() + timeout;
        let server = self.resolve_until(deadline, timeout).await?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.not_found(Some(timeout)));
        }
        Ok((server, left))
    }

    fn not_found(&self, waited: Option<Duration>) -> UnresolvedError {
        UnresolvedError::NotFound {
            target: self.target(),
            waited,
        }
    }
}

impl<S: GenServer> Clone for NamedRef<S> {
    fn clone(&self) -> Self {
        NamedRef {
            target: self.target.clone(),
            _server: PhantomData,
        }
    }
}

impl<S: GenServer> std::fmt::Debug for NamedRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedRef")
            .field("target", &self.target())
            .field("type", &readable_type_name(std::any::type_name::<S>()))
            .finish()
    }
}
