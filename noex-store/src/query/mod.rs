//! Reactive queries: a query reads through a context that notes what it touched;
//! a subscription gets the query's result again whenever a commit changes
//! something the last run read, and the result differs.

pub(crate) mod process;
mod subscription;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use noex::gen_server::ServerRef;
use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio::sync::watch;

pub use subscription::Subscription;

use crate::bucket::{Bucket, BucketReader};
use crate::catalog::Catalog;
use crate::error::StoreError;
use crate::key::Key;
use crate::record::Record;

/// A defined query.
pub(crate) type QueryFn =
    Arc<dyn Fn(&QueryContext<'_>, &Value) -> Result<Value, StoreError> + Send + Sync>;

/// A query's result as subscribers receive it.
pub(crate) type Outcome = Arc<Result<Value, StoreError>>;

/// Changed keys kept per bucket before the bucket counts as changed as a whole:
/// bounds what waits for the queries process, in bytes as well as in count.
const PENDING_KEYS_PER_BUCKET: usize = 1024;

/// Which records of a bucket changed, as the reactive queries see it.
#[derive(Clone, Debug)]
pub(crate) struct Changed {
    pub(crate) bucket: String,
    /// `None`: the whole bucket (a clear).
    pub(crate) key: Option<Key>,
}

/// What a query read: whole buckets, or single keys of a bucket.
#[derive(Debug, Default, Clone)]
pub(crate) struct Reads {
    whole: HashSet<String>,
    keys: HashMap<String, HashSet<Key>>,
}

impl Reads {
    fn buckets(&self) -> impl Iterator<Item = &String> {
        self.whole
            .iter()
            .chain(self.keys.keys().filter(|b| !self.whole.contains(*b)))
    }

    fn affected_by(&self, pending: &HashMap<String, Pending>) -> bool {
        pending.iter().any(|(bucket, change)| {
            if self.whole.contains(bucket) {
                return true;
            }
            let Some(keys) = self.keys.get(bucket) else {
                return false;
            };
            match change {
                Pending::All => true,
                Pending::Keys(changed) => changed.iter().any(|k| keys.contains(k)),
            }
        })
    }
}

/// What the queries process has yet to look at, per bucket.
#[derive(Debug)]
enum Pending {
    Keys(HashSet<Key>),
    All,
}

/// What a query reads through: each read notes what it touched, so a change
/// elsewhere does not run the query again.
pub struct QueryContext<'a> {
    catalog: &'a Catalog,
    reads: RefCell<Reads>,
    /// Each bucket read and its generation before the first read: unchanged after
    /// the run, every bucket was as read at one moment (see [`run`]).
    seen: RefCell<Vec<(Arc<Bucket>, u64)>>,
}

impl QueryContext<'_> {
    /// A bucket to read as a whole (`all`, `find`, `count`, aggregates...): any
    /// change to it runs the query again.
    pub fn bucket(&self, name: &str) -> Result<BucketReader, StoreError> {
        let bucket = self.catalog.bucket(name)?;
        self.note(&bucket);
        self.reads.borrow_mut().whole.insert(name.to_string());
        Ok(BucketReader::new(bucket))
    }

    /// One record: only a change to this key runs the query again.
    pub fn get(&self, bucket: &str, key: impl Into<Key>) -> Result<Option<Record>, StoreError> {
        let key = key.into();
        let found = self.catalog.bucket(bucket)?;
        self.note(&found);
        let handle = BucketReader::new(found);
        self.reads
            .borrow_mut()
            .keys
            .entry(bucket.to_string())
            .or_default()
            .insert(key.clone());
        Ok(handle.get(key))
    }

    fn note(&self, bucket: &Arc<Bucket>) {
        let mut seen = self.seen.borrow_mut();
        if !seen.iter().any(|(b, _)| Arc::ptr_eq(b, bucket)) {
            let generation = bucket.data.read().generation;
            seen.push((bucket.clone(), generation));
        }
    }

    /// Whether no bucket this run read has changed since it first read it.
    fn consistent(&self) -> bool {
        self.seen
            .borrow()
            .iter()
            .all(|(bucket, generation)| bucket.data.read().generation == *generation)
    }
}

/// Subscribers of one query with one set of parameters: they share its runs.
pub(crate) struct Group {
    name: String,
    params: Value,
    query: QueryFn,
    sender: watch::Sender<Outcome>,
    /// What the last run read; locked for the whole of a run, so two runs of one
    /// group never race to send.
    reads: Mutex<Reads>,
}

