//! The handles to a table: [`Table`] reads and writes, [`TableReader`] only reads.

use std::fmt;
use std::ops::{Deref, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::ownership::Ownership;
use super::registry::{self, TableInfo};
use super::store::Store;
use super::{Access, Counter, Key, TableError, TableKind, TableOptions, Value};
use crate::Pid;
use crate::sync::Mutex;

/// A table's state, shared by its handles and the list of live tables.
pub(super) struct Shared<K, V> {
    pub(super) id: u64,
    pub(super) name: Option<Arc<str>>,
    pub(super) kind: TableKind,
    pub(super) access: Access,
    /// The owner's handles carry the epoch they were made in; every change of
    /// owner starts a new one, so the old owner's handles lose the owner's rights
    /// with one atomic read per operation. Changed under `ownership`'s lock.
    pub(super) epoch: AtomicU64,
    deleted: AtomicBool,
    pub(super) ownership: Mutex<Ownership>,
    pub(super) store: Store<K, V>,
}

impl<K: Key, V: Value> Shared<K, V> {
    pub(super) fn new(id: u64, owner: Pid, options: TableOptions) -> Self {
        let TableOptions {
            kind,
            access,
            name,
            heir,
            write_concurrency,
        } = options;
        Shared {
            id,
            name,
            kind,
            access,
            epoch: AtomicU64::new(FIRST_EPOCH),
            deleted: AtomicBool::new(false),
            ownership: Mutex::new(Ownership::new(owner, heir)),
            store: Store::new(kind, write_concurrency),
        }
    }

    /// The table as errors name it: its name, or `#Tab<id>`.
    pub(super) fn label(&self) -> String {
        match &self.name {
            Some(name) => name.to_string(),
            None => format!("#Tab<{}>", self.id),
        }
    }

    pub(super) fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// Mark the table deleted: whether this call did. A writer that passed its
    /// check just before may still add objects after the store is cleared; they
    /// are freed with the last handle, and no handle reaches them.
    pub(super) fn mark_deleted(&self) -> bool {
        !self.deleted.swap(true, Ordering::AcqRel)
    }

    pub(super) fn info(&self) -> TableInfo {
        let ownership = self.ownership.lock();
        TableInfo {
            id: self.id,
            name: self.name.as_deref().map(str::to_owned),
            kind: self.kind,
            access: self.access,
            owner: ownership.owner,
            heir: ownership.heir.as_ref().map(|heir| heir.pid),
            size: self.store.len(),
            memory: self.store.memory(),
            key_type: std::any::type_name::<K>(),
            value_type: std::any::type_name::<V>(),
        }
    }
}

/// The epoch of a table's first owner; 0 is no owner's.
const FIRST_EPOCH: u64 = 1;
const NOT_THE_OWNERS: u64 = 0;

/// A handle that reads a table: what a lookup by name gives for a protected
/// table, and what [`Table`] derefs to. Cheap to clone and send to other tasks.
pub struct TableReader<K, V> {
    pub(super) shared: Arc<Shared<K, V>>,
    /// The owner epoch this handle was made in, or `NOT_THE_OWNERS`.
    pub(super) epoch: u64,
}

impl<K, V> Clone for TableReader<K, V> {
    fn clone(&self) -> Self {
        TableReader {
            shared: self.shared.clone(),
            epoch: self.epoch,
        }
    }
}

/// A handle that reads and writes a table. The owner's handle (from
/// [`Table::new`], or an [`EtsTransfer`](super::EtsTransfer)) has every right;
/// a public table's handle from [`whereis_writable`](super::whereis_writable) has
/// all but the owner's own (giving the table away, naming its heir). Reading
/// methods come from [`TableReader`].
pub struct Table<K, V> {
    reader: TableReader<K, V>,
}

impl<K, V> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        Table {
            reader: self.reader.clone(),
        }
    }
}

impl<K, V> Deref for Table<K, V> {
    type Target = TableReader<K, V>;

    fn deref(&self) -> &TableReader<K, V> {
        &self.reader
    }
}

