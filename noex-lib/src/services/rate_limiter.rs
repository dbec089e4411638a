//! A rate limiter is a process that allows each key at most `max_requests` within
//! any `window` of time: a sliding window, with no burst at a window's edge.
//!
//! ```
//! use std::time::Duration;
//! use noex::rate_limiter::{ConsumeError, RateLimiter, RateLimiterOptions};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let limiter = RateLimiter::start(RateLimiterOptions::new(2, Duration::from_secs(60))).await?;
//!
//! let status = limiter.check("user:123").await?; // does not consume
//! assert_eq!((status.remaining, status.limit), (2, 2));
//!
//! limiter.consume("user:123").await?;
//! limiter.consume("user:123").await?;
//! match limiter.consume("user:123").await {
//!     Err(ConsumeError::Exceeded(e)) => assert!(e.retry_after <= Duration::from_secs(60)),
//!     other => panic!("expected the limit, got {other:?}"),
//! }
//! limiter.stop().await?;
//! # Ok(()) }
//! ```
//!
//! # How it counts
//!
//! For each key the limiter keeps the times of the requests still inside the window
//! (a sliding log): a request made at `t` counts until `t + window`, exactly. So
//! `retry_after` is exact — the time until the oldest counted request leaves the
//! window — and `check` and `consume` cost O(1) amortised (each time is stored once
//! and removed once).
//!
//! Memory is bounded per key by `max_requests` times (8 bytes each), and keys are
//! dropped once all their requests have left the window: keys are kept in the order
//! of their last request, so the idle ones are found at the front without a scan,
//! on every operation and once per window when the limiter is idle. Times come from
//! `tokio::time`, so tests can use paused time.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use lru::LruCache;
use tokio::time::Instant;

use self::protocol::{LimiterCall, OverLimit};
use crate::error::{BoxError, CallError, StartError, StopError};
use crate::gen_server::{Context, GenServer, Info, Reply, ServerRef};
use crate::registry::{self, LookupError};
use crate::supervisor::ChildSpec;
use crate::{ExitReason, Pid};

/// Options for [`RateLimiter::start`] and [`RateLimiter::child_spec`].
#[derive(Clone, Debug)]
pub struct RateLimiterOptions {
    max_requests: u32,
    window: Duration,
    name: Option<String>,
}

impl RateLimiterOptions {
    /// Allow each key `max_requests` (at least 1) within any `window` (non-zero).
    pub fn new(max_requests: u32, window: Duration) -> Self {
        RateLimiterOptions {
            max_requests,
            window,
            name: None,
        }
    }

    /// Register the limiter under this name, so [`RateLimiter::lookup`] finds it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// A key's standing after a `check` or a successful `consume`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// `max_requests`.
    pub limit: u32,
    /// Requests the key may still make now.
    pub remaining: u32,
    /// Until every counted request has left the window (the full limit is back);
    /// zero for a key with none.
    pub reset_in: Duration,
    /// Until the next request is allowed: zero while `remaining > 0`.
    pub retry_after: Duration,
}

impl RateLimitStatus {
    /// Whether a request made now would be allowed.
    pub fn is_allowed(&self) -> bool {
        self.remaining > 0
    }
}

/// The key has used its limit; a request is allowed again after `retry_after`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rate limit of {limit} per {window:?} exceeded for {key:?}; retry after {retry_after:?}")]
pub struct RateLimitExceededError {
    /// The key that is over its limit.
    pub key: String,
    /// The most requests allowed per window (the options' `max_requests`).
    pub limit: u32,
    /// The length of the sliding window.
    pub window: Duration,
    /// How long until the oldest counted request leaves the window and one more
    /// request is allowed.
    pub retry_after: Duration,
}

/// Why a `consume` failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeError {
    /// The key has used its limit; nothing was consumed.
    #[error(transparent)]
    Exceeded(#[from] RateLimitExceededError),
    /// The call to the limiter failed (for example, it is not running).
    #[error(transparent)]
    Call(#[from] CallError),
}

/// A handle to a running rate limiter. Cheap to clone.
#[derive(Clone)]
pub struct RateLimiter {
    server: ServerRef<RateLimiterServer>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("pid", &self.server.pid())
            .finish()
    }
}

impl From<ServerRef<RateLimiterServer>> for RateLimiter {
    fn from(server: ServerRef<RateLimiterServer>) -> Self {
        RateLimiter { server }
    }
}

