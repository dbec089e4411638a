//! # noex — Erlang/OTP for Rust
//!
//! GenServer, Supervisor and Registry on tokio, with OTP's contract: processes own
//! their state and handle one message at a time; a crash is contained and its
//! supervisor decides; names are released when processes end. Every application
//! using noex can be watched and steered from outside: an embedded agent serves the
//! Observer's data to the `noex` command (`noex ps`, `noex tree`, `noex top`) over a
//! Unix socket it opens with the first process.
//!
//! The agent is the `agent` feature, on by default. To keep it off: call
//! `agent::disable()` before the first process, or set `NOEX_AGENT=off`; to leave it
//! (and its dependencies) out of the build, depend on noex with
//! `default-features = false`. Everything else is the same either way.
//!
//! A counter server under a supervisor, reached through a handle that outlives its
//! restarts (with `tokio = { version = "1", features = ["macros", "rt-multi-thread"] }`):
//!
//! ```no_run
//! use noex::gen_server::{Context, GenServer, Reply};
//! use noex::supervisor::{self, ChildSpec, SupervisorSpec};
//!
//! struct Counter {
//!     value: u64,
//! }
//!
//! impl GenServer for Counter {
//!     type Call = ();    // requests that get a reply
//!     type Cast = u64;   // fire-and-forget messages
//!     type Reply = u64;
//!
//!     async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
//!         Reply::Now(self.value)
//!     }
//!
//!     async fn handle_cast(&mut self, add: u64, _: &mut Context<Self>) {
//!         self.value += add;
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // `noex ps --pid <this pid>` in another terminal shows `counter` and its supervisor.
//!     let app = supervisor::start(SupervisorSpec::one_for_one().name("app")).await?;
//!     let counter = app
//!         .start_child(ChildSpec::worker("counter", || Counter { value: 0 }).name("counter"))
//!         .await?
//!         .handle();
//!     counter.cast(2)?;
//!     assert_eq!(counter.call(()).await?, 2);
//!     app.stop().await?;
//!     Ok(())
//! }
//! ```
//!
//! Where OTP and Elixir names went: [`otp_names`].
//!
//! - [`gen_server`]: stateful processes, `call` / `cast` / `info`.
//! - [`gen_statem`]: state machines (OTP's `gen_statem`): postponing, inserted events,
//!   event, state and named timeouts, state enter calls; the current state shows in
//!   the Observer.
//! - [`supervisor`]: restart strategies and intensity.
//! - [`process`]: pids, monitors, links and trapping exits.
//! - [`registry`]: processes by name.
//! - [`ets`]: shared in-memory tables owned by a process (set, ordered set, bag), read
//!   and written from any task without a message (OTP's ETS).
//! - [`task`]: futures run as processes, awaited by their owner, under a task
//!   supervisor (Elixir's `Task`, `Task.Supervisor`).
//! - [`keyed_registry`]: processes under keys, unique or duplicate, with `dispatch` for
//!   publish/subscribe (Elixir's `Registry`).
//! - [`observer`] and [`events`]: what is running, and what happens to it; [`sys`]: a
//!   live process's state (for servers that show it) and statistics.
//! - [`application`]: a program's root supervisor and agent from one description, run
//!   until SIGTERM or Ctrl-C and stopped gracefully (OTP's `application`).
//! - `agent`: the embedded agent that `noex` attaches to (the `agent` feature).
//! - Built-in services, each a GenServer: [`event_bus`], [`cache`], [`rate_limiter`],
//!   [`state_agent`] (below).
//!
//! # Built-in services
//!
//! The processes most applications need, ready to start or to put under a
//! supervisor:
//!
//! - [`event_bus`]: publish/subscribe on dotted topics, with `*` wildcards.
//! - [`cache`]: a key-value cache with LRU eviction, TTLs and single-flight `get_or_set`.
//! - [`rate_limiter`]: per-key sliding-window limits.
//! - [`state_agent`]: a process holding a value, read and changed by functions run
//!   inside it (Elixir's `Agent`).
//!
//! Each is a [`GenServer`] behind a small typed handle, so it shows up in `noex ps`
//! and `noex tree` like any other process, stops cleanly, and after a crash its
//! supervisor restarts it with fresh state.
//!
//! Every handle has the same shape: `start(options)` for a standalone instance,
//! `child_spec(id, options)` for a supervised one — registered only if named, as
//! every child (see "Names" in [`supervisor`]) — and `lookup(name)` to find the
//! current instance by its registered name (after a restart, the old handle reports
//! `ServerNotRunningError`; look the service up again). A state agent takes its
//! initial value's function where the others take options.
//!
//! ```
//! use std::time::Duration;
//! use noex::cache::{Cache, CacheOptions};
//! use noex::rate_limiter::{RateLimiter, RateLimiterOptions};
//! use noex::supervisor::{self, SupervisorSpec};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let app = supervisor::start(
//!     SupervisorSpec::one_for_one()
//!         .child(
//!             Cache::<String, u64>::child_spec("sessions", CacheOptions::new().max_size(1_000))
//!                 .name("sessions"),
//!         )
//!         .child(
//!             RateLimiter::child_spec(
//!                 "api-limits",
//!                 RateLimiterOptions::new(100, Duration::from_secs(60)),
//!             )
//!             .name("api-limits"),
//!         ),
//! )
//! .await?;
//! let sessions = Cache::<String, u64>::lookup("sessions")?;
//! sessions.set("abc".to_string(), 7).await?;
//! assert_eq!(sessions.get("abc").await?, Some(7));
//! RateLimiter::lookup("api-limits")?.consume("user:1").await?;
//! app.stop().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "agent")]
pub mod agent;
pub mod application;
mod clock;
pub mod error;
pub mod ets;
pub mod events;
mod exit;
mod future;
pub mod gen_server;
pub mod gen_statem;
pub mod keyed_registry;
pub mod observer;
pub mod otp_names;
pub mod process;
pub mod registry;
// Private: each service has one public path, `noex::cache` and the like (below).
mod services;
mod start_order;
pub mod supervisor;
mod sync;
pub mod sys;
pub mod task;
mod type_names;

pub use error::{
    AlreadyRegisteredError, CallError, CallTimeoutError, ChildNotFoundError, DuplicateChildError,
    InitializationError, MaxRestartsExceededError, NotRegisteredError, ServerNotRunningError,
    SpecError, StartError, StopError, SupervisorError, UnresolvedError,
};
pub use exit::ExitReason;
pub use gen_server::{Context, GenServer, NamedRef, Reply, ServerRef, StartOptions};
pub use noex_agent::types::Pid;
pub use services::{cache, event_bus, rate_limiter, state_agent};
pub use supervisor::{ChildSpec, SupervisorRef, SupervisorSpec};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The unit tests' private agent directory, as every test binary has one.
#[cfg(all(test, unix))]
#[path = "../tests/support/sandbox.rs"]
mod test_sandbox;