impl<K: Key, V: Value> fmt::Debug for TableReader<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableReader")
            .field("table", &self.shared.label())
            .field("kind", &self.shared.kind)
            .field("access", &self.shared.access)
            .finish()
    }
}

impl<K: Key, V: Value> fmt::Debug for Table<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("table", &self.shared.label())
            .field("kind", &self.shared.kind)
            .field("access", &self.shared.access)
            .field("owners", &self.is_owners())
            .finish()
    }
}

impl<K: Key, V: Value> TableReader<K, V> {
    pub(super) fn new(shared: Arc<Shared<K, V>>, epoch: u64) -> Self {
        TableReader { shared, epoch }
    }

    /// The table's id, as [`all`](super::all) lists it.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The table's name, if it is a named table.
    pub fn name(&self) -> Option<&str> {
        self.shared.name.as_deref()
    }

    /// The table's kind.
    pub fn kind(&self) -> TableKind {
        self.shared.kind
    }

    /// Who may use the table besides its owner.
    pub fn access(&self) -> Access {
        self.shared.access
    }

    /// Whether this is a handle of the table's current owner: made by
    /// [`Table::new`] or received in an [`EtsTransfer`](super::EtsTransfer), and not
    /// given away since.
    pub fn is_owners(&self) -> bool {
        self.epoch != NOT_THE_OWNERS && self.epoch == self.shared.epoch.load(Ordering::Acquire)
    }

    /// The objects, if this handle may read them.
    fn readable(&self) -> Result<&Store<K, V>, TableError> {
        if self.shared.is_deleted() {
            return Err(self.deleted());
        }
        if self.shared.access == Access::Private && !self.is_owners() {
            return Err(self.refused("read"));
        }
        Ok(&self.shared.store)
    }

    fn deleted(&self) -> TableError {
        TableError::Deleted {
            table: self.shared.label(),
        }
    }

    pub(super) fn refused(&self, operation: &'static str) -> TableError {
        TableError::Access {
            table: self.shared.label(),
            access: self.shared.access,
            operation,
        }
    }

    fn no_key(&self) -> TableError {
        TableError::NoKey {
            table: self.shared.label(),
        }
    }

    /// What the Observer shows of the table: owner, heir, size, memory.
    pub fn info(&self) -> Result<TableInfo, TableError> {
        if self.shared.is_deleted() {
            return Err(self.deleted());
        }
        Ok(self.shared.info())
    }

    /// Every object under `key`, in the order they were inserted (OTP's
    /// `lookup/2`): one at most in a set, any number in a bag.
    pub fn lookup(&self, key: &K) -> Result<Vec<V>, TableError> {
        Ok(self.readable()?.lookup(key))
    }

    /// The object under `key` (in a bag, the first inserted): a set's lookup
    /// without the list.
    pub fn get(&self, key: &K) -> Result<Option<V>, TableError> {
        Ok(self.readable()?.get(key))
    }

    /// Whether any object is under `key` (OTP's `member/2`).
    pub fn member(&self, key: &K) -> Result<bool, TableError> {
        Ok(self.readable()?.member(key))
    }

    /// How many objects the table holds (OTP's `info(T, size)`); in a bag, each
    /// object counts.
    pub fn len(&self) -> Result<usize, TableError> {
        Ok(self.readable()?.len())
    }

    /// Whether the table holds no object.
    pub fn is_empty(&self) -> Result<bool, TableError> {
        Ok(self.len()? == 0)
    }

    /// An estimate of the table's bytes: see "Memory" in [`ets`](super).
    pub fn memory(&self) -> Result<usize, TableError> {
        Ok(self.readable()?.memory())
    }

    /// What `pick` makes of each object it picks (OTP's `select/2`, with a
    /// function for the match specification); an ordered set in key order. `pick`
    /// runs under the table's read locks: it must not use the table.
    pub fn select<R>(
        &self,
        mut pick: impl FnMut(&K, &V) -> Option<R>,
    ) -> Result<Vec<R>, TableError> {
        let mut picked = Vec::new();
        self.readable()?.for_each(|k, v| picked.extend(pick(k, v)));
        Ok(picked)
    }

