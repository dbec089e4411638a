//! A registry's entries, read and written by any task without going through the
//! registry's process (Elixir's ETS tables: one for entries by key, one for keys by
//! registrant).
//!
//! Two indexes, each split into `partitions` shards: entries by key, and each
//! registrant's keys with the monitor the registry holds on it. A write takes the
//! registrant's shard first, then the key's, and so does the cleanup when a
//! registrant ends: a registration and its cleanup are never interleaved. No user
//! code runs under these locks; entries are copied out first.

use std::any::Any;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Keys, RegisterKeyError};
use crate::Pid;
use crate::process::{self, MonitorRef, PidHasher, ProcessCell, Watcher};
use crate::sync::{Mutex, RwLock};

/// The entries under each key: at most one in a unique registry.
type ByKey<K, V> = HashMap<K, Vec<(Pid, V)>>;
type ByPid<K> = HashMap<Pid, Registrant<K>, BuildHasherDefault<PidHasher>>;

/// A process with entries in the registry.
struct Registrant<K> {
    /// One key per entry: a key registered twice (duplicate registries) is here twice.
    keys: Vec<K>,
    /// The registry's monitor on it: its `Down` removes these entries. A `Down` of
    /// an earlier monitor (taken back when its last key went) is told apart by it.
    monitor: MonitorRef,
}