impl RateLimiter {
    /// Start a limiter (registered under the options' name, if any). Fails with an
    /// `InitializationError` if `max_requests` or `window` is zero.
    pub async fn start(options: RateLimiterOptions) -> Result<Self, StartError> {
        let server =
            super::start::<_, Self>(RateLimiterServer::new(&options), options.name.as_deref())
                .await?;
        Ok(RateLimiter { server })
    }

    /// A supervisor child that runs a limiter. Like every child, it is registered only
    /// if named — `.name("...")` on the spec, or the options' `name` — and then
    /// [`RateLimiter::lookup`] finds it.
    pub fn child_spec(id: impl Into<String>, options: RateLimiterOptions) -> ChildSpec {
        super::child_spec::<_, Self, _>(id, options.name.clone(), move || {
            RateLimiterServer::new(&options)
        })
    }

    /// The limiter registered under `name`.
    pub fn lookup(name: &str) -> Result<Self, LookupError> {
        registry::lookup_wrapped::<RateLimiterServer, Self>(name).map(RateLimiter::from)
    }

    /// The process behind the limiter.
    pub fn server_ref(&self) -> &ServerRef<RateLimiterServer> {
        &self.server
    }

    /// The pid of the limiter's process.
    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    /// Whether the limiter's process is still running.
    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// The key's standing, without consuming anything.
    pub async fn check(&self, key: &str) -> Result<RateLimitStatus, CallError> {
        self.server
            .request(|reply| LimiterCall::Check(key.into(), reply))
            .await
    }

    /// Count one request for `key`, or fail with [`RateLimitExceededError`] (and
    /// count nothing) if the key has used its limit. Returns the standing after it.
    pub async fn consume(&self, key: &str) -> Result<RateLimitStatus, ConsumeError> {
        let consumed = self
            .server
            .request(|reply| LimiterCall::Consume(key.into(), reply))
            .await?;
        consumed.map_err(|over| {
            RateLimitExceededError {
                key: key.to_string(),
                limit: over.limit,
                window: over.window,
                retry_after: over.retry_after,
            }
            .into()
        })
    }

    /// Forget the key's requests; returns whether it had any in the window.
    pub async fn reset(&self, key: &str) -> Result<bool, CallError> {
        self.server
            .request(|reply| LimiterCall::Reset(key.into(), reply))
            .await
    }

    /// How many keys have requests inside the window.
    pub async fn key_count(&self) -> Result<usize, CallError> {
        self.server.request(LimiterCall::KeyCount).await
    }

    /// Stop the limiter; its counts are dropped.
    pub async fn stop(&self) -> Result<(), StopError> {
        self.server.stop(ExitReason::Normal).await
    }
}

/// The process behind a [`RateLimiter`].
pub struct RateLimiterServer {
    limit: u32,
    window: Duration,
    /// Times are nanoseconds since `epoch`: 8 bytes each instead of 16.
    epoch: Instant,
    /// Keys with requests in the window, least recently *consumed* first, so the
    /// idle ones are at the front. Never holds an empty log.
    keys: LruCache<Box<str>, Log>,
}

/// The times of one key's requests inside the window, oldest first.
struct Log(VecDeque<u64>);

impl Log {
    fn oldest(&self) -> u64 {
        self.0.front().copied().unwrap_or_default()
    }

    fn newest(&self) -> u64 {
        self.0.back().copied().unwrap_or_default()
    }

    /// Drop the requests made at or before `cutoff` (they have left the window).
    fn prune(&mut self, cutoff: Option<u64>) {
        let Some(cutoff) = cutoff else { return };
        while self.0.front().is_some_and(|&at| at <= cutoff) {
            self.0.pop_front();
        }
        // A burst can leave a large buffer behind; give most of it back.
        if self.0.capacity() > 64 && self.0.len() < self.0.capacity() / 4 {
            self.0.shrink_to(self.0.len() * 2);
        }
    }
}

/// The periodic forget's timer message.
struct ForgetIdle;

impl RateLimiterServer {
    fn new(options: &RateLimiterOptions) -> Self {
        RateLimiterServer {
            limit: options.max_requests,
            window: options.window,
            epoch: Instant::now(),
            keys: LruCache::unbounded(),
        }
    }

    fn now(&self) -> u64 {
        nanos(Instant::now().saturating_duration_since(self.epoch))
    }

    fn window_nanos(&self) -> u64 {
        nanos(self.window)
    }

    /// Requests made at or before this time have left the window.
    fn cutoff(&self, now: u64) -> Option<u64> {
        now.checked_sub(self.window_nanos())
    }

