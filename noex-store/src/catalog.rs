//! The store's buckets by name, and whether it still takes writes: what the
//! queries need of the store, below everything that writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::bucket::Bucket;
use crate::error::StoreError;

#[derive(Default)]
pub(crate) struct Catalog {
    buckets: RwLock<HashMap<String, Arc<Bucket>>>,
    stopped: AtomicBool,
    /// Why writes are refused after a commit could not be made durable.
    failed: Mutex<Option<String>>,
}

impl Catalog {
    pub(crate) fn bucket(&self, name: &str) -> Result<Arc<Bucket>, StoreError> {
        self.buckets
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::BucketNotDefined(name.to_string()))
    }

    /// Adds `bucket` unless one of its name is there, running `fill` first under
    /// the catalog's lock (so no one sees it half filled).
    pub(crate) fn add(
        &self,
        bucket: Arc<Bucket>,
        fill: impl FnOnce(&Bucket),
    ) -> Result<(), StoreError> {
        let mut buckets = self.buckets.write();
        if buckets.contains_key(&bucket.name) {
            return Err(StoreError::BucketAlreadyDefined(bucket.name.clone()));
        }
        fill(&bucket);
        buckets.insert(bucket.name.clone(), bucket);
        Ok(())
    }

    pub(crate) fn remove(&self, name: &str) {
        self.buckets.write().remove(name);
    }

    /// Every bucket, sorted by name.
    pub(crate) fn all(&self) -> Vec<Arc<Bucket>> {
        let mut all: Vec<Arc<Bucket>> = self.buckets.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub(crate) fn set_subscriber_counts(&self, counts: &HashMap<String, usize>) {
        for (name, bucket) in self.buckets.read().iter() {
            let count = counts.get(name).copied().unwrap_or(0);
            bucket.subscribers.store(count, Ordering::Relaxed);
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Stops it; whether it was running.
    pub(crate) fn stop(&self) -> bool {
        !self.stopped.swap(true, Ordering::SeqCst)
    }

    pub(crate) fn check_running(&self) -> Result<(), StoreError> {
        if self.is_stopped() {
            return Err(StoreError::Stopped);
        }
        match &*self.failed.lock() {
            Some(failure) => Err(StoreError::Persistence(format!(
                "writes are refused until the store restarts: an earlier commit could not be made durable ({failure})"
            ))),
            None => Ok(()),
        }
    }

    /// Refuses writes from now on, for this reason (the first one given stays).
    pub(crate) fn refuse_writes(&self, failure: &str) {
        self.failed
            .lock()
            .get_or_insert_with(|| failure.to_string());
    }
}