pub(crate) struct Table<K, V> {
    keys: Keys,
    by_key: Box<[RwLock<ByKey<K, V>>]>,
    by_pid: Box<[Mutex<ByPid<K>>]>,
    /// Entries in all shards: `count` and the Observer read it without a lock.
    entries: AtomicUsize,
    key_hasher: RandomState,
    meta: RwLock<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Table<K, V> {
    pub(crate) fn new(
        keys: Keys,
        partitions: usize,
        meta: HashMap<String, Arc<dyn Any + Send + Sync>>,
    ) -> Self {
        let partitions = partitions.max(1);
        let table = Table {
            keys,
            by_key: (0..partitions).map(|_| RwLock::default()).collect(),
            by_pid: (0..partitions).map(|_| Mutex::default()).collect(),
            entries: AtomicUsize::new(0),
            key_hasher: RandomState::new(),
            meta: RwLock::default(),
        };
        *table.meta.write() = meta;
        table
    }

    pub(crate) fn partitions(&self) -> usize {
        self.by_key.len()
    }

    fn key_shard(&self, key: &K) -> &RwLock<ByKey<K, V>> {
        let hash = self.key_hasher.hash_one(key);
        &self.by_key[(hash % self.by_key.len() as u64) as usize]
    }

    fn pid_shard(&self, pid: Pid) -> &Mutex<ByPid<K>> {
        &self.by_pid[(pid.0 % self.by_pid.len() as u64) as usize]
    }

    /// Add the entry `(key, pid, value)`; `watcher` is the registry's process, which
    /// monitors `pid` from its first entry on.
    pub(crate) fn register(
        &self,
        watcher: &ProcessCell,
        pid: Pid,
        key: K,
        value: V,
    ) -> Result<(), RegisterKeyError> {
        if !process::is_alive(pid) {
            return Err(RegisterKeyError::NotAlive { pid });
        }
        let mut registrants = self.pid_shard(pid).lock();
        {
            let mut by_key = self.key_shard(&key).write();
            let entries = by_key.entry(key.clone()).or_default();
            if self.keys == Keys::Unique
                && let Some(&(holder, _)) = entries.first()
            {
                if process::is_alive(holder) {
                    return Err(RegisterKeyError::AlreadyRegistered { holder });
                }
                // Its holder has ended and its `Down` is on the way: as Elixir, the
                // key goes to the new registrant; the cleanup leaves its entry alone.
                entries.clear();
                self.entries.fetch_sub(1, Ordering::Relaxed);
            }
            entries.push((pid, value));
            self.entries.fetch_add(1, Ordering::Relaxed);
        }
        let registrant = registrants.entry(pid).or_insert_with(|| Registrant {
            keys: Vec::new(),
            // A registrant that ended since the check above is reported at once.
            monitor: process::add_monitor(pid, Watcher::Process(watcher.pid), Some(watcher)),
        });
        registrant.keys.push(key);
        Ok(())
    }

    /// Remove `pid`'s entries under `key` whose value `matches`. Returns how many.
    pub(crate) fn unregister(
        &self,
        watcher: &ProcessCell,
        pid: Pid,
        key: &K,
        matches: impl Fn(&V) -> bool,
    ) -> usize {
        let mut registrants = self.pid_shard(pid).lock();
        let Some(registrant) = registrants.get_mut(&pid) else {
            return 0;
        };
        let removed = self.remove_entries(key, |(holder, value)| *holder == pid && matches(value));
        let mut to_forget = removed;
        registrant.keys.retain(|held| {
            let forget = to_forget > 0 && held == key;
            to_forget -= usize::from(forget);
            !forget
        });
        if registrant.keys.is_empty() {
            // As Elixir unlinks a registrant with no keys left.
            let monitor = registrant.monitor;
            registrants.remove(&pid);
            process::remove_monitor(monitor, Some(watcher));
        }
        removed
    }

    /// `pid` ended: remove its entries, if `monitor` is the one it is watched by.
    pub(crate) fn remove_process(&self, pid: Pid, monitor: MonitorRef) {
        let mut registrants = self.pid_shard(pid).lock();
        let Entry::Occupied(registrant) = registrants.entry(pid) else {
            return;
        };
        if registrant.get().monitor != monitor {
            return;
        }
        let mut keys = registrant.remove().keys;
        keys.dedup();
        for key in &keys {
            self.remove_entries(key, |(holder, _)| *holder == pid);
        }
    }

    /// Remove the entries under `key` that `remove` picks; the key goes with its
    /// last entry.
    fn remove_entries(&self, key: &K, remove: impl Fn(&(Pid, V)) -> bool) -> usize {
        let mut by_key = self.key_shard(key).write();
        let Some(entries) = by_key.get_mut(key) else {
            return 0;
        };
        let before = entries.len();
        entries.retain(|entry| !remove(entry));
        let removed = before - entries.len();
        if entries.is_empty() {
            by_key.remove(key);
        }
        self.entries.fetch_sub(removed, Ordering::Relaxed);
        removed
    }

    /// A copy of the entries under `key`.
    pub(crate) fn lookup(&self, key: &K) -> Vec<(Pid, V)> {
        let by_key = self.key_shard(key).read();
        by_key.get(key).cloned().unwrap_or_default()
    }

    /// The keys `pid` holds, one per entry.
    pub(crate) fn keys_of(&self, pid: Pid) -> Vec<K> {
        let registrants = self.pid_shard(pid).lock();
        registrants
            .get(&pid)
            .map(|registrant| registrant.keys.clone())
            .unwrap_or_default()
    }

    /// Replace the value of `pid`'s entry under `key` with `change(old)`, if it holds
    /// it: `(new, old)`. `change` runs outside the lock, as Elixir's reads the value,
    /// runs the function, and writes the result.
    pub(crate) fn update_value(
        &self,
        pid: Pid,
        key: &K,
        change: impl FnOnce(&V) -> V,
    ) -> Option<(V, V)> {
        let old = self
            .lookup(key)
            .into_iter()
            .find_map(|(holder, value)| (holder == pid).then_some(value))?;
        let new = change(&old);
        let mut by_key = self.key_shard(key).write();
        let entry = by_key
            .get_mut(key)?
            .iter_mut()
            .find(|(holder, _)| *holder == pid)?;
        entry.1 = new.clone();
        Some((new, old))
    }

    /// A copy of every entry, as `(key, pid, value)`.
    pub(crate) fn all_entries(&self) -> Vec<(K, Pid, V)> {
        let mut all = Vec::with_capacity(self.count());
        for shard in &self.by_key {
            let by_key = shard.read();
            for (key, entries) in by_key.iter() {
                all.extend(
                    entries
                        .iter()
                        .map(|(pid, value)| (key.clone(), *pid, value.clone())),
                );
            }
        }
        all
    }

    pub(crate) fn put_meta(&self, key: String, value: Arc<dyn Any + Send + Sync>) {
        self.meta.write().insert(key, value);
    }

    pub(crate) fn meta(&self, key: &str) -> Option<Arc<dyn Any + Send + Sync>> {
        self.meta.read().get(key).cloned()
    }
}

impl<K, V> Table<K, V> {
    pub(crate) fn keys_kind(&self) -> Keys {
        self.keys
    }

    pub(crate) fn count(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// Forget every entry: the registry has ended. Its monitors went with its process.
    pub(crate) fn clear(&self) {
        for shard in &self.by_pid {
            shard.lock().clear();
        }
        for shard in &self.by_key {
            shard.write().clear();
        }
        self.entries.store(0, Ordering::Relaxed);
    }
}
