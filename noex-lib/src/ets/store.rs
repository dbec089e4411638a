//! Where a table's objects live, and how many threads can reach them at once.
//!
//! Hashed tables (set, bag, duplicate bag) are split into shards, each a hash
//! table behind its own read-write lock: readers never wait for each other, and
//! writers of keys in different shards never wait at all. A key's one hash picks
//! its shard and its slot in it, as dashmap does. An ordered set is a `BTreeMap`
//! behind one read-write lock: no dependency, and its operations cost two to four
//! times a set's in the tables bench (`cargo bench -p noex-bench --bench tables`);
//! a concurrent skip list is the next step should that matter.
//!
//! Each shard counts its objects and bytes as it changes, under its own write
//! lock, in atomics the Observer reads without locking: no counter is shared by
//! writers of different shards.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::marker::PhantomData;
use std::mem::size_of;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use hashbrown::HashTable;

use super::{Key, TableKind, Value};
use crate::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A table's objects.
pub(super) enum Store<K, V> {
    Set(Shards<K, (K, V)>),
    Bag {
        shards: Shards<K, (K, Vec<V>)>,
        /// A duplicate bag: equal objects are kept, not ignored.
        duplicates: bool,
    },
    Ordered(Ordered<K, V>),
}

/// A hash table split into shards by the keys' hash.
pub(super) struct Shards<K, T> {
    shards: Box<[Shard<T>]>,
    hasher: RandomState,
    /// How far a hash shifts to give a shard's index.
    shift: u32,
    keys: PhantomData<fn() -> K>,
}

/// One lock's worth of a table, on its own cache lines so that the locks of two
/// shards never share one.
#[repr(align(128))]
struct Shard<T> {
    map: RwLock<HashTable<T>>,
    /// Written under the write lock, read without it.
    objects: AtomicUsize,
    /// The bytes of `map`'s allocation, kept as `objects` is.
    allocated: AtomicUsize,
}

impl<T> Default for Shard<T> {
    fn default() -> Self {
        Shard {
            map: RwLock::default(),
            objects: AtomicUsize::new(0),
            allocated: AtomicUsize::new(0),
        }
    }
}

impl<T> Shard<T> {
    /// Record the shard's counts after a write, still under its lock.
    fn account(&self, map: &HashTable<T>, objects_added: isize) {
        if objects_added != 0 {
            let objects = self.objects.load(Relaxed);
            self.objects
                .store(objects.wrapping_add_signed(objects_added), Relaxed);
        }
        self.allocated.store(map.allocation_size(), Relaxed);
    }
}

/// An entry of a hashed table: a key and what it holds.
trait Entry<K> {
    fn key(&self) -> &K;
}

impl<K, X> Entry<K> for (K, X) {
    fn key(&self) -> &K {
        &self.0
    }
}

#[allow(private_bounds)] // `Entry` is how the shards read a key: nothing to expose.
impl<K: Key, T: Entry<K>> Shards<K, T> {
    fn new(write_concurrency: bool) -> Self {
        let count = if write_concurrency {
            // As dashmap: four shards a core, so that two writers seldom meet.
            let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
            (cores * 4).next_power_of_two().clamp(4, 256)
        } else {
            1
        };
        Shards {
            shards: (0..count).map(|_| Shard::default()).collect(),
            hasher: RandomState::new(),
            shift: 64 - count.trailing_zeros(),
            keys: PhantomData,
        }
    }

    fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The shard of a hash. Its top seven bits are the map's tag in a slot: they
    /// are skipped, or every key of a shard would have much the same tag.
    fn shard(&self, hash: u64) -> &Shard<T> {
        let index = (hash << 7).checked_shr(self.shift).unwrap_or(0) as usize;
        &self.shards[index]
    }

    fn read(&self, key: &K) -> (RwLockReadGuard<'_, HashTable<T>>, u64) {
        let hash = self.hash(key);
        (self.shard(hash).map.read(), hash)
    }

    fn write(&self, key: &K) -> (&Shard<T>, RwLockWriteGuard<'_, HashTable<T>>, u64) {
        let hash = self.hash(key);
        let shard = self.shard(hash);
        (shard, shard.map.write(), hash)
    }

