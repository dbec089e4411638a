//! A GenServer is a process that owns its state and handles messages one at a time.
//!
//! Implement [`GenServer`] for your state, start it with [`start`], and talk to it
//! through the [`ServerRef`] you get back: `call` waits for a reply, `cast` does not.
//! Messages from one sender are handled in the order they were sent. A panic in a
//! handler crashes the server — never the runtime — and its supervisor decides what
//! happens next.
//!
//! ```
//! use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
//!
//! struct Counter(u64);
//!
//! enum Cmd { Inc }
//!
//! impl GenServer for Counter {
//!     type Call = ();
//!     type Cast = Cmd;
//!     type Reply = u64;
//!
//!     async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
//!         Reply::Now(self.0)
//!     }
//!
//!     async fn handle_cast(&mut self, Cmd::Inc: Cmd, _: &mut Context<Self>) {
//!         self.0 += 1;
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let counter = gen_server::start(Counter(0), StartOptions::new().name("counter")).await?;
//! counter.cast(Cmd::Inc)?;
//! counter.cast(Cmd::Inc)?;
//! assert_eq!(counter.call(()).await?, 2);
//! counter.stop(noex::ExitReason::Normal).await?;
//! # Ok(()) }
//! ```

mod context;
mod deadline;
mod mailbox;
mod named;
mod pending_timers;
mod process;
mod reply;
mod server_ref;
pub(crate) mod shared;

use std::future::Future;
use std::time::Duration;

pub use context::{Context, IdleTimeout, ReplyTo, TimerRef};
pub use named::NamedRef;
pub(crate) use process::{SpawnOptions, panic_message, spawn, spawn_unattached};
pub use server_ref::ServerRef;
#[cfg(feature = "agent")]
pub(crate) use shared::Shared;

use crate::error::{BoxError, StartError};
use crate::exit::ExitReason;

/// The default `call` timeout, as in OTP.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

pub use crate::process::Info;

/// Returned by `init` (as `Err(Ignore.into())`) to decline to start without
/// failing: OTP's `ignore`. `start` then fails with
/// [`StartError::Ignored`]; a supervisor keeps the child's
/// spec, not running, and goes on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ignore;

impl std::fmt::Display for Ignore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("init returned Ignore")
    }
}

impl std::error::Error for Ignore {}

/// What `handle_call` answers.
#[derive(Debug)]
pub enum Reply<R> {
    /// Reply now with this value.
    Now(R),
    /// The handler kept a [`ReplyTo`] (from [`Context::defer_reply`]) and will answer
    /// later, possibly from another task. The server goes on with the next message.
    Deferred,
}

/// A process with its own state that handles messages one at a time.
///
/// Every handler gets `&mut self` (the state) and a [`Context`] for replying later,
/// continuing, stopping and timers. Handlers are async; while one runs, no other
/// message of this server is handled.
pub trait GenServer: Send + Sized + 'static {
    /// Requests that expect a reply.
    type Call: Send + 'static;
    /// Fire-and-forget messages.
    type Cast: Send + 'static;
    /// The reply to a `Call`.
    type Reply: Send + 'static;

    /// Runs before `start` returns. An error (or panic) fails the start with
    /// `InitializationError`, and the server never runs; [`Ignore`] declines to
    /// start without an error.
    fn init(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Answers a [`ServerRef::call`]: [`Reply::Now`] with the reply, or
    /// [`Reply::Deferred`] after keeping [`Context::defer_reply`]'s handle to answer
    /// later. The caller waits (up to its timeout) while this runs; a panic here
    /// crashes the server, and the caller gets the exit reason.
    fn handle_call(
        &mut self,
        request: Self::Call,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Reply<Self::Reply>> + Send;

    /// Handles a [`ServerRef::cast`]: fire and forget, nobody waits for it. A server
    /// that is sent casts implements this; without it, a cast crashes the server, as a
    /// cast to an OTP `gen_server` without `handle_cast` does (`undef`).
    fn handle_cast(
        &mut self,
        message: Self::Cast,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (message, ctx);
        async { undefined_callback::<Self>("handle_cast") }
    }

    /// Messages that are neither calls nor casts (timers, [`ServerRef::send_info`],
    /// monitors' `Down`, trapped `Exit`s). Without it they are dropped with a
    /// warning, as OTP's `gen_server` does.
    fn handle_info(
        &mut self,
        message: Info,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (message, ctx);
        async move {
            tracing::warn!(
                type_name = std::any::type_name::<Self>(),
                "undefined handle_info: a message was dropped"
            );
        }
    }

    /// Runs right after the handler that asked for it with [`Context::continue_with`],
    /// before the next message. A server that asks for a continuation implements
    /// it; without it the continuation crashes the server (OTP's `undef`).
    fn handle_continue(
        &mut self,
        message: Info,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (message, ctx);
        async { undefined_callback::<Self>("handle_continue") }
    }

    /// The type shown for the server in `noex ps` and `noex tree`: its own, or, for
    /// a server that runs someone else's code (a state machine, a task), that code's.
    #[doc(hidden)]
    fn type_name() -> &'static str {
        std::any::type_name::<Self>()
    }

    /// The state as `noex state`, the dashboard's details and [`sys::get_state`]
    /// show it (OTP's `format_status`). `None`, the default, keeps it hidden: a state
    /// can hold secrets, so showing it is a choice each server makes, typically
    /// `Some(format!("{self:#?}"))` for a state that is `Debug`, or a summary that
    /// leaves the secrets out. A server that answers `None` also refuses
    /// [`sys::replace_state`].
    ///
    /// [`sys::get_state`]: crate::sys::get_state
    /// [`sys::replace_state`]: crate::sys::replace_state
    fn format_status(&self) -> Option<String> {
        None
    }

    /// Runs when the server stops (a stop request, a handler asking to stop, or a
    /// crash). Not run when the process is killed. A panic here becomes the exit
    /// reason, as in OTP.
    fn terminate(
        &mut self,
        reason: &ExitReason,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, ctx);
        async {}
    }
}

/// A message came for a callback the server does not implement: a crash, as a
/// call to an undefined function is in OTP.
fn undefined_callback<S>(callback: &str) {
    panic!(
        "undef: {} does not implement {callback}",
        std::any::type_name::<S>()
    )
}

/// Options for [`start`].
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    pub(crate) name: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) system: bool,
    /// See `SpawnOptions::handle_type`.
    pub(crate) handle_type: Option<fn() -> &'static str>,
}

impl StartOptions {
    /// The defaults: no name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register the server under this name (see [`crate::registry`]) before `init`
    /// runs; the name is released when the server ends, whatever the reason.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Give `init` at most `timeout`; past it the process is killed and the start
    /// fails with [`StartError::Timeout`] (OTP's
    /// `{timeout, T}` start option). By default `init` takes as long as it takes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Mark the process as part of the infrastructure (hidden from user views by default).
    #[doc(hidden)]
    pub fn system(mut self, system: bool) -> Self {
        self.system = system;
        self
    }
}

/// Start a server: runs `init`, then returns a reference to the running server.
///
/// Nothing happens until the future is polled, as with an `async fn` (which this is
/// not, so that a starter holding it does not also hold its arguments).
pub fn start<S: GenServer>(
    server: S,
    options: StartOptions,
) -> impl Future<Output = Result<ServerRef<S>, StartError>> + Send {
    spawn(
        server,
        SpawnOptions {
            name: options.name,
            start_timeout: options.timeout,
            system: options.system,
            handle_type: options.handle_type,
            ..SpawnOptions::default()
        },
    )
}
