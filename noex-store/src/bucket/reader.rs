//! Reading a bucket: each read takes the bucket's read lock for as long as it
//! looks, on the caller's task, and never waits on a writer's disk.

use std::sync::Arc;

use serde_json::Value;

use super::Bucket;
use super::data::{Aggregate, BucketData, Page};
use crate::filter::Filter;
use crate::key::Key;
use crate::record::Record;

/// The reads of a bucket. A [`BucketRef`](crate::BucketRef) has them all (it
/// dereferences to this); a reactive query gets only these.
#[derive(Clone)]
pub struct BucketReader {
    pub(crate) bucket: Arc<Bucket>,
}

impl std::fmt::Debug for BucketReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketReader")
            .field("name", &self.bucket.name)
            .finish()
    }
}

impl BucketReader {
    pub(crate) fn new(bucket: Arc<Bucket>) -> BucketReader {
        BucketReader { bucket }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.bucket.name
    }

    /// The field holding each record's key.
    pub fn key_field(&self) -> &str {
        &self.bucket.schema.key
    }

    fn read<R>(&self, look: impl FnOnce(&BucketData) -> R) -> R {
        self.bucket.counted_read();
        look(&self.bucket.data.read())
    }

    /// The record under `key`.
    pub fn get(&self, key: impl Into<Key>) -> Option<Record> {
        let key = key.into();
        self.read(|data| data.get(&key).cloned())
    }

    /// Every record, in key order.
    pub fn all(&self) -> Vec<Record> {
        self.read(|data| data.all())
    }

    /// The records meeting `filter` (the seed's `where`), in key order; through a
    /// secondary index when one of its fields has one.
    pub fn find(&self, filter: &Filter) -> Vec<Record> {
        self.read(|data| data.matching(filter).cloned().collect())
    }

    /// The first record meeting `filter`, in key order.
    pub fn find_one(&self, filter: &Filter) -> Option<Record> {
        self.read(|data| data.matching(filter).next().cloned())
    }

    /// How many records meet `filter` ([`Filter::all`] for every record).
    pub fn count(&self, filter: &Filter) -> usize {
        self.read(|data| {
            if filter.conditions.is_empty() {
                data.len()
            } else {
                data.matching(filter).count()
            }
        })
    }

    /// The first `n` records in key order.
    pub fn first(&self, n: usize) -> Vec<Record> {
        self.read(|data| data.first(n))
    }

    /// The last `n` records, in key order.
    pub fn last(&self, n: usize) -> Vec<Record> {
        self.read(|data| data.last(n))
    }

    /// Up to `limit` records after the key `after` (from the start without one).
    pub fn paginate(&self, limit: usize, after: Option<&Key>) -> Page {
        self.read(|data| data.paginate(limit, after))
    }

    /// The sum of `field` over the records meeting `filter` (numbers only; 0 for none).
    pub fn sum(&self, field: &str, filter: &Filter) -> Value {
        self.read(|data| data.aggregate(field, filter, Aggregate::Sum))
    }

    /// The average of `field` (numbers only); null for none.
    pub fn avg(&self, field: &str, filter: &Filter) -> Value {
        self.read(|data| data.aggregate(field, filter, Aggregate::Avg))
    }

    /// The smallest `field`: of the numbers, or of the strings when no record
    /// holds a number there; null for none.
    pub fn min(&self, field: &str, filter: &Filter) -> Value {
        self.read(|data| data.aggregate(field, filter, Aggregate::Min))
    }

    /// The largest `field`: of the numbers, or of the strings when no record
    /// holds a number there; null for none.
    pub fn max(&self, field: &str, filter: &Filter) -> Value {
        self.read(|data| data.aggregate(field, filter, Aggregate::Max))
    }

    /// How many records the bucket holds.
    pub fn len(&self) -> usize {
        self.read(|data| data.len())
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