    fn find<'m>(&self, map: &'m HashTable<T>, hash: u64, key: &K) -> Option<&'m T> {
        map.find(hash, |entry| entry.key() == key)
    }

    fn find_mut<'m>(&self, map: &'m mut HashTable<T>, hash: u64, key: &K) -> Option<&'m mut T> {
        map.find_mut(hash, |entry| entry.key() == key)
    }

    fn insert_new_entry(&self, map: &mut HashTable<T>, hash: u64, entry: T) {
        let hasher = &self.hasher;
        map.insert_unique(hash, entry, |entry| hasher.hash_one(entry.key()));
    }

    /// Remove the entry of `key`, if any.
    fn remove(&self, map: &mut HashTable<T>, hash: u64, key: &K) -> Option<T> {
        match map.find_entry(hash, |entry| entry.key() == key) {
            Ok(found) => Some(found.remove().0),
            Err(_) => None,
        }
    }

    fn objects(&self) -> usize {
        self.shards.iter().map(|s| s.objects.load(Relaxed)).sum()
    }

    fn allocated(&self) -> usize {
        let shards = self.shards.iter().map(|s| s.allocated.load(Relaxed));
        shards.sum::<usize>() + self.shards.len() * size_of::<Shard<T>>()
    }

    /// Every entry, shard by shard, each shard under its read lock in turn.
    fn for_each(&self, mut f: impl FnMut(&T)) {
        for shard in &self.shards {
            shard.map.read().iter().for_each(&mut f);
        }
    }

    /// Keep the entries `keep` says to, shard by shard; `keep` may change an entry
    /// and says how many objects it removed from a kept one.
    fn retain(
        &self,
        mut keep: impl FnMut(&mut T) -> (bool, usize),
        count: impl Fn(&T) -> usize,
    ) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let mut map = shard.map.write();
            let mut here = 0;
            map.retain(|entry| {
                let before = count(entry);
                let (kept, gone) = keep(entry);
                here += if kept { gone } else { before };
                kept
            });
            shard.account(&map, -(here as isize));
            removed += here;
        }
        removed
    }

    fn clear(&self) {
        for shard in &self.shards {
            let mut map = shard.map.write();
            // Dropped, not kept: a cleared table gives its memory back, as OTP's does.
            *map = HashTable::new();
            shard.objects.store(0, Relaxed);
            shard.allocated.store(0, Relaxed);
        }
    }

    /// The first key in the table's own order: the shards in turn, each in its
    /// slots' order.
    fn first(&self) -> Option<K> {
        self.next_from(0, 0)
    }

    /// The key after `key` in the order of [`first`](Self::first); `Err` if `key`
    /// is not in the table (OTP's `badarg`: a hashed table has no place for it).
    fn next(&self, key: &K) -> Result<Option<K>, ()> {
        let hash = self.hash(key);
        let shard_index = (hash << 7).checked_shr(self.shift).unwrap_or(0) as usize;
        let slot = {
            let map = self.shards[shard_index].map.read();
            map.find_bucket_index(hash, |entry| entry.key() == key)
        };
        match slot {
            Some(slot) => Ok(self.next_from(shard_index, slot + 1)),
            None => Err(()),
        }
    }

    fn next_from(&self, shard_index: usize, slot: usize) -> Option<K> {
        let mut slot = slot;
        for shard in &self.shards[shard_index..] {
            let map = shard.map.read();
            if let Some(entry) = (slot..map.num_buckets()).find_map(|at| map.get_bucket(at)) {
                return Some(entry.key().clone());
            }
            slot = 0;
        }
        None
    }
}

/// An ordered set: one `BTreeMap` behind one lock.
pub(super) struct Ordered<K, V> {
    map: RwLock<BTreeMap<K, V>>,
    objects: AtomicUsize,
}

