//! The entries of a cache: an LRU map bounded by `max_size`, each entry with an
//! optional expiry, and the counters behind [`CacheStats`].
//!
//! Plain data, no process: the server passes in the current time, so whether an
//! entry has expired depends only on the arguments, and every operation is O(1)
//! except [`Store::purge`], a scan of every entry.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::time::Duration;

use lru::LruCache;
use tokio::time::Instant;

use super::{CacheOptions, CacheStats};

/// How long a stored value lives.
pub enum Ttl {
    Default,
    Never,
    After(Duration),
}

impl From<Option<Duration>> for Ttl {
    /// A time to live a caller gave: `None` is until evicted or deleted.
    fn from(ttl: Option<Duration>) -> Self {
        ttl.map_or(Ttl::Never, Ttl::After)
    }
}

/// The entries and the counters of one cache.
pub(super) struct Store<K, V> {
    entries: LruCache<K, Entry<V>>,
    max_size: usize,
    default_ttl: Option<Duration>,
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

impl<K, V> Store<K, V>
where
    K: Hash + Eq,
    V: Clone,
{
    pub(super) fn new(options: &CacheOptions) -> Self {
        // `sparse`: the map grows with use instead of reserving `max_size` at start.
        let capacity = NonZeroUsize::new(options.max_size).unwrap_or(NonZeroUsize::MIN);
        Store {
            entries: LruCache::sparse(capacity),
            max_size: options.max_size,
            default_ttl: options.default_ttl,
            hits: 0,
            misses: 0,
            evictions: 0,
            expirations: 0,
        }
    }

    /// The bound from the options, which may be 0 (the server refuses to start then).
    pub(super) fn max_size(&self) -> usize {
        self.max_size
    }

    /// The live value for `key`, marked as used; an expired entry is removed.
    pub(super) fn find(&mut self, key: &K, now: Instant) -> Option<V> {
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
    pub(super) fn lookup(&mut self, key: &K, now: Instant) -> Option<V> {
        let value = self.find(key, now);
        match value {
            Some(_) => self.hits += 1,
            None => self.misses += 1,
        }
        value
    }

    /// Count a lookup answered without computing (`get_or_set` decides which).
    pub(super) fn count_hit(&mut self) {
        self.hits += 1;
    }

    /// Count a lookup that found no value.
    pub(super) fn count_miss(&mut self) {
        self.misses += 1;
    }

    /// Whether `key` holds a live value, without marking it as used.
    pub(super) fn contains(&mut self, key: &K, now: Instant) -> bool {
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

    pub(super) fn insert(&mut self, key: K, value: V, ttl: Ttl, now: Instant) {
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

    /// Remove `key`; returns whether it held a live value.
    pub(super) fn remove(&mut self, key: &K, now: Instant) -> bool {
        let found = self.entries.pop(key).map(|entry| entry.is_expired(now));
        if found == Some(true) {
            self.expirations += 1;
        }
        found == Some(false)
    }

    /// Remove every entry; the counters are kept.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Remove every expired entry; returns how many.
    pub(super) fn purge(&mut self, now: Instant) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, entry| !entry.is_expired(now));
        let purged = before - self.entries.len();
        self.expirations += purged as u64;
        purged
    }

    pub(super) fn stats(&self) -> CacheStats {
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
}