/// The store's queries and subscriptions.
pub(crate) struct Queries {
    defined: RwLock<HashMap<String, QueryFn>>,
    groups: Mutex<HashMap<(String, String), Arc<Group>>>,
    /// How many groups there are, read without the lock by every commit. Raised
    /// before a new group's first run, so a commit that reads 0 was applied before
    /// that run read anything, and the run sees it.
    live_groups: AtomicUsize,
    pending: Mutex<HashMap<String, Pending>>,
    process: Mutex<Option<ServerRef<process::QueriesServer>>>,
    catalog: Arc<Catalog>,
}

impl Queries {
    pub(crate) fn new(catalog: Arc<Catalog>) -> Queries {
        Queries {
            defined: RwLock::default(),
            groups: Mutex::default(),
            live_groups: AtomicUsize::new(0),
            pending: Mutex::default(),
            process: Mutex::default(),
            catalog,
        }
    }

    pub(crate) fn define(&self, name: &str, query: QueryFn) -> Result<(), StoreError> {
        let mut defined = self.defined.write();
        if defined.contains_key(name) {
            return Err(StoreError::InvalidArgument(format!(
                "query {name} is already defined"
            )));
        }
        defined.insert(name.to_string(), query);
        Ok(())
    }

    pub(crate) fn defined(&self) -> usize {
        self.defined.read().len()
    }

    pub(crate) fn subscriptions(&self) -> usize {
        self.groups
            .lock()
            .values()
            .map(|g| g.sender.receiver_count())
            .sum()
    }

    pub(crate) fn live_queries(&self) -> usize {
        self.groups.lock().len()
    }

    fn query(&self, name: &str) -> Result<QueryFn, StoreError> {
        self.defined
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::QueryNotDefined(name.to_string()))
    }

    pub(crate) fn run_once(&self, name: &str, params: &Value) -> Result<Value, StoreError> {
        let query = self.query(name)?;
        run(&self.catalog, name, &query, params).0
    }

    pub(crate) fn subscribe(
        self: &Arc<Self>,
        name: &str,
        params: Value,
    ) -> Result<Subscription, StoreError> {
        if self.catalog.is_stopped() {
            return Err(StoreError::Stopped);
        }
        let query = self.query(name)?;
        let slot = (name.to_string(), params.to_string());
        let receiver = {
            let mut groups = self.groups.lock();
            match groups.get(&slot) {
                Some(group) => group.sender.subscribe(),
                None => {
                    self.live_groups.fetch_add(1, Ordering::SeqCst);
                    let (outcome, reads) = run(&self.catalog, name, &query, &params);
                    let (sender, receiver) = watch::channel(Arc::new(outcome));
                    groups.insert(
                        slot.clone(),
                        Arc::new(Group {
                            name: name.to_string(),
                            params,
                            query,
                            sender,
                            reads: Mutex::new(reads),
                        }),
                    );
                    receiver
                }
            }
        };
        self.recount();
        Ok(Subscription::new(receiver, slot, Arc::downgrade(self)))
    }

    /// A commit's changes: noted for the queries process, which is woken when
    /// there was nothing waiting (it drains everything at once).
    pub(crate) fn changed(&self, changes: impl Iterator<Item = Changed>) {
        if self.live_groups.load(Ordering::SeqCst) == 0 {
            return;
        }
        let wake = {
            let mut pending = self.pending.lock();
            let was_empty = pending.is_empty();
            for change in changes {
                let entry = pending
                    .entry(change.bucket)
                    .or_insert_with(|| Pending::Keys(HashSet::new()));
                match (change.key, &mut *entry) {
                    (Some(key), Pending::Keys(keys)) if keys.len() < PENDING_KEYS_PER_BUCKET => {
                        keys.insert(key);
                    }
                    // Past the bound (or a clear): the bucket as a whole.
                    _ => *entry = Pending::All,
                }
            }
            was_empty
        };
        if wake && let Some(process) = &*self.process.lock() {
            // A dead process misses this; its restart drains what is pending.
            let _ = process.cast(process::Wake);
        }
    }

    /// Runs again every group that read something changed, and sends each result
    /// that differs from the last.
    pub(crate) fn rerun_changed(&self) {
        let pending = std::mem::take(&mut *self.pending.lock());
        if pending.is_empty() {
            return;
        }
        // A group leaves with its last subscriber (`unsubscribed`): all are live.
        let groups: Vec<Arc<Group>> = self.groups.lock().values().cloned().collect();
        let mut reads_changed = false;
        for group in groups {
            let mut reads = group.reads.lock();
            if !reads.affected_by(&pending) {
                continue;
            }
            let (outcome, now_read) = run(&self.catalog, &group.name, &group.query, &group.params);
            reads_changed |= now_read.buckets().ne(reads.buckets());
            *reads = now_read;
            group.sender.send_if_modified(|last| {
                if **last == outcome {
                    false
                } else {
                    *last = Arc::new(outcome);
                    true
                }
            });
        }
        if reads_changed {
            self.recount();
        }
    }

    /// A subscription has ended: its group goes with its last subscriber, so
    /// groups never outnumber the live subscriptions.
    pub(crate) fn unsubscribed(&self, slot: &(String, String)) {
        {
            let mut groups = self.groups.lock();
            if groups
                .get(slot)
                .is_some_and(|group| group.sender.receiver_count() == 0)
            {
                groups.remove(slot);
                self.live_groups.store(groups.len(), Ordering::SeqCst);
            }
        }
        self.recount();
    }

    /// Each bucket's subscriber count: live subscriptions whose last run read it.
    pub(crate) fn recount(&self) {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for group in self.groups.lock().values() {
            let subscribers = group.sender.receiver_count();
            for bucket in group.reads.lock().buckets() {
                *counts.entry(bucket.clone()).or_default() += subscribers;
            }
        }
        self.catalog.set_subscriber_counts(&counts);
    }

    /// Ends every subscription (their `next` gives `None`): the store has stopped.
    pub(crate) fn close(&self) {
        self.groups.lock().clear();
        self.live_groups.store(0, Ordering::SeqCst);
    }

    fn set_process(&self, process: Option<ServerRef<process::QueriesServer>>) {
        *self.process.lock() = process;
    }
}