impl<K: Key, V: Value> Store<K, V> {
    pub(super) fn new(kind: TableKind, write_concurrency: bool) -> Self {
        match kind {
            TableKind::Set => Store::Set(Shards::new(write_concurrency)),
            TableKind::Bag | TableKind::DuplicateBag => Store::Bag {
                shards: Shards::new(write_concurrency),
                duplicates: kind == TableKind::DuplicateBag,
            },
            TableKind::OrderedSet => Store::Ordered(Ordered {
                map: RwLock::default(),
                objects: AtomicUsize::new(0),
            }),
        }
    }

    /// Every object under `key`, in the order they were inserted.
    pub(super) fn lookup(&self, key: &K) -> Vec<V> {
        match self {
            Store::Set(shards) => {
                let (map, hash) = shards.read(key);
                shards
                    .find(&map, hash, key)
                    .map(|e| vec![e.1.clone()])
                    .unwrap_or_default()
            }
            Store::Bag { shards, .. } => {
                let (map, hash) = shards.read(key);
                shards
                    .find(&map, hash, key)
                    .map(|e| e.1.clone())
                    .unwrap_or_default()
            }
            Store::Ordered(ordered) => ordered.map.read().get(key).cloned().into_iter().collect(),
        }
    }

    /// The first object under `key`.
    pub(super) fn get(&self, key: &K) -> Option<V> {
        match self {
            Store::Set(shards) => {
                let (map, hash) = shards.read(key);
                shards.find(&map, hash, key).map(|e| e.1.clone())
            }
            Store::Bag { shards, .. } => {
                let (map, hash) = shards.read(key);
                shards
                    .find(&map, hash, key)
                    .and_then(|e| e.1.first().cloned())
            }
            Store::Ordered(ordered) => ordered.map.read().get(key).cloned(),
        }
    }

    pub(super) fn member(&self, key: &K) -> bool {
        match self {
            Store::Set(shards) => {
                let (map, hash) = shards.read(key);
                shards.find(&map, hash, key).is_some()
            }
            Store::Bag { shards, .. } => {
                let (map, hash) = shards.read(key);
                shards.find(&map, hash, key).is_some()
            }
            Store::Ordered(ordered) => ordered.map.read().contains_key(key),
        }
    }

    /// Insert as the kind says: a set replaces, a bag adds the object unless an
    /// equal one is there, a duplicate bag adds it. `only_new`: insert only if the
    /// key holds nothing (OTP's `insert_new`); whether it was inserted.
    pub(super) fn insert(&self, key: K, value: V, only_new: bool) -> bool {
        match self {
            Store::Set(shards) => {
                let (shard, mut map, hash) = shards.write(&key);
                if let Some(entry) = shards.find_mut(&mut map, hash, &key) {
                    if only_new {
                        return false;
                    }
                    entry.1 = value;
                    return true;
                }
                shards.insert_new_entry(&mut map, hash, (key, value));
                shard.account(&map, 1);
                true
            }
            Store::Bag { shards, duplicates } => {
                let (shard, mut map, hash) = shards.write(&key);
                if let Some(entry) = shards.find_mut(&mut map, hash, &key) {
                    if only_new || (!duplicates && entry.1.contains(&value)) {
                        return false;
                    }
                    entry.1.push(value);
                    shard.account(&map, 1);
                    return true;
                }
                shards.insert_new_entry(&mut map, hash, (key, vec![value]));
                shard.account(&map, 1);
                true
            }
            Store::Ordered(ordered) => {
                let mut map = ordered.map.write();
                match map.entry(key) {
                    std::collections::btree_map::Entry::Occupied(mut held) => {
                        if !only_new {
                            held.insert(value);
                        }
                        !only_new
                    }
                    std::collections::btree_map::Entry::Vacant(free) => {
                        free.insert(value);
                        ordered.objects.store(map.len(), Relaxed);
                        true
                    }
                }
            }
        }
    }

