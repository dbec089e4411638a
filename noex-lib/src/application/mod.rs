//! An application: a root supervisor and the agent, started from one description,
//! run until SIGTERM or SIGINT, and stopped gracefully (OTP's `application`,
//! Elixir's `Application`).
//!
//! [`Application`] names the program and holds its supervision tree; `run` starts
//! the agent under the application's name (so `noex list` and `noex ps` show it),
//! then the root supervisor, registered under that name too, and waits. It ends in
//! one of three ways, each an [`AppExit`] that `main` returns as it is:
//!
//! - a **signal** (SIGTERM, or SIGINT from Ctrl-C) or a **request**
//!   ([`StopHandle::stop`]): the tree stops — children in reverse start order, each by
//!   its shutdown spec — within the grace period ([`Application::shutdown_grace`]),
//!   and the program exits 0. Past the grace period what is left is killed
//!   ([`AppExit::GraceExceeded`]); a **second signal** during the stop kills it at
//!   once ([`AppExit::Forced`]), as most servers do. Both exit 1.
//! - the **tree gives up**: the root supervisor exceeded its restart intensity (or
//!   was stopped from outside). The application ends with it, exit 1
//!   ([`AppExit::GaveUp`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use noex::application::{AppExit, Application};
//! use noex::supervisor::{ChildSpec, SupervisorSpec};
//! # use noex::gen_server::{Context, GenServer, Reply};
//! # struct Ledger;
//! # impl GenServer for Ledger { type Call = (); type Cast = (); type Reply = ();
//! #   async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) } }
//!
//! #[tokio::main]
//! async fn main() -> AppExit {
//!     Application::new("payments")
//!         .supervisor(SupervisorSpec::one_for_one().child(ChildSpec::worker("ledger", || Ledger)))
//!         .shutdown_grace(Duration::from_secs(10))
//!         .run()
//!         .await
//! }
//! ```
//!
//! To reach the tree while it runs, [`start`](Application::start) it and
//! [`run`](RunningApplication::run) it apart; any task can stop it with a
//! [`StopHandle`]:
//!
//! ```
//! use noex::application::{AppExit, Application, StopCause};
//! # use noex::supervisor::{ChildSpec, SupervisorSpec};
//! # use noex::gen_server::{Context, GenServer, Reply};
//! # struct Ledger;
//! # impl GenServer for Ledger { type Call = (); type Cast = (); type Reply = ();
//! #   async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) } }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let app = Application::new("payments")
//!     .supervisor(SupervisorSpec::one_for_one().child(ChildSpec::worker("ledger", || Ledger)))
//!     .start()
//!     .await?;
//! app.supervisor().child::<Ledger>("ledger").call(()).await?;
//! let stop = app.stop_handle();
//! tokio::spawn(async move { stop.stop() });
//! let exit = app.run().await;
//! assert!(matches!(exit, AppExit::Stopped { by: StopCause::Request }));
//! # Ok(()) }
//! ```
//!
//! ## What OTP does, and what differs
//!
//! - One application per program. OTP's restart types (`permanent`, `transient`,
//!   `temporary`) decide whether an application's end stops the node; here the
//!   application *is* the program, so it is always `permanent`: when its tree ends
//!   on its own, `run` returns and `main` exits 1 (OTP's node halts).
//! - OTP stops the node on SIGTERM (`init:stop()`, the kernel's default signal
//!   handler); here SIGINT does too, since Ctrl-C is how a program in a terminal is
//!   stopped. Signals are listened for from [`Application::start`] on, so one that
//!   comes before `run` is not lost; tokio keeps listening after `run` returns, so
//!   `main` should return soon after.
//! - The grace period is OTP's kernel `shutdown_timeout`; by default there is none
//!   (OTP's `infinity`): each child's own shutdown spec bounds the stop.
//! - The hooks [`prep_stop`](Application::prep_stop) and
//!   [`on_stop`](Application::on_stop) are the callbacks `prep_stop/1` and `stop/1`,
//!   run when OTP's application master runs them: before and after the tree stops,
//!   and also when the tree gave up. A panic in one is logged, as OTP catches it. A
//!   stop cut short (grace exceeded, second signal) skips `on_stop`, as OTP kills
//!   the application master then.

mod exit;
mod running;
mod signals;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

pub use exit::{AppExit, Signal, StopCause};
pub use running::{RunningApplication, StopHandle};

use crate::StartError;
use crate::future::BoxFuture;
use crate::supervisor::{self, SupervisorSpec};
use running::Hooks;
use signals::Signals;

#[cfg(feature = "agent")]
use crate::agent::AgentOptions;

/// A hook run around the tree's stop (`prep_stop`, `on_stop`).
type Hook = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// An application, described: its name, its root supervisor, how it stops. Start it
/// with [`start`](Application::start), or start and run it with
/// [`run`](Application::run).
pub struct Application {
    name: String,
    root: SupervisorSpec,
    grace: Option<Duration>,
    stop_on_signals: bool,
    hooks: Hooks,
    /// The agent's options; `None` keeps it off.
    #[cfg(feature = "agent")]
    agent: Option<AgentOptions>,
}