/// Runs a query, catching a panic as its error, and says what it read.
///
/// A query that reads several buckets reads each under its own lock, so a commit
/// over two of them could land between its reads. The run is checked after: if a
/// bucket it read has changed since, it runs again, so what it returns saw every
/// bucket as it was at one moment. Under writes that never pause it gives up after
/// [`CONSISTENT_RUN_ATTEMPTS`] and returns the last run; the change that broke it
/// runs it again anyway.
fn run(
    catalog: &Catalog,
    name: &str,
    query: &QueryFn,
    params: &Value,
) -> (Result<Value, StoreError>, Reads) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let context = QueryContext {
            catalog,
            reads: RefCell::new(Reads::default()),
            seen: RefCell::new(Vec::new()),
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| query(&context, params)))
            .unwrap_or_else(|panic| {
                Err(StoreError::Query {
                    query: name.to_string(),
                    message: noex::process::panic_message(&*panic),
                })
            });
        if context.consistent() || attempts == CONSISTENT_RUN_ATTEMPTS {
            return (outcome, context.reads.into_inner());
        }
    }
}

/// Runs of one query before a result that may have seen a commit half is accepted.
const CONSISTENT_RUN_ATTEMPTS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn queries_with_a_subscriber() -> Queries {
        let queries = Queries::new(Arc::new(Catalog::default()));
        // As if a subscription were live: commits are noted from now on.
        queries.live_groups.store(1, Ordering::SeqCst);
        queries
    }

    fn changed_keys(queries: &Queries, bucket: &str, keys: std::ops::Range<i64>) {
        queries.changed(keys.map(|k| Changed {
            bucket: bucket.to_string(),
            key: Some(Key::Int(k)),
        }));
    }

    #[test]
    fn pending_keys_are_bounded_then_the_bucket_counts_whole() {
        let queries = queries_with_a_subscriber();
        changed_keys(&queries, "orders", 0..PENDING_KEYS_PER_BUCKET as i64);
        match &queries.pending.lock()["orders"] {
            Pending::Keys(keys) => assert_eq!(keys.len(), PENDING_KEYS_PER_BUCKET),
            Pending::All => panic!("collapsed before the bound"),
        }
        changed_keys(&queries, "orders", 5000..5001);
        assert!(matches!(queries.pending.lock()["orders"], Pending::All));
        // Whole stays whole, whatever comes after.
        changed_keys(&queries, "orders", 6000..6001);
        assert!(matches!(queries.pending.lock()["orders"], Pending::All));
    }

    #[test]
    fn nothing_is_noted_without_a_subscriber() {
        let queries = Queries::new(Arc::new(Catalog::default()));
        changed_keys(&queries, "orders", 0..10);
        assert!(queries.pending.lock().is_empty());
    }
}