    /// Drop the keys whose newest request has left the window: they are at the
    /// front, since a key moves to the back each time it consumes.
    fn forget_idle(&mut self, now: u64) {
        let Some(cutoff) = self.cutoff(now) else {
            return;
        };
        while self
            .keys
            .peek_lru()
            .is_some_and(|(_, log)| log.newest() <= cutoff)
        {
            self.keys.pop_lru();
        }
    }

    fn check(&mut self, key: &str) -> RateLimitStatus {
        let now = self.now();
        self.forget_idle(now);
        let cutoff = self.cutoff(now);
        let (limit, window) = (self.limit, self.window_nanos());
        // Every key left has its newest request in the window, so no log is empty.
        let log = self.keys.peek_mut(key).map(|log| {
            log.prune(cutoff);
            &*log
        });
        standing(limit, window, log, now)
    }

    fn consume(&mut self, key: Box<str>) -> Result<RateLimitStatus, OverLimit> {
        let now = self.now();
        self.forget_idle(now);
        let cutoff = self.cutoff(now);
        let (limit, window) = (self.limit, self.window_nanos());
        let Some(log) = self.keys.peek_mut(&*key) else {
            let log = Log(VecDeque::from([now]));
            let status = standing(limit, window, Some(&log), now);
            self.keys.put(key, log);
            return Ok(status);
        };
        log.prune(cutoff);
        if log.0.len() as u32 >= limit {
            return Err(OverLimit {
                limit,
                window: self.window,
                retry_after: until_expiry(log.oldest(), window, now),
            });
        }
        log.0.push_back(now);
        let status = standing(limit, window, Some(log), now);
        // Only a request moves a key to the back: the front stays the most idle.
        self.keys.promote(&*key);
        Ok(status)
    }
}

/// A key's standing at `now`, from its log (`None`: no request in the window).
fn standing(limit: u32, window: u64, log: Option<&Log>, now: u64) -> RateLimitStatus {
    let Some(log) = log else {
        return RateLimitStatus {
            limit,
            remaining: limit,
            reset_in: Duration::ZERO,
            retry_after: Duration::ZERO,
        };
    };
    let used = u32::try_from(log.0.len()).unwrap_or(u32::MAX);
    RateLimitStatus {
        limit,
        remaining: limit.saturating_sub(used),
        reset_in: until_expiry(log.newest(), window, now),
        retry_after: if used < limit {
            Duration::ZERO
        } else {
            until_expiry(log.oldest(), window, now)
        },
    }
}

/// Until the request made at `at` leaves the window.
fn until_expiry(at: u64, window: u64, now: u64) -> Duration {
    Duration::from_nanos(at.saturating_add(window).saturating_sub(now))
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl GenServer for RateLimiterServer {
    type Call = LimiterCall;
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        if self.limit == 0 || self.window.is_zero() {
            return Err("rate limiter needs max_requests >= 1 and a non-zero window".into());
        }
        self.epoch = Instant::now();
        ctx.send_after(self.window, ForgetIdle);
        Ok(())
    }

    async fn handle_call(&mut self, request: LimiterCall, _: &mut Context<Self>) -> Reply<()> {
        match request {
            LimiterCall::Check(key, reply) => reply.reply(self.check(&key)),
            LimiterCall::Consume(key, reply) => reply.reply(self.consume(key)),
            LimiterCall::Reset(key, reply) => {
                let now = self.now();
                self.forget_idle(now);
                reply.reply(self.keys.pop(&*key).is_some())
            }
            LimiterCall::KeyCount(reply) => {
                self.forget_idle(self.now());
                reply.reply(self.keys.len())
            }
        };
        Reply::Now(())
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if message.is::<ForgetIdle>() {
            self.forget_idle(self.now());
            ctx.send_after(self.window, ForgetIdle);
        }
    }
}

/// The limiter's messages. Public only because they are the GenServer's associated
/// types; this module is private, so nobody outside can name or build them.
mod protocol {
    use std::time::Duration;

    use super::RateLimitStatus;
    use crate::gen_server::ReplyTo;

    pub enum LimiterCall {
        Check(Box<str>, ReplyTo<RateLimitStatus>),
        Consume(Box<str>, ReplyTo<Result<RateLimitStatus, OverLimit>>),
        Reset(Box<str>, ReplyTo<bool>),
        KeyCount(ReplyTo<usize>),
    }

    /// A consume refused: the key has used its limit.
    pub struct OverLimit {
        pub limit: u32,
        pub window: Duration,
        pub retry_after: Duration,
    }
}