impl Application {
    /// An application called `name`: the agent's app name (`noex list`) and the
    /// root supervisor's registered name. Its root is an empty `one_for_one`
    /// supervisor until [`supervisor`](Application::supervisor) gives one.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Application {
            #[cfg(feature = "agent")]
            agent: Some(AgentOptions::new(name.clone())),
            name,
            root: SupervisorSpec::one_for_one(),
            grace: None,
            stop_on_signals: true,
            hooks: Hooks::default(),
        }
    }

    /// The root supervisor: the application's whole tree. Registered under the
    /// application's name unless the spec names it.
    pub fn supervisor(mut self, root: SupervisorSpec) -> Self {
        self.root = root;
        self
    }

    /// How long a stop may take, from the signal or request until the tree has
    /// stopped (`prep_stop` included); past it, what is left is killed and `run`
    /// returns [`AppExit::GraceExceeded`]. By default a stop takes as long as the
    /// children's shutdown specs allow (OTP's `shutdown_timeout`, `infinity`).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Whether SIGTERM and SIGINT stop the application (on by default). Off, for a
    /// program that handles signals itself and stops the application with a
    /// [`StopHandle`].
    pub fn stop_on_signals(mut self, stop_on_signals: bool) -> Self {
        self.stop_on_signals = stop_on_signals;
        self
    }

    /// Run `hook` when the application is about to stop, before its tree stops
    /// (OTP's `prep_stop/1`): to stop taking work, say. Within the grace period.
    pub fn prep_stop<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hooks.prep_stop = Some(Box::new(move || Box::pin(hook())));
        self
    }

    /// Run `hook` once the tree has stopped (OTP's `stop/1`): to flush what the
    /// processes left behind, say. Not run when the stop was cut short.
    pub fn on_stop<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hooks.on_stop = Some(Box::new(move || Box::pin(hook())));
        self
    }

    /// The agent's options. Its app name is the application's, whatever `options`
    /// says. `NOEX_AGENT=off` in the environment still keeps it off.
    #[cfg(feature = "agent")]
    pub fn agent(mut self, options: AgentOptions) -> Self {
        self.agent = Some(options);
        self
    }

    /// Let `noex` look but not kill or restart (the agent's `read_only`). No effect
    /// on an agent kept off.
    #[cfg(feature = "agent")]
    pub fn agent_read_only(mut self, read_only: bool) -> Self {
        self.agent = self.agent.map(|options| options.read_only(read_only));
        self
    }

    /// Keep the agent off: `noex` cannot attach to this program. (Without the
    /// `agent` feature there is no agent to keep off; this is there so the same code
    /// builds either way.)
    #[allow(unused_mut)]
    pub fn without_agent(mut self) -> Self {
        #[cfg(feature = "agent")]
        {
            self.agent = None;
        }
        self
    }

    /// Start the application: listen for signals, start the agent, then the root
    /// supervisor and its children, in order. Fails if the root does not start (a
    /// child's `init` failed, or the name is taken); the children already started
    /// are stopped again. An agent that cannot start is logged, not fatal: the
    /// application runs without it.
    ///
    /// Needs a runtime with its IO and time drivers, as `#[tokio::main]` builds it.
    pub async fn start(self) -> Result<RunningApplication, StartError> {
        let started_at = Instant::now();
        let name: Arc<str> = Arc::from(self.name);
        tracing::info!(app = %name, "application starting");
        // Before anything runs: a signal from here on stops the tree gracefully.
        let signals = if self.stop_on_signals {
            Signals::listen()
        } else {
            Signals::none()
        };
        #[cfg(feature = "agent")]
        start_agent(&name, self.agent);
        let mut root = self.root;
        if root.name.is_none() {
            root.name = Some(name.to_string());
        }
        let root = match supervisor::start(root).await {
            Ok(root) => root,
            Err(error) => {
                tracing::error!(app = %name, %error, "application did not start");
                return Err(error);
            }
        };
        tracing::info!(
            app = %name,
            pid = %root.pid(),
            elapsed_ms = started_at.elapsed().as_millis() as u64,
            "application started"
        );
        Ok(RunningApplication {
            name,
            root,
            grace: self.grace,
            signals,
            stop: Arc::new(Notify::new()),
            hooks: self.hooks,
        })
    }

    /// Start the application and run it until it ends: the few lines of a `main`
    /// (see the [module](self)). A start failure is [`AppExit::StartFailed`].
    pub async fn run(self) -> AppExit {
        match self.start().await {
            Ok(app) => app.run().await,
            Err(error) => error.into(),
        }
    }
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Application");
        debug
            .field("name", &self.name)
            .field("root", &self.root)
            .field("shutdown_grace", &self.grace)
            .field("stop_on_signals", &self.stop_on_signals)
            .field("hooks", &self.hooks);
        #[cfg(feature = "agent")]
        debug.field("agent", &self.agent);
        debug.finish()
    }
}

/// Start the agent under the application's name, or keep it off.
#[cfg(feature = "agent")]
fn start_agent(name: &str, options: Option<AgentOptions>) {
    use crate::agent;

    let Some(options) = options.filter(|_| !agent::off_by_env()) else {
        // Before the root's first process: the automatic start does not come either.
        agent::disable();
        return;
    };
    match agent::start(options.app_name(name)) {
        Ok(path) => tracing::info!(app = %name, socket = %path.display(), "noex agent listening"),
        Err(error) => tracing::warn!(
            app = %name,
            %error,
            "noex agent did not start; `noex` cannot attach to this process"
        ),
    }
}
