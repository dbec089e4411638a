//! A cache is a process that keeps recent values by key: at most `max_size` of
//! them, dropping the least recently used first, each for at most its time to live.
//!
//! ```
//! use std::time::Duration;
//! use noex::services::cache::{Cache, CacheOptions};
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

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::time::Duration;

use lru::LruCache;
use tokio::time::Instant;

use self::protocol::{CacheCall, CacheCast, CacheReply, FillGuard, Ttl};
use crate::error::{BoxError, CallError, StartError, StopError};
use crate::gen_server::{Context, GenServer, Info, Reply, ReplyTo, ServerRef};
use crate::registry::{self, LookupError};
use crate::supervisor::ChildSpec;
use crate::{ExitReason, Pid};

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
    pub fn new() -> Self {
        Self::default()
    }

    /// At most this many entries (at least 1; default 10 000); beyond it the least
    /// recently used entry is evicted.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// How long an entry lives unless `set_with_ttl` says otherwise (default: forever).
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
    pub max_size: usize,
    /// Live entries removed to make room for new ones.
    pub evictions: u64,
    /// Entries removed because their time to live had passed.
    pub expirations: u64,
}

/// Why a [`Cache::try_get_or_set`] failed.
#[derive(Debug, thiserror::Error)]
pub enum GetOrSetError<E> {
    /// This caller's computation failed; nothing was stored, and the next waiter
    /// (if any) computes instead.
    #[error("computing the value failed: {0}")]
    Compute(E),
    #[error(transparent)]
    Call(#[from] CallError),
}

/// A handle to a running cache from `K` to `V`. Cheap to clone.
pub struct Cache<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    server: ServerRef<CacheServer<K, V>>,
}

impl<K, V> Clone for Cache<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    fn clone(&self) -> Self {
        Cache {
            server: self.server.clone(),
        }
    }
}

impl<K, V> fmt::Debug for Cache<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("pid", &self.server.pid())
            .finish()
    }
}

impl<K, V> From<ServerRef<CacheServer<K, V>>> for Cache<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    fn from(server: ServerRef<CacheServer<K, V>>) -> Self {
        Cache { server }
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// Start a cache (registered under the options' name, if any). Fails with an
    /// `InitializationError` if `max_size` is 0.
    pub async fn start(options: CacheOptions) -> Result<Self, StartError> {
        let server = super::start(CacheServer::new(&options), options.name.as_deref()).await?;
        Ok(Cache { server })
    }

    /// A supervisor child that runs a cache, registered under the options' name, or
    /// under `id` when the options have none; find it with [`Cache::lookup`].
    pub fn child_spec(id: impl Into<String>, options: CacheOptions) -> ChildSpec {
        super::child_spec(id, options.name.clone(), move || {
            CacheServer::<K, V>::new(&options)
        })
    }

    /// The cache registered under `name`.
    pub fn lookup(name: &str) -> Result<Self, LookupError> {
        registry::lookup::<CacheServer<K, V>>(name).map(Cache::from)
    }

    /// The process behind the cache.
    pub fn server_ref(&self) -> &ServerRef<CacheServer<K, V>> {
        &self.server
    }

    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    async fn ask(&self, request: CacheCall<K, V>) -> Result<CacheReply<K, V>, CallError> {
        self.server.call(request).await
    }

    /// The live value for `key`, if any; marks it as recently used.
    pub async fn get<Q>(&self, key: &Q) -> Result<Option<V>, CallError>
    where
        Q: ToOwned<Owned = K> + ?Sized,
    {
        match self.ask(CacheCall::Get(key.to_owned())).await? {
            CacheReply::Value(value) => Ok(value),
            _ => unreachable!("get answers Value"),
        }
    }

    /// Store `value` for the default time to live; evicts the least recently used
    /// entry if the cache is full.
    pub async fn set(&self, key: K, value: V) -> Result<(), CallError> {
        self.ask(CacheCall::Set(key, value, Ttl::Default))
            .await
            .map(drop)
    }

