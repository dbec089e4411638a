//! The handle to a cache, [`Cache`]: the API callers use (start, lookup, get, set,
//! get_or_set...). Each method is one message to the [`CacheServer`] and back;
//! `get_or_set` also runs the caller's computation here, in the caller's task.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use super::server::CacheServer;
use super::server::protocol::{CacheCall, Lookup};
use super::store::Ttl;
use super::{CacheOptions, CacheStats};
use crate::error::{CallError, StartError, StopError};
use crate::gen_server::{ReplyTo, ServerRef};
use crate::registry::{self, LookupError};
use crate::services;
use crate::supervisor::ChildSpec;
use crate::{ExitReason, Pid};

/// Why a [`Cache::try_get_or_set`] failed.
#[derive(Debug, thiserror::Error)]
pub enum GetOrSetError<E> {
    /// This caller's computation failed; nothing was stored, and the next waiter
    /// (if any) computes instead.
    #[error("computing the value failed: {0}")]
    Compute(E),
    /// The call to the cache failed (for example, it is not running).
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
        let server =
            services::start::<_, Self>(CacheServer::new(&options), options.name.as_deref()).await?;
        Ok(Cache { server })
    }

    /// A supervisor child that runs a cache. Like every child, it is registered only
    /// if named — `.name("...")` on the spec, or the options' `name` — and then
    /// [`Cache::lookup`] finds it.
    pub fn child_spec(id: impl Into<String>, options: CacheOptions) -> ChildSpec {
        services::child_spec::<_, Self, _>(id, options.name.clone(), move || {
            CacheServer::<K, V>::new(&options)
        })
    }

    /// The cache registered under `name`.
    pub fn lookup(name: &str) -> Result<Self, LookupError> {
        registry::lookup_wrapped::<CacheServer<K, V>, Self>(name).map(Cache::from)
    }

    /// The process behind the cache.
    pub fn server_ref(&self) -> &ServerRef<CacheServer<K, V>> {
        &self.server
    }

    /// The pid of the cache's process.
    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    /// Whether the cache's process is still running.
    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    async fn ask<T: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<T>) -> CacheCall<K, V>,
    ) -> Result<T, CallError> {
        self.server.request(request).await
    }

    /// The live value for `key`, if any; marks it as recently used.
    pub async fn get<Q>(&self, key: &Q) -> Result<Option<V>, CallError>
    where
        Q: ToOwned<Owned = K> + ?Sized,
    {
        self.ask(|reply| CacheCall::Get(key.to_owned(), reply))
            .await
    }

    /// Store `value` for the default time to live; evicts the least recently used
    /// entry if the cache is full.
    pub async fn set(&self, key: K, value: V) -> Result<(), CallError> {
        self.ask(|reply| CacheCall::Set(key, value, Ttl::Default, reply))
            .await
    }

    /// Store `value` for `ttl` (`None`: until evicted or deleted).
    pub async fn set_with_ttl(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> Result<(), CallError> {
        self.ask(|reply| CacheCall::Set(key, value, ttl.into(), reply))
            .await
    }

    /// Remove `key`; returns whether it held a live value.
    pub async fn delete<Q>(&self, key: &Q) -> Result<bool, CallError>
    where
        Q: ToOwned<Owned = K> + ?Sized,
    {
        self.ask(|reply| CacheCall::Delete(key.to_owned(), reply))
            .await
    }

    /// Whether `key` holds a live value. Neither a hit nor a miss, and not a use.
    pub async fn has<Q>(&self, key: &Q) -> Result<bool, CallError>
    where
        Q: ToOwned<Owned = K> + ?Sized,
    {
        self.ask(|reply| CacheCall::Has(key.to_owned(), reply))
            .await
    }

    /// Remove every entry. The counters in [`CacheStats`] are kept.
    pub async fn clear(&self) -> Result<(), CallError> {
        self.ask(CacheCall::Clear).await
    }

    /// The counters, and the size now.
    pub async fn stats(&self) -> Result<CacheStats, CallError> {
        self.ask(CacheCall::Stats).await
    }

    /// Remove every expired entry now (a scan of all entries); returns how many.
    pub async fn purge_expired(&self) -> Result<usize, CallError> {
        self.ask(CacheCall::Purge).await
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
        self.get_or_compute(key, Ttl::Default, compute).await
    }

    /// [`get_or_set`](Self::get_or_set), storing a computed value for `ttl` (`None`:
    /// until evicted or deleted) instead of the default, as
    /// [`set_with_ttl`](Self::set_with_ttl) does. The time to live counts from when
    /// the value is stored, after the computation. A value already there is
    /// returned as it is, its time to live unchanged; among concurrent callers, the
    /// one that computes sets it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use noex::cache::{Cache, CacheOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
    /// # unsafe { std::env::set_var("NOEX_AGENT", "off") }
    /// let tokens = Cache::<String, String>::start(CacheOptions::new()).await?;
    /// let token = tokens
    ///     .get_or_set_with_ttl("api", Some(Duration::from_secs(300)), || async {
    ///         "fresh-token".to_string()
    ///     })
    ///     .await?;
    /// assert_eq!(token, "fresh-token");
    /// # Ok(()) }
    /// ```
    pub async fn get_or_set_with_ttl<Q, F, Fut>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
        compute: F,
    ) -> Result<V, CallError>
    where
        Q: ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        self.get_or_compute(key, ttl.into(), compute).await
    }

    async fn get_or_compute<Q, F, Fut>(&self, key: &Q, ttl: Ttl, compute: F) -> Result<V, CallError>
    where
        Q: ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let outcome = self
            .try_get_or_compute(key, ttl, || async {
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
        self.try_get_or_compute(key, Ttl::Default, compute).await
    }

    /// [`try_get_or_set`](Self::try_get_or_set), storing a computed value for `ttl`
    /// (`None`: until evicted or deleted), as
    /// [`get_or_set_with_ttl`](Self::get_or_set_with_ttl) does.
    pub async fn try_get_or_set_with_ttl<Q, F, Fut, E>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
        compute: F,
    ) -> Result<V, GetOrSetError<E>>
    where
        Q: ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        self.try_get_or_compute(key, ttl.into(), compute).await
    }

    async fn try_get_or_compute<Q, F, Fut, E>(
        &self,
        key: &Q,
        ttl: Ttl,
        compute: F,
    ) -> Result<V, GetOrSetError<E>>
    where
        Q: ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        // No timeout: a waiter waits as long as the computation it waits for takes,
        // as the computing caller does. A cache that ends answers every waiter.
        let found = self
            .server
            .request_untimed(|reply| CacheCall::GetOrSet(key.to_owned(), reply))
            .await?;
        match found {
            Lookup::Hit(value) => Ok(value),
            Lookup::Compute(guard) => {
                // If `compute` fails, panics or is cancelled, dropping the guard
                // hands the computation to the next waiter.
                let value = compute().await.map_err(GetOrSetError::Compute)?;
                guard.fill(value.clone(), ttl);
                Ok(value)
            }
        }
    }

    /// Stop the cache; its entries are dropped.
    pub async fn stop(&self) -> Result<(), StopError> {
        self.server.stop(ExitReason::Normal).await
    }
}