    /// The objects `matches` accepts (OTP's `match_object/2`); an ordered set in
    /// key order. `matches` runs under the table's read locks.
    pub fn match_object(
        &self,
        mut matches: impl FnMut(&K, &V) -> bool,
    ) -> Result<Vec<(K, V)>, TableError> {
        self.select(|k, v| matches(k, v).then(|| (k.clone(), v.clone())))
    }

    /// How many objects `matches` accepts (OTP's `select_count/2`).
    pub fn select_count(
        &self,
        mut matches: impl FnMut(&K, &V) -> bool,
    ) -> Result<usize, TableError> {
        let mut count = 0;
        self.readable()?
            .for_each(|k, v| count += usize::from(matches(k, v)));
        Ok(count)
    }

    /// Every object (OTP's `tab2list/1`); an ordered set in key order.
    pub fn to_vec(&self) -> Result<Vec<(K, V)>, TableError> {
        self.match_object(|_, _| true)
    }

    /// The objects with keys in `range`, in key order; an ordered set reads only
    /// them, a hashed table looks at every object.
    pub fn range<R: RangeBounds<K>>(&self, range: R) -> Result<Vec<(K, V)>, TableError> {
        let bounds = (range.start_bound(), range.end_bound());
        Ok(self.readable()?.range(bounds))
    }

    /// The first key (OTP's `first/1`): the least in an ordered set, the first in
    /// the table's own order otherwise; `None` if the table is empty.
    pub fn first(&self) -> Result<Option<K>, TableError> {
        Ok(self.readable()?.first())
    }

    /// The key after `key` (OTP's `next/2`): in an ordered set, the least greater
    /// key, whether `key` is in the table or not; in a hashed table, the next in
    /// its order, and [`TableError::NoKey`] if `key` is not there (a hashed table
    /// has no place for it). `None` past the end.
    pub fn next(&self, key: &K) -> Result<Option<K>, TableError> {
        self.readable()?.next(key).map_err(|()| self.no_key())
    }

    /// The greatest key of an ordered set (OTP's `last/1`); as [`first`](Self::first)
    /// in a hashed table.
    pub fn last(&self) -> Result<Option<K>, TableError> {
        Ok(self.readable()?.last())
    }

    /// The greatest key less than `key` in an ordered set (OTP's `prev/2`); as
    /// [`next`](Self::next) in a hashed table.
    pub fn prev(&self, key: &K) -> Result<Option<K>, TableError> {
        self.readable()?.prev(key).map_err(|()| self.no_key())
    }
}

impl<K: Key, V: Value> Table<K, V> {
    pub(super) fn from_reader(reader: TableReader<K, V>) -> Self {
        Table { reader }
    }

    /// A handle that only reads, with this one's rights: the owner can share its
    /// private table read-only this way.
    pub fn reader(&self) -> TableReader<K, V> {
        self.reader.clone()
    }

    /// The objects, if this handle may write them.
    fn writable(&self) -> Result<&Store<K, V>, TableError> {
        if self.shared.is_deleted() {
            return Err(TableError::Deleted {
                table: self.shared.label(),
            });
        }
        if self.shared.access != Access::Public && !self.is_owners() {
            return Err(self.refused("write"));
        }
        Ok(&self.shared.store)
    }

    fn set_only(&self, operation: &'static str) -> Result<&Store<K, V>, TableError> {
        let store = self.writable()?;
        if !self.shared.kind.is_set() {
            return Err(TableError::WrongKind {
                operation,
                kind: self.shared.kind,
            });
        }
        Ok(store)
    }

    /// Insert an object (OTP's `insert/2`): a set replaces the object under the
    /// key; a bag adds it unless an equal object is under the key; a duplicate
    /// bag adds it.
    pub fn insert(&self, key: K, value: V) -> Result<(), TableError> {
        self.writable()?.insert(key, value, false);
        Ok(())
    }

    /// Insert an object only if nothing is under its key (OTP's `insert_new/2`,
    /// in any kind of table); whether it was inserted.
    pub fn insert_new(&self, key: K, value: V) -> Result<bool, TableError> {
        Ok(self.writable()?.insert(key, value, true))
    }