    /// Store `value` for `ttl` (`None`: until evicted or deleted).
    pub async fn set_with_ttl(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> Result<(), CallError> {
        let ttl = ttl.map_or(Ttl::Never, Ttl::After);
        self.ask(CacheCall::Set(key, value, ttl)).await.map(drop)
    }

    /// Remove `key`; returns whether it held a live value.
    pub async fn delete<Q>(&self, key: &Q) -> Result<bool, CallError>
    where
        Q: ToOwned<Owned = K> + ?Sized,
    {
        match self.ask(CacheCall::Delete(key.to_owned())).await? {
            CacheReply::Bool(found) => Ok(found),
            _ => unreachable!("delete answers Bool"),
        }
    }

    /// Whether `key` holds a live value. Neither a hit nor a miss, and not a use.
    pub async fn has<Q>(&self, key: &Q) -> Result<bool, CallError>
    where
        Q: ToOwned<Owned = K> + ?Sized,
    {
        match self.ask(CacheCall::Has(key.to_owned())).await? {
            CacheReply::Bool(found) => Ok(found),
            _ => unreachable!("has answers Bool"),
        }
    }

    /// Remove every entry. The counters in [`CacheStats`] are kept.
    pub async fn clear(&self) -> Result<(), CallError> {
        self.ask(CacheCall::Clear).await.map(drop)
    }

    /// The counters, and the size now.
    pub async fn stats(&self) -> Result<CacheStats, CallError> {
        match self.ask(CacheCall::Stats).await? {
            CacheReply::Stats(stats) => Ok(stats),
            _ => unreachable!("stats answers Stats"),
        }
    }

    /// Remove every expired entry now (a scan of all entries); returns how many.
    pub async fn purge_expired(&self) -> Result<usize, CallError> {
        match self.ask(CacheCall::Purge).await? {
            CacheReply::Purged(count) => Ok(count),
            _ => unreachable!("purge answers Purged"),
        }
    }

    /// The value for `key`; if there is none, `compute` it, store it (default time
    /// to live) and return it. Among concurrent callers for one missing key, one
    /// computes and the others wait for its value (see the module docs).
    pub async fn get_or_set<Q, F, Fut>(&self, key: &Q, compute: F) -> Result<V, CallError>
    where
        Q: ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let outcome = self
            .try_get_or_set(key, || async {
                Ok::<V, std::convert::Infallible>(compute().await)
            })
            .await;
        match outcome {
            Ok(value) => Ok(value),
            Err(GetOrSetError::Call(error)) => Err(error),
            Err(GetOrSetError::Compute(never)) => match never {},
        }
    }

    /// [`get_or_set`](Self::get_or_set) with a computation that can fail. A failure
    /// is returned to this caller only; nothing is stored, and a waiting caller
    /// computes instead.
    pub async fn try_get_or_set<Q, F, Fut, E>(
        &self,
        key: &Q,
        compute: F,
    ) -> Result<V, GetOrSetError<E>>
    where
        Q: ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        // No timeout: a waiter waits as long as the computation it waits for takes,
        // as the computing caller does. A cache that ends answers every waiter.
        let reply = self
            .server
            .call_untimed(CacheCall::GetOrSet(key.to_owned()))
            .await?;
        match reply {
            CacheReply::Hit(value) => Ok(value),
            CacheReply::Compute(guard) => {
                // If `compute` fails, panics or is cancelled, dropping the guard
                // hands the computation to the next waiter.
                let value = compute().await.map_err(GetOrSetError::Compute)?;
                guard.fill(value.clone());
                Ok(value)
            }
            _ => unreachable!("get_or_set answers Hit or Compute"),
        }
    }

    /// Stop the cache; its entries are dropped.
    pub async fn stop(&self) -> Result<(), StopError> {
        self.server.stop(ExitReason::Normal).await
    }
}

/// The process behind a [`Cache`].
pub struct CacheServer<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    entries: LruCache<K, Entry<V>>,
    max_size: usize,
    default_ttl: Option<Duration>,
    sweep_interval: Option<Duration>,
    /// Keys being computed by a `get_or_set` caller, with the callers waiting.
    pending: HashMap<K, Pending<K, V>>,
    /// Tells a current computation from one already handed over.
    next_token: u64,
    hits: u64,
    misses: u64,
    evictions: u64,
    expirations: u64,
}

struct Entry<V> {
    value: V,
    expires_at: Option<Instant>,
}

impl<V> Entry<V> {
    fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

struct Pending<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    token: u64,
    waiters: VecDeque<ReplyTo<CacheReply<K, V>>>,
}

/// The periodic sweep's timer message.
struct Sweep;

