//! Processes: pids, links, monitors and exit signals, as in OTP.
//!
//! Every GenServer and supervisor is a process with a [`Pid`](crate::Pid). Processes
//! learn of each other's exits in two ways:
//!
//! - **Monitors** are one-way: [`Context::monitor`](crate::gen_server::Context::monitor)
//!   delivers one [`Down`] to `handle_info` when the process ends — at once, with
//!   [`ExitReason::NoProc`](crate::ExitReason::NoProc), if it is not alive.
//!   [`monitor`] does the same for code outside any process.
//! - **Links** are two-way: [`Context::link`](crate::gen_server::Context::link). When
//!   either end exits, the other gets an exit signal with the reason. A process that
//!   traps exits ([`Context::trap_exit`](crate::gen_server::Context::trap_exit))
//!   receives it as an [`Exit`] message; one that does not dies of it, unless the
//!   reason is `Normal`. `Killed` from [`Context::exit`](crate::gen_server::Context::exit)
//!   cannot be trapped (OTP's `kill`).
//!
//! Supervisors are built on these: every child is linked to its supervisor, which
//! traps exits and turns each `Exit` into its restart decision.
//!
//! ```
//! use noex::gen_server::{self, Context, GenServer, Info, Reply, StartOptions};
//! use noex::process::Down;
//! use noex::{ExitReason, Pid};
//!
//! /// Watches a process and remembers how it ended.
//! #[derive(Default)]
//! struct Watcher(Option<ExitReason>);
//!
//! impl GenServer for Watcher {
//!     type Call = Option<Pid>; // Some: watch it; None: how did it end?
//!     type Cast = ();
//!     type Reply = Option<ExitReason>;
//!
//!     async fn handle_call(&mut self, watch: Option<Pid>, ctx: &mut Context<Self>) -> Reply<Self::Reply> {
//!         if let Some(pid) = watch {
//!             ctx.monitor(pid);
//!         }
//!         Reply::Now(self.0.clone())
//!     }
//!
//!     async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
//!         if let Some(down) = message.downcast_ref::<Down>() {
//!             self.0 = Some(down.reason.clone());
//!         }
//!     }
//! }
//! # struct Worker;
//! # impl GenServer for Worker { type Call = (); type Cast = (); type Reply = ();
//! #   async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) } }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let watcher = gen_server::start(Watcher::default(), StartOptions::new()).await?;
//! let worker = gen_server::start(Worker, StartOptions::new()).await?;
//! watcher.call(Some(worker.pid())).await?;
//! worker.stop(ExitReason::shutdown_with("draining")).await?;
//! assert_eq!(watcher.call(None).await?, Some(ExitReason::shutdown_with("draining")));
//! # Ok(()) }
//! ```

mod cell;
pub(crate) mod details;
mod exit_waiters;
#[cfg(feature = "agent")]
mod first_spawn;
mod names;
mod signals;
mod status;
mod supervisor_view;
mod table;
mod teardown;
mod waiting;

pub(crate) use table::PidHasher;

/// A message that is neither a call nor a cast: timers, monitors' [`Down`], trapped
/// [`Exit`]s, anything sent with
/// [`ServerRef::send_info`](crate::gen_server::ServerRef::send_info). Downcast it to
/// the type you expect.
pub type Info = Box<dyn std::any::Any + Send>;

pub(crate) use cell::{
    CellInit, CellRef, ProcessCell, ProcessKind, ProcessRecord, touch_ahead_owned,
};
#[cfg(feature = "agent")]
pub(crate) use cell::{release, touch_ahead};
#[cfg(feature = "agent")]
pub(crate) use first_spawn::{first_spawn, on_first_spawn};
pub(crate) use names::{Registered, names};
pub use signals::{Down, Exit, Monitor, MonitorRef, is_alive, monitor};

/// Shows what `pid` is doing in the Observer — `noex ps`'s STATE column, the
/// dashboard's details — as `describe` says it each time a view is built, until
/// the returned guard drops. Keep the guard in the process's own state, and it goes
/// when the process does. `describe` runs on the Observer's side: keep it quick and
/// free of locks the process may hold for long.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # unsafe { std::env::set_var("NOEX_AGENT", "off") }
/// use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
/// use noex::process::Description;
///
/// struct Cache { _shown: Option<Description> }
///
/// impl GenServer for Cache {
///     type Call = (); type Cast = (); type Reply = ();
///     async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
///         self._shown = Some(noex::process::describe(ctx.pid(), || Some("warm".into())));
///         Ok(())
///     }
///     async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) }
/// }
/// let cache = gen_server::start(Cache { _shown: None }, StartOptions::new()).await.unwrap();
/// # let _ = cache;
/// # }
/// ```
pub fn describe(
    pid: crate::Pid,
    describe: impl Fn() -> Option<String> + Send + Sync + 'static,
) -> Description {
    struct Described<F>(F);
    impl<F: Fn() -> Option<String> + Send + Sync> details::DetailSource for Described<F> {
        fn state(&self) -> Option<String> {
            (self.0)()
        }
    }
    Description(details::publish(
        pid,
        std::sync::Arc::new(Described(describe)),
    ))
}

/// A size as the Observer's descriptions write it: `512 B`, `14.2 KiB`, `3.1 MiB`.
pub fn readable_bytes(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let bytes_f = bytes as f64;
    if bytes_f < KIB {
        format!("{bytes} B")
    } else if bytes_f < KIB * KIB {
        format!("{:.1} KiB", bytes_f / KIB)
    } else {
        format!("{:.1} MiB", bytes_f / (KIB * KIB))
    }
}

/// The message of a caught panic (its `&str` or `String` payload), as noex reports a
/// crash: for code that catches panics of its own, such as a callback's.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    crate::gen_server::panic_message(panic)
}

/// Keeps a [`describe`] shown; dropping it takes the description away.
pub struct Description(#[allow(dead_code)] details::DetailGuard);
pub(crate) use signals::{
    Sent, Watcher, add_monitor, exit_signal, link, link_child, remove_monitor, unlink,
};
pub(crate) use status::ProcessStatus;
pub(crate) use supervisor_view::{Children, ChildrenReader, ListedChild, SupervisorView};
pub(crate) use table::processes;
pub(crate) use teardown::finish;
pub(crate) use waiting::{
    Current, HoldsCell, reply_sent, start_waiting, stop_waiting, with_current,
};
