//! [`CacheServer`], the process behind a [`Cache`](super::Cache), and its messages.
//!
//! The server owns the [`Store`] and answers the handle's calls with it. It also
//! keeps `get_or_set`'s single flight, which needs the process: which caller
//! computes a missing key, who waits for it, and the hand-over to the next waiter
//! when the computing caller gives up.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

use self::protocol::{CacheCall, CacheCast, FillGuard, Lookup};
use super::CacheOptions;
use super::store::Store;
use crate::error::BoxError;
use crate::gen_server::{Context, GenServer, Info, Reply, ReplyTo};

/// The process behind a [`Cache`](super::Cache).
pub struct CacheServer<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    store: Store<K, V>,
    sweep_interval: Option<Duration>,
    /// Keys being computed by a `get_or_set` caller, with the callers waiting.
    pending: HashMap<K, Pending<K, V>>,
    /// Tells a current computation from one already handed over.
    next_token: u64,
}

struct Pending<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    token: u64,
    waiters: VecDeque<ReplyTo<Lookup<K, V>>>,
}

/// The periodic sweep's timer message.
struct Sweep;

impl<K, V> CacheServer<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    pub(super) fn new(options: &CacheOptions) -> Self {
        CacheServer {
            store: Store::new(options),
            sweep_interval: options.sweep_interval,
            pending: HashMap::new(),
            next_token: 0,
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
            if waiter.reply(Lookup::Compute(guard)) {
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
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        if self.store.max_size() == 0 {
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
    ) -> Reply<()> {
        let now = Instant::now();
        match request {
            CacheCall::Get(key, reply) => reply.reply(self.store.lookup(&key, now)),
            CacheCall::Set(key, value, ttl, reply) => {
                self.store.insert(key, value, ttl, now);
                reply.reply(())
            }
            CacheCall::Delete(key, reply) => reply.reply(self.store.remove(&key, now)),
            CacheCall::Has(key, reply) => reply.reply(self.store.contains(&key, now)),
            CacheCall::Clear(reply) => {
                self.store.clear();
                reply.reply(())
            }
            CacheCall::Stats(reply) => reply.reply(self.store.stats()),
            CacheCall::Purge(reply) => reply.reply(self.store.purge(now)),
            CacheCall::GetOrSet(key, reply) => {
                if let Some(value) = self.store.find(&key, now) {
                    self.store.count_hit();
                    reply.reply(Lookup::Hit(value))
                } else if let Some(pending) = self.pending.get_mut(&key) {
                    // Served by another caller's computation without computing: a
                    // hit (as in Guava); only the caller that computes is a miss.
                    self.store.count_hit();
                    pending.waiters.push_back(reply);
                    true
                } else {
                    self.store.count_miss();
                    self.next_token += 1;
                    let token = self.next_token;
                    let waiters = VecDeque::new();
                    self.pending.insert(key.clone(), Pending { token, waiters });
                    reply.reply(Lookup::Compute(FillGuard::new(ctx.myself(), key, token)))
                }
            }
        };
        Reply::Now(())
    }

    async fn handle_cast(&mut self, message: CacheCast<K, V>, ctx: &mut Context<Self>) {
        match message {
            CacheCast::Fill(key, value, ttl) => {
                if let Some(pending) = self.pending.remove(&key) {
                    for waiter in pending.waiters {
                        waiter.reply(Lookup::Hit(value.clone()));
                    }
                }
                self.store.insert(key, value, ttl, Instant::now());
            }
            CacheCast::Abandon(key, token) => self.hand_over(key, token, ctx),
        }
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if message.is::<Sweep>() {
            self.store.purge(Instant::now());
            if let Some(interval) = self.sweep_interval {
                ctx.send_after(interval, Sweep);
            }
        }
    }
}

/// The cache's messages. Public only because they are the GenServer's associated
/// types; this module is private to the cache, so nobody outside can name or
/// build them.
pub(super) mod protocol {
    use std::hash::Hash;

    use super::CacheServer;
    use crate::gen_server::{ReplyTo, ServerRef};
    use crate::services::cache::CacheStats;
    use crate::services::cache::store::Ttl;

    pub enum CacheCall<K, V>
    where
        K: Hash + Eq + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        Get(K, ReplyTo<Option<V>>),
        Set(K, V, Ttl, ReplyTo<()>),
        Delete(K, ReplyTo<bool>),
        Has(K, ReplyTo<bool>),
        Clear(ReplyTo<()>),
        Stats(ReplyTo<CacheStats>),
        Purge(ReplyTo<usize>),
        GetOrSet(K, ReplyTo<Lookup<K, V>>),
    }

    pub enum CacheCast<K, V> {
        /// A computed value for a pending key, and how long to keep it.
        Fill(K, V, Ttl),
        /// The computation with this token will not fill the key.
        Abandon(K, u64),
    }

    /// What `get_or_set` finds.
    pub enum Lookup<K, V>
    where
        K: Hash + Eq + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
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

        // Called by the handle, in the caller's task, once the value is computed.
        pub(in crate::services::cache) fn fill(mut self, value: V, ttl: Ttl) {
            if let Some(key) = self.key.take() {
                let _ = self.cache.cast(CacheCast::Fill(key, value, ttl));
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