impl<K, V> CacheServer<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    fn new(options: &CacheOptions) -> Self {
        // `sparse`: the map grows with use instead of reserving `max_size` at start.
        let capacity = NonZeroUsize::new(options.max_size).unwrap_or(NonZeroUsize::MIN);
        CacheServer {
            entries: LruCache::sparse(capacity),
            max_size: options.max_size,
            default_ttl: options.default_ttl,
            sweep_interval: options.sweep_interval,
            pending: HashMap::new(),
            next_token: 0,
            hits: 0,
            misses: 0,
            evictions: 0,
            expirations: 0,
        }
    }

    /// The live value for `key`, marked as used; an expired entry is removed.
    fn find(&mut self, key: &K, now: Instant) -> Option<V> {
        let found = self
            .entries
            .get(key)
            .map(|entry| (!entry.is_expired(now)).then(|| entry.value.clone()));
        if let Some(None) = found {
            self.entries.pop(key);
            self.expirations += 1;
        }
        found.flatten()
    }

    /// [`find`](Self::find), counted as a hit or a miss.
    fn lookup(&mut self, key: &K, now: Instant) -> Option<V> {
        let value = self.find(key, now);
        match value {
            Some(_) => self.hits += 1,
            None => self.misses += 1,
        }
        value
    }

    /// Whether `key` holds a live value, without marking it as used.
    fn contains(&mut self, key: &K, now: Instant) -> bool {
        match self.entries.peek(key).map(|entry| entry.is_expired(now)) {
            Some(false) => true,
            Some(true) => {
                self.entries.pop(key);
                self.expirations += 1;
                false
            }
            None => false,
        }
    }

    fn insert(&mut self, key: K, value: V, ttl: Ttl, now: Instant) {
        let ttl = match ttl {
            Ttl::Default => self.default_ttl,
            Ttl::Never => None,
            Ttl::After(ttl) => Some(ttl),
        };
        let entry = Entry {
            value,
            expires_at: ttl.map(|ttl| now + ttl),
        };
        if let Some(current) = self.entries.get_mut(&key) {
            *current = entry;
            return;
        }
        // A new key in a full cache pushes out the least recently used entry.
        if let Some((_, evicted)) = self.entries.push(key, entry) {
            if evicted.is_expired(now) {
                self.expirations += 1;
            } else {
                self.evictions += 1;
            }
        }
    }

    fn purge(&mut self, now: Instant) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, entry| !entry.is_expired(now));
        let purged = before - self.entries.len();
        self.expirations += purged as u64;
        purged
    }

    fn stats(&self) -> CacheStats {
        let lookups = self.hits + self.misses;
        CacheStats {
            hits: self.hits,
            misses: self.misses,
            hit_rate: if lookups == 0 {
                0.0
            } else {
                self.hits as f64 / lookups as f64
            },
            size: self.entries.len(),
            max_size: self.max_size,
            evictions: self.evictions,
            expirations: self.expirations,
        }
    }

    /// The computing caller gave up: hand the computation to the next waiter that
    /// is still there, or forget the key if nobody waits.
    fn hand_over(&mut self, key: K, token: u64, ctx: &Context<Self>) {
        // A stale token is from a computation already handed over (e.g. to a waiter
        // that had left).
        let Some(pending) = self.pending.get_mut(&key).filter(|p| p.token == token) else {
            return;
        };
        while let Some(waiter) = pending.waiters.pop_front() {
            self.next_token += 1;
            pending.token = self.next_token;
            let guard = FillGuard::new(ctx.myself(), key.clone(), pending.token);
            // A waiter that has left drops the guard, whose stale token is ignored.
            if waiter.reply(CacheReply::Compute(guard)) {
                return;
            }
        }
        self.pending.remove(&key);
    }
}

