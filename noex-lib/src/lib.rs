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
//! - [`gen_server`]: stateful processes, `call` / `cast` / `info`.
//! - [`supervisor`]: restart strategies and intensity.
//! - [`process`]: pids, monitors, links and trapping exits.
//! - [`registry`]: processes by name.
//! - [`observer`] and [`events`]: what is running, and what happens to it.
//! - `agent`: the embedded agent that `noex` attaches to (the `agent` feature).
//! - [`services`]: built-in services, each a GenServer: [`event_bus`], [`cache`],
//!   [`rate_limiter`].

#![warn(missing_docs)]

#[cfg(feature = "agent")]
pub mod agent;
mod clock;
pub mod error;
pub mod events;
mod exit;
pub mod gen_server;
pub mod observer;
pub mod process;
pub mod registry;
pub mod services;
pub mod supervisor;
mod sync;

pub use error::{
    AlreadyRegisteredError, CallError, CallTimeoutError, ChildNotFoundError, DuplicateChildError,
    InitializationError, MaxRestartsExceededError, NotRegisteredError, ServerNotRunningError,
    SpecError, StartError, StopError, SupervisorError,
};
pub use exit::ExitReason;
pub use gen_server::{Context, GenServer, Reply, ServerRef, StartOptions};
pub use noex_agent::types::Pid;
pub use services::{cache, event_bus, rate_limiter};
pub use supervisor::{ChildSpec, SupervisorRef, SupervisorSpec};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The unit tests' private agent directory, as every test binary has one.
#[cfg(all(test, unix))]
#[path = "../tests/support/sandbox.rs"]
mod test_sandbox;
