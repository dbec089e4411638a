//! Built-in services: the processes most applications need, ready to start or to
//! put under a supervisor.
//!
//! Each service is a [`GenServer`](crate::GenServer) behind a small typed handle, so it
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

pub(crate) use crate::gen_server::panic_message;
use crate::supervisor::ChildSpec;

/// Register a supervised service under its own name, or under its child id when it
/// has none, so that `lookup` can find every instance the supervisor starts.
pub(crate) fn named_child(spec: ChildSpec, id: &str, name: Option<&str>) -> ChildSpec {
    spec.name(name.unwrap_or(id))
}
