//! A bucket: its schema, its records behind one lock, its counters.

mod data;
mod index;
pub(crate) mod process;
mod reader;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock};

pub(crate) use data::BucketData;
pub use data::Page;
pub use reader::BucketReader;

use crate::schema::{Schema, validate::Generator};

/// One bucket's state, shared by its handles, the commit path and its process. The
/// records belong to the store, not to the process: a restarted bucket process
/// finds them as they were (as an ETS table with the store as its heir).
#[derive(Debug)]
pub(crate) struct Bucket {
    pub(crate) name: String,
    pub(crate) schema: Schema,
    pub(crate) data: RwLock<BucketData>,
    /// The next auto-increment value of each such field, less one.
    counters: Mutex<HashMap<String, i64>>,
    pub(crate) reads: AtomicU64,
    pub(crate) writes: AtomicU64,
    /// Live subscriptions whose last result read this bucket.
    pub(crate) subscribers: AtomicUsize,
}

impl Bucket {
    pub(crate) fn new(name: &str, schema: Schema) -> Bucket {
        Bucket {
            name: name.to_string(),
            data: RwLock::new(BucketData::new(&schema)),
            schema,
            counters: Mutex::new(HashMap::new()),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            subscribers: AtomicUsize::new(0),
        }
    }

    pub(crate) fn counted_read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counted_write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads and writes so far, for the operations-per-second figure.
    pub(crate) fn operations(&self) -> u64 {
        self.reads.load(Ordering::Relaxed) + self.writes.load(Ordering::Relaxed)
    }

    /// Its figures now.
    pub(crate) fn stats(&self) -> BucketStats {
        let data = self.data.read();
        BucketStats {
            name: self.name.clone(),
            records: data.len(),
            bytes: data.bytes(),
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            subscribers: self.subscribers.load(Ordering::Relaxed),
            indexes: self.schema.indexed_fields().map(str::to_string).collect(),
        }
    }

    /// The auto-increment counters, to generate values from.
    pub(crate) fn generator(&self) -> impl Generator + '_ {
        Counters(self.counters.lock())
    }
}

struct Counters<'a>(parking_lot::MutexGuard<'a, HashMap<String, i64>>);

impl Counters<'_> {
    /// A field's counter; its name is copied only the first time.
    fn counter(&mut self, field: &str) -> &mut i64 {
        if !self.0.contains_key(field) {
            self.0.insert(field.to_string(), 0);
        }
        self.0.get_mut(field).expect("inserted above")
    }
}

impl Generator for Counters<'_> {
    fn next_int(&mut self, field: &str) -> Option<i64> {
        let counter = self.counter(field);
        *counter = counter.checked_add(1)?;
        Some(*counter)
    }

    fn saw_int(&mut self, field: &str, value: i64) {
        let counter = self.counter(field);
        *counter = (*counter).max(value);
    }
}

/// One bucket's figures, in [`StoreStats`](crate::StoreStats).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BucketStats {
    /// The bucket's name.
    pub name: String,
    /// Records now.
    pub records: usize,
    /// Roughly the bytes its records take.
    pub bytes: usize,
    /// Reads so far.
    pub reads: u64,
    /// Records written so far.
    pub writes: u64,
    /// Live subscriptions whose query read it.
    pub subscribers: usize,
    /// Its indexed fields.
    pub indexes: Vec<String>,
}