    /// Remove every object under `key`; them, in insertion order.
    pub(super) fn take(&self, key: &K) -> Vec<V> {
        match self {
            Store::Set(shards) => {
                let (shard, mut map, hash) = shards.write(key);
                let taken = shards.remove(&mut map, hash, key).map(|(_, v)| v);
                if taken.is_some() {
                    shard.account(&map, -1);
                }
                taken.into_iter().collect()
            }
            Store::Bag { shards, .. } => {
                let (shard, mut map, hash) = shards.write(key);
                let taken = shards
                    .remove(&mut map, hash, key)
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                shard.account(&map, -(taken.len() as isize));
                taken
            }
            Store::Ordered(ordered) => {
                let mut map = ordered.map.write();
                let taken = map.remove(key);
                ordered.objects.store(map.len(), Relaxed);
                taken.into_iter().collect()
            }
        }
    }

    /// Remove the objects under `key` equal to `value` (every copy, in a duplicate
    /// bag); how many.
    pub(super) fn delete_object(&self, key: &K, value: &V) -> usize {
        match self {
            Store::Set(shards) => {
                let (shard, mut map, hash) = shards.write(key);
                let matches = shards.find(&map, hash, key).is_some_and(|e| e.1 == *value);
                if matches {
                    shards.remove(&mut map, hash, key);
                    shard.account(&map, -1);
                }
                usize::from(matches)
            }
            Store::Bag { shards, .. } => {
                let (shard, mut map, hash) = shards.write(key);
                let Some(entry) = shards.find_mut(&mut map, hash, key) else {
                    return 0;
                };
                let before = entry.1.len();
                entry.1.retain(|held| held != value);
                let removed = before - entry.1.len();
                if entry.1.is_empty() {
                    shards.remove(&mut map, hash, key);
                }
                shard.account(&map, -(removed as isize));
                removed
            }
            Store::Ordered(ordered) => {
                let mut map = ordered.map.write();
                if map.get(key) != Some(value) {
                    return 0;
                }
                map.remove(key);
                ordered.objects.store(map.len(), Relaxed);
                1
            }
        }
    }

    /// Change the object under `key` of a set in place; `None` if there is none.
    /// A set's only: the caller checks the kind.
    pub(super) fn update<R>(&self, key: &K, change: impl FnOnce(&mut V) -> R) -> Option<R> {
        match self {
            Store::Set(shards) => {
                let (_, mut map, hash) = shards.write(key);
                shards
                    .find_mut(&mut map, hash, key)
                    .map(|e| change(&mut e.1))
            }
            Store::Ordered(ordered) => ordered.map.write().get_mut(key).map(change),
            Store::Bag { .. } => None,
        }
    }

    /// As [`update`](Self::update), with `default` inserted first if the key holds
    /// nothing; in one write, so no other writer comes between.
    pub(super) fn update_or_insert<R>(
        &self,
        key: &K,
        default: V,
        change: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        match self {
            Store::Set(shards) => {
                let (shard, mut map, hash) = shards.write(key);
                if let Some(entry) = shards.find_mut(&mut map, hash, key) {
                    return Some(change(&mut entry.1));
                }
                let mut value = default;
                let result = change(&mut value);
                shards.insert_new_entry(&mut map, hash, (key.clone(), value));
                shard.account(&map, 1);
                Some(result)
            }
            Store::Ordered(ordered) => {
                let mut map = ordered.map.write();
                let result = change(map.entry(key.clone()).or_insert(default));
                ordered.objects.store(map.len(), Relaxed);
                Some(result)
            }
            Store::Bag { .. } => None,
        }
    }