impl<K, V> GenServer for CacheServer<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    type Call = CacheCall<K, V>;
    type Cast = CacheCast<K, V>;
    type Reply = CacheReply<K, V>;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        if self.max_size == 0 {
            return Err("cache max_size must be at least 1".into());
        }
        if let Some(interval) = self.sweep_interval {
            ctx.send_after(interval, Sweep);
        }
        Ok(())
    }

    async fn handle_call(
        &mut self,
        request: CacheCall<K, V>,
        ctx: &mut Context<Self>,
    ) -> Reply<CacheReply<K, V>> {
        let now = Instant::now();
        let reply = match request {
            CacheCall::Get(key) => CacheReply::Value(self.lookup(&key, now)),
            CacheCall::Set(key, value, ttl) => {
                self.insert(key, value, ttl, now);
                CacheReply::Done
            }
            CacheCall::Delete(key) => {
                let found = self.entries.pop(&key).map(|entry| entry.is_expired(now));
                if found == Some(true) {
                    self.expirations += 1;
                }
                CacheReply::Bool(found == Some(false))
            }
            CacheCall::Has(key) => CacheReply::Bool(self.contains(&key, now)),
            CacheCall::Clear => {
                self.entries.clear();
                CacheReply::Done
            }
            CacheCall::Stats => CacheReply::Stats(self.stats()),
            CacheCall::Purge => CacheReply::Purged(self.purge(now)),
            CacheCall::GetOrSet(key) => {
                if let Some(value) = self.find(&key, now) {
                    self.hits += 1;
                    CacheReply::Hit(value)
                } else if let Some(pending) = self.pending.get_mut(&key) {
                    // Served by another caller's computation without computing: a
                    // hit (as in Guava); only the caller that computes is a miss.
                    self.hits += 1;
                    if let Some(waiter) = ctx.defer_reply() {
                        pending.waiters.push_back(waiter);
                    }
                    return Reply::Deferred;
                } else {
                    self.misses += 1;
                    self.next_token += 1;
                    let token = self.next_token;
                    let waiters = VecDeque::new();
                    self.pending.insert(key.clone(), Pending { token, waiters });
                    CacheReply::Compute(FillGuard::new(ctx.myself(), key, token))
                }
            }
        };
        Reply::Now(reply)
    }

    async fn handle_cast(&mut self, message: CacheCast<K, V>, ctx: &mut Context<Self>) {
        match message {
            CacheCast::Fill(key, value) => {
                if let Some(pending) = self.pending.remove(&key) {
                    for waiter in pending.waiters {
                        waiter.reply(CacheReply::Hit(value.clone()));
                    }
                }
                self.insert(key, value, Ttl::Default, Instant::now());
            }
            CacheCast::Abandon(key, token) => self.hand_over(key, token, ctx),
        }
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if message.is::<Sweep>() {
            self.purge(Instant::now());
            if let Some(interval) = self.sweep_interval {
                ctx.send_after(interval, Sweep);
            }
        }
    }
}

/// The cache's messages. Public only because they are the GenServer's associated
/// types; this module is private, so nobody outside can name or build them.
mod protocol {
    use std::hash::Hash;
    use std::time::Duration;

    use super::{CacheServer, CacheStats};
    use crate::gen_server::ServerRef;

    pub enum Ttl {
        Default,
        Never,
        After(Duration),
    }

    pub enum CacheCall<K, V> {
        Get(K),
        Set(K, V, Ttl),
        Delete(K),
        Has(K),
        Clear,
        Stats,
        Purge,
        GetOrSet(K),
    }

    pub enum CacheCast<K, V> {
        /// A computed value for a pending key.
        Fill(K, V),
        /// The computation with this token will not fill the key.
        Abandon(K, u64),
    }

    pub enum CacheReply<K, V>
    where
        K: Hash + Eq + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        Value(Option<V>),
        Done,
        Bool(bool),
        Stats(CacheStats),
        Purged(usize),
        Hit(V),
        /// The caller is to compute the value and fill it in through the guard.
        Compute(FillGuard<K, V>),
    }

    /// The duty to fill a pending key. Dropped unfilled — by a failed, panicking or
    /// cancelled caller, or with a reply nobody received — it tells the cache, which
    /// hands the duty to the next waiter.
    pub struct FillGuard<K, V>
    where
        K: Hash + Eq + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        cache: ServerRef<CacheServer<K, V>>,
        key: Option<K>,
        token: u64,
    }

    impl<K, V> FillGuard<K, V>
    where
        K: Hash + Eq + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        pub(super) fn new(cache: ServerRef<CacheServer<K, V>>, key: K, token: u64) -> Self {
            FillGuard {
                cache,
                key: Some(key),
                token,
            }
        }

        pub(super) fn fill(mut self, value: V) {
            if let Some(key) = self.key.take() {
                let _ = self.cache.cast(CacheCast::Fill(key, value));
            }
        }
    }

    impl<K, V> Drop for FillGuard<K, V>
    where
        K: Hash + Eq + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        fn drop(&mut self) {
            if let Some(key) = self.key.take() {
                let _ = self.cache.cast(CacheCast::Abandon(key, self.token));
            }
        }
    }
}