    /// Delete every object under `key` (OTP's `delete/2`); whether there was any.
    pub fn delete(&self, key: &K) -> Result<bool, TableError> {
        Ok(!self.writable()?.take(key).is_empty())
    }

    /// Delete the objects under `key` equal to `value` (OTP's `delete_object/2`;
    /// every copy in a duplicate bag), leaving the others; how many.
    pub fn delete_object(&self, key: &K, value: &V) -> Result<usize, TableError> {
        Ok(self.writable()?.delete_object(key, value))
    }

    /// Delete and return every object under `key` (OTP's `take/2`).
    pub fn take(&self, key: &K) -> Result<Vec<V>, TableError> {
        Ok(self.writable()?.take(key))
    }

    /// Add `by` to the counter under `key` and return the new value (OTP's
    /// `update_counter/3`), atomically: concurrent updates all count. A set's
    /// only; [`TableError::NoKey`] if the key holds nothing,
    /// [`TableError::CounterOverflow`] (and no change) past the type's bounds.
    pub fn update_counter(&self, key: &K, by: V) -> Result<V, TableError>
    where
        V: Counter,
    {
        let store = self.set_only("update_counter")?;
        match store.update(key, |value| increment(value, by)) {
            Some(result) => result.ok_or_else(|| self.overflow()),
            None => Err(self.no_key()),
        }
    }

    /// As [`update_counter`](Self::update_counter), with `default` inserted first
    /// if the key holds nothing (OTP's `update_counter/4`).
    pub fn update_counter_or(&self, key: &K, by: V, default: V) -> Result<V, TableError>
    where
        V: Counter,
    {
        let store = self.set_only("update_counter")?;
        match store.update_or_insert(key, default, |value| increment(value, by)) {
            Some(Some(value)) => Ok(value),
            _ => Err(self.overflow()),
        }
    }

    /// Change the object under `key` in place, atomically (OTP's
    /// `update_element/3`, with a function for the element positions); what
    /// `change` returns. A set's only; [`TableError::NoKey`] if the key holds
    /// nothing. `change` runs under the key's write lock: it must not use the table.
    pub fn update_element<R>(
        &self,
        key: &K,
        change: impl FnOnce(&mut V) -> R,
    ) -> Result<R, TableError> {
        let store = self.set_only("update_element")?;
        store.update(key, change).ok_or_else(|| self.no_key())
    }

    /// Delete the objects `matches` accepts (OTP's `select_delete/2`); how many.
    /// `matches` runs under the table's write locks, a shard at a time.
    pub fn select_delete(&self, matches: impl FnMut(&K, &V) -> bool) -> Result<usize, TableError> {
        Ok(self.writable()?.remove_where(matches))
    }

    /// Delete every object (OTP's `delete_all_objects/1`); the table stays.
    pub fn clear(&self) -> Result<(), TableError> {
        self.writable()?.clear();
        Ok(())
    }

    /// Delete the table (OTP's `delete/1`): its objects are dropped, its name is
    /// free, and every handle reports [`TableError::Deleted`] from now on.
    pub fn delete_table(&self) -> Result<(), TableError> {
        self.writable()?;
        self.shared.delete();
        Ok(())
    }

    fn overflow(&self) -> TableError {
        TableError::CounterOverflow {
            table: self.shared.label(),
        }
    }
}

/// Add `by` to a counter in place, unless it would overflow; the new value.
fn increment<V: Counter>(value: &mut V, by: V) -> Option<V> {
    let next = value.checked_increment(by)?;
    *value = next;
    Some(next)
}

impl<K: Key, V: Value> Shared<K, V> {
    /// Delete the table: out of the list and its name, its owner no longer
    /// watched, its objects dropped. Once.
    pub(super) fn delete(&self) {
        if !self.mark_deleted() {
            return;
        }
        registry::remove(self.id, self.name.as_ref());
        let (watch, shown) = {
            let mut ownership = self.ownership.lock();
            (ownership.watch.take(), ownership.shown.take())
        };
        drop(shown);
        if let Some(watch) = watch {
            crate::process::remove_monitor(watch, None);
        }
        self.store.clear();
        tracing::debug!(table = %self.label(), "table deleted");
    }
}