    /// Every object, each under the read lock of its part of the table (OTP's
    /// traversals: no snapshot of the whole). An ordered set in key order.
    pub(super) fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        match self {
            Store::Set(shards) => shards.for_each(|(k, v)| f(k, v)),
            Store::Bag { shards, .. } => shards.for_each(|(k, vs)| vs.iter().for_each(|v| f(k, v))),
            Store::Ordered(ordered) => ordered.map.read().iter().for_each(|(k, v)| f(k, v)),
        }
    }

    /// The objects with keys in `range`, in key order.
    pub(super) fn range(&self, range: (Bound<&K>, Bound<&K>)) -> Vec<(K, V)> {
        match self {
            Store::Ordered(ordered) => (ordered.map.read().range::<K, _>(range))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            _ => {
                let mut found = Vec::new();
                self.for_each(|k, v| {
                    if range.contains(k) {
                        found.push((k.clone(), v.clone()));
                    }
                });
                // Stable: a bag's objects under one key stay in insertion order.
                found.sort_by(|a, b| a.0.cmp(&b.0));
                found
            }
        }
    }

    /// Remove the objects `remove` picks; how many.
    pub(super) fn remove_where(&self, mut remove: impl FnMut(&K, &V) -> bool) -> usize {
        match self {
            Store::Set(shards) => shards.retain(|(k, v)| (!remove(k, v), 0), |_| 1),
            Store::Bag { shards, .. } => shards.retain(
                |(k, vs)| {
                    let before = vs.len();
                    vs.retain(|v| !remove(k, v));
                    (!vs.is_empty(), before - vs.len())
                },
                |(_, vs)| vs.len(),
            ),
            Store::Ordered(ordered) => {
                let mut map = ordered.map.write();
                let before = map.len();
                map.retain(|k, v| !remove(k, v));
                ordered.objects.store(map.len(), Relaxed);
                before - map.len()
            }
        }
    }

    pub(super) fn clear(&self) {
        match self {
            Store::Set(shards) => shards.clear(),
            Store::Bag { shards, .. } => shards.clear(),
            Store::Ordered(ordered) => {
                let mut map = ordered.map.write();
                map.clear();
                ordered.objects.store(0, Relaxed);
            }
        }
    }

    /// How many objects (OTP's `size`).
    pub(super) fn len(&self) -> usize {
        match self {
            Store::Set(shards) => shards.objects(),
            Store::Bag { shards, .. } => shards.objects(),
            Store::Ordered(ordered) => ordered.objects.load(Relaxed),
        }
    }

    /// An estimate of the bytes the objects take: see "Memory" in [`ets`](super).
    pub(super) fn memory(&self) -> usize {
        let objects = self.len();
        size_of::<Self>()
            + match self {
                Store::Set(shards) => shards.allocated(),
                // The entries, and the objects in their lists.
                Store::Bag { shards, .. } => shards.allocated() + objects * size_of::<V>(),
                // A B-tree's nodes hold up to 11 entries and are two-thirds full or
                // so: half as much again as the entries alone.
                Store::Ordered(_) => objects * (size_of::<K>() + size_of::<V>()) * 3 / 2,
            }
    }

    /// The first key: the least in an ordered set; in a hashed table, the first in
    /// its own order.
    pub(super) fn first(&self) -> Option<K> {
        match self {
            Store::Set(shards) => shards.first(),
            Store::Bag { shards, .. } => shards.first(),
            Store::Ordered(ordered) => ordered.map.read().keys().next().cloned(),
        }
    }

    /// The greatest key of an ordered set; as [`first`](Self::first) otherwise
    /// (OTP: "synonymous").
    pub(super) fn last(&self) -> Option<K> {
        match self {
            Store::Ordered(ordered) => ordered.map.read().keys().next_back().cloned(),
            _ => self.first(),
        }
    }

    /// The key after `key`: in an ordered set the least greater one, whether
    /// `key` is in the table or not; in a hashed table the next in its order,
    /// `Err` if `key` is not in the table.
    pub(super) fn next(&self, key: &K) -> Result<Option<K>, ()> {
        match self {
            Store::Set(shards) => shards.next(key),
            Store::Bag { shards, .. } => shards.next(key),
            Store::Ordered(ordered) => Ok((ordered.map.read())
                .range((Bound::Excluded(key), Bound::Unbounded))
                .next()
                .map(|(k, _)| k.clone())),
        }
    }

    /// The key before `key` in an ordered set; as [`next`](Self::next) otherwise.
    pub(super) fn prev(&self, key: &K) -> Result<Option<K>, ()> {
        match self {
            Store::Ordered(ordered) => Ok((ordered.map.read())
                .range((Bound::Unbounded, Bound::Excluded(key)))
                .next_back()
                .map(|(k, _)| k.clone())),
            _ => self.next(key),
        }
    }
}
