//! A cache is a process that keeps recent values by key: at most `max_size` of
//! them, dropping the least recently used first, each for at most its time to live.
//!
//! ```
//! use std::time::Duration;
//! use noex::cache::{Cache, CacheOptions};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let cache = Cache::<String, String>::start(
//!     CacheOptions::new().max_size(1_000).default_ttl(Duration::from_secs(60)).name("users"),
//! )
//! .await?;
//! cache.set("session:abc".into(), "alice".into()).await?;
//! cache
//!     .set_with_ttl("temp".into(), "soon gone".into(), Some(Duration::from_secs(5)))
//!     .await?;
//! assert_eq!(cache.get("session:abc").await?.as_deref(), Some("alice"));
//!
//! // Computed once, however many callers ask for the missing key at the same time.
//! let user = cache.get_or_set("user:123", || async { "bob".to_string() }).await?;
//! assert_eq!(user, "bob");
//!
//! let stats = cache.stats().await?;
//! println!("hit rate {:.1}%", stats.hit_rate * 100.0);
//! cache.stop().await?;
//! # Ok(()) }
//! ```
//!
//! # Costs
//!
//! Every operation is O(1): the entries live in an LRU map (`lru::LruCache`), and
//! expiry is checked when an entry is touched. An expired entry that nobody touches
//! keeps its slot until LRU eviction reaches it, [`Cache::purge_expired`] runs, or
//! the optional periodic sweep ([`CacheOptions::sweep_interval`]) does; until then it
//! counts in [`CacheStats::size`]. Memory is bounded by `max_size` either way.
//!
//! Each operation is one message to the cache process and back (about a call round
//! trip), so values are cloned out: store an `Arc<T>` for values that are costly to
//! clone. Times come from `tokio::time`, so tests can use paused time.
//!
//! # `get_or_set`
//!
//! The first caller for a missing key computes the value *in its own task* (the
//! cache never runs user code); later callers for the same key wait in the cache,
//! which answers them all when the value arrives. If the computing caller fails,
//! panics or is cancelled, the next waiter computes instead, so nobody waits on a
//! computation that will never finish.
//!
//! [`Cache::get_or_set_with_ttl`] stores the computed value for its own time to
//! live, as [`Cache::set_with_ttl`] does; among concurrent callers, the one that
//! computes sets it.

// `handle`: what callers use; `server`: the process, its messages and the
// `get_or_set` hand-over; `store`: entries, LRU, expiry and counters. Kept apart so
// that the LRU and TTL rules read without the process around them. This file holds
// what they share: the options and the stats.
mod handle;
mod server;
mod store;

use std::time::Duration;

pub use self::handle::{Cache, GetOrSetError};
pub use self::server::CacheServer;

/// The default bound on entries.
pub const DEFAULT_MAX_SIZE: usize = 10_000;

/// Options for [`Cache::start`] and [`Cache::child_spec`].
#[derive(Clone, Debug)]
pub struct CacheOptions {
    max_size: usize,
    default_ttl: Option<Duration>,
    sweep_interval: Option<Duration>,
    name: Option<String>,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_size: DEFAULT_MAX_SIZE,
            default_ttl: None,
            sweep_interval: None,
            name: None,
        }
    }
}

impl CacheOptions {
    /// The defaults: at most 10 000 entries, no time to live, no sweep, no name.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most this many entries (at least 1; default 10 000); beyond it the least
    /// recently used entry is evicted.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// How long an entry lives unless `set_with_ttl` or `get_or_set_with_ttl` says
    /// otherwise (default: forever).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// Also remove expired entries every `interval`, whether touched or not (a scan
    /// of every entry; off by default).
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = Some(interval);
        self
    }

    /// Register the cache under this name, so [`Cache::lookup`] finds it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Counters of a cache since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CacheStats {
    /// Lookups (`get`, `get_or_set`) answered without computing: a live value, or
    /// (for `get_or_set`) the value another caller was already computing.
    pub hits: u64,
    /// Lookups that found no value: `get` returned `None`, or this `get_or_set`
    /// caller had to compute.
    pub misses: u64,
    /// `hits / (hits + misses)`, 0 before the first lookup.
    pub hit_rate: f64,
    /// Entries held now, including expired ones not yet removed.
    pub size: usize,
    /// The most entries the cache holds, as set by [`CacheOptions::max_size`].
    pub max_size: usize,
    /// Live entries removed to make room for new ones.
    pub evictions: u64,
    /// Entries removed because their time to live had passed.
    pub expirations: u64,
}
