//! Built-in services: the processes most applications need, ready to start or to
//! put under a supervisor.
//!
//! Each service is a [`GenServer`] behind a small typed handle, so it
//! shows up in `noex ps` and `noex tree` like any other process, stops cleanly, and
//! after a crash its supervisor restarts it with fresh state.
//!
//! - [`event_bus`]: publish/subscribe on dotted topics, with `*` wildcards.
//! - [`cache`]: a key-value cache with LRU eviction, TTLs and single-flight `get_or_set`.
//! - [`rate_limiter`]: per-key sliding-window limits.
//!
//! Every handle has the same shape: `start(options)` for a standalone instance,
//! `child_spec(id, options)` for a supervised one, and `lookup(name)` to find the
//! current instance by its registered name (after a restart, the old handle reports
//! `ServerNotRunningError`; look the service up again).
//!
//! ```
//! use std::time::Duration;
//! use noex::services::{cache::{Cache, CacheOptions}, rate_limiter::{RateLimiter, RateLimiterOptions}};
//! use noex::supervisor::{self, SupervisorSpec};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let app = supervisor::start(
//!     SupervisorSpec::one_for_one()
//!         .child(Cache::<String, u64>::child_spec("sessions", CacheOptions::new().max_size(1_000)))
//!         .child(RateLimiter::child_spec(
//!             "api-limits",
//!             RateLimiterOptions::new(100, Duration::from_secs(60)),
//!         )),
//! )
//! .await?;
//! let sessions = Cache::<String, u64>::lookup("sessions")?;
//! sessions.set("abc".to_string(), 7).await?;
//! assert_eq!(sessions.get("abc").await?, Some(7));
//! RateLimiter::lookup("api-limits")?.consume("user:1").await?;
//! app.stop().await?;
//! # Ok(()) }
//! ```

pub mod cache;
pub mod event_bus;
pub mod rate_limiter;

use crate::error::StartError;
use crate::gen_server::{self, GenServer, ServerRef, StartOptions};
use crate::supervisor::ChildSpec;

/// Start a service's process, registered under `name` when it has one. `H` is the
/// handle users know it by: a lookup of another type names the process as one.
pub(crate) async fn start<S: GenServer, H>(
    server: S,
    name: Option<&str>,
) -> Result<ServerRef<S>, StartError> {
    let mut options = StartOptions::new();
    if let Some(name) = name {
        options = options.name(name);
    }
    options.handle_type = Some(std::any::type_name::<H>);
    gen_server::start(server, options).await
}

/// A supervisor child that runs a fresh `server()` at every (re)start, registered
/// under its own name, or under its child id when it has none, so that `lookup`
/// finds every instance the supervisor starts. `H` as for [`start`].
pub(crate) fn child_spec<S, H, F>(
    id: impl Into<String>,
    name: Option<String>,
    server: F,
) -> ChildSpec
where
    S: GenServer,
    F: Fn() -> S + Send + Sync + 'static,
{
    let id = id.into();
    let name = name.unwrap_or_else(|| id.clone());
    let mut spec = ChildSpec::worker(id, server).name(name);
    spec.handle_type = Some(std::any::type_name::<H>);
    spec
}
